// Killing the primary validator (SIGKILL) makes the other three change view, and transactions keep
// committing under the new primary with f = 1 of 4 validators down.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

TEST(ViewChange, KilledPrimaryIsReplacedAndCommitsContinue) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  const std::vector<size_t> validators = c.validators();
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  TxFactory f(c.chain_id());
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  for (size_t v : validators) {
    const uint32_t bank = c.member(v).member_id;
    payers.push_back(TxFactory::NewWallet(bank));
    payees.push_back(TxFactory::NewWallet(bank));
    SignedTx tx = f.OpenAndFund({payers.back(), payees.back()}, c.member(v).governance, 10'000);
    IT_ASSERT_OK(Submit(c, v, tx));
    setup_ids.push_back(tx.tx_id);
  }
  ASSERT_TRUE(WaitCommitted(c, validators[0], setup_ids));

  // Validator index = position in localnet.json = member index here.
  auto before = c.GetStatus(validators[0]);
  IT_ASSERT_OK(before);
  const uint64_t view_before = before->at("view").to_number<uint64_t>();
  const size_t primary = static_cast<size_t>(before->at("primary").to_number<uint64_t>());
  ASSERT_LT(primary, validators.size());
  for (size_t v : validators) {
    auto s = c.GetStatus(v);
    IT_ASSERT_OK(s);
    ASSERT_EQ(s->at("primary").to_number<uint64_t>(), primary) << c.member(v).name;
  }
  const uint64_t height_at_kill = HeightOf(c, validators[0]);
  c.Kill(primary);
  std::vector<size_t> survivors;
  for (size_t v : validators)
    if (v != primary) survivors.push_back(v);

  // Work arrives while the primary is gone: a correct replica must not wait forever for it.
  std::vector<std::string> after_ids;
  for (size_t k = 0; k < 12; ++k) {
    const size_t from = k % payers.size();
    SignedTx tx = f.Pay(payers[from], payees[from], 1 + k);
    IT_ASSERT_OK(Submit(c, survivors[k % survivors.size()], tx));
    after_ids.push_back(tx.tx_id);
  }

  std::string views;
  EXPECT_TRUE(WaitUntil(
      [&] {
        views.clear();
        bool all_moved = true;
        for (size_t v : survivors) {
          auto s = c.GetStatus(v);
          if (!s) return false;
          const uint64_t view = s->at("view").to_number<uint64_t>();
          const bool changing = s->at("in_view_change").as_bool();
          const size_t new_primary = static_cast<size_t>(s->at("primary").to_number<uint64_t>());
          views += c.member(v).name + ": view " + std::to_string(view) +
                   (changing ? " (changing)" : "") + " primary " + std::to_string(new_primary) +
                   "; ";
          all_moved = all_moved && view > view_before && !changing && new_primary != primary;
        }
        return all_moved;
      },
      kCommitTimeoutMs, "a view change away from the killed primary"))
      << views;

  for (size_t v : survivors)
    EXPECT_TRUE(WaitCommitted(c, v, after_ids)) << "on " << c.member(v).name;
  uint64_t common = UINT64_MAX;
  for (size_t v : survivors)
    common = std::min(common, HeightOf(c, v));
  EXPECT_GT(common, height_at_kill);
  EXPECT_TRUE(SameChain(c, survivors, 1, common));
  EXPECT_FALSE(c.Running(primary));
}

}  // namespace
}  // namespace cl::integration
