#include "tests/soak/workload.h"

#include <algorithm>
#include <iostream>

#include "util/hex.h"

namespace cl::soak {
namespace {

namespace json = boost::json;

// Submitting threads: a call to a paused node blocks its thread until the timeout, and the others
// keep the rate meanwhile.
constexpr size_t kSubmitters = 8;
constexpr uint32_t kSubmitTimeoutMs = 2'000;  // a paused node must not hold the submitter long
constexpr uint32_t kTrackTimeoutMs = 3'000;   // one get_tx batch
constexpr uint32_t kTrackIntervalMs = 500;    // between tracker polls
constexpr uint32_t kResubmitAfterMs = 4'000;  // an uncommitted tx is sent again after this
constexpr size_t kResubmitBatchMax = 512;     // per tracker poll, in one submit_txs
constexpr size_t kGetTxChunk = 200;           // under the server's batch limit of 256
constexpr uint32_t kSetupTimeoutMs = 60'000;  // the wallet-opening transactions commit
constexpr size_t kRefusalsKept = 5;
constexpr int64_t kAvoidAfterFailureMs = 5'000;  // a node whose call failed is not used this long
constexpr uint64_t kTransferAmountMax = 1'000;
constexpr uint64_t kIssueAmountMax = 5'000;
constexpr uint64_t kShortHoldTimeoutS = 20;    // some holds expire during the run
constexpr uint64_t kLongHoldTimeoutS = 3'600;  // the others are posted or voided

uint64_t MsSince(Clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
}

}  // namespace

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kSetup:
      return "setup";
    case OpKind::kTransfer:
      return "transfer";
    case OpKind::kIssue:
      return "issue";
    case OpKind::kRedeem:
      return "redeem";
    case OpKind::kHold:
      return "hold";
    case OpKind::kPost:
      return "post";
    case OpKind::kVoid:
      return "void";
  }
  return "?";
}

Workload::Workload(const Cluster& cluster, WorkloadOptions options)
    : cluster_(cluster),
      options_(options),
      factory_(cluster.chain_id()),
      avoid_until_ms_(cluster.size()),
      load_rng_(options.seed) {
  for (auto& a : avoid_until_ms_)
    a = 0;
  banks_ = cluster.validators();  // every bank is a validator and issues its USD.<id>
  bank_wallets_.resize(banks_.size());
  for (size_t b = 0; b < banks_.size(); ++b) {
    const uint32_t member_id = cluster.member(banks_[b]).member_id;
    std::vector<Bytes>& accounts = accounts_[TxFactory::AssetOf(member_id)];
    accounts.push_back(TxFactory::IssuerAccount(member_id));
    for (size_t k = 0; k < options_.wallets_per_bank; ++k) {
      bank_wallets_[b].push_back(wallets_.size());
      wallet_bank_.push_back(b);
      wallets_.push_back(TxFactory::NewWallet(member_id));
      accounts.push_back(wallets_.back().id);
    }
  }
}

Workload::~Workload() {
  Stop();
}

Status Workload::Setup() {
  std::vector<std::string> ids;
  for (size_t b = 0; b < banks_.size(); ++b) {
    std::vector<Wallet> wallets;
    TxRecord r;
    r.kind = OpKind::kSetup;
    r.asset = TxFactory::AssetOf(cluster_.member(banks_[b]).member_id);
    for (size_t w : bank_wallets_[b]) {
      wallets.push_back(wallets_[w]);
      r.postings.push_back({});  // create_account
      r.postings.push_back(
          {{TxFactory::IssuerAccount(wallets_[w].custodian), wallets_[w].id, options_.fund_each}});
    }
    SignedTx tx =
        factory_.OpenAndFund(wallets, cluster_.member(banks_[b]).governance, options_.fund_each);
    r.tx_id = tx.tx_id;
    r.hex = tx.hex;
    LEDGER_TRY(integration::Submit(cluster_, banks_[b], tx));
    r.first_submit = r.last_submit = Clock::now();
    r.submits = 1;
    ids.push_back(r.tx_id);
    std::lock_guard lock(mu_);
    index_[r.tx_id] = records_.size();
    records_.push_back(std::move(r));
    counts_.submitted++;
    counts_.submitted_by_kind[static_cast<size_t>(OpKind::kSetup)]++;
  }
  auto committed = integration::WaitCommitted(cluster_, banks_[0], ids, kSetupTimeoutMs);
  if (!committed) return MakeError(ErrorCode::kUnavailable, committed.message());
  std::mt19937_64 track_rng(options_.seed ^ 0x7ac4u);
  TrackOnce(track_rng);  // acknowledges the setup transactions
  return OkStatus();
}

void Workload::Begin() {
  submitting_ = true;
  tracking_ = true;
  next_submit_ = Clock::now();
  for (size_t k = 0; k < kSubmitters; ++k)
    submitters_.emplace_back([this, k] { SubmitLoop(k); });
  tracker_ = std::thread([this] { TrackLoop(); });
}

void Workload::StopSubmitting() {
  submitting_ = false;
  for (std::thread& t : submitters_)
    if (t.joinable()) t.join();
  submitters_.clear();
}

size_t Workload::Drain(uint32_t timeout_ms) {
  const auto start = Clock::now();
  while (true) {
    size_t left = Counts().in_flight;
    if (left == 0 || MsSince(start) >= timeout_ms) return left;
    std::this_thread::sleep_for(std::chrono::milliseconds(kTrackIntervalMs));
  }
}

void Workload::Stop() {
  StopSubmitting();
  tracking_ = false;
  if (tracker_.joinable()) tracker_.join();
}

WorkloadCounts Workload::Counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::vector<TxRecord> Workload::Records() const {
  std::lock_guard lock(mu_);
  return records_;
}

size_t Workload::PickNode(std::mt19937_64& rng) const {
  const int64_t now = NowMs();
  std::vector<size_t> usable;
  for (size_t i = 0; i < avoid_until_ms_.size(); ++i)
    if (avoid_until_ms_[i] <= now) usable.push_back(i);
  if (usable.empty()) return Uniform(rng, 0, avoid_until_ms_.size() - 1);
  return usable[Uniform(rng, 0, usable.size() - 1)];
}

void Workload::Avoid(size_t node) {
  avoid_until_ms_[node] = NowMs() + kAvoidAfterFailureMs;
}

TxRecord Workload::NextTx() {
  std::mt19937_64& rng = load_rng_;
  TxRecord r;
  const uint64_t dice = Uniform(rng, 0, 99);
  std::optional<Hold> hold;
  if (dice >= 90) {
    std::lock_guard lock(mu_);
    if (!live_holds_.empty()) {
      const size_t k = Uniform(rng, 0, live_holds_.size() - 1);
      hold = live_holds_[k];
      live_holds_.erase(live_holds_.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  if (hold) {
    const Wallet& from = wallets_[hold->wallet_from];
    const Wallet& to = wallets_[hold->wallet_to];
    ledger::pb::Operation op;
    const bool post = Uniform(rng, 0, 1) == 0;
    if (post) {
      auto* p = op.mutable_post_pending();
      p->set_id(ToString(TxFactory::NewId()));
      p->set_pending_id(ToString(hold->transfer_id));
      p->set_amount(0);  // all of it
      r.kind = OpKind::kPost;
      r.postings.push_back({{from.id, to.id, hold->amount}});
    } else {
      auto* v = op.mutable_void_pending();
      v->set_id(ToString(TxFactory::NewId()));
      v->set_pending_id(ToString(hold->transfer_id));
      r.kind = OpKind::kVoid;
      r.postings.push_back({});
    }
    SignedTx tx = factory_.Sign({op}, {from.key});
    r.tx_id = tx.tx_id;
    r.hex = tx.hex;
    r.asset = from.asset;
    r.hold_tx_id = hold->tx_id;
    return r;
  }
  const size_t b = Uniform(rng, 0, banks_.size() - 1);
  const std::vector<size_t>& mine = bank_wallets_[b];
  const size_t from = mine[Uniform(rng, 0, mine.size() - 1)];
  size_t to = mine[Uniform(rng, 0, mine.size() - 2)];
  if (to >= from) to++;  // another wallet of the same bank (indices are consecutive)
  const Wallet& w_from = wallets_[from];
  const Wallet& w_to = wallets_[to];
  const Bytes issuer = TxFactory::IssuerAccount(w_from.custodian);
  r.asset = w_from.asset;
  SignedTx tx;
  if (dice < 62) {
    const uint64_t amount = Uniform(rng, 1, kTransferAmountMax);
    tx = factory_.Pay(w_from, w_to, amount);
    r.kind = OpKind::kTransfer;
    r.postings.push_back({{w_from.id, w_to.id, amount}});
  } else if (dice < 70) {
    const uint64_t amount = Uniform(rng, 1, kIssueAmountMax);
    tx = factory_.Sign({TxFactory::TransferOp(TxFactory::NewId(), issuer, w_to.id, amount)},
                       {cluster_.member(banks_[b]).governance});
    r.kind = OpKind::kIssue;
    r.postings.push_back({{issuer, w_to.id, amount}});
  } else if (dice < 77) {
    const uint64_t amount = Uniform(rng, 1, kTransferAmountMax);
    tx = factory_.Sign({TxFactory::TransferOp(TxFactory::NewId(), w_from.id, issuer, amount)},
                       {w_from.key});
    r.kind = OpKind::kRedeem;
    r.postings.push_back({{w_from.id, issuer, amount}});
  } else {
    const uint64_t amount = Uniform(rng, 1, kTransferAmountMax);
    r.hold_transfer_id = TxFactory::NewId();
    r.hold_from = from;
    r.hold_to = to;
    r.hold_amount = amount;
    ledger::pb::Operation op =
        TxFactory::TransferOp(r.hold_transfer_id, w_from.id, w_to.id, amount);
    op.mutable_transfer()->set_pending(true);
    op.mutable_transfer()->set_timeout_s(Uniform(rng, 0, 2) == 0 ? kShortHoldTimeoutS
                                                                 : kLongHoldTimeoutS);
    tx = factory_.Sign({op}, {w_from.key});
    r.kind = OpKind::kHold;
    r.postings.push_back({});
  }
  r.tx_id = tx.tx_id;
  r.hex = tx.hex;
  return r;
}

void Workload::SubmitOne(TxRecord& record, std::mt19937_64& rng) {
  record.submits++;
  record.last_submit = Clock::now();
  const size_t node = PickNode(rng);
  auto r = cluster_.Call(node, "submit_tx", json::object{{"tx", record.hex}}, kSubmitTimeoutMs);
  const json::value* status = r && r->is_object() ? r->as_object().if_contains("status") : nullptr;
  record.history.push_back(
      {record.last_submit, node,
       r ? (status ? json::value_to<std::string>(*status) : json::serialize(*r))
         : r.error().message.substr(0, 80)});
  if (r) return;
  if (r.error().code == ErrorCode::kUnavailable) Avoid(node);
  std::lock_guard lock(mu_);
  counts_.submit_errors++;
  if (r.error().message.find("-32011") != std::string::npos) {
    counts_.refused++;
    if (counts_.refusals.size() < kRefusalsKept)
      counts_.refusals.push_back(cluster_.member(node).name + ": " + r.error().message);
  }
}

void Workload::SubmitLoop(size_t worker) {
  std::mt19937_64 node_rng(options_.seed ^ (0x50b1u + worker));
  const auto interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(1.0 / options_.rate_per_s));
  while (submitting_) {
    Clock::time_point at;
    TxRecord r;
    {
      std::lock_guard lock(schedule_mu_);
      next_submit_ += interval;
      // Open loop: slow calls do not lower the offered rate, but a long stall is not made up in
      // a burst either.
      const auto now = Clock::now();
      if (next_submit_ < now - std::chrono::seconds(1)) next_submit_ = now;
      at = next_submit_;
      r = NextTx();
    }
    std::this_thread::sleep_until(at);
    r.first_submit = Clock::now();
    SubmitOne(r, node_rng);
    std::lock_guard lock(mu_);
    counts_.submitted++;
    counts_.in_flight++;
    counts_.submitted_by_kind[static_cast<size_t>(r.kind)]++;
    index_[r.tx_id] = records_.size();
    records_.push_back(std::move(r));
  }
}

void Workload::TrackLoop() {
  std::mt19937_64 rng(options_.seed ^ 0x7ac4u);
  while (tracking_) {
    TrackOnce(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(kTrackIntervalMs));
  }
}

void Workload::TrackOnce(std::mt19937_64& rng) {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const TxRecord& r : records_)
      if (!r.acknowledged) ids.push_back(r.tx_id);
  }
  if (ids.empty()) return;
  const size_t node = PickNode(rng);
  for (size_t offset = 0; offset < ids.size(); offset += kGetTxChunk) {
    std::vector<json::value> params;
    for (size_t k = offset; k < std::min(ids.size(), offset + kGetTxChunk); ++k)
      params.push_back(json::object{{"tx_id", ids[k]}});
    auto answers =
        integration::BatchCall(cluster_.member(node).rpc, "get_tx", params, kTrackTimeoutMs);
    if (!answers) {  // the node went away; the next poll picks another
      Avoid(node);
      return;
    }
    std::lock_guard lock(mu_);
    for (const json::value& a : *answers) {
      const json::value* result = a.as_object().if_contains("result");
      if (result == nullptr || !result->is_object()) continue;
      const json::object& o = result->as_object();
      if (o.at("status").as_string() != "committed") continue;
      TxRecord& r = records_[index_.at(json::value_to<std::string>(o.at("tx_id")))];
      if (r.acknowledged) continue;
      r.acknowledged = true;
      r.acknowledged_at = Clock::now();
      r.height = o.at("height").to_number<uint64_t>();
      const json::object& receipt = o.at("receipt").as_object();
      r.receipt_status = json::value_to<std::string>(receipt.at("status"));
      for (const json::value& res : receipt.at("results").as_array())
        r.results.push_back(json::value_to<std::string>(res.at("name")));
      counts_.acknowledged++;
      if (r.kind != OpKind::kSetup) counts_.in_flight--;
      counts_.acknowledged_by_kind[static_cast<size_t>(r.kind)]++;
      if (r.kind == OpKind::kHold && r.results.size() == 1 && r.results[0] == "ok")
        live_holds_.push_back({r.tx_id, r.hold_transfer_id, r.hold_from, r.hold_to, r.hold_amount});
    }
  }
  // Send again, to a random usable node, what has waited too long (the node it went to may have
  // been killed before forwarding it).
  std::vector<size_t> stale;
  {
    std::lock_guard lock(mu_);
    for (size_t k = 0; k < records_.size() && stale.size() < kResubmitBatchMax; ++k) {
      const TxRecord& r = records_[k];
      if (!r.acknowledged && MsSince(r.last_submit) >= kResubmitAfterMs) stale.push_back(k);
    }
  }
  if (stale.empty()) return;
  const size_t target = PickNode(rng);
  json::array txs;
  {
    std::lock_guard lock(mu_);
    for (size_t k : stale) {
      txs.push_back(json::value(records_[k].hex));
      records_[k].submits++;
      records_[k].last_submit = Clock::now();
    }
    counts_.resubmits += stale.size();
  }
  const auto sent_at = Clock::now();
  auto r =
      cluster_.Call(target, "submit_txs", json::object{{"txs", std::move(txs)}}, kSubmitTimeoutMs);
  if (!r && r.error().code == ErrorCode::kUnavailable) Avoid(target);
  const json::value* results =
      r && r->is_object() ? r->as_object().if_contains("results") : nullptr;
  std::lock_guard lock(mu_);
  if (!r) counts_.submit_errors++;
  for (size_t j = 0; j < stale.size(); ++j) {
    std::string answer = r ? "no result" : r.error().message.substr(0, 80);
    if (results != nullptr && results->is_array() && j < results->as_array().size()) {
      const json::object& o = results->as_array()[j].as_object();
      answer = json::value_to<std::string>(o.at("status"));
      if (const json::value* reason = o.if_contains("reason"))
        answer += " (" + json::value_to<std::string>(*reason) + ")";
    }
    records_[stale[j]].history.push_back({sent_at, target, std::move(answer)});
  }
}

std::map<std::string, int64_t> Workload::ExpectedBalances(
    const std::vector<TxRecord>& records, const std::vector<FinalState>& final_states,
    uint64_t height) const {
  std::map<std::string, int64_t> balance;
  for (const auto& [asset, accounts] : accounts_)
    for (const Bytes& a : accounts)
      balance[ToHex(a)] = 0;
  for (size_t k = 0; k < records.size() && k < final_states.size(); ++k) {
    const FinalState& s = final_states[k];
    if (!s.committed || s.height > height) continue;
    const TxRecord& r = records[k];
    for (size_t op = 0; op < r.postings.size() && op < s.results.size(); ++op) {
      if (s.results[op] != "ok") continue;
      for (const Posting& p : r.postings[op]) {
        balance[ToHex(p.debit)] -= static_cast<int64_t>(p.amount);
        balance[ToHex(p.credit)] += static_cast<int64_t>(p.amount);
      }
    }
  }
  return balance;
}

}  // namespace cl::soak
