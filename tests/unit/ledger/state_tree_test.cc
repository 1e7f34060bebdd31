#include "ledger/state_tree.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "ledger/leveldb_store.h"
#include "ledger/memory_store.h"
#include "tests/unit/ledger/hooked_store.h"
#include "tests/unit/temp_dir.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

// ---- A deliberately naive reference: the definition of docs/state-tree.md, computed from scratch
// with plain SHA-256 over concatenated bytes (no helper from the code under test). ----

Hash32 RefTagged(uint8_t tag, ByteSpan a, ByteSpan b = {}) {
  Bytes in = {tag};
  in.insert(in.end(), a.begin(), a.end());
  in.insert(in.end(), b.begin(), b.end());
  return crypto::Sha256Of(in);
}

Hash32 RefKeyHash(const std::string& key) {
  return RefTagged(0x02, AsSpan(key));
}
Hash32 RefValueHash(const std::string& value) {
  return RefTagged(0x03, AsSpan(value));
}

// key_hash -> value_hash
using RefState = std::map<Hash32, Hash32>;

// The hash of the subtree at bit depth `depth` holding exactly these entries (all sharing the first
// `depth` bits): empty = 32 zero bytes, one leaf = its leaf hash, else H(0x01 || left || right).
Hash32 RefSubtree(const std::vector<std::pair<Hash32, Hash32>>& entries, size_t depth) {
  if (entries.empty()) return Hash32{};
  if (entries.size() == 1)
    return RefTagged(0x00, entries[0].first.span(), entries[0].second.span());
  std::vector<std::pair<Hash32, Hash32>> left;
  std::vector<std::pair<Hash32, Hash32>> right;
  for (const auto& entry : entries)
    (entry.first.Bit(depth) ? right : left).push_back(entry);
  const Hash32 l = RefSubtree(left, depth + 1);
  const Hash32 r = RefSubtree(right, depth + 1);
  return RefTagged(0x01, l.span(), r.span());
}

Hash32 RefRoot(const RefState& state) {
  return RefSubtree({state.begin(), state.end()}, 0);
}

// The reference world: key -> value, mirrored into RefState.
struct RefWorld {
  std::map<std::string, std::string> values;
  RefState Hashed() const {
    RefState out;
    for (const auto& [key, value] : values)
      out[RefKeyHash(key)] = RefValueHash(value);
    return out;
  }
};

std::string KeyName(int i) {
  std::string key = "account/";
  key.append(std::to_string(i));
  return key;
}

StateWrite Put(const std::string& key, const std::string& value) {
  return StateWrite{ToBytes(key), ToBytes(value)};
}
StateWrite Del(const std::string& key) {
  return StateWrite{ToBytes(key), std::nullopt};
}

Hash32 ApplyAndWrite(StateTree& tree, KvStore& store, uint64_t version,
                     const std::vector<StateWrite>& writes) {
  WriteBatch batch;
  auto root = tree.Apply(version, writes, &batch);
  EXPECT_TRUE(root.has_value()) << root.error().ToString();
  auto written = store.Write(batch, true);
  EXPECT_TRUE(written.has_value()) << written.error().ToString();
  return root.value_or(Hash32{});
}

// The tree's records under "stN" (docs/state-tree.md): per-version root and stale-index records are
// "stN" || u64 version || 0xFF / 0xFE; everything else is a node.
struct TreeRecordCounts {
  size_t nodes = 0;
  size_t roots = 0;
  size_t stale = 0;
};

TreeRecordCounts CountTreeRecords(const KvStore& store) {
  TreeRecordCounts counts;
  const std::string prefix = std::string(kStateTreePrefix) + "N";
  auto status = store.Scan(AsSpan(prefix), {}, [&](ByteSpan key, ByteSpan) {
    const bool version_record = key.size() == prefix.size() + 9;
    if (version_record && key.back() == 0xff) {
      ++counts.roots;
    } else if (version_record && key.back() == 0xfe) {
      ++counts.stale;
    } else {
      ++counts.nodes;
    }
    return true;
  });
  EXPECT_TRUE(status.has_value());
  return counts;
}

// Checks Get and Prove for `key` at `version` against the reference world of that version.
void CheckKey(const StateTree& tree, uint64_t version, const RefWorld& world,
              const Hash32& ref_root, const std::string& key) {
  auto it = world.values.find(key);
  const std::optional<std::string> expected =
      it == world.values.end() ? std::nullopt : std::optional<std::string>(it->second);
  auto got = tree.Get(AsSpan(key), version);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  ASSERT_EQ(got->has_value(), expected.has_value()) << key << " at " << version;
  if (expected) {
    ASSERT_EQ(ToString(**got), *expected);
  }
  auto proof = tree.Prove(AsSpan(key), version);
  ASSERT_TRUE(proof.has_value()) << proof.error().ToString();
  // Through the byte encoding, as a remote verifier would see it.
  auto decoded = StateProof::Decode(proof->Encode());
  ASSERT_TRUE(decoded.has_value()) << decoded.error().ToString();
  ASSERT_EQ(*decoded, *proof);
  std::optional<ByteSpan> claimed;
  if (expected) claimed = AsSpan(*expected);
  auto verified = VerifyStateProof(ref_root, AsSpan(key), claimed, *decoded);
  ASSERT_TRUE(verified.has_value())
      << key << " at " << version << ": " << verified.error().ToString();
  // The opposite claim fails.
  std::optional<ByteSpan> opposite;
  if (!expected) opposite = AsSpan("something");
  ASSERT_FALSE(VerifyStateProof(ref_root, AsSpan(key), opposite, *decoded).has_value());
}

TEST(StateTree, EmptyTreeHasZeroRootAndNoVersion) {
  MemoryStore store;
  StateTree tree(&store);
  EXPECT_FALSE(tree.LatestVersion().has_value());
  const Hash32 root = ApplyAndWrite(tree, store, 1, {});
  EXPECT_TRUE(root.IsZero());
  EXPECT_EQ(tree.LatestVersion(), 1u);
  auto proof = tree.Prove(AsSpan("nobody"), 1);
  ASSERT_TRUE(proof.has_value());
  EXPECT_EQ(proof->kind, StateProof::Kind::kEmpty);
  EXPECT_TRUE(VerifyStateProof(Hash32{}, AsSpan("nobody"), std::nullopt, *proof).has_value());
}

TEST(StateTree, SingleKeyRootIsItsLeafHash) {
  MemoryStore store;
  StateTree tree(&store);
  const Hash32 root = ApplyAndWrite(tree, store, 1, {Put("alice", "100")});
  EXPECT_EQ(root, RefTagged(0x00, RefKeyHash("alice").span(), RefValueHash("100").span()));
}

// The format is pinned: if this constant changes, every stored root and every proof changes.
TEST(StateTree, FixedSequenceHasPinnedRoot) {
  MemoryStore store;
  StateTree tree(&store);
  RefWorld world;
  ApplyAndWrite(tree, store, 1,
                {Put("alice", "100"), Put("bob", "200"), Put("carol", "300"), Put("dave", "1")});
  ApplyAndWrite(tree, store, 2, {Del("bob"), Put("erin", "500"), Put("alice", "90")});
  std::vector<StateWrite> third;
  for (int i = 0; i < 50; ++i)
    third.push_back(Put(KeyName(i), std::to_string(i * 7)));
  third.push_back(Del("dave"));
  const Hash32 root = ApplyAndWrite(tree, store, 3, third);
  world.values = {{"alice", "90"}, {"carol", "300"}, {"erin", "500"}};
  for (int i = 0; i < 50; ++i)
    world.values[KeyName(i)] = std::to_string(i * 7);
  EXPECT_EQ(root, RefRoot(world.Hashed()));
  EXPECT_EQ(root.ToHex(), "c706b7af707b14f8e2e8f15ef7c4865d87636354d69a8b395c7e0f38fed92137");
}

TEST(StateTree, VersionsMustIncrease) {
  MemoryStore store;
  StateTree tree(&store);
  ApplyAndWrite(tree, store, 5, {Put("a", "1")});
  WriteBatch batch;
  auto same = tree.Apply(5, std::vector<StateWrite>{Put("a", "2")}, &batch);
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code, ErrorCode::kFailedPrecondition);
  auto lower = tree.Apply(4, std::vector<StateWrite>{Put("a", "2")}, &batch);
  ASSERT_FALSE(lower.has_value());
  EXPECT_EQ(batch.size(), 0u);
}

TEST(StateTree, LastWriteOfAKeyInOneApplyWins) {
  MemoryStore store;
  StateTree tree(&store);
  ApplyAndWrite(tree, store, 1, {Put("k", "1"), Put("k", "2"), Put("gone", "x"), Del("gone")});
  EXPECT_EQ(ToString(tree.Get(AsSpan("k"), 1)->value()), "2");
  EXPECT_FALSE(tree.Get(AsSpan("gone"), 1)->has_value());
  ApplyAndWrite(tree, store, 2, {Del("k"), Put("k", "3")});
  EXPECT_EQ(ToString(tree.Get(AsSpan("k"), 2)->value()), "3");
  EXPECT_EQ(ToString(tree.Get(AsSpan("k"), 1)->value()), "2");
}

TEST(StateTree, OversizedKeyOrValueIsRejected) {
  MemoryStore store;
  StateTree tree(&store);
  WriteBatch batch;
  std::vector<StateWrite> big_key = {StateWrite{Bytes(kStateKeyMaxBytes + 1, 1), Bytes{1}}};
  EXPECT_EQ(tree.Apply(1, big_key, &batch).error().code, ErrorCode::kInvalidArgument);
  std::vector<StateWrite> big_value = {StateWrite{Bytes{1}, Bytes(kStateValueMaxBytes + 1, 1)}};
  EXPECT_EQ(tree.Apply(1, big_value, &batch).error().code, ErrorCode::kInvalidArgument);
}

TEST(StateTree, UnknownVersionIsNotFound) {
  MemoryStore store;
  StateTree tree(&store);
  ApplyAndWrite(tree, store, 3, {Put("a", "1")});
  EXPECT_EQ(tree.Root(2).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(tree.Get(AsSpan("a"), 4).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(tree.Prove(AsSpan("a"), 1).error().code, ErrorCode::kNotFound);
}

TEST(StateTree, ReopenedTreeContinuesFromStoredLatestVersion) {
  TempDir dir;
  Hash32 root;
  {
    auto store = LevelDbStore::Open(dir.path(), LevelDbOptions{});
    ASSERT_TRUE(store.has_value());
    StateTree tree(store->get());
    ApplyAndWrite(tree, **store, 1, {Put("a", "1"), Put("b", "2")});
    root = ApplyAndWrite(tree, **store, 2, {Put("c", "3")});
  }
  auto store = LevelDbStore::Open(dir.path(), LevelDbOptions{});
  ASSERT_TRUE(store.has_value());
  StateTree tree(store->get());
  EXPECT_EQ(tree.LatestVersion(), 2u);
  EXPECT_EQ(tree.Root(2).value(), root);
  const Hash32 next = ApplyAndWrite(tree, **store, 3, {Del("a")});
  RefWorld world;
  world.values = {{"b", "2"}, {"c", "3"}};
  EXPECT_EQ(next, RefRoot(world.Hashed()));
}

TEST(StateTree, DroppedVersionsAreGoneAndTheNextApplyRebuildsThem) {
  TempDir dir;
  auto store = LevelDbStore::Open(dir.path(), LevelDbOptions{});
  ASSERT_TRUE(store.has_value());
  StateTree tree(store->get());
  ApplyAndWrite(tree, **store, 0, {Put("a", "1"), Put("b", "2")});
  const Hash32 root1 = ApplyAndWrite(tree, **store, 1, {Put("c", "3")});
  ApplyAndWrite(tree, **store, 2, {Put("a", "9"), Del("b")});
  ApplyAndWrite(tree, **store, 3, {Put("d", "4")});

  ASSERT_TRUE(tree.DropVersionsAbove(1).has_value());
  EXPECT_EQ(tree.LatestVersion(), 1u);
  for (uint64_t v : {2, 3}) {
    auto root = tree.Root(v);
    ASSERT_FALSE(root.has_value()) << "version " << v;
    EXPECT_EQ(root.error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(tree.Root(1).value(), root1);
  EXPECT_EQ(tree.Get(ToBytes("a"), 1).value(), ToBytes("1"));  // not the dropped "9"
  // Nothing of versions 2 and 3 is left in the store: a reopened tree agrees.
  EXPECT_EQ(StateTree(store->get()).LatestVersion(), 1u);
  // Version 2 again, with other writes, matches the reference.
  const Hash32 again = ApplyAndWrite(tree, **store, 2, {Put("e", "5")});
  RefWorld world;
  world.values = {{"a", "1"}, {"b", "2"}, {"c", "3"}, {"e", "5"}};
  EXPECT_EQ(again, RefRoot(world.Hashed()));
  EXPECT_EQ(tree.Get(ToBytes("d"), 2).value(), std::nullopt);

  WriteBatch prune;  // a prune floor, which dropping every version must not leave behind
  ASSERT_TRUE(tree.Prune(2, &prune).has_value());
  ASSERT_TRUE((*store)->Write(prune, true).has_value());
  ASSERT_FALSE(tree.Root(1).has_value());
  ASSERT_TRUE(tree.DropVersionsAbove(std::nullopt).has_value());
  EXPECT_EQ(tree.LatestVersion(), std::nullopt);
  EXPECT_EQ(StateTree(store->get()).LatestVersion(), std::nullopt);
  const Hash32 fresh = ApplyAndWrite(tree, **store, 0, {Put("z", "1")});
  RefWorld only_z;
  only_z.values = {{"z", "1"}};
  EXPECT_EQ(fresh, RefRoot(only_z.Hashed()));
  // The rebuilt tree prunes from version 0 again (a stale floor of 2 would skip versions 0 and 1).
  ApplyAndWrite(tree, **store, 1, {Put("z", "2")});
  ApplyAndWrite(tree, **store, 2, {Put("z", "3")});
  WriteBatch prune_again;
  ASSERT_TRUE(tree.Prune(2, &prune_again).has_value());
  ASSERT_TRUE((*store)->Write(prune_again, true).has_value());
  EXPECT_FALSE(tree.Root(0).has_value());
  EXPECT_FALSE(tree.Root(1).has_value());
  EXPECT_EQ(tree.Get(ToBytes("z"), 2).value(), ToBytes("3"));
  // Dropping above the latest version, or on an empty tree, changes nothing.
  ASSERT_TRUE(tree.DropVersionsAbove(5).has_value());
  EXPECT_EQ(tree.LatestVersion(), 2u);
}

// The prune is written just after the reader fetches the version's root record: its walk then runs
// into nodes deleted under it, as when a proof request races the node's periodic prune.
using PruneDuringReadStore = testing::HookedStore;

TEST(StateTree, ReadRacingAPruneOfItsVersionIsNotFoundNotCorruption) {
  PruneDuringReadStore store;
  {
    StateTree tree(&store);
    for (uint64_t v = 0; v <= 5; ++v) {
      std::vector<StateWrite> writes;
      for (int k = 0; k < 40; ++k)
        writes.push_back(Put("key" + std::to_string(k), "v" + std::to_string(v)));
      ApplyAndWrite(tree, store, v, writes);
    }
  }
  // Root record of version 1 (docs/state-tree.md: "stN" || u64 BE version || 0xFF).
  Bytes root_key = ToBytes("stN");
  AppendU64BE(root_key, 1);
  root_key.push_back(0xff);
  store.trigger_key = root_key;
  for (const bool prove : {false, true}) {
    StateTree tree(&store);  // an empty node cache: every node is read from the store
    WriteBatch prune;
    ASSERT_TRUE(tree.Prune(4, &prune).has_value());
    store.pending = std::move(prune);
    if (prove) {
      auto proof = tree.Prove(ToBytes("key7"), 1);
      ASSERT_FALSE(proof.has_value());
      EXPECT_EQ(proof.error().code, ErrorCode::kNotFound) << proof.error().ToString();
    } else {
      auto value = tree.Get(ToBytes("key7"), 1);
      ASSERT_FALSE(value.has_value());
      EXPECT_EQ(value.error().code, ErrorCode::kNotFound) << value.error().ToString();
    }
    EXPECT_FALSE(store.pending.has_value());  // the prune did run during the read
    EXPECT_EQ(tree.Get(ToBytes("key7"), 5).value(), ToBytes("v5"));
  }
}

TEST(StateTree, MissingNodeOfARetainedVersionIsStillCorruption) {
  MemoryStore store;
  StateTree tree(&store);
  std::vector<StateWrite> writes;
  for (int k = 0; k < 40; ++k)
    writes.push_back(Put("key" + std::to_string(k), "v"));
  ApplyAndWrite(tree, store, 0, writes);
  // Delete every node of version 0 but keep its root record.
  WriteBatch damage;
  Bytes prefix = ToBytes("stN");
  AppendU64BE(prefix, 0);
  ASSERT_TRUE(store
                  .Scan(prefix, {},
                        [&](ByteSpan key, ByteSpan) {
                          if (key.back() != 0xff) damage.Delete(key);
                          return true;
                        })
                  .has_value());
  ASSERT_TRUE(store.Write(damage, true).has_value());
  StateTree fresh(&store);
  auto value = fresh.Get(ToBytes("key7"), 0);
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().code, ErrorCode::kCorruption);
}

TEST(StateTree, PruneAdvancesAtMostABoundedNumberOfVersionsPerCall) {
  MemoryStore store;
  StateTree tree(&store);
  const uint64_t latest = kPruneMaxVersionsPerCall + 100;
  for (uint64_t v = 1; v <= latest; ++v)
    ApplyAndWrite(tree, store, v, {Put("k" + std::to_string(v % 50), std::to_string(v))});
  auto prune = [&] {
    WriteBatch batch;
    ASSERT_TRUE(tree.Prune(latest, &batch).has_value());
    ASSERT_TRUE(store.Write(batch, true).has_value());
  };
  prune();
  // The first call stops kPruneMaxVersionsPerCall past the floor (0).
  EXPECT_EQ(tree.Root(kPruneMaxVersionsPerCall - 1).error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(tree.Root(kPruneMaxVersionsPerCall).has_value());
  EXPECT_TRUE(tree.Get(AsSpan("k7"), kPruneMaxVersionsPerCall + 7).has_value());
  prune();
  EXPECT_EQ(tree.Root(latest - 1).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(tree.Root(latest).has_value());
  EXPECT_EQ(tree.Get(AsSpan("k7"), latest).value(), std::optional<Bytes>(ToBytes("4157")));
  EXPECT_EQ(CountTreeRecords(store).stale, 0u);
  EXPECT_EQ(CountTreeRecords(store).roots, 1u);
}

TEST(StateTree, TrailingRecordThatIsNotARootIsCorruption) {
  MemoryStore store;
  {
    StateTree tree(&store);
    ApplyAndWrite(tree, store, 1, {Put("a", "1")});
  }
  // A stray record sorting after the latest root record: the store is not one the tree wrote.
  WriteBatch stray;
  Bytes key = ToBytes(std::string(kStateTreePrefix) + "N");
  AppendU64BE(key, 7);
  AppendU8(key, 3);
  stray.Put(key, AsSpan("junk"));
  ASSERT_TRUE(store.Write(stray, true).has_value());
  StateTree tree(&store);
  WriteBatch batch;
  auto applied = tree.Apply(2, {}, &batch);
  ASSERT_FALSE(applied.has_value());
  EXPECT_EQ(applied.error().code, ErrorCode::kCorruption);
}

// Random puts, deletes and re-inserts over many versions, on MemoryStore and LevelDbStore at once:
// roots equal the reference at every version and across stores; Get and proofs (present and absent
// keys) agree with the reference at the current and at older versions.
TEST(StateTree, RandomOperationsMatchNaiveReference) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  TempDir dir;
  MemoryStore memory;
  auto disk = LevelDbStore::Open(dir.path(), LevelDbOptions{});
  ASSERT_TRUE(disk.has_value());
  StateTree memory_tree(&memory);
  StateTree disk_tree(disk->get());

  constexpr int kKeySpace = 1500;
  constexpr uint64_t kVersions = 60;
  RefWorld world;
  std::vector<RefWorld> history(1);  // history[v] = world after version v
  std::vector<Hash32> roots(1);
  size_t operations = 0;
  for (uint64_t version = 1; version <= kVersions; ++version) {
    std::vector<StateWrite> writes;
    const int count = std::uniform_int_distribution<int>(0, 300)(rng);
    for (int i = 0; i < count; ++i) {
      const std::string key = KeyName(std::uniform_int_distribution<int>(0, kKeySpace - 1)(rng));
      // Deletes grow more common later so the tree also shrinks (collapses) and regrows.
      const bool del = std::uniform_int_distribution<int>(0, 99)(rng) < (version > 40 ? 60 : 25);
      if (del) {
        writes.push_back(Del(key));
        world.values.erase(key);
      } else {
        std::string value = "v";
        value.append(std::to_string(rng() % 1000));
        writes.push_back(Put(key, value));
        world.values[key] = value;
      }
    }
    operations += writes.size();
    const Hash32 memory_root = ApplyAndWrite(memory_tree, memory, version, writes);
    const Hash32 disk_root = ApplyAndWrite(disk_tree, **disk, version, writes);
    const Hash32 ref_root = RefRoot(world.Hashed());
    ASSERT_EQ(memory_root, ref_root) << "version " << version;
    ASSERT_EQ(disk_root, ref_root) << "version " << version;
    history.push_back(world);
    roots.push_back(ref_root);
    for (int i = 0; i < 40; ++i) {
      const std::string key = KeyName(std::uniform_int_distribution<int>(0, kKeySpace + 100)(rng));
      CheckKey(memory_tree, version, world, ref_root, key);
    }
    for (const auto& [key, value] : world.values) {
      if (rng() % 20 == 0) CheckKey(disk_tree, version, world, ref_root, key);
    }
  }
  EXPECT_GT(operations, 5000u);
  // Every old version is still readable and provable.
  for (uint64_t version = 1; version <= kVersions; ++version) {
    ASSERT_EQ(memory_tree.Root(version).value(), roots[version]);
    for (int i = 0; i < 30; ++i) {
      const std::string key = KeyName(std::uniform_int_distribution<int>(0, kKeySpace)(rng));
      CheckKey(memory_tree, version, history[version], roots[version], key);
      CheckKey(disk_tree, version, history[version], roots[version], key);
    }
  }
}

// Batches large enough to be applied on two threads give the reference roots too.
TEST(StateTree, LargeBatchesMatchNaiveReference) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MemoryStore store;
  StateTree tree(&store);
  RefWorld world;
  for (uint64_t version = 1; version <= 4; ++version) {
    std::vector<StateWrite> writes;
    for (int i = 0; i < 6000; ++i) {
      const std::string key = KeyName(std::uniform_int_distribution<int>(0, 9000)(rng));
      if (version > 1 && rng() % 3 == 0) {
        writes.push_back(Del(key));
        world.values.erase(key);
      } else {
        const std::string value = std::to_string(rng() % 100);
        writes.push_back(Put(key, value));
        world.values[key] = value;
      }
    }
    const Hash32 root = ApplyAndWrite(tree, store, version, writes);
    const Hash32 ref_root = RefRoot(world.Hashed());
    ASSERT_EQ(root, ref_root) << "version " << version;
    for (int i = 0; i < 9000; i += 97)
      CheckKey(tree, version, world, ref_root, KeyName(i));
  }
}

// Deleting down to zero and one key collapses the tree back to an empty root and a single leaf.
TEST(StateTree, DeletingEverythingCollapsesToEmpty) {
  MemoryStore store;
  StateTree tree(&store);
  std::vector<StateWrite> puts;
  for (int i = 0; i < 200; ++i)
    puts.push_back(Put(KeyName(i), "x"));
  ApplyAndWrite(tree, store, 1, puts);
  std::vector<StateWrite> dels;
  for (int i = 1; i < 200; ++i)
    dels.push_back(Del(KeyName(i)));
  const Hash32 one = ApplyAndWrite(tree, store, 2, dels);
  EXPECT_EQ(one, RefTagged(0x00, RefKeyHash(KeyName(0)).span(), RefValueHash("x").span()));
  const Hash32 none = ApplyAndWrite(tree, store, 3, {Del(KeyName(0))});
  EXPECT_TRUE(none.IsZero());
  EXPECT_FALSE(tree.Get(AsSpan(KeyName(0)), 3)->has_value());
  EXPECT_EQ(ToString(tree.Get(AsSpan(KeyName(0)), 2)->value()), "x");
  EXPECT_EQ(ToString(tree.Get(AsSpan(KeyName(7)), 1)->value()), "x");
}

// ---- Pruning: the exact set of nodes each version references, derived from the reference. ----

// A node of the physical tree: its nibble path (as a string of nibble values) and whether it is a
// leaf. Its content signature is the reference subtree hash at that position.
using NodeId = std::pair<std::string, bool>;

std::map<NodeId, Hash32> ExpectedNodes(const RefState& state) {
  std::map<NodeId, Hash32> nodes;
  std::map<std::string, std::vector<std::pair<Hash32, Hash32>>> by_prefix;
  for (const auto& entry : state) {
    std::string prefix;
    by_prefix[prefix].push_back(entry);
    for (size_t i = 0; i < 64; ++i) {
      const uint8_t byte = entry.first.bytes[i / 2];
      prefix.push_back(static_cast<char>(i % 2 == 0 ? byte >> 4 : byte & 0x0f));
      by_prefix[prefix].push_back(entry);
    }
  }
  for (const auto& [prefix, entries] : by_prefix) {
    if (entries.size() >= 2) {
      nodes[{prefix, false}] = RefSubtree(entries, prefix.size() * 4);
    } else {
      // A lone key sits at the shortest prefix where it is alone.
      const std::string parent = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);
      if (prefix.empty() || by_prefix[parent].size() >= 2) {
        nodes[{prefix, true}] = RefSubtree(entries, prefix.size() * 4);
      }
    }
  }
  return nodes;
}

TEST(StateTree, PruneKeepsRetainedVersionsAndDeletesExactlyTheUnreachableNodes) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  MemoryStore store;
  StateTree tree(&store);
  RefWorld world;
  std::vector<RefWorld> history(1);
  std::vector<Hash32> roots(1);
  // (node, version it was written at) for each version.
  std::vector<std::set<std::pair<NodeId, uint64_t>>> referenced(1);
  std::map<NodeId, std::pair<Hash32, uint64_t>> current;  // node -> (signature, written at)
  constexpr uint64_t kVersions = 30;
  for (uint64_t version = 1; version <= kVersions; ++version) {
    std::vector<StateWrite> writes;
    for (int i = 0; i < 40; ++i) {
      const std::string key = KeyName(std::uniform_int_distribution<int>(0, 400)(rng));
      if (rng() % 3 == 0) {
        writes.push_back(Del(key));
        world.values.erase(key);
      } else {
        const std::string value = std::to_string(rng() % 4);
        writes.push_back(Put(key, value));
        world.values[key] = value;
      }
    }
    roots.push_back(ApplyAndWrite(tree, store, version, writes));
    history.push_back(world);
    std::map<NodeId, std::pair<Hash32, uint64_t>> next;
    std::set<std::pair<NodeId, uint64_t>> refs;
    for (const auto& [id, signature] : ExpectedNodes(world.Hashed())) {
      auto it = current.find(id);
      const uint64_t written =
          it != current.end() && it->second.first == signature ? it->second.second : version;
      next[id] = {signature, written};
      refs.insert({id, written});
    }
    current = std::move(next);
    referenced.push_back(std::move(refs));
  }
  for (uint64_t min_retained : {uint64_t{5}, uint64_t{12}, uint64_t{12}, uint64_t{29}, kVersions}) {
    WriteBatch batch;
    ASSERT_TRUE(tree.Prune(min_retained, &batch).has_value());
    ASSERT_TRUE(store.Write(batch, true).has_value());
    std::set<std::pair<NodeId, uint64_t>> live;
    for (uint64_t v = min_retained; v <= kVersions; ++v) {
      live.insert(referenced[v].begin(), referenced[v].end());
    }
    EXPECT_EQ(CountTreeRecords(store).nodes, live.size()) << "min retained " << min_retained;
    EXPECT_EQ(CountTreeRecords(store).roots, kVersions - min_retained + 1);
    for (uint64_t v = 1; v < min_retained; ++v) {
      EXPECT_EQ(tree.Root(v).error().code, ErrorCode::kNotFound);
      EXPECT_EQ(tree.Get(AsSpan(KeyName(1)), v).error().code, ErrorCode::kNotFound);
    }
    for (uint64_t v = min_retained; v <= kVersions; ++v) {
      ASSERT_EQ(tree.Root(v).value(), roots[v]);
      for (int i = 0; i <= 401; i += 3)
        CheckKey(tree, v, history[v], roots[v], KeyName(i));
    }
  }
  // Nothing stale is left once only the latest version is retained.
  EXPECT_EQ(CountTreeRecords(store).stale, 0u);
  EXPECT_EQ(CountTreeRecords(store).nodes, ExpectedNodes(world.Hashed()).size());
  WriteBatch too_far;
  EXPECT_FALSE(tree.Prune(kVersions + 1, &too_far).has_value());
  // The tree keeps working after pruning.
  const Hash32 after = ApplyAndWrite(tree, store, kVersions + 1, {Put("new", "1")});
  world.values["new"] = "1";
  EXPECT_EQ(after, RefRoot(world.Hashed()));
}

}  // namespace
}  // namespace cl::ledger
