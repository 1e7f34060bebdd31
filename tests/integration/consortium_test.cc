// A running consortium of 4 bank validators and 1 partner observer, each a separate ledgerd
// process: transactions submitted to any node (the observer forwards) commit on all nodes, every
// node holds the same chain (block digests, state roots, receipt roots) and the same balances.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

TEST(Consortium, TransactionsSubmittedToAnyNodeCommitOnAllWithEqualStateRoots) {
  auto created = Cluster::Create({.validators = 4, .observers = 1});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  std::vector<size_t> all(c.size());
  for (size_t i = 0; i < all.size(); ++i)
    all[i] = i;
  const std::vector<size_t> validators = c.validators();
  const std::vector<size_t> observers = c.observers();
  ASSERT_EQ(validators.size(), 4u);
  ASSERT_EQ(observers.size(), 1u);
  // Validators see each other and the observer; the observer sees every validator.
  ASSERT_TRUE(WaitPeers(c, all, 4));

  TxFactory f(c.chain_id());
  constexpr uint64_t kFunding = 100'000;
  // One payer and one payee per bank, in that bank's deposit token; both funded.
  std::map<uint32_t, Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  size_t next_node = 0;
  for (size_t v : validators) {
    const uint32_t bank = c.member(v).member_id;
    payers.emplace(bank, TxFactory::NewWallet(bank));
    payees.emplace(bank, TxFactory::NewWallet(bank));
    SignedTx tx =
        f.OpenAndFund({payers.at(bank), payees.at(bank)}, c.member(v).governance, kFunding);
    IT_ASSERT_OK(Submit(c, next_node++ % c.size(), tx));
    setup_ids.push_back(tx.tx_id);
  }
  ASSERT_TRUE(WaitCommitted(c, validators[0], setup_ids));

  // Payments round robin over all five nodes, the observer included; distinct amounts so the
  // balances below check which payments were applied, not only how many.
  constexpr int kPayments = 30;
  std::map<uint32_t, uint64_t> paid;
  std::vector<std::string> payment_ids;
  for (int k = 0; k < kPayments; ++k) {
    const uint32_t bank = c.member(validators[k % validators.size()]).member_id;
    const uint64_t amount = 100 + static_cast<uint64_t>(k);
    SignedTx tx = f.Pay(payers.at(bank), payees.at(bank), amount);
    IT_ASSERT_OK(Submit(c, static_cast<size_t>(k) % c.size(), tx));
    paid[bank] += amount;
    payment_ids.push_back(tx.tx_id);
  }
  std::vector<std::string> every_id = setup_ids;
  every_id.insert(every_id.end(), payment_ids.begin(), payment_ids.end());
  for (size_t v : validators)
    EXPECT_TRUE(WaitCommitted(c, v, every_id)) << "on " << c.member(v).name;
  for (size_t o : observers)
    EXPECT_TRUE(WaitCommitted(c, o, every_id)) << "on observer " << c.member(o).name;

  // Every node at one common height: identical blocks, state roots and receipt roots at every
  // height, and the expected balances.
  uint64_t common = UINT64_MAX;
  for (size_t i : all)
    common = std::min(common, HeightOf(c, i));
  ASSERT_GT(common, 0u);
  EXPECT_TRUE(SameChain(c, validators, 1, common));
  EXPECT_TRUE(SameChain(c, all, 1, common)) << "observer against validators";
  for (size_t i : all) {
    for (const auto& [bank, payer] : payers) {
      auto payer_balance = Balance(c, i, payer.id, common);
      auto payee_balance = Balance(c, i, payees.at(bank).id, common);
      auto issuer_balance = Balance(c, i, TxFactory::IssuerAccount(bank), common);
      IT_ASSERT_OK(payer_balance);
      IT_ASSERT_OK(payee_balance);
      IT_ASSERT_OK(issuer_balance);
      EXPECT_EQ(*payer_balance, std::to_string(kFunding - paid[bank]))
          << c.member(i).name << " bank " << bank;
      EXPECT_EQ(*payee_balance, std::to_string(kFunding + paid[bank]))
          << c.member(i).name << " bank " << bank;
      EXPECT_EQ(*issuer_balance, "-" + std::to_string(2 * kFunding))
          << c.member(i).name << " bank " << bank;
    }
  }
  // The status state root agrees with get_block at a height all nodes report at once (the nodes
  // keep committing, so only equal heights are compared).
  for (size_t i : all) {
    auto s = c.GetStatus(i);
    IT_ASSERT_OK(s);
    const uint64_t h = s->at("height").to_number<uint64_t>();
    auto b = c.Block(validators[0], h);
    if (!b) continue;  // the reference has not reached h yet
    EXPECT_EQ(s->at("state_root"), b->at("state_root")) << c.member(i).name << " at " << h;
  }
}

}  // namespace
}  // namespace cl::integration
