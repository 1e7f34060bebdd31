// The soak's client load: wallets at every bank, and submitters that sign and submit one
// transaction each at a time, together at a fixed rate (transfers, issues, redemptions, holds and
// their posts or voids) to a random node, plus a tracker that polls get_tx until each transaction
// is committed (then it is *acknowledged*: the client was told it is final) and resubmits, to
// another node, one that has stayed uncommitted for a while (resubmitting is safe: the transaction
// id makes it apply at most once).
//
// The load is not told which nodes the nemesis faulted: like a settlement system with several
// endpoints, it avoids a node for a few seconds after a call to it failed or timed out.
//
// Every transaction is recorded with what it does, so that at the end the checks can ask every
// node about every one of them and compute, from the committed receipts alone, the balance every
// account must have (ExpectedBalances).
//
// Thread safety: Setup, Begin, StopSubmitting, Drain and Stop are called from one thread (the
// soak's main thread). The accessors copy under a lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "util/bytes.h"

namespace cl::soak {

using integration::Cluster;
using integration::SignedTx;
using integration::TxFactory;
using integration::Wallet;
using Clock = std::chrono::steady_clock;

// What a transaction does (each one carries one operation, except the setup ones).
enum class OpKind { kSetup, kTransfer, kIssue, kRedeem, kHold, kPost, kVoid };
inline constexpr size_t kOpKinds = 7;
const char* OpKindName(OpKind kind);

// One operation's effect on posted balances when it applies (result "ok"). Holds change only
// pending totals, so they have none; a post moves the held amount.
struct Posting {
  Bytes debit;
  Bytes credit;
  uint64_t amount = 0;
};

// One submission of a transaction: when, to which node (member index), and its answer.
struct SubmitEvent {
  Clock::time_point at;
  size_t node = 0;
  std::string answer;  // "admitted", "duplicate", a refusal, or the transport error
};

struct TxRecord {
  std::string tx_id;
  std::string hex;
  OpKind kind = OpKind::kTransfer;
  std::string asset;
  // What each operation posts when it applies, in operation order (empty for a hold or a void).
  std::vector<std::vector<Posting>> postings;
  std::string hold_tx_id;  // post / void: the transaction that placed the hold
  // A hold: its transfer id, wallets (indices) and amount, for a later post or void.
  Bytes hold_transfer_id;
  size_t hold_from = 0;
  size_t hold_to = 0;
  uint64_t hold_amount = 0;
  // Client side.
  Clock::time_point first_submit;
  Clock::time_point last_submit;
  uint32_t submits = 0;
  std::vector<SubmitEvent> history;
  bool acknowledged = false;
  Clock::time_point acknowledged_at;
  uint64_t height = 0;
  std::string receipt_status;
  std::vector<std::string> results;  // per-operation result names from the receipt
};

struct WorkloadOptions {
  uint64_t seed = 1;
  double rate_per_s = 10;
  size_t wallets_per_bank = 4;
  uint64_t fund_each = 1'000'000;
};

struct WorkloadCounts {
  size_t submitted = 0;
  size_t acknowledged = 0;
  size_t in_flight = 0;
  size_t submit_errors = 0;  // calls that failed (node down or paused); the tracker resubmits
  size_t refused = 0;        // -32011: a node refused a transaction outright (never expected)
  size_t resubmits = 0;
  std::array<size_t, kOpKinds> acknowledged_by_kind{};
  std::array<size_t, kOpKinds> submitted_by_kind{};
  std::vector<std::string> refusals;  // the first few refusal messages
};

class Workload {
 public:
  Workload(const Cluster& cluster, WorkloadOptions options);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Opens and funds the wallets (one transaction per bank) and waits until they commit.
  Status Setup();
  void Begin();
  // Stops the submitter; the tracker keeps polling.
  void StopSubmitting();
  // Waits until every submitted transaction is acknowledged or `timeout_ms` passes; returns how
  // many are still not acknowledged.
  size_t Drain(uint32_t timeout_ms);
  void Stop();

  WorkloadCounts Counts() const;
  std::vector<TxRecord> Records() const;
  // Every account the load uses, per asset code (the issuer account first).
  const std::map<std::string, std::vector<Bytes>>& AccountsByAsset() const { return accounts_; }
  // Balances implied by the records whose `committed` entry says they committed at or below the
  // height, with the per-operation results given there (index-aligned with Records()).
  struct FinalState {
    bool committed = false;
    uint64_t height = 0;
    std::vector<std::string> results;
  };
  // Keyed by the account id's hex.
  std::map<std::string, int64_t> ExpectedBalances(const std::vector<TxRecord>& records,
                                                  const std::vector<FinalState>& final_states,
                                                  uint64_t height) const;

 private:
  struct Hold {
    std::string tx_id;
    Bytes transfer_id;
    size_t wallet_from;
    size_t wallet_to;
    uint64_t amount;
  };
  void SubmitLoop(size_t worker);
  void TrackLoop();
  void TrackOnce(std::mt19937_64& rng);
  // Builds the next transaction from the load's random stream.
  TxRecord NextTx();
  // A random node among those not avoided (any node when all are).
  size_t PickNode(std::mt19937_64& rng) const;
  void Avoid(size_t node);
  // Submits and updates the record's submit fields; false when the call failed.
  void SubmitOne(TxRecord& record, std::mt19937_64& rng);

  const Cluster& cluster_;
  const WorkloadOptions options_;
  const TxFactory factory_;
  std::vector<Wallet> wallets_;      // all banks' wallets
  std::vector<size_t> wallet_bank_;  // index into banks_ per wallet
  std::vector<size_t> banks_;        // member indices of the banks (issuers)
  std::vector<std::vector<size_t>> bank_wallets_;
  std::map<std::string, std::vector<Bytes>> accounts_;
  std::vector<std::atomic<int64_t>> avoid_until_ms_;  // steady clock, after a failed call
  std::mutex schedule_mu_;                            // guards the two below
  std::mt19937_64 load_rng_;  // the submitters' stream: which operation, which accounts, amounts
  Clock::time_point next_submit_;

  mutable std::mutex mu_;  // guards everything below
  std::vector<TxRecord> records_;
  std::map<std::string, size_t> index_;  // tx id -> records_ index
  std::vector<Hold> live_holds_;         // acknowledged, applied, not yet posted or voided
  WorkloadCounts counts_;

  std::atomic<bool> submitting_{false};
  std::atomic<bool> tracking_{false};
  std::vector<std::thread> submitters_;
  std::thread tracker_;
};

}  // namespace cl::soak
