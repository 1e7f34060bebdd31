// Glue between the executor and the authenticated state tree: a StateReader over the tree at a
// fixed version (the previous block's height), and the commit of a block's sorted changes as the
// next version, which yields the state root. Genesis state is version 0.
//
// LatestStateIndex (optional, for speed): a flat copy of the latest state beside the tree, under
// kLatestValuePrefix in the store it is given, plus a bounded in-memory cache of values. Its
// entries and the version marker they reflect are written in one batch (the tree's, or in a node
// the block's, which also fixes the height the tree is brought back to after a crash), so the
// index is always exactly one version or marked as another. A TreeStateReader given
// the index serves reads at the index's version with one store Get (or a cache hit) instead of a
// walk from the root; reads of older versions, and every read when the index is not complete
// (a store whose genesis was committed without it), still walk the tree. Results do not depend
// on it: the flat index is not part of the state root.
//
// The value cache is write-through for the records blocks read again (accounts, assets, members,
// governance, the hold index): a commit stores their new values, so a node keeps its working set
// of accounts in memory from genesis on instead of paying a LevelDB point read (block read, CRC,
// decompression) for each account a transfer touches. Write-once records (transfers, seen
// transaction ids, expiry items) enter the cache only when read.
//
// Thread safety: TreeStateReader is as thread-safe as StateTree::Get (and LatestStateIndex's reads
// are safe concurrently with each other and with a commit); CommitChanges is a writer (one at a
// time, StateTree's rule).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/kv_store.h"
#include "ledger/state_reader.h"
#include "ledger/state_tree.h"

namespace cl::ledger {

// "sv" || state key -> the key's value at the index's version (absent keys have no entry); the key
// "sv" alone -> u64be version the index reflects. Stored on disk: do not change (docs/ledger.md).
inline constexpr std::string_view kLatestValuePrefix = "sv";
// Memory for LatestStateIndex's value cache (keys + values); beyond it the cache is emptied and
// refills from the store.
inline constexpr size_t kLatestValueCacheMaxBytes = size_t{256} << 20;

// LatestStateIndex's value cache: key -> value within a memory bound (beyond it, emptied), as an
// open-addressing table (linear probing) whose entries are one heap block each (key and value
// together). A lookup among a million cached accounts then costs about two cache misses (table
// slot, block) instead of the four or five of a node-based map (bucket, node, key buffer, value
// buffer), which made the lookup the largest single cost of executing a transfer.
//
// Thread safety: not thread-safe (LatestStateIndex guards it with its mutex).
class LatestValueCache {
 public:
  explicit LatestValueCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  LatestValueCache(const LatestValueCache&) = delete;
  LatestValueCache& operator=(const LatestValueCache&) = delete;

  // Copies the cached value of `key` into *out; false when the key is not cached.
  bool Get(std::string_view key, Bytes* out) const;
  // Inserts or replaces. An entry that would pass the memory bound empties the cache first.
  void Put(std::string_view key, ByteSpan value);
  // Replaces the value only when the key is cached.
  void Update(std::string_view key, ByteSpan value);
  void Erase(std::string_view key);
  void Clear();
  size_t size() const { return count_; }
  // The memory estimate the bound applies to.
  size_t bytes() const { return bytes_; }

 private:
  struct Slot {
    uint64_t hash = 0;
    // u32 key size || u32 value size || key || value; null for an empty slot.
    std::unique_ptr<uint8_t[]> block;
  };
  static uint64_t Hash(std::string_view key);
  static std::string_view KeyOf(const Slot& slot);
  static ByteSpan ValueOf(const Slot& slot);
  static size_t EntryBytes(size_t key_size, size_t value_size);
  // The slot holding `key`, or the empty slot where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const;
  void SetBlock(Slot& slot, std::string_view key, ByteSpan value);
  void Grow();

  const size_t max_bytes_;
  std::vector<Slot> slots_;  // size a power of two (or 0), under 70 % full
  size_t count_ = 0;
  size_t bytes_ = 0;
};

class LatestStateIndex {
 public:
  // Reads the index's version from the store. The store must outlive the index. An index whose
  // marker is missing or behind the tree's latest version stays disabled (reads walk the tree)
  // unless genesis (version 0) is committed through it.
  LatestStateIndex(KvStore* store, StateTree& tree,
                   size_t cache_max_bytes = kLatestValueCacheMaxBytes);
  LatestStateIndex(const LatestStateIndex&) = delete;
  LatestStateIndex& operator=(const LatestStateIndex&) = delete;

  // The key's value at `version` when the index can answer for it (version is the index's version),
  // otherwise nullopt (the caller walks the tree).
  std::optional<Result<std::optional<Bytes>>> Get(ByteSpan key, uint64_t version) const;
  // Adds the flat entries of version `height` to *batch; the cache moves to `height`. Called by
  // CommitChanges after the tree accepted the version.
  void Commit(uint64_t height, const std::vector<StateChange>& changes, WriteBatch* batch);
  bool enabled() const { return version_plus_one_.load() != 0; }

 private:
  KvStore* store_;
  // The version the flat entries (once the last commit's batch is written) reflect, plus one; 0
  // when the index is disabled.
  std::atomic<uint64_t> version_plus_one_{0};
  mutable std::mutex mu_;  // guards cache_
  mutable LatestValueCache cache_;
};

class TreeStateReader final : public StateReader {
 public:
  TreeStateReader(const StateTree& tree, uint64_t version, const LatestStateIndex* index = nullptr)
      : tree_(tree), version_(version), index_(index) {}
  Result<std::optional<Bytes>> Get(ByteSpan key) const override {
    if (index_ != nullptr) {
      if (auto flat = index_->Get(key, version_)) return std::move(*flat);
    }
    return tree_.Get(key, version_);
  }

 private:
  const StateTree& tree_;
  uint64_t version_;
  const LatestStateIndex* index_;
};

// Adds the tree nodes of version `height` to *tree_batch and returns its root; with an index, adds
// the flat entries of that version to *batch. The caller writes both (with the block and its
// receipts, synced) before executing the next block: when the tree has a store of its own, the
// tree's batch first (docs/state-tree.md, "Physical storage").
Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                             const std::vector<StateChange>& changes, WriteBatch* tree_batch,
                             WriteBatch* batch, LatestStateIndex* index = nullptr);
// The same with the tree and the index in one store and one batch.
inline Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                                    const std::vector<StateChange>& changes, WriteBatch* batch,
                                    LatestStateIndex* index = nullptr) {
  return CommitChanges(tree, height, changes, batch, batch, index);
}

}  // namespace cl::ledger
