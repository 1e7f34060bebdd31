#include "ledger/state_tree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "util/assert.h"

namespace cl::ledger {
namespace {

// ---- Key layout (docs/state-tree.md). These bytes reach disk: do not change. ----
// Every record of a version sits under "stN" || u64 BE version, so a version's records are adjacent
// and each version's keys sort after every earlier version's: LevelDB then moves the tables it
// flushes down its levels without rewriting them (no record is ever overwritten in place).
// Node:        "stN" || u64 BE version || u8 nibble_count (0..64) || nibbles packed high-first
//              (odd count: low 4 bits 0)
// Stale index: "stN" || u64 BE stale_since_version || 0xFE -> the node keys (u64 BE version ||
//              u8 count || packed nibbles, concatenated) of every node that version replaced or
//              removed
// Root record: "stN" || u64 BE version || 0xFF (the greatest key of its version, so the last key
//              under "stN" is the latest version's root record)
// Prune floor: "stP" -> u64 BE: every version below it has been pruned (absent: 0)
constexpr uint8_t kNodeTag = 'N';
constexpr uint8_t kPruneFloorTag = 'P';
constexpr uint8_t kStaleMarker = 0xfe;
constexpr uint8_t kRootMarker = 0xff;

// Node value encodings. Do not change.
//   leaf:     0x00 || key_hash (32) || varint value_len || value
//   internal: 0x01 || u16 BE present_bitmap || u16 BE leaf_bitmap ||
//             for each present child, nibble 0..15: varint version || hash (32)
//   (bit i of a bitmap, i.e. 1 << i, is child nibble i)
constexpr uint8_t kLeafNodeType = 0x00;
constexpr uint8_t kInternalNodeType = 0x01;
// Root record values. Do not change.
//   0x00 (empty tree) | 0x01 || u64 BE version || hash (leaf root) | 0x02 || ... (internal root)
constexpr uint8_t kRootEmpty = 0x00;
constexpr uint8_t kRootLeaf = 0x01;
constexpr uint8_t kRootInternal = 0x02;

constexpr size_t kNibblesPerKey = 64;
// An Apply with at least this many distinct keys updates the root's two halves on two threads.
constexpr size_t kParallelItemsMin = 2048;
constexpr size_t kChildrenPerNode = 16;

uint8_t NibbleAt(const Hash32& h, size_t index) {
  const uint8_t byte = h.bytes[index / 2];
  return index % 2 == 0 ? byte >> 4 : byte & 0x0f;
}

// A node's position: the first `length` nibbles of `bits` (the rest zero).
struct NibblePath {
  Hash32 bits;
  uint8_t length = 0;

  NibblePath Child(uint8_t nibble) const {
    LEDGER_ASSERT(length < kNibblesPerKey && nibble < kChildrenPerNode);
    NibblePath out = *this;
    uint8_t& byte = out.bits.bytes[length / 2];
    byte |= length % 2 == 0 ? static_cast<uint8_t>(nibble << 4) : nibble;
    out.length = static_cast<uint8_t>(length + 1);
    return out;
  }
  bool operator==(const NibblePath&) const = default;
};

struct NodeKey {
  uint64_t version = 0;
  NibblePath path;
  bool operator==(const NodeKey&) const = default;
};

struct NodeKeyHasher {
  // splitmix64's finaliser over the path's first 16 bytes, its length and the version: paths of one
  // version share most bits, so they need real mixing to spread over the buckets.
  static uint64_t Mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  size_t operator()(const NodeKey& key) const {
    const uint64_t high = LoadU64BE(key.path.bits.data());
    const uint64_t low = LoadU64BE(key.path.bits.data() + 8);
    return Mix(high ^ Mix(low ^ Mix(key.version ^ (uint64_t{key.path.length} << 56))));
  }
};

void AppendNodeKeySuffix(Bytes& out, const NodeKey& key) {
  AppendU64BE(out, key.version);
  AppendU8(out, key.path.length);
  Append(out, key.path.bits.span().first((key.path.length + 1) / 2));
}

Bytes TreeKey(uint8_t tag) {
  Bytes out(kStateTreePrefix.begin(), kStateTreePrefix.end());
  out.push_back(tag);
  return out;
}

// Replaces out's content (a reused buffer) with the node's store key.
void EncodeNodeStoreKey(const NodeKey& key, Bytes& out) {
  out.assign(kStateTreePrefix.begin(), kStateTreePrefix.end());
  out.push_back(kNodeTag);
  AppendNodeKeySuffix(out, key);
}

Bytes NodeStoreKey(const NodeKey& key) {
  Bytes out;
  out.reserve(kStateTreePrefix.size() + 1 + 8 + 1 + 32);
  EncodeNodeStoreKey(key, out);
  return out;
}

Bytes VersionRecordKey(uint64_t version, uint8_t marker) {
  Bytes out = TreeKey(kNodeTag);
  AppendU64BE(out, version);
  AppendU8(out, marker);
  return out;
}

Bytes StaleStoreKey(uint64_t stale_since) {
  return VersionRecordKey(stale_since, kStaleMarker);
}

Bytes RootStoreKey(uint64_t version) {
  return VersionRecordKey(version, kRootMarker);
}

// Parses one suffix written by AppendNodeKeySuffix.
std::optional<NodeKey> ParseNodeKeySuffix(ByteReader& reader) {
  NodeKey key;
  const auto version = reader.U64BE();
  const auto length = reader.U8();
  if (!version || !length || *length > kNibblesPerKey) return std::nullopt;
  const auto packed = reader.Take((*length + 1) / 2);
  if (!packed) return std::nullopt;
  key.version = *version;
  key.path.length = *length;
  std::copy(packed->begin(), packed->end(), key.path.bits.bytes.begin());
  return key;
}

// A child entry of an internal node: the child's subtree hash and the version it was written at.
struct Child {
  Hash32 hash;
  uint64_t version = 0;
  bool operator==(const Child&) const = default;
};

struct InternalNode {
  uint16_t present = 0;  // bit i: child nibble i exists
  uint16_t leaves = 0;   // bit i: child nibble i is a leaf (subset of present)
  std::array<Child, kChildrenPerNode> children{};

  bool Has(size_t i) const { return (present >> i) & 1; }
  bool IsLeaf(size_t i) const { return (leaves >> i) & 1; }
};

struct LeafNode {
  Hash32 key_hash;
  Bytes value;
};

// Encoders replace out's content (a reused buffer).
void EncodeInternal(const InternalNode& node, Bytes& out) {
  out.clear();
  AppendU8(out, kInternalNodeType);
  AppendU16BE(out, node.present);
  AppendU16BE(out, node.leaves);
  for (size_t i = 0; i < kChildrenPerNode; ++i) {
    if (!node.Has(i)) continue;
    AppendVarint(out, node.children[i].version);
    Append(out, node.children[i].hash.span());
  }
}

void EncodeLeaf(const Hash32& key_hash, ByteSpan value, Bytes& out) {
  out.clear();
  AppendU8(out, kLeafNodeType);
  Append(out, key_hash.span());
  AppendLengthPrefixed(out, value);
}

std::unexpected<Error> CorruptNode(const NodeKey& key, const char* what) {
  return MakeError(ErrorCode::kCorruption, std::string("state tree node at version ") +
                                               std::to_string(key.version) + ", depth " +
                                               std::to_string(key.path.length) + ": " + what);
}

Result<InternalNode> DecodeInternal(ByteSpan bytes, const NodeKey& key) {
  ByteReader reader(bytes);
  InternalNode node;
  const auto type = reader.U8();
  const auto present = reader.U16BE();
  const auto leaves = reader.U16BE();
  if (!type || *type != kInternalNodeType || !present || !leaves) {
    return CorruptNode(key, "not an internal node");
  }
  if ((*leaves & ~*present) != 0) return CorruptNode(key, "leaf bitmap outside present bitmap");
  node.present = *present;
  node.leaves = *leaves;
  for (size_t i = 0; i < kChildrenPerNode; ++i) {
    if (!node.Has(i)) continue;
    const auto version = reader.Varint();
    const auto hash = reader.TakeHash();
    if (!version || !hash) return CorruptNode(key, "truncated child");
    node.children[i] = Child{*hash, *version};
  }
  if (!reader.done()) return CorruptNode(key, "trailing bytes");
  return node;
}

Result<LeafNode> DecodeLeaf(ByteSpan bytes, const NodeKey& key) {
  ByteReader reader(bytes);
  const auto type = reader.U8();
  const auto key_hash = reader.TakeHash();
  const auto value = reader.LengthPrefixed(kStateValueMaxBytes);
  if (!type || *type != kLeafNodeType || !key_hash || !value || !reader.done()) {
    return CorruptNode(key, "not a leaf node");
  }
  return LeafNode{*key_hash, Bytes(value->begin(), value->end())};
}

// The binary subtrees of one internal node: level k holds 2^k subtrees, each covering 16 >> k child
// slots. Each is empty, a single leaf (collapsed: its hash is the leaf's), or holds two or more
// leaves (hash = H(0x01 || left || right), empty sides being 32 zero bytes).
enum class SubtreeKind : uint8_t { kEmpty, kSingleLeaf, kMany };

struct Subtree {
  Hash32 hash;
  SubtreeKind kind = SubtreeKind::kEmpty;
};

struct BinaryLevels {
  std::array<Subtree, 1> l0;
  std::array<Subtree, 2> l1;
  std::array<Subtree, 4> l2;
  std::array<Subtree, 8> l3;
  std::array<Subtree, 16> l4;

  std::span<const Subtree> Level(size_t k) const {
    switch (k) {
      case 0:
        return l0;
      case 1:
        return l1;
      case 2:
        return l2;
      case 3:
        return l3;
      default:
        return l4;
    }
  }
};

Subtree Combine(const Subtree& left, const Subtree& right) {
  if (left.kind == SubtreeKind::kEmpty && right.kind != SubtreeKind::kMany) return right;
  if (right.kind == SubtreeKind::kEmpty && left.kind != SubtreeKind::kMany) return left;
  return Subtree{StateInnerHash(left.hash, right.hash), SubtreeKind::kMany};
}

template <size_t N>
void CombineLevel(const std::array<Subtree, 2 * N>& below, std::array<Subtree, N>& above) {
  for (size_t i = 0; i < N; ++i)
    above[i] = Combine(below[2 * i], below[2 * i + 1]);
}

BinaryLevels ComputeLevels(const InternalNode& node) {
  BinaryLevels levels;
  for (size_t i = 0; i < kChildrenPerNode; ++i) {
    if (!node.Has(i)) continue;
    levels.l4[i] = Subtree{node.children[i].hash,
                           node.IsLeaf(i) ? SubtreeKind::kSingleLeaf : SubtreeKind::kMany};
  }
  CombineLevel<8>(levels.l4, levels.l3);
  CombineLevel<4>(levels.l3, levels.l2);
  CombineLevel<2>(levels.l2, levels.l1);
  CombineLevel<1>(levels.l1, levels.l0);
  return levels;
}

// The hashes of an internal node's binary subtrees at levels 0..3 (level 4 being the children):
// level k, index j at [(1 << k) - 1 + j]. Only entries whose subtree is kMany are kept current;
// the others are never read.
constexpr size_t kLevelHashCount = 15;
using LevelHashes = std::array<Hash32, kLevelHashCount>;

// Child slots covered by subtree `index` of binary level `level`.
uint16_t SubtreeMask(size_t level, size_t index) {
  const size_t span = kChildrenPerNode >> level;
  return static_cast<uint16_t>(((1u << span) - 1) << (index * span));
}

SubtreeKind KindOf(const InternalNode& node, size_t level, size_t index) {
  const uint16_t present = node.present & SubtreeMask(level, index);
  if (present == 0) return SubtreeKind::kEmpty;
  if (std::has_single_bit(present) && (node.leaves & present) != 0) return SubtreeKind::kSingleLeaf;
  return SubtreeKind::kMany;
}

// What subtree (level, index) contributes to its parent's hash (ComputeLevels' Subtree::hash).
Hash32 SubtreeValue(const InternalNode& node, const LevelHashes& levels, size_t level,
                    size_t index) {
  if (level == 4) return node.Has(index) ? node.children[index].hash : Hash32{};
  switch (KindOf(node, level, index)) {
    case SubtreeKind::kEmpty:
      return Hash32{};
    case SubtreeKind::kSingleLeaf:
      return node
          .children[std::countr_zero(
              static_cast<uint16_t>(node.present & SubtreeMask(level, index)))]
          .hash;
    default:
      return levels[(size_t{1} << level) - 1 + index];
  }
}

// The node's hash, as InternalHash computes it, recomputing only the level hashes above the
// children named in `dirty` (every one when !valid) and updating `levels`. A node of 16 children
// with one changed child costs 4 hashes instead of 15.
Hash32 HashInternal(const InternalNode& node, uint16_t dirty, bool valid, LevelHashes& levels) {
  if (!valid) dirty = 0xffff;
  for (size_t level = 4; level-- > 0;) {
    const size_t count = size_t{1} << level;
    for (size_t j = 0; j < count; ++j) {
      if ((dirty & SubtreeMask(level, j)) == 0) continue;
      if (KindOf(node, level, j) != SubtreeKind::kMany) continue;
      levels[count - 1 + j] = StateInnerHash(SubtreeValue(node, levels, level + 1, 2 * j),
                                             SubtreeValue(node, levels, level + 1, 2 * j + 1));
    }
  }
  return SubtreeValue(node, levels, 0, 0);
}

struct RootRecord {
  uint8_t kind = kRootEmpty;
  Child child;  // kRootLeaf / kRootInternal
};

Bytes EncodeRoot(const RootRecord& root) {
  Bytes out;
  AppendU8(out, root.kind);
  if (root.kind != kRootEmpty) {
    AppendU64BE(out, root.child.version);
    Append(out, root.child.hash.span());
  }
  return out;
}

Result<RootRecord> DecodeRoot(ByteSpan bytes, uint64_t version) {
  ByteReader reader(bytes);
  RootRecord root;
  const auto kind = reader.U8();
  bool ok = kind.has_value() && *kind <= kRootInternal;
  if (ok && *kind != kRootEmpty) {
    const auto node_version = reader.U64BE();
    const auto hash = reader.TakeHash();
    ok = node_version && hash;
    if (ok) root.child = Child{*hash, *node_version};
  }
  if (!ok || !reader.done()) {
    return MakeError(ErrorCode::kCorruption, "state tree root record of version " +
                                                 std::to_string(version) + " is corrupt");
  }
  root.kind = *kind;
  return root;
}

// An internal node being rebuilt by the updater, with what it knows of its leaf children's key
// hashes (not stored on disk: the parent's entry holds only the leaf hash).
struct WorkingNode {
  InternalNode node;
  uint16_t known_key_hashes = 0;  // bit i: leaf_key_hashes[i] is set
  std::array<Hash32, kChildrenPerNode> leaf_key_hashes{};
  // The level hashes (HashInternal) as of the last hashing, when levels_valid; bit i of
  // dirty_children: child i has been set since.
  bool levels_valid = false;
  uint16_t dirty_children = 0;
  LevelHashes levels{};

  std::optional<Hash32> LeafKeyHash(size_t i) const {
    if (((known_key_hashes >> i) & 1) == 0) return std::nullopt;
    return leaf_key_hashes[i];
  }
  void SetLeafKeyHash(size_t i, const std::optional<Hash32>& key_hash) {
    const uint16_t bit = static_cast<uint16_t>(1u << i);
    known_key_hashes &= static_cast<uint16_t>(~bit);
    if (!key_hash) return;
    leaf_key_hashes[i] = *key_hash;
    known_key_hashes |= bit;
  }
};

// The compact in-memory form of an internal node (most nodes deep in a large tree have two or
// three children): present children only, each with its key hash when it is a leaf and known.
class CachedNode {
 public:
  // Replaces the content, reusing the slot storage when it is large enough.
  void Assign(uint64_t version, const WorkingNode& working) {
    version_ = version;
    present_ = working.node.present;
    leaves_ = working.node.leaves;
    known_ = working.known_key_hashes;
    slots_.clear();
    slots_.reserve(static_cast<size_t>(std::popcount(present_)));
    for (size_t i = 0; i < kChildrenPerNode; ++i) {
      if (working.node.Has(i))
        slots_.push_back({working.node.children[i], working.leaf_key_hashes[i]});
    }
    levels_.clear();
    if (working.levels_valid && working.dirty_children == 0 &&
        std::popcount(present_) >= kLevelCacheMinChildren) {
      levels_.assign(working.levels.begin(), working.levels.end());
    }
  }

  uint64_t version() const { return version_; }

  void ExpandInto(WorkingNode& working) const {
    working.node.present = present_;
    working.node.leaves = leaves_;
    working.known_key_hashes = known_;
    size_t rank = 0;
    for (size_t i = 0; i < kChildrenPerNode; ++i) {
      if (((present_ >> i) & 1) == 0) {
        working.node.children[i] = Child{};
        continue;
      }
      const Slot& slot = slots_[rank++];
      working.node.children[i] = slot.child;
      working.leaf_key_hashes[i] = slot.key_hash;
    }
    working.dirty_children = 0;
    working.levels_valid = !levels_.empty();
    if (working.levels_valid) std::copy(levels_.begin(), levels_.end(), working.levels.begin());
  }

  // Approximate heap footprint, for the cache's byte budget.
  size_t bytes() const {
    return sizeof(*this) + slots_.capacity() * sizeof(Slot) + levels_.capacity() * sizeof(Hash32);
  }

 private:
  struct Slot {
    Child child;
    Hash32 key_hash;  // meaningful when the child is a leaf and bit i of known_ is set
  };

  // Nodes with at least this many children keep their level hashes (480 bytes): rehashing them
  // in full would cost up to 15 hashes per update, against 4 with the levels. Smaller nodes are
  // cheap to rehash and by far the most numerous.
  static constexpr int kLevelCacheMinChildren = 5;

  uint64_t version_ = 0;
  uint16_t present_ = 0;
  uint16_t leaves_ = 0;
  uint16_t known_ = 0;
  std::vector<Slot> slots_;
  std::vector<Hash32> levels_;  // empty, or the kLevelHashCount level hashes
};

struct NibblePathHasher {
  size_t operator()(const NibblePath& path) const { return NodeKeyHasher{}(NodeKey{0, path}); }
};

}  // namespace

// The newest known internal node at each nibble path: after an Apply, the latest version's nodes it
// touched; after reads, whatever was read (an older node never replaces a newer one). Lookups name
// the version they need, so an entry of another version is a miss, never a wrong answer. Beyond
// the byte budget an arbitrary eighth of a shard's entries is dropped (a miss costs a store read).
// Thread-safe. Sharded by the path's first nibble, so the two threads of a large Apply, which
// update disjoint halves of the tree, never wait for each other; entries are copied in and out
// under the shard's lock, so no reader holds a reference into the cache.
class StateTreeCache {
 public:
  explicit StateTreeCache(size_t max_bytes) : shard_max_bytes_(max_bytes / kShards) {}

  // Fills *out with the node at key.path when the cache holds that very version.
  bool Find(const NodeKey& key, WorkingNode* out) {
    Shard& shard = ShardOf(key.path);
    std::lock_guard lock(shard.mutex);
    auto it = shard.nodes.find(key.path);
    if (it == shard.nodes.end() || it->second.version() != key.version) return false;
    it->second.ExpandInto(*out);
    return true;
  }
  void Put(const NibblePath& path, uint64_t version, const WorkingNode& node) {
    Shard& shard = ShardOf(path);
    std::lock_guard lock(shard.mutex);
    auto [it, inserted] = shard.nodes.try_emplace(path);
    if (inserted) {
      shard.bytes += kEntryOverheadBytes;
    } else if (it->second.version() >= version) {
      return;
    }
    shard.bytes -= it->second.bytes();
    it->second.Assign(version, node);
    shard.bytes += it->second.bytes();
    if (shard.bytes > shard_max_bytes_) {
      size_t drop = shard.nodes.size() / 8 + 1;
      for (auto at = shard.nodes.begin(); at != shard.nodes.end() && drop > 0; --drop) {
        shard.bytes -= at->second.bytes() + kEntryOverheadBytes;
        at = shard.nodes.erase(at);
      }
    }
  }
  void Clear() {
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      shard.nodes.clear();
      shard.bytes = 0;
    }
  }
  void Erase(const NodeKey& key) {
    Shard& shard = ShardOf(key.path);
    std::lock_guard lock(shard.mutex);
    auto it = shard.nodes.find(key.path);
    if (it != shard.nodes.end() && it->second.version() == key.version) {
      shard.bytes -= it->second.bytes() + kEntryOverheadBytes;
      shard.nodes.erase(it);
    }
  }

 private:
  // One shard per first nibble, and one for the root.
  static constexpr size_t kShards = kChildrenPerNode + 1;
  // The hash map's own node and bucket per entry.
  static constexpr size_t kEntryOverheadBytes = 96;

  struct Shard {
    std::mutex mutex;
    size_t bytes = 0;
    std::unordered_map<NibblePath, CachedNode, NibblePathHasher> nodes;
  };

  Shard& ShardOf(const NibblePath& path) {
    return shards_[path.length == 0 ? kChildrenPerNode : path.bits.bytes[0] >> 4];
  }

  const size_t shard_max_bytes_;
  std::array<Shard, kShards> shards_;
};

namespace {

// Store reads shared by the reader methods and the updater.
class NodeReader {
 public:
  NodeReader(const KvStore* store, StateTreeCache* cache) : store_(store), cache_(cache) {}

  Result<WorkingNode> Internal(const NodeKey& key) const {
    WorkingNode working;
    LEDGER_TRY(InternalInto(key, &working));
    return working;
  }

  // Internal() into the caller's node (a WorkingNode is 1.7 KB: the updater reads one per node it
  // rewrites and saves the copy).
  Status InternalInto(const NodeKey& key, WorkingNode* out) const {
    if (cache_->Find(key, out)) return OkStatus();
    auto bytes = store_->Get(NodeStoreKey(key));
    if (!bytes) return std::unexpected(bytes.error());
    if (!bytes->has_value()) return CorruptNode(key, "missing");
    auto node = DecodeInternal(**bytes, key);
    if (!node) return std::unexpected(node.error());
    *out = WorkingNode{};
    out->node = *node;
    cache_->Put(key.path, key.version, *out);
    return OkStatus();
  }

  Result<LeafNode> Leaf(const NodeKey& key) const {
    auto bytes = store_->Get(NodeStoreKey(key));
    if (!bytes) return std::unexpected(bytes.error());
    if (!bytes->has_value()) return CorruptNode(key, "missing");
    return DecodeLeaf(**bytes, key);
  }

  // kNotFound when the version has no root record (never applied, or pruned).
  Result<RootRecord> Root(uint64_t version) const {
    auto bytes = store_->Get(RootStoreKey(version));
    if (!bytes) return std::unexpected(bytes.error());
    if (!bytes->has_value()) {
      return MakeError(ErrorCode::kNotFound, "state tree version " + std::to_string(version) +
                                                 " is not retained (never applied, or pruned)");
    }
    return DecodeRoot(**bytes, version);
  }

 private:
  const KvStore* store_;
  StateTreeCache* cache_;
};

// One write, hashed and ready to place.
struct Item {
  Hash32 key_hash;
  Hash32 leaf_hash;              // puts only
  const Bytes* value = nullptr;  // nullptr: delete
};

// A leaf whose final position is not decided yet: it may move up (after deletes) or down (after a
// split). Either new (value set) or stored at `stored`.
struct PendingLeaf {
  Hash32 key_hash;  // valid when key_hash_known (always, for leaves that may be partitioned)
  Hash32 leaf_hash;
  const Bytes* value = nullptr;
  std::optional<NodeKey> stored;
  bool key_hash_known = true;
};

// What a subtree became after an update.
struct Outcome {
  enum class Kind : uint8_t { kEmpty, kLeaf, kInternal } kind = Kind::kEmpty;
  PendingLeaf leaf;  // kLeaf
  Child internal;    // kInternal
};

// Builds one version: each touched node is read once, recomputed once and written once.
class Updater {
 public:
  // `parallel_batch`: where the second thread of a large update writes its half (cleared here,
  // then appended to *batch); kept by the caller between versions so that its buffer, about half a
  // block's nodes, is not regrown every time. Null for the second thread's own updater.
  Updater(const KvStore* store, StateTreeCache* cache, uint64_t version, WriteBatch* batch,
          WriteBatch* parallel_batch = nullptr)
      : store_(store),
        reader_(store, cache),
        cache_(cache),
        version_(version),
        batch_(batch),
        parallel_batch_(parallel_batch) {}

  Result<RootRecord> Run(const RootRecord& old_root, std::span<const Item> items) {
    const NibblePath root_path;
    Result<Outcome> outcome = Outcome{};
    switch (old_root.kind) {
      case kRootEmpty:
        outcome = BuildFromItems(root_path, items);
        break;
      case kRootLeaf:
        outcome = UpdateLeaf(root_path, old_root.child, std::nullopt, items);
        break;
      default:
        outcome = UpdateInternal(root_path, old_root.child, items);
        break;
    }
    if (!outcome) return std::unexpected(outcome.error());
    RootRecord root;
    switch (outcome->kind) {
      case Outcome::Kind::kEmpty:
        break;
      case Outcome::Kind::kLeaf: {
        auto child = Materialise(outcome->leaf, root_path);
        if (!child) return std::unexpected(child.error());
        root = RootRecord{kRootLeaf, *child};
        break;
      }
      case Outcome::Kind::kInternal:
        root = RootRecord{kRootInternal, outcome->internal};
        break;
    }
    if (!stale_.empty()) batch_->Put(StaleStoreKey(version_), stale_);
    return root;
  }

 private:
  static Outcome Empty() { return Outcome{}; }
  static Outcome Leaf(const PendingLeaf& leaf) { return Outcome{Outcome::Kind::kLeaf, leaf, {}}; }
  static Outcome Internal(const Child& child) {
    return Outcome{Outcome::Kind::kInternal, {}, child};
  }

  // `uncache`: drop the node from the cache (an internal node whose position is now empty or a
  // leaf).
  void MarkStale(const NodeKey& key, bool uncache) {
    LEDGER_ASSERT(key.version < version_);
    AppendNodeKeySuffix(stale_, key);
    if (uncache) cache_->Erase(key);
  }

  // Places a pending leaf at `path`: unchanged if it is already stored there, else written anew
  // (and its old copy marked stale). Returns the child entry and the leaf's key hash.
  Result<Child> Materialise(const PendingLeaf& leaf, const NibblePath& path,
                            std::optional<Hash32>* key_hash = nullptr) {
    if (leaf.stored && leaf.stored->path == path) {
      if (key_hash != nullptr && leaf.key_hash_known) *key_hash = leaf.key_hash;
      return Child{leaf.leaf_hash, leaf.stored->version};
    }
    const NodeKey key{version_, path};
    if (leaf.value != nullptr) {
      EncodeLeaf(leaf.key_hash, *leaf.value, value_scratch_);
      if (key_hash != nullptr) *key_hash = leaf.key_hash;
    } else {
      LEDGER_ASSERT(leaf.stored.has_value());
      auto stored = reader_.Leaf(*leaf.stored);
      if (!stored) return std::unexpected(stored.error());
      EncodeLeaf(stored->key_hash, stored->value, value_scratch_);
      if (key_hash != nullptr) *key_hash = stored->key_hash;
    }
    EncodeNodeStoreKey(key, key_scratch_);
    batch_->Put(key_scratch_, value_scratch_);
    if (leaf.stored) MarkStale(*leaf.stored, /*uncache=*/false);
    return Child{leaf.leaf_hash, version_};
  }

  Child WriteInternal(const NibblePath& path, WorkingNode& node) {
    const NodeKey key{version_, path};
    EncodeNodeStoreKey(key, key_scratch_);
    EncodeInternal(node.node, value_scratch_);
    batch_->Put(key_scratch_, value_scratch_);
    const Hash32 hash =
        HashInternal(node.node, node.dirty_children, node.levels_valid, node.levels);
    node.levels_valid = true;
    node.dirty_children = 0;
    cache_->Put(path, version_, node);
    return Child{hash, version_};
  }

  // Sets slot i of a node from an outcome.
  Status Place(WorkingNode& cached, uint8_t i, const NibblePath& path, const Outcome& outcome) {
    InternalNode& node = cached.node;
    const uint16_t bit = static_cast<uint16_t>(1u << i);
    node.present &= static_cast<uint16_t>(~bit);
    node.leaves &= static_cast<uint16_t>(~bit);
    node.children[i] = Child{};
    cached.SetLeafKeyHash(i, std::nullopt);
    cached.dirty_children |= bit;
    switch (outcome.kind) {
      case Outcome::Kind::kEmpty:
        return OkStatus();
      case Outcome::Kind::kLeaf: {
        std::optional<Hash32> key_hash;
        auto child = Materialise(outcome.leaf, path.Child(i), &key_hash);
        if (!child) return std::unexpected(child.error());
        node.children[i] = *child;
        node.leaves |= bit;
        cached.SetLeafKeyHash(i, key_hash);
        break;
      }
      case Outcome::Kind::kInternal:
        node.children[i] = outcome.internal;
        break;
    }
    node.present |= bit;
    return OkStatus();
  }

  // A subtree that was empty: holds exactly the pending leaves (sorted by key hash, distinct).
  Result<Outcome> Build(const NibblePath& path, std::span<const PendingLeaf> leaves) {
    if (leaves.empty()) return Empty();
    if (leaves.size() == 1) return Leaf(leaves[0]);
    LEDGER_ASSERT(path.length < kNibblesPerKey);
    WorkingNode node;
    size_t begin = 0;
    while (begin < leaves.size()) {
      LEDGER_ASSERT(leaves[begin].key_hash_known);
      const uint8_t nibble = NibbleAt(leaves[begin].key_hash, path.length);
      size_t end = begin + 1;
      while (end < leaves.size() && NibbleAt(leaves[end].key_hash, path.length) == nibble)
        ++end;
      auto outcome = Build(path.Child(nibble), leaves.subspan(begin, end - begin));
      if (!outcome) return std::unexpected(outcome.error());
      LEDGER_TRY(Place(node, nibble, path, *outcome));
      begin = end;
    }
    return Internal(WriteInternal(path, node));
  }

  Result<Outcome> BuildFromItems(const NibblePath& path, std::span<const Item> items) {
    if (items.size() == 1) {  // the common case deep in the tree: no vector needed
      if (items[0].value == nullptr) return Empty();
      return Leaf(PendingLeaf{items[0].key_hash, items[0].leaf_hash, items[0].value, {}});
    }
    std::vector<PendingLeaf> leaves;
    for (const Item& item : items) {
      if (item.value != nullptr) {
        leaves.push_back(PendingLeaf{item.key_hash, item.leaf_hash, item.value, {}});
      }
    }
    return Build(path, leaves);
  }

  // A subtree that is one stored leaf, whose key hash the parent may know.
  Result<Outcome> UpdateLeaf(const NibblePath& path, const Child& existing,
                             std::optional<Hash32> existing_key_hash, std::span<const Item> items) {
    const NodeKey key{existing.version, path};
    if (!existing_key_hash) {
      auto leaf = reader_.Leaf(key);
      if (!leaf) return std::unexpected(leaf.error());
      existing_key_hash = leaf->key_hash;
    }
    const PendingLeaf existing_leaf{*existing_key_hash, existing.hash, nullptr, key};
    // The common case: one write, to the key this leaf holds.
    if (items.size() == 1 && items[0].key_hash == *existing_key_hash) {
      if (items[0].value != nullptr && items[0].leaf_hash == existing.hash) {
        return Leaf(existing_leaf);  // same value: the stored leaf stays where it is
      }
      MarkStale(key, /*uncache=*/false);
      if (items[0].value == nullptr) return Empty();
      return Leaf(PendingLeaf{items[0].key_hash, items[0].leaf_hash, items[0].value, {}});
    }
    std::vector<PendingLeaf> leaves;
    leaves.reserve(items.size() + 1);
    bool keep_existing = true;
    for (const Item& item : items) {
      if (item.key_hash == *existing_key_hash) {
        keep_existing = item.value != nullptr && item.leaf_hash == existing.hash;
        if (keep_existing) continue;
        MarkStale(key, /*uncache=*/false);
      }
      if (item.value != nullptr) {
        leaves.push_back(PendingLeaf{item.key_hash, item.leaf_hash, item.value, {}});
      }
    }
    if (keep_existing) {
      auto at =
          std::ranges::lower_bound(leaves, existing_leaf.key_hash, {}, &PendingLeaf::key_hash);
      leaves.insert(at, existing_leaf);
    }
    return Build(path, leaves);
  }

  // The new content of child slot `nibble` of `old` (at `path`) after the writes in `group`.
  Result<Outcome> UpdateSlot(const WorkingNode& old, const NibblePath& path, uint8_t nibble,
                             std::span<const Item> group) {
    const NibblePath child_path = path.Child(nibble);
    const Child& child = old.node.children[nibble];
    if (!old.node.Has(nibble)) return BuildFromItems(child_path, group);
    if (old.node.IsLeaf(nibble)) {
      return UpdateLeaf(child_path, child, old.LeafKeyHash(nibble), group);
    }
    return UpdateInternal(child_path, child, group);
  }

  Status UpdateSlots(const WorkingNode& old, const NibblePath& path,
                     const std::array<std::span<const Item>, kChildrenPerNode>& groups,
                     size_t first, size_t last,
                     std::array<std::optional<Outcome>, kChildrenPerNode>& outcomes) {
    for (size_t i = first; i < last; ++i) {
      if (groups[i].empty()) continue;
      auto outcome = UpdateSlot(old, path, static_cast<uint8_t>(i), groups[i]);
      if (!outcome) return std::unexpected(outcome.error());
      outcomes[i] = std::move(*outcome);
    }
    return OkStatus();
  }

  // The root's two halves on two threads: subtrees are disjoint, each half has its own updater
  // (batch and stale list; the cache is shared and thread-safe), and the halves are merged in a
  // fixed order, so the result is the same as on one thread.
  Status UpdateSlotsInParallel(const WorkingNode& old, const NibblePath& path,
                               const std::array<std::span<const Item>, kChildrenPerNode>& groups,
                               std::array<std::optional<Outcome>, kChildrenPerNode>& outcomes) {
    constexpr size_t kHalf = kChildrenPerNode / 2;
    LEDGER_ASSERT(parallel_batch_ != nullptr);
    WriteBatch& helper_batch = *parallel_batch_;
    helper_batch.Clear();
    Updater helper(store_, cache_, version_, &helper_batch);
    Status helper_status = OkStatus();
    std::thread worker([&] {
      helper_status = helper.UpdateSlots(old, path, groups, kHalf, kChildrenPerNode, outcomes);
    });
    Status own_status = UpdateSlots(old, path, groups, 0, kHalf, outcomes);
    worker.join();
    LEDGER_TRY(own_status);
    LEDGER_TRY(helper_status);
    batch_->Append(std::move(helper_batch));
    Append(stale_, helper.stale_);
    return OkStatus();
  }

  // A subtree rooted at a stored internal node.
  Result<Outcome> UpdateInternal(const NibblePath& path, const Child& existing,
                                 std::span<const Item> items) {
    const NodeKey key{existing.version, path};
    WorkingNode stored;
    LEDGER_TRY(reader_.InternalInto(key, &stored));
    const WorkingNode& old_cached = stored;
    const InternalNode& old_node = old_cached.node;
    LEDGER_ASSERT(path.length < kNibblesPerKey);

    std::array<std::span<const Item>, kChildrenPerNode> groups;
    for (size_t begin = 0; begin < items.size();) {
      const uint8_t nibble = NibbleAt(items[begin].key_hash, path.length);
      size_t end = begin + 1;
      while (end < items.size() && NibbleAt(items[end].key_hash, path.length) == nibble)
        ++end;
      groups[nibble] = items.subspan(begin, end - begin);
      begin = end;
    }
    std::array<std::optional<Outcome>, kChildrenPerNode> outcomes;
    if (path.length == 0 && items.size() >= kParallelItemsMin && parallel_batch_ != nullptr) {
      LEDGER_TRY(UpdateSlotsInParallel(old_cached, path, groups, outcomes));
    } else {
      LEDGER_TRY(UpdateSlots(old_cached, path, groups, 0, kChildrenPerNode, outcomes));
    }

    // What remains: count the children and find a lone leaf, which then moves up.
    size_t remaining = 0;
    std::optional<PendingLeaf> lone_leaf;
    bool any_internal = false;
    for (uint8_t i = 0; i < kChildrenPerNode; ++i) {
      if (outcomes[i]) {
        if (outcomes[i]->kind == Outcome::Kind::kEmpty) continue;
        ++remaining;
        if (outcomes[i]->kind == Outcome::Kind::kLeaf) lone_leaf = outcomes[i]->leaf;
        any_internal |= outcomes[i]->kind == Outcome::Kind::kInternal;
      } else if (old_node.Has(i)) {
        ++remaining;
        if (old_node.IsLeaf(i)) {
          const std::optional<Hash32> key_hash = old_cached.LeafKeyHash(i);
          lone_leaf = PendingLeaf{key_hash.value_or(Hash32{}), old_node.children[i].hash, nullptr,
                                  NodeKey{old_node.children[i].version, path.Child(i)},
                                  key_hash.has_value()};
        } else {
          any_internal = true;
        }
      }
    }
    if (remaining == 0) {
      MarkStale(key, /*uncache=*/true);
      return Empty();
    }
    if (remaining == 1 && !any_internal) {
      MarkStale(key, /*uncache=*/true);
      return Leaf(*lone_leaf);
    }
    // The old node is not read past this point: it is rebuilt in place.
    WorkingNode& node = stored;
    bool changed = false;
    for (uint8_t i = 0; i < kChildrenPerNode; ++i) {
      if (!outcomes[i]) continue;
      const bool had = node.node.Has(i);
      const bool was_leaf = node.node.IsLeaf(i);
      const Child before = node.node.children[i];
      LEDGER_TRY(Place(node, i, path, *outcomes[i]));
      changed |= node.node.Has(i) != had || node.node.IsLeaf(i) != was_leaf ||
                 node.node.children[i] != before;
    }
    if (!changed) return Internal(existing);  // nothing below changed
    // The new node replaces this one in the cache (same path), so no separate erase.
    MarkStale(key, /*uncache=*/false);
    return Internal(WriteInternal(path, node));
  }

  const KvStore* store_;
  NodeReader reader_;
  StateTreeCache* cache_;
  const uint64_t version_;
  WriteBatch* batch_;
  WriteBatch* parallel_batch_;
  Bytes stale_;  // the stale index record of this version
  // Reused encoding buffers (one node record at a time).
  Bytes key_scratch_;
  Bytes value_scratch_;
};

// Fills items[i] from writes[i]: key hash, and for a put the leaf hash (three SHA-256 per put,
// about half of a block's hashing). A large batch is hashed on two threads, each filling its own
// half of the preallocated items, so the result does not depend on it.
void HashItems(std::span<const StateWrite> writes, std::span<Item> items) {
  LEDGER_ASSERT(writes.size() == items.size());
  auto hash_range = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      const StateWrite& write = writes[i];
      Item& item = items[i];
      item.key_hash = StateKeyHash(write.key);
      item.value = nullptr;
      if (write.value) {
        item.value = &*write.value;
        item.leaf_hash = StateLeafHash(item.key_hash, StateValueHash(*write.value));
      }
    }
  };
  if (writes.size() < kParallelItemsMin) {
    hash_range(0, writes.size());
    return;
  }
  const size_t half = writes.size() / 2;
  std::thread worker([&] { hash_range(half, writes.size()); });
  hash_range(0, half);
  worker.join();
}

// A read of `version` whose node read failed. A Prune that ran since the read began may have
// deleted the node; Prune deletes, in the same batch, the root record of every version whose nodes
// it deletes, so when the root record is gone now the version is simply no longer retained
// (kNotFound, as for a read that starts after the prune), not corrupt.
std::unexpected<Error> NodeReadFailure(const NodeReader& reader, uint64_t version, Error error) {
  if (error.code == ErrorCode::kCorruption) {
    auto root = reader.Root(version);
    if (!root && root.error().code == ErrorCode::kNotFound) return std::unexpected(root.error());
  }
  return std::unexpected(std::move(error));
}

}  // namespace

StateTree::StateTree(KvStore* store, size_t cache_max_bytes)
    : store_(store), cache_(std::make_unique<StateTreeCache>(cache_max_bytes)) {
  LEDGER_ASSERT(store_ != nullptr);
  auto last = store_->LastKey(TreeKey(kNodeTag));
  if (!last) {
    load_status_ = std::unexpected(last.error());
    return;
  }
  if (!last->has_value()) return;  // never written
  const Bytes& key = **last;
  const Bytes expected_prefix = TreeKey(kNodeTag);
  if (key.size() != expected_prefix.size() + 8 + 1 || key.back() != kRootMarker ||
      LoadU64BE(key.data() + expected_prefix.size()) == std::numeric_limits<uint64_t>::max()) {
    load_status_ = MakeError(ErrorCode::kCorruption,
                             "state tree: the last record is not a root record (store corrupt)");
    return;
  }
  latest_version_plus_one_ = LoadU64BE(key.data() + expected_prefix.size()) + 1;
}

StateTree::~StateTree() = default;

std::optional<uint64_t> StateTree::LatestVersion() {
  const uint64_t plus_one = latest_version_plus_one_.load();
  if (plus_one == 0) return std::nullopt;
  return plus_one - 1;
}

Result<Hash32> StateTree::Apply(uint64_t version, std::span<const StateWrite> writes,
                                WriteBatch* batch) {
  LEDGER_TRY(load_status_);
  LEDGER_ASSERT(batch != nullptr);
  const std::optional<uint64_t> latest = LatestVersion();
  if (latest && version <= *latest) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "state tree version " + std::to_string(version) +
                         " is not above the latest version " + std::to_string(*latest));
  }
  if (version == std::numeric_limits<uint64_t>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "state tree version out of range");
  }
  for (const StateWrite& write : writes) {
    if (write.key.size() > kStateKeyMaxBytes) {
      return MakeError(ErrorCode::kInvalidArgument, "state key exceeds kStateKeyMaxBytes");
    }
    if (write.value && write.value->size() > kStateValueMaxBytes) {
      return MakeError(ErrorCode::kInvalidArgument, "state value exceeds kStateValueMaxBytes");
    }
  }
  std::vector<Item> items(writes.size());
  HashItems(writes, items);
  // Sorted by key hash; for a key written twice the last write wins.
  std::ranges::stable_sort(items, {}, &Item::key_hash);
  std::vector<Item> unique;
  unique.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    if (i + 1 < items.size() && items[i + 1].key_hash == items[i].key_hash) continue;
    unique.push_back(items[i]);
  }

  RootRecord old_root;
  if (latest) {
    NodeReader reader(store_, cache_.get());
    auto root = reader.Root(*latest);
    if (!root) return std::unexpected(root.error());
    old_root = *root;
  }
  Updater updater(store_, cache_.get(), version, batch, &parallel_batch_);
  auto root = updater.Run(old_root, unique);
  if (!root) return std::unexpected(root.error());
  batch->Put(RootStoreKey(version), EncodeRoot(*root));
  latest_version_plus_one_ = version + 1;
  return root->kind == kRootEmpty ? Hash32{} : root->child.hash;
}

Result<Hash32> StateTree::Root(uint64_t version) const {
  auto root = NodeReader(store_, cache_.get()).Root(version);
  if (!root) return std::unexpected(root.error());
  return root->kind == kRootEmpty ? Hash32{} : root->child.hash;
}

Result<std::optional<Bytes>> StateTree::Get(ByteSpan key, uint64_t version) const {
  const NodeReader reader(store_, cache_.get());
  auto root = reader.Root(version);
  if (!root) return std::unexpected(root.error());
  const Hash32 key_hash = StateKeyHash(key);
  if (root->kind == kRootEmpty) return std::optional<Bytes>();
  NodeKey node_key{root->child.version, NibblePath{}};
  bool is_leaf = root->kind == kRootLeaf;
  while (!is_leaf) {
    auto node = reader.Internal(node_key);
    if (!node) return NodeReadFailure(reader, version, node.error());
    const uint8_t nibble = NibbleAt(key_hash, node_key.path.length);
    if (!node->node.Has(nibble)) return std::optional<Bytes>();
    is_leaf = node->node.IsLeaf(nibble);
    node_key = NodeKey{node->node.children[nibble].version, node_key.path.Child(nibble)};
  }
  auto leaf = reader.Leaf(node_key);
  if (!leaf) return NodeReadFailure(reader, version, leaf.error());
  if (leaf->key_hash != key_hash) return std::optional<Bytes>();
  return std::optional<Bytes>(std::move(leaf->value));
}

Result<StateProof> StateTree::Prove(ByteSpan key, uint64_t version) const {
  const NodeReader reader(store_, cache_.get());
  auto root = reader.Root(version);
  if (!root) return std::unexpected(root.error());
  const Hash32 key_hash = StateKeyHash(key);
  StateProof proof;
  proof.kind = StateProof::Kind::kEmpty;
  if (root->kind == kRootEmpty) return proof;

  // The leaf where the path ends, if it ends at one.
  std::optional<NodeKey> leaf_key;
  if (root->kind == kRootLeaf) leaf_key = NodeKey{root->child.version, NibblePath{}};
  NodeKey node_key{root->child.version, NibblePath{}};
  while (!leaf_key) {
    auto node = reader.Internal(node_key);
    if (!node) return NodeReadFailure(reader, version, node.error());
    const BinaryLevels levels = ComputeLevels(node->node);
    const size_t first_bit = size_t{node_key.path.length} * 4;
    size_t index = 0;  // position within binary level `level` of this node
    size_t level = 0;
    while (level < 4 && levels.Level(level)[index].kind == SubtreeKind::kMany) {
      const size_t bit = key_hash.Bit(first_bit + level) ? 1 : 0;
      proof.siblings.push_back(levels.Level(level + 1)[2 * index + (1 - bit)].hash);
      index = 2 * index + bit;
      ++level;
    }
    if (level == 4 && levels.l4[index].kind == SubtreeKind::kMany) {
      // The path continues into an internal child.
      node_key = NodeKey{node->node.children[index].version,
                         node_key.path.Child(static_cast<uint8_t>(index))};
      continue;
    }
    // The path ends here, at an empty subtree or a single leaf; find the leaf's slot, if any.
    const size_t span = size_t{16} >> level;
    std::optional<size_t> slot;
    for (size_t i = index * span; i < (index + 1) * span; ++i) {
      if (node->node.Has(i)) slot = i;
    }
    if (!slot) return proof;  // empty subtree
    LEDGER_ASSERT(node->node.IsLeaf(*slot));
    leaf_key = NodeKey{node->node.children[*slot].version,
                       node_key.path.Child(static_cast<uint8_t>(*slot))};
  }
  auto leaf = reader.Leaf(*leaf_key);
  if (!leaf) return NodeReadFailure(reader, version, leaf.error());
  if (leaf->key_hash == key_hash) {
    proof.kind = StateProof::Kind::kInclusion;
    proof.value = std::move(leaf->value);
  } else {
    proof.kind = StateProof::Kind::kOtherLeaf;
    proof.other_key_hash = leaf->key_hash;
    proof.other_value_hash = StateValueHash(leaf->value);
  }
  return proof;
}

Status StateTree::DropVersionsAbove(std::optional<uint64_t> keep) {
  LEDGER_TRY(load_status_);
  const std::optional<uint64_t> latest = LatestVersion();
  if (!latest || (keep && *keep >= *latest)) return OkStatus();
  // Every record of a version sits under "stN" || version (docs/state-tree.md), so the records of
  // the versions above `keep` are one key range.
  const Bytes prefix = TreeKey(kNodeTag);
  Bytes start = prefix;
  if (keep) AppendU64BE(start, *keep + 1);
  WriteBatch batch;
  LEDGER_TRY(store_->Scan(prefix, start, [&](ByteSpan key, ByteSpan) {
    batch.Delete(key);
    return true;
  }));
  // With every version gone, so is the prune floor: a tree built anew prunes from version 0.
  if (!keep) batch.Delete(TreeKey(kPruneFloorTag));
  LEDGER_TRY(store_->Write(batch, /*sync=*/true));
  cache_->Clear();  // it may hold nodes of the dropped versions
  latest_version_plus_one_ = keep ? *keep + 1 : 0;
  return OkStatus();
}

Status StateTree::Prune(uint64_t min_retained_version, WriteBatch* batch) {
  LEDGER_ASSERT(batch != nullptr);
  const std::optional<uint64_t> latest = LatestVersion();
  if (!latest || min_retained_version > *latest) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot prune above the latest state tree version");
  }
  const Bytes floor_key = TreeKey(kPruneFloorTag);
  auto floor_record = store_->Get(floor_key);
  if (!floor_record) return std::unexpected(floor_record.error());
  uint64_t floor = 0;
  if (floor_record->has_value()) {
    if ((*floor_record)->size() != 8) {
      return MakeError(ErrorCode::kCorruption, "state tree prune floor record is corrupt");
    }
    floor = LoadU64BE((*floor_record)->data());
  }
  // Versions below the floor are gone already; stale records up to `until` and root records below
  // it go now.
  const uint64_t until = std::min(min_retained_version, floor + kPruneMaxVersionsPerCall);
  for (uint64_t version = floor; version <= until; ++version) {
    const Bytes stale_key = StaleStoreKey(version);
    auto stale = store_->Get(stale_key);
    if (!stale) return std::unexpected(stale.error());
    if (stale->has_value()) {
      ByteReader reader(**stale);
      while (!reader.done()) {
        const auto node_key = ParseNodeKeySuffix(reader);
        if (!node_key)
          return MakeError(ErrorCode::kCorruption, "state tree stale record is corrupt");
        batch->Delete(NodeStoreKey(*node_key));
        cache_->Erase(*node_key);
      }
      batch->Delete(stale_key);
    }
    if (version < until) batch->Delete(RootStoreKey(version));
  }
  if (until > floor) {
    Bytes floor_value;
    AppendU64BE(floor_value, until);
    batch->Put(floor_key, floor_value);
  }
  return OkStatus();
}

}  // namespace cl::ledger
