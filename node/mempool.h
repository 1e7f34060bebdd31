// The mempool: transactions admitted by this node and not yet committed. Admission decodes the
// envelope, runs the stateless checks (size, limits, chain id, fields), checks every signature once
// in the parallel verifier, and deduplicates by transaction id. A pooled transaction is a
// VerifiedTx, so a block built from the pool, or a proposal whose transactions are found here, is
// executed with no second signature check (DESIGN decision 14).
//
// Limits: at most max_txs transactions and max_bytes envelope bytes; past either, admission answers
// kFull and the client retries later. A transaction that cannot fit is answered kFull before its
// signatures are checked (a full pool refuses at the cost of a parse). Transactions whose validity
// bound has passed are dropped by Expire and never reaped.
//
// Thread safety: every method is safe from several threads (one mutex; signature checks run outside
// it).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crypto/parallel_verifier.h"
#include "ledger/transaction.h"
#include "util/bytes.h"

namespace cl::node {

inline constexpr size_t kMaxAdmitBatch = 4096;

struct MempoolConfig {
  std::string chain_id;
  size_t max_txs = 100'000;
  size_t max_bytes = 256u << 20;
  // The height at which a transaction id was committed, if it was: such a transaction is a
  // duplicate, never admitted again. An error (the lookup could not read) refuses the transaction:
  // it may have been committed. Empty: no committed-transaction check.
  std::function<Result<std::optional<uint64_t>>(const Hash32& tx_id)> committed_height;
  // Monotonic milliseconds, for the age of pooled transactions. Empty: the system's clock.
  std::function<uint64_t()> now_ms = nullptr;
};

struct PooledTx {
  Bytes envelope;
  ledger::VerifiedTx tx;
  uint64_t admitted_seq = 0;    // admission order
  uint64_t admitted_at_ms = 0;  // monotonic (MempoolConfig::now_ms)
};

enum class AdmitStatus {
  kAdmitted,
  kDuplicate,    // already pooled (or committed and still remembered)
  kRejected,     // invalid: reason says why; retrying the same bytes cannot succeed
  kFull,         // the pool is at a limit; retry later
  kUnavailable,  // the node could not check it (a failed read); retry later
};

struct AdmitResult {
  AdmitStatus status = AdmitStatus::kRejected;
  Hash32 tx_id;  // zero when the envelope could not be parsed
  std::string reason;
  // Rejected because a signature does not verify. Nodes forward only transactions they admitted,
  // so a peer that gossips such a transaction is faulty (node.cc penalises it).
  bool bad_signature = false;
};

class Mempool {
 public:
  Mempool(MempoolConfig config, crypto::ParallelVerifier* verifier);

  // Admits up to kMaxAdmitBatch envelopes; one verdict per envelope, in order. Signatures of all
  // new transactions are checked in one parallel batch. Transactions already expired at (height,
  // time_ms) — the last committed block's — are rejected.
  std::vector<AdmitResult> Admit(std::span<const ByteSpan> envelopes, uint64_t height,
                                 uint64_t time_ms);

  // Up to max_txs transactions totalling at most max_bytes envelope bytes, in admission order,
  // skipping any that could not be included at next_height and any in `exclude` (transactions
  // already in a block that is still in flight).
  std::vector<std::shared_ptr<const PooledTx>> Reap(
      size_t max_txs, size_t max_bytes, uint64_t next_height,
      const std::unordered_set<Hash32, Hash32Hasher>* exclude = nullptr) const;

  std::shared_ptr<const PooledTx> Find(const Hash32& tx_id) const;
  // Up to max_txs transactions totalling at most max_bytes envelope bytes, oldest first, pooled for
  // at least min_age_ms: those to send again to the validators (they may never have arrived).
  std::vector<std::shared_ptr<const PooledTx>> Stale(size_t max_txs, size_t max_bytes,
                                                     uint64_t min_age_ms) const;
  // How long the transaction has been pooled, in milliseconds.
  uint64_t AgeMs(const PooledTx& tx) const;
  // The age of the oldest pooled transaction (0 when the pool is empty).
  uint64_t OldestAgeMs() const;
  // Drops committed transactions.
  void Remove(std::span<const Hash32> tx_ids);
  // Drops transactions that can no longer be included after a block at (height, time_ms).
  size_t Expire(uint64_t height, uint64_t time_ms);

  size_t size() const;
  size_t bytes() const;

 private:
  void RemoveLocked(const Hash32& tx_id);
  uint64_t NowMs() const;

  const MempoolConfig config_;
  crypto::ParallelVerifier* const verifier_;
  mutable std::mutex mu_;
  std::unordered_map<Hash32, std::shared_ptr<const PooledTx>, Hash32Hasher> by_id_;
  std::deque<Hash32> order_;  // admission order; may hold ids already removed (skipped lazily)
  size_t bytes_ = 0;
  uint64_t next_seq_ = 0;
};

// Whether a transaction may still be included in a block at (height, time_ms).
bool StillValid(const ledger::pb::TxBody& body, uint64_t height, uint64_t time_ms);

}  // namespace cl::node
