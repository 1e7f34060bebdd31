#include "ledger/tree_state.h"

#include <gtest/gtest.h>

#include "ledger/memory_store.h"
#include "tests/unit/ledger/ledger_fixture.h"

namespace cl::ledger {
namespace {

using namespace testing;

// Runs genesis and a few blocks through the real state tree on a MemoryStore; returns the roots.
std::vector<Hash32> RunThroughTree(MemoryStore& store, StateTree& tree) {
  std::vector<Hash32> roots;
  auto genesis = BuildGenesisState(SampleGenesis());
  EXPECT_TRUE(genesis.has_value());
  WriteBatch batch;
  auto root0 = CommitChanges(tree, 0, *genesis, &batch);
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
    TreeStateReader reader(tree, height - 1);
    auto out = ExecuteBlock(reader, BlockInfo{kChain, height, time_ms}, blocks[i]);
    EXPECT_TRUE(out.has_value()) << out.error().ToString();
    for (const auto& r : out->receipts) {
      EXPECT_EQ(r.status(), static_cast<uint32_t>(TxStatus::kCommitted));
    }
    WriteBatch b;
    auto root = CommitChanges(tree, height, out->changes, &b);
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

}  // namespace
}  // namespace cl::ledger
