#include "ledger/tree_state.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "ledger/memory_store.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

// Runs genesis and a few blocks through the real state tree on a MemoryStore; returns the roots.
std::vector<Hash32> RunThroughTree(MemoryStore& store, StateTree& tree,
                                   LatestStateIndex* index = nullptr) {
  std::vector<Hash32> roots;
  auto genesis = BuildGenesisState(SampleGenesis());
  EXPECT_TRUE(genesis.has_value());
  WriteBatch batch;
  auto root0 = CommitChanges(tree, 0, *genesis, &batch, index);
  EXPECT_TRUE(root0.has_value()) << root0.error().ToString();
  EXPECT_TRUE(store.Write(batch, true).has_value());
  roots.push_back(*root0);

  auto tx = [](std::vector<pb::Operation> ops, std::vector<crypto::PrivateKey> keys, uint64_t n) {
    pb::TxBody body;
    body.set_chain_id(kChain);
    body.set_valid_until_height(100);
    body.set_nonce(n);
    for (auto& op : ops)
      *body.add_operations() = op;
    return *VerifyEnvelope(SignTransaction(body, keys), kChain);
  };
  const auto alice = Key(1), bob = Key(2);
  std::vector<std::vector<VerifiedTx>> blocks = {
      {tx({CreateAccountOp(Id(1), "USD.A", Single(alice), kBankA),
           CreateAccountOp(Id(2), "USD.A", Single(bob), kBankA)},
          {MemberKey(kBankA)}, 1)},
      {tx({TransferOp(Id(10), kIssuerUsdA, Id(1), 500)}, {IssuerKey(kBankA)}, 2)},
      {tx({HoldOp(Id(11), Id(1), Id(2), 100, 2)}, {alice}, 3),
       tx({TransferOp(Id(12), Id(1), Id(2), 50)}, {alice}, 4)},
      {},  // the hold expires here
  };
  uint64_t time_ms = kGenesisTimeMs;
  for (size_t i = 0; i < blocks.size(); ++i) {
    uint64_t height = i + 1;
    time_ms += i == 3 ? 10'000 : 1000;
    TreeStateReader reader(tree, height - 1, index);
    auto out = ExecuteBlock(reader, BlockInfo{kChain, height, time_ms}, blocks[i]);
    EXPECT_TRUE(out.has_value()) << out.error().ToString();
    for (const auto& r : out->receipts) {
      EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
    }
    WriteBatch b;
    auto root = CommitChanges(tree, height, out->changes, &b, index);
    EXPECT_TRUE(root.has_value()) << root.error().ToString();
    EXPECT_TRUE(store.Write(b, true).has_value());
    roots.push_back(*root);
  }
  return roots;
}

TEST(TreeState, BlocksExecuteThroughTheStateTreeDeterministically) {
  MemoryStore store1, store2;
  StateTree tree1(&store1), tree2(&store2);
  auto roots1 = RunThroughTree(store1, tree1);
  auto roots2 = RunThroughTree(store2, tree2);
  ASSERT_EQ(roots1.size(), 5u);
  EXPECT_EQ(roots1, roots2);
  for (size_t i = 1; i < roots1.size(); ++i)
    EXPECT_NE(roots1[i], roots1[i - 1]);

  TreeStateReader latest(tree1, 4);
  LedgerState st(latest);
  auto alice = st.GetAccount(Id(1));
  ASSERT_TRUE(alice.has_value() && alice->has_value());
  EXPECT_EQ((*alice)->credits_posted() - (*alice)->debits_posted(), 450u);
  EXPECT_EQ((*alice)->debits_pending(), 0u);
  // Older versions still read as they were.
  TreeStateReader before_expiry(tree1, 3);
  LedgerState old(before_expiry);
  auto hold = old.GetTransfer(Id(11));
  ASSERT_TRUE(hold.has_value() && hold->has_value());
  EXPECT_EQ((*hold)->state(), pb::TRANSFER_STATE_PENDING);
}

TEST(TreeState, LatestStateIndexGivesTheSameRootsAndReads) {
  MemoryStore plain_store, indexed_store;
  StateTree plain(&plain_store), indexed(&indexed_store);
  LatestStateIndex index(&indexed_store, indexed);
  EXPECT_FALSE(index.enabled());
  auto roots = RunThroughTree(plain_store, plain);
  EXPECT_EQ(RunThroughTree(indexed_store, indexed, &index), roots);
  ASSERT_TRUE(index.enabled());
  // Every key of every version reads the same through the index as through the tree; the index
  // answers only for the latest version.
  for (uint64_t version = 0; version <= 4; ++version) {
    TreeStateReader walk(indexed, version), flat(indexed, version, &index);
    EXPECT_EQ(index.Get(keys::Account(Id(1)), version).has_value(), version == 4);
    for (const Bytes& key : {keys::Account(Id(1)), keys::Account(Id(2)), keys::Transfer(Id(11)),
                             keys::Transfer(Id(99)), keys::HoldMeta(), keys::Governance()}) {
      auto a = walk.Get(key), b = flat.Get(key);
      ASSERT_TRUE(a.has_value() && b.has_value());
      EXPECT_EQ(*a, *b) << "version " << version;
      EXPECT_EQ(flat.Get(key).value(), *a);  // a cache hit reads the same
    }
  }
  // The flat entries are on disk under their prefix; reopening finds the index complete.
  EXPECT_TRUE(indexed_store.Get(Bytes{'s', 'v', keys::kHoldMeta}).value().has_value());
  StateTree reopened(&indexed_store);
  LatestStateIndex reopened_index(&indexed_store, reopened);
  EXPECT_TRUE(reopened_index.enabled());
  EXPECT_EQ(TreeStateReader(reopened, 4, &reopened_index).Get(keys::Account(Id(1))).value(),
            TreeStateReader(reopened, 4).Get(keys::Account(Id(1))).value());
}

TEST(TreeState, LatestStateIndexStaysDisabledWithoutGenesis) {
  MemoryStore store;
  StateTree tree(&store);
  RunThroughTree(store, tree);  // committed without the index
  LatestStateIndex index(&store, tree);
  EXPECT_FALSE(index.enabled());
  WriteBatch batch;
  ASSERT_TRUE(CommitChanges(tree, 5, {StateChange{keys::Governance(), Bytes{1}}}, &batch, &index));
  ASSERT_TRUE(store.Write(batch, true).has_value());
  EXPECT_FALSE(index.enabled());
  EXPECT_FALSE(index.Get(keys::Governance(), 5).has_value());
  EXPECT_EQ(TreeStateReader(tree, 5, &index).Get(keys::Governance()).value(), Bytes{1});
}

// A commit writes accounts (and the other re-read records) through to the value cache: the next
// block reads them from memory, even before the batch reaches the store. Transfers are not kept.
TEST(TreeState, LatestStateIndexWritesAccountsThroughToItsCache) {
  MemoryStore store;
  StateTree tree(&store);
  LatestStateIndex index(&store, tree);
  RunThroughTree(store, tree, &index);
  ASSERT_TRUE(index.enabled());
  const Bytes account = keys::Account(Id(42)), transfer = keys::Transfer(Id(43));
  WriteBatch batch;  // never written: the store does not hold version 5's values
  ASSERT_TRUE(CommitChanges(tree, 5,
                            {StateChange{account, Bytes{7, 7}}, StateChange{transfer, Bytes{8}}},
                            &batch, &index));
  auto cached = index.Get(account, 5);
  ASSERT_TRUE(cached.has_value() && cached->has_value());
  EXPECT_EQ(**cached, std::optional<Bytes>(Bytes{7, 7}));
  auto not_cached = index.Get(transfer, 5);
  ASSERT_TRUE(not_cached.has_value() && not_cached->has_value());
  EXPECT_EQ(**not_cached, std::nullopt);  // read from the store, which lacks the unwritten batch
  // Once written, both read their committed values.
  ASSERT_TRUE(store.Write(batch, true).has_value());
  EXPECT_EQ(TreeStateReader(tree, 5, &index).Get(transfer).value(), std::optional<Bytes>(Bytes{8}));
  EXPECT_EQ(TreeStateReader(tree, 5).Get(account).value(), std::optional<Bytes>(Bytes{7, 7}));
}

// The value cache against a plain map under random puts, updates and erases over a small key
// space (long probe runs, erasures in the middle of runs, growth), then the memory bound.
TEST(TreeState, LatestValueCacheAgreesWithAMap) {
  LatestValueCache cache(size_t{1} << 30);
  std::map<std::string, Bytes> model;
  uint64_t rng = 7;
  auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  for (int step = 0; step < 200000; ++step) {
    std::string key = "k" + std::to_string(next() % 3000);
    Bytes value(next() % 5, static_cast<uint8_t>(step));
    switch (next() % 4) {
      case 0:
      case 1:
        cache.Put(key, value);
        model[key] = value;
        break;
      case 2:
        cache.Update(key, value);
        if (auto it = model.find(key); it != model.end()) it->second = value;
        break;
      default:
        cache.Erase(key);
        model.erase(key);
    }
    if (step % 1000 == 0) {
      ASSERT_EQ(cache.size(), model.size());
      for (int k = 0; k < 3000; ++k) {
        std::string probe = "k" + std::to_string(k);
        Bytes got;
        auto it = model.find(probe);
        ASSERT_EQ(cache.Get(probe, &got), it != model.end()) << probe;
        if (it != model.end()) {
          ASSERT_EQ(got, it->second) << probe;
        }
      }
    }
  }
  // An entry past the bound empties the cache and is kept.
  LatestValueCache small(1000);
  for (int k = 0; k < 100; ++k)
    small.Put("key" + std::to_string(k), Bytes(10, 1));
  EXPECT_LE(small.bytes(), 1000u);
  EXPECT_LT(small.size(), 100u);
  Bytes got;
  EXPECT_TRUE(small.Get("key99", &got));
  EXPECT_FALSE(small.Get("key0", &got));
}

}  // namespace
}  // namespace cl::ledger
