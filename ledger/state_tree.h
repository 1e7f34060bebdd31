// The authenticated state tree (DESIGN decision 4): a versioned sparse Merkle tree in the Jellyfish
// style over 256-bit key hashes. Version = block height. Each Apply builds a new version from the
// latest one, sharing every untouched node with it; any retained version can be read and proved
// (inclusion or non-inclusion, ledger/state_proof.h), and Prune drops versions below a retention
// floor. docs/state-tree.md specifies the logical hashing, the physical node format and the proofs.
//
// Storage: the tree keeps all its records in the KvStore under kStateTreePrefix, so the node can
// keep blocks in the same database and commit a block and its state in one synced batch.
//
// Thread safety: one writer (Apply, Prune) at a time; Get, Prove, Root and LatestVersion may run on
// other threads concurrently with each other and with the writer, for versions whose batches have
// been written. A large Apply (kParallelItemsMin distinct keys or more, see state_tree.cc) updates
// the two halves of the tree on two threads of its own and joins them before it returns; the
// result does not depend on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "ledger/kv_store.h"
#include "ledger/state_proof.h"
#include "ledger/state_reader.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Every key the tree writes starts with these bytes: do not change (docs/state-tree.md).
inline constexpr std::string_view kStateTreePrefix = "st";

// Memory for the cache of internal nodes (the newest node at each position, compact); beyond it,
// entries are evicted and re-read from the store. A 1,000,000-key tree has about 380,000 internal
// nodes taking about 160 MB, so the default keeps trees of about three million keys whole.
inline constexpr size_t kStateTreeCacheMaxBytes = size_t{512} << 20;

// Versions one Prune call advances at most (one store read each, plus the deletions).
inline constexpr uint64_t kPruneMaxVersionsPerCall = 4096;

// One write of an Apply: a put (value set) or a delete (nullopt). The same type as the executor's
// StateChange, so a block's changes are applied as they are, without a copy of every key and value.
using StateWrite = StateChange;

class StateTreeCache;

class StateTree {
 public:
  // The store must outlive the tree. Reads the latest version from the store; a store failure there
  // is reported by the first Apply.
  explicit StateTree(KvStore* store, size_t cache_max_bytes = kStateTreeCacheMaxBytes);
  ~StateTree();
  StateTree(const StateTree&) = delete;
  StateTree& operator=(const StateTree&) = delete;

  // Builds `version` from the latest version (an empty tree if none) with these writes (puts and
  // deletes; for a key written twice the last write wins) and returns its root. Adds every node,
  // stale record and root record to *batch without writing: the caller commits it, with its block,
  // in one synced batch, and must do so before the next Apply or any read of this version.
  // Discarding the batch instead requires a new StateTree. Errors: kFailedPrecondition when
  // version is not above the latest; kInvalidArgument for an oversized key or value.
  Result<Hash32> Apply(uint64_t version, std::span<const StateWrite> writes, WriteBatch* batch);

  // The key's value at `version` (nullopt when absent). kNotFound when the version is not retained,
  // also when a Prune dropped it while this read was walking it (Get and Prove).
  Result<std::optional<Bytes>> Get(ByteSpan key, uint64_t version) const;
  // An inclusion (with the value) or non-inclusion proof for key against Root(version).
  Result<StateProof> Prove(ByteSpan key, uint64_t version) const;
  // kNotFound when the version was never applied or has been pruned.
  Result<Hash32> Root(uint64_t version) const;
  // The last applied version; nullopt for a tree never written.
  std::optional<uint64_t> LatestVersion();
  // Whether the tree's store could be read when it was made (its last record); an error here is
  // returned by every Apply and Prune too.
  const Status& load_status() const { return load_status_; }

  // Deletes every record of the versions above `keep` (all versions and the prune floor when
  // nullopt) and writes the
  // deletion to the store, synced; the latest version is then `keep`. For a node whose tree lives
  // in a store of its own (docs/state-tree.md, "Physical storage"): a crash after the tree's batch
  // of a block was written but before the block's was leaves the tree one version ahead, and the
  // node drops it at start-up. Not to be run concurrently with readers of the dropped versions.
  Status DropVersionsAbove(std::optional<uint64_t> keep);

  // Adds to *batch the deletion of every node that no version >= min_retained_version references,
  // and of the root records of older versions. One call goes at most kPruneMaxVersionsPerCall
  // versions past the previous prune (the prune floor records how far it got); the rest waits for
  // the next call, so a first prune of a long chain is spread over calls. Call it after the batches
  // of earlier Apply calls are written. kInvalidArgument when min_retained_version is above the
  // latest version.
  Status Prune(uint64_t min_retained_version, WriteBatch* batch);

 private:
  KvStore* store_;
  std::unique_ptr<StateTreeCache> cache_;
  Status load_status_;
  // The second Apply thread's half of a version's nodes, reused between versions (Apply is the
  // one writer).
  WriteBatch parallel_batch_;
  // The last applied version plus one; 0 before the first Apply. Atomic for LatestVersion readers.
  std::atomic<uint64_t> latest_version_plus_one_{0};
};

}  // namespace cl::ledger
