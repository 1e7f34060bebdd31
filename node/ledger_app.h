// The node's ledger side: the committed chain (block store, latest-value index) on one KvStore and
// the state tree on another (or the same), genesis initialisation, building and checking
// proposals, and executing a committed block and writing it durably: the tree's nodes of the new
// version in one synced batch to the state store, then the block, its commit certificate,
// receipts and flat state values in one synced batch to the chain store (DESIGN decision 8; the
// block's batch decides whether the block is committed). A crash between the two writes leaves
// the tree one version ahead of the chain; Open drops that version, and the block is executed
// again. Two stores because the tree's records are append-only by version: alone in their LevelDB
// they are never rewritten by compaction, while the chain store's records (transaction index,
// flat values) are updated at random keys (docs/state-tree.md, "Physical storage").
//
// Blocks and null blocks. A committed payload is either a block (ledger/block.proto) or a null
// block: an empty payload (consensus fills view-change gaps with them), or a block that turns out
// not to extend the chain when it executes (its previous-block link or its timestamp is wrong, or a
// transaction's signature fails — possible only if more than f validators are faulty). A null block
// changes no state and has no receipts; it is stored so the chain has every height. Every honest
// node classifies a block the same way, so execution stays deterministic.
//
// The block digest, which consensus votes on and the next block's prev_header_hash names, is the
// header hash for a well-formed block and H(0x37 || payload) for a payload that is not one. The
// header commits to every envelope byte (witness_root) and the block is parsed strictly, so a
// payload whose digest a certificate names is exactly the payload the validators executed: a
// signature byte flipped in transit gives another digest, never another execution.
//
// Thread safety: one writer (the driver thread) calls CheckProposal, BuildBlock, Commit and
// StoreExecutionCertificate; reads (height, tree, blocks, the Get* helpers) are safe from other
// threads concurrently.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "genesis/genesis.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/epoch.h"
#include "ledger/kv_store.h"
#include "ledger/proof_bundle.h"
#include "ledger/state_tree.h"
#include "ledger/transaction.h"
#include "ledger/tree_state.h"

namespace cl::node {

// How far a proposal's timestamp may be ahead of this node's clock.
inline constexpr uint64_t kMaxClockSkewMs = 10'000;

// Verified transactions for a block's envelopes, in order (the mempool's cache, else a parallel
// check). An error means some signature does not verify.
using TxResolver =
    std::function<Result<std::vector<ledger::VerifiedTx>>(const ledger::DecodedBlock& block)>;

// What an execution certificate certifies about a block (an observer's sync): Commit writes the
// block only if its own execution gives these roots, and stores the certificate with it.
struct CertifiedExecution {
  Hash32 state_root;
  Hash32 receipt_root;
  ByteSpan exec_cert;  // the certificate's bytes, stored in the block's batch
};

// A validator-set change a committed block scheduled (docs/consensus.md "Epochs").
struct ScheduledSet {
  uint64_t epoch = 0;
  uint64_t changed_height = 0;  // the block that scheduled it
  uint64_t activation_height = 0;
  std::vector<crypto::PublicKey> validators;  // replica order
  Hash32 set_hash;                            // ledger::ValidatorSetHash(validators)
};

struct CommitResult {
  uint64_t height = 0;
  Hash32 block_digest;
  Hash32 state_root;
  Hash32 receipt_root;
  uint64_t timestamp_ms = 0;
  bool null_block = false;
  std::string null_reason;
  std::vector<Hash32> tx_ids;
  ledger::pb::ReceiptList receipts;
  std::optional<ScheduledSet> scheduled;  // the change this block scheduled, if any
  bool members_changed = false;           // a member, the governance or the epoch record changed
};

class LedgerApp {
 public:
  // Opens the chain in `store` and its state tree in `state_store` (which may be the same store);
  // fresh stores get the genesis state as version 0. A store made from another genesis, or a tree
  // behind the chain, is an error; tree versions above the chain's height are dropped (see above).
  static Result<std::unique_ptr<LedgerApp>> Open(ledger::KvStore* store,
                                                 ledger::KvStore* state_store,
                                                 const genesis::Genesis& genesis);
  // The chain and its tree in one store.
  static Result<std::unique_ptr<LedgerApp>> Open(ledger::KvStore* store,
                                                 const genesis::Genesis& genesis) {
    return Open(store, store, genesis);
  }

  const genesis::Genesis& genesis() const { return genesis_; }
  const std::string& chain_id() const { return genesis_.chain_id; }
  uint64_t height() const { return height_.load(); }
  Hash32 last_digest() const;
  uint64_t last_timestamp_ms() const;
  // The validator set (and its hash, as headers carry it) that certifies `height`: known for every
  // height up to the activation of the change last scheduled (and beyond, until another is).
  Hash32 ValidatorSetHashFor(uint64_t height) const;
  std::vector<crypto::PublicKey> ValidatorsFor(uint64_t height) const;
  uint64_t EpochFor(uint64_t height) const;
  // The schedule as of the latest committed block: the set in force and the one scheduled.
  ledger::pb::EpochRecord epoch_record() const;
  // The next height's set hash.
  Hash32 validator_set_hash() const { return ValidatorSetHashFor(height() + 1); }
  // The change that started `epoch` (>= 1), as recorded when its block committed: the block's
  // height and the new set. nullopt for an epoch not (yet) scheduled.
  Result<std::optional<ScheduledSet>> ScheduledEpoch(uint64_t epoch) const;
  // Every member's record in the latest state, removed ones included, by id.
  Result<std::vector<ledger::pb::MemberRecord>> Members() const;
  // A member's record in the latest state (nullopt: no such member).
  Result<std::optional<ledger::pb::MemberRecord>> Member(uint32_t id) const;
  // The node keys p2p admits: every member's not removed, and every key of the validator sets
  // in force or scheduled (a rotated key signs until its epoch ends).
  Result<std::set<crypto::PublicKey>> MemberKeys() const;
  // Every change from epoch 1 on whose block has its execution certificate stored, in order
  // (ledger::BuildProofBundle's epoch history); it stops at the first without one.
  Result<std::vector<ledger::EpochChange>> EpochHistory() const;

  // The block digest of a payload (see above).
  Hash32 Digest(ByteSpan payload) const;

  // A block at `height` of already verified envelopes, extending the block `prev_digest` (the last
  // committed one, or a proposal still in flight). The caller picks timestamp_ms, after the
  // previous block's.
  Bytes BuildBlock(uint64_t height, const Hash32& prev_digest, uint64_t timestamp_ms,
                   std::span<const Bytes> envelopes, std::span<const Hash32> tx_ids,
                   uint32_t proposer) const;

  // Whether a proposal for `height` may be prepared: structure, chain id, height, proposer-set
  // hash, timestamp against now_ms, every signature (through resolve); the previous-block link and
  // timestamp order when height() == height - 1 (otherwise they are checked when it commits).
  Status CheckProposal(uint64_t height, ByteSpan payload, uint64_t now_ms,
                       const TxResolver& resolve) const;

  // Executes the committed payload at height() + 1 and writes it durably. With `certified`, the
  // roots are compared first: if they differ, nothing is written, the latest-state index is left
  // as it was, and the error is kFailedPrecondition ("execution differs from the execution
  // certificate"), so a restarted node starts from the last block it did verify. An error is fatal
  // (storage failure, a broken invariant, a result that differs from a certified one): the node
  // must stop.
  Result<CommitResult> Commit(uint64_t height, ByteSpan payload, ByteSpan commit_cert,
                              const TxResolver& resolve,
                              const CertifiedExecution* certified = nullptr);

  Status StoreExecutionCertificate(uint64_t height, ByteSpan cert);

  // Drops the state versions below height() + 1 - retain_versions (storage.retain_versions; 0
  // keeps every version): their nodes no later version uses, and their root records. Blocks and
  // receipts stay. Reads of a dropped version answer kNotFound. Not synced: a prune lost in a
  // crash is redone by the next one.
  Status PruneState(uint64_t retain_versions);

  const ledger::StateTree& tree() const { return *tree_; }
  const ledger::BlockStore& blocks() const { return blocks_; }
  ledger::KvStore* store() const { return store_; }

 private:
  LedgerApp(ledger::KvStore* store, ledger::KvStore* state_store, genesis::Genesis genesis);
  Status Initialise();
  // Adds version `height` of the state: the tree's nodes to tree_batch_ (cleared first) when the
  // tree has a store of its own, else to *batch; the latest-value index's entries to *batch. With
  // expected_root, a different root is an error before the index (whose cache serves reads of the
  // latest state) takes the changes.
  Result<Hash32> StageState(uint64_t height, const std::vector<ledger::StateChange>& changes,
                            ledger::WriteBatch* batch, const Hash32* expected_root = nullptr);
  // Writes what StageState and the caller staged: tree_batch_ first when the tree has a store of
  // its own, then *batch, both synced.
  Status WriteCommit(const ledger::WriteBatch& batch);

  ledger::KvStore* const store_;
  ledger::KvStore* const state_store_;
  const genesis::Genesis genesis_;
  std::unique_ptr<ledger::StateTree> tree_;
  // Reads of the latest state in one lookup instead of a tree walk (ledger/tree_state.h).
  std::unique_ptr<ledger::LatestStateIndex> index_;
  ledger::BlockStore blocks_;
  // The batch of the block being executed, reused so its buffer (tens of megabytes for a full
  // block) is not regrown for every block. Used by the executing thread only.
  ledger::WriteBatch block_batch_;
  ledger::WriteBatch tree_batch_;  // the same, for the tree's nodes when state_store_ != store_
  std::atomic<uint64_t> height_{0};
  mutable std::mutex mu_;  // guards the three fields below
  ledger::pb::EpochRecord epoch_record_;
  Hash32 last_digest_;
  uint64_t last_timestamp_ms_ = 0;
};

}  // namespace cl::node
