#include "node/mempool.h"

#include <algorithm>

#include "util/assert.h"
#include "util/clock.h"

namespace cl::node {
namespace {

// Why a transaction can no longer be included after the last committed block (height, time_ms),
// or empty when it still can. Both bounds are compared with the chain, never with this node's
// clock: the height of the next block, and the time of the last committed block (set by its
// proposer). The including block is checked again at execution, against its own time.
std::string ExpiredReason(const ledger::pb::TxBody& body, uint64_t height, uint64_t time_ms) {
  if (height + 1 > body.valid_until_height()) {
    return "body.valid_until_height: " + std::to_string(body.valid_until_height()) +
           " has passed; the next block is at height " + std::to_string(height + 1);
  }
  if (body.valid_until_time_ms() != 0 && time_ms > body.valid_until_time_ms()) {
    return "body.valid_until_time_ms: " + std::to_string(body.valid_until_time_ms()) +
           " has passed; the last committed block's time (block time, Unix ms) is " +
           std::to_string(time_ms);
  }
  return "";
}

}  // namespace

bool StillValid(const ledger::pb::TxBody& body, uint64_t height, uint64_t time_ms) {
  if (height > body.valid_until_height()) return false;
  if (body.valid_until_time_ms() != 0 && time_ms > body.valid_until_time_ms()) return false;
  return true;
}

Mempool::Mempool(MempoolConfig config, crypto::ParallelVerifier* verifier)
    : config_(std::move(config)), verifier_(verifier) {
  LEDGER_ASSERT(verifier_ != nullptr);
}

std::vector<AdmitResult> Mempool::Admit(std::span<const ByteSpan> envelopes, uint64_t height,
                                        uint64_t time_ms) {
  std::vector<AdmitResult> results(envelopes.size());
  if (envelopes.size() > kMaxAdmitBatch) {
    for (AdmitResult& r : results) {
      r.status = AdmitStatus::kRejected;
      r.reason = "batch larger than " + std::to_string(kMaxAdmitBatch) + " transactions";
    }
    return results;
  }

  // 1. Stateless checks and deduplication (against the pool and within the batch).
  std::vector<std::optional<ledger::ParsedTx>> parsed(envelopes.size());
  {
    std::unordered_map<Hash32, size_t, Hash32Hasher> seen_in_batch;
    // What this batch would add if every signature checks out. A transaction that cannot fit is
    // answered kFull here, before its signatures are checked: under overload a full pool must
    // refuse at the cost of a parse, not of a verification (the node's scarcest resource), or
    // refused submissions starve the commits that would make room.
    size_t batch_txs = 0;
    size_t batch_bytes = 0;
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < envelopes.size(); ++i) {
      auto p = ledger::ParseTransaction(envelopes[i], config_.chain_id);
      if (!p) {
        results[i] = {AdmitStatus::kRejected, Hash32{}, p.error().message};
        continue;
      }
      results[i].tx_id = p->tx_id;
      if (by_id_.contains(p->tx_id) || !seen_in_batch.emplace(p->tx_id, i).second) {
        results[i].status = AdmitStatus::kDuplicate;
        results[i].reason = "already in the mempool";
        continue;
      }
      if (config_.committed_height) {
        auto committed = config_.committed_height(p->tx_id);
        if (!committed) {
          results[i].status = AdmitStatus::kUnavailable;
          results[i].reason =
              "cannot check whether it was committed already: " + committed.error().message;
          continue;
        }
        if (committed->has_value()) {
          results[i].status = AdmitStatus::kDuplicate;
          results[i].reason = "already committed at height " + std::to_string(**committed);
          continue;
        }
      }
      if (std::string expired = ExpiredReason(p->body, height, time_ms); !expired.empty()) {
        results[i].status = AdmitStatus::kRejected;
        results[i].reason = std::move(expired);
        continue;
      }
      const size_t size = envelopes[i].size();
      if (by_id_.size() + batch_txs >= config_.max_txs ||
          bytes_ + batch_bytes + size > config_.max_bytes) {
        results[i].status = AdmitStatus::kFull;
        results[i].reason = "mempool full";
        continue;
      }
      ++batch_txs;
      batch_bytes += size;
      parsed[i] = std::move(*p);
    }
  }

  // 2. One parallel signature batch for everything that passed, outside the lock.
  std::vector<crypto::VerifyItem> items;
  for (const auto& p : parsed) {
    if (!p) continue;
    for (size_t s = 0; s < p->signatures.size(); ++s)
      items.push_back({p->keys[s].span(), p->signing_digest, p->signatures[s].span()});
  }
  std::vector<uint8_t> verdicts(items.size());
  // Bounded: kMaxAdmitBatch * kMaxSignaturesPerTx <= ParallelVerifier::kMaxBatchItems.
  static_assert(kMaxAdmitBatch * ledger::kMaxSignaturesPerTx <=
                crypto::ParallelVerifier::kMaxBatchItems);
  LEDGER_ASSERT(verifier_->VerifyBatch(items, verdicts).has_value());

  // 3. Insert, within the limits.
  const uint64_t now = NowMs();
  std::lock_guard lock(mu_);
  size_t next_item = 0;
  for (size_t i = 0; i < envelopes.size(); ++i) {
    if (!parsed[i]) continue;
    ledger::ParsedTx& p = *parsed[i];
    const size_t n = p.signatures.size();
    bool ok_array[ledger::kMaxSignaturesPerTx] = {};
    LEDGER_ASSERT(n <= ledger::kMaxSignaturesPerTx);
    for (size_t s = 0; s < n; ++s)
      ok_array[s] = verdicts[next_item + s] == crypto::kVerdictValid;
    next_item += n;
    const Hash32 tx_id = p.tx_id;
    const bool all_signatures_valid =
        std::all_of(ok_array, ok_array + n, [](bool ok) { return ok; });
    auto verified = ledger::AcceptBatchVerdict(std::move(p), std::span<const bool>(ok_array, n));
    if (!verified) {
      results[i] = {AdmitStatus::kRejected, tx_id, verified.error().message, !all_signatures_valid};
      continue;
    }
    if (by_id_.contains(tx_id)) {  // admitted by a concurrent call meanwhile
      results[i] = {AdmitStatus::kDuplicate, tx_id, "already in the mempool"};
      continue;
    }
    const size_t size = envelopes[i].size();
    if (by_id_.size() >= config_.max_txs || bytes_ + size > config_.max_bytes) {
      results[i] = {AdmitStatus::kFull, tx_id, "mempool full"};
      continue;
    }
    auto pooled = std::make_shared<PooledTx>(PooledTx{
        Bytes(envelopes[i].begin(), envelopes[i].end()), std::move(*verified), next_seq_++, now});
    by_id_.emplace(tx_id, std::move(pooled));
    order_.push_back(tx_id);
    bytes_ += size;
    results[i] = {AdmitStatus::kAdmitted, tx_id, ""};
  }
  LEDGER_ASSERT(next_item == items.size());
  return results;
}

std::vector<std::shared_ptr<const PooledTx>> Mempool::Reap(
    size_t max_txs, size_t max_bytes, uint64_t next_height,
    const std::unordered_set<Hash32, Hash32Hasher>* exclude) const {
  std::vector<std::shared_ptr<const PooledTx>> out;
  size_t total = 0;
  std::lock_guard lock(mu_);
  for (const Hash32& id : order_) {
    if (out.size() >= max_txs) break;
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    const PooledTx& tx = *it->second;
    if (tx.tx.body().valid_until_height() < next_height) continue;
    if (exclude != nullptr && exclude->contains(id)) continue;
    if (total + tx.envelope.size() > max_bytes) break;
    total += tx.envelope.size();
    out.push_back(it->second);
  }
  return out;
}

std::shared_ptr<const PooledTx> Mempool::Find(const Hash32& tx_id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(tx_id);
  return it == by_id_.end() ? nullptr : it->second;
}

uint64_t Mempool::NowMs() const {
  return config_.now_ms ? config_.now_ms() : SystemClock().MonotonicMs();
}

std::vector<std::shared_ptr<const PooledTx>> Mempool::Stale(size_t max_txs, size_t max_bytes,
                                                            uint64_t min_age_ms) const {
  const uint64_t now = NowMs();
  std::vector<std::shared_ptr<const PooledTx>> out;
  size_t total = 0;
  std::lock_guard lock(mu_);
  for (const Hash32& id : order_) {
    if (out.size() >= max_txs) break;
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    const PooledTx& tx = *it->second;
    // Admission order is age order: the first one too young ends the scan.
    if (now < tx.admitted_at_ms + min_age_ms) break;
    if (total + tx.envelope.size() > max_bytes) break;
    total += tx.envelope.size();
    out.push_back(it->second);
  }
  return out;
}

uint64_t Mempool::AgeMs(const PooledTx& tx) const {
  const uint64_t now = NowMs();
  return now > tx.admitted_at_ms ? now - tx.admitted_at_ms : 0;
}

uint64_t Mempool::OldestAgeMs() const {
  std::lock_guard lock(mu_);
  for (const Hash32& id : order_) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) return AgeMs(*it->second);
  }
  return 0;
}

void Mempool::RemoveLocked(const Hash32& tx_id) {
  auto it = by_id_.find(tx_id);
  if (it == by_id_.end()) return;
  LEDGER_ASSERT(bytes_ >= it->second->envelope.size());
  bytes_ -= it->second->envelope.size();
  by_id_.erase(it);
}

void Mempool::Remove(std::span<const Hash32> tx_ids) {
  std::lock_guard lock(mu_);
  for (const Hash32& id : tx_ids)
    RemoveLocked(id);
  // Compact the order queue's stale front so it stays proportional to the pool.
  while (!order_.empty() && !by_id_.contains(order_.front()))
    order_.pop_front();
  if (order_.size() > 2 * by_id_.size() + 1024) {
    std::deque<Hash32> live;
    for (const Hash32& id : order_)
      if (by_id_.contains(id)) live.push_back(id);
    order_.swap(live);
  }
}

size_t Mempool::Expire(uint64_t height, uint64_t time_ms) {
  std::vector<Hash32> expired;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, tx] : by_id_)
      if (!StillValid(tx->tx.body(), height + 1, time_ms)) expired.push_back(id);
  }
  Remove(expired);
  return expired.size();
}

size_t Mempool::size() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

size_t Mempool::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

}  // namespace cl::node
