// The deterministic executor: applies a block of verified transactions to the ledger state and
// returns one receipt per transaction plus the block's sorted state changes (which the caller hands
// to StateTree::Apply to get the state root).
//
// Determinism (DESIGN decision 13): the only inputs are the committed state (through StateReader),
// the block height and timestamp, and the transactions; no clock, randomness, floating point or
// unordered iteration is used. Holds expire by block time: at the start of a block, every hold
// whose deadline second is before the block's second is released.
//
// After the block, the invariants (ledger/invariant.h) are checked on everything the block changed.
// An error from ExecuteBlock (storage failure, corrupt record, broken invariant) is FATAL: the
// caller must stop without writing anything from this block.
//
// Thread safety: ExecuteBlock is a pure function of its inputs; concurrent calls on different
// states are safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ledger/ledger.pb.h"
#include "ledger/result_code.h"
#include "ledger/state_reader.h"
#include "ledger/transaction.h"

namespace cl::ledger {

// Holds released automatically in one block are bounded only by how many were placed; the sweep
// reads at most one index bucket per second of block time elapsed up to the latest live deadline.
inline constexpr uint64_t kSecondsPerDay = 86400;

struct BlockInfo {
  std::string chain_id;
  uint64_t height = 0;        // >= 1; genesis state is height 0
  uint64_t timestamp_ms = 0;  // block time, Unix ms, non-decreasing
};

struct BlockOutcome {
  std::vector<pb::Receipt> receipts;  // one per transaction, in block order
  std::vector<StateChange> changes;   // sorted by key, each key once
  uint64_t holds_expired = 0;
};

Result<BlockOutcome> ExecuteBlock(const StateReader& state, const BlockInfo& block,
                                  std::span<const VerifiedTx> txs);

// The receipt's leaf hash: TaggedHash(kReceipt, deterministic receipt bytes).
Hash32 ReceiptHash(const pb::Receipt& receipt);

}  // namespace cl::ledger
