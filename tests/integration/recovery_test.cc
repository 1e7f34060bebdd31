// kill -9 of a (non-primary) validator while transactions stream in, then a restart from its data
// directory: it catches up from its peers, holds the same chain and state as the others, and no
// transaction acknowledged as committed before the kill is ever lost, on any node.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

std::vector<std::string> Ids(const std::vector<PaymentLoad::Sent>& sent) {
  std::vector<std::string> out;
  for (const auto& s : sent)
    out.push_back(s.tx_id);
  return out;
}

TEST(Recovery, KilledValidatorRestartsCatchesUpAndLosesNoCommittedTransaction) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  const std::vector<size_t> validators = c.validators();
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  TxFactory f(c.chain_id());
  constexpr uint64_t kFunding = 1'000'000;
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  ASSERT_TRUE(OpenPayersAndPayees(c, f, validators, kFunding, payers, payees, setup_ids));
  ASSERT_TRUE(WaitCommitted(c, validators[0], setup_ids));

  auto status = c.GetStatus(validators[0]);
  IT_ASSERT_OK(status);
  const size_t primary = static_cast<size_t>(status->at("primary").to_number<uint64_t>());
  const size_t victim = validators[(primary + 1) % validators.size()];
  const size_t witness = validators[(primary + 2) % validators.size()];

  PaymentLoad load(c, f, payers, payees);
  load.Begin();
  // Let some load commit, then record what a client has seen committed.
  ASSERT_TRUE(WaitUntil([&] { return load.Admitted().size() >= 40; }, kCommitTimeoutMs,
                        "40 admitted transactions"));
  std::vector<std::string> acknowledged;
  {
    std::vector<std::string> ids = load.AdmittedIds();
    ASSERT_TRUE(WaitCommitted(c, witness, {ids.begin(), ids.begin() + 20}));
    ids = load.AdmittedIds();
    auto states = GetTxs(c, witness, ids);
    IT_ASSERT_OK(states);
    for (size_t k = 0; k < ids.size(); ++k)
      if ((*states)[k].status == "committed") acknowledged.push_back(ids[k]);
  }
  ASSERT_GE(acknowledged.size(), 20u);

  // kill -9 during load; the other three keep committing meanwhile.
  load.SetAlive(victim, false);
  c.Kill(victim);
  const uint64_t height_at_kill = HeightOf(c, witness);
  std::vector<size_t> others;
  for (size_t v : validators)
    if (v != victim) others.push_back(v);
  // Miss enough blocks that the restarted node must fetch committed blocks from its peers.
  constexpr uint64_t kBlocksMissed = 30;
  EXPECT_TRUE(WaitHeight(c, others, height_at_kill + kBlocksMissed));

  IT_ASSERT_OK(c.Start(victim));
  load.SetAlive(victim, true);
  // It catches up to where the others were when it came back, while load continues.
  const uint64_t height_at_restart = HeightOf(c, witness);
  EXPECT_TRUE(WaitHeight(c, {victim}, height_at_restart));
  load.Stop();
  EXPECT_GT(load.Admitted().size(), acknowledged.size());

  // Let the last admitted transactions commit, then compare every height on every node.
  const std::vector<PaymentLoad::Sent> sent = load.Admitted();
  const uint64_t target = HeightOf(c, witness) + 2;
  ASSERT_TRUE(WaitHeight(c, validators, target));
  EXPECT_TRUE(SameChain(c, validators, 1, target))
      << "after the restart of " << c.member(victim).name;

  for (size_t v : validators) {
    auto states = GetTxs(c, v, acknowledged);
    IT_ASSERT_OK(states);
    size_t lost = 0;
    for (size_t k = 0; k < acknowledged.size(); ++k)
      if ((*states)[k].status != "committed" || (*states)[k].receipt_status != "committed") {
        if (lost++ < 3)
          ADD_FAILURE() << "acknowledged tx " << acknowledged[k] << " is " << (*states)[k].status
                        << " on " << c.member(v).name;
      }
    EXPECT_EQ(lost, 0u) << "acknowledged transactions lost on " << c.member(v).name;
  }

  // Balances at `target` on every node match the payments the witness reports committed at or
  // below that height (each payment moves 1 unit).
  auto on_witness = GetTxs(c, witness, Ids(sent));
  IT_ASSERT_OK(on_witness);
  std::vector<uint64_t> moved(payers.size(), 0);
  size_t committed = 0;
  for (size_t k = 0; k < sent.size(); ++k) {
    const TxState& s = (*on_witness)[k];
    if (s.status == "committed" && s.height <= target) {
      EXPECT_EQ(s.receipt_status, "committed") << sent[k].tx_id;
      moved[sent[k].payer]++;
      committed++;
    }
  }
  EXPECT_GE(committed, acknowledged.size());
  for (size_t v : validators) {
    for (size_t p = 0; p < payers.size(); ++p) {
      auto payee = Balance(c, v, payees[p].id, target);
      auto payer = Balance(c, v, payers[p].id, target);
      IT_ASSERT_OK(payee);
      IT_ASSERT_OK(payer);
      EXPECT_EQ(*payee, std::to_string(moved[p])) << c.member(v).name << " payee " << p;
      EXPECT_EQ(*payer, std::to_string(kFunding - moved[p])) << c.member(v).name << " payer " << p;
    }
  }
  std::cerr << "recovery: " << sent.size() << " admitted, " << committed << " committed by height "
            << target << ", " << acknowledged.size() << " acknowledged before the kill at height "
            << height_at_kill << "; " << load.errors() << " submit errors\n";
}

}  // namespace
}  // namespace cl::integration
