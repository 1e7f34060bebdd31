// Validator-set changes with real processes (docs/consensus.md "Epochs"): four validators and an
// observer under a steady load of payments; a governance transaction promotes the observer, and
// from the activation height (65 blocks after the block that committed it) it is a validator of
// the new set; then an original validator is demoted and follows as an observer, and a validator
// restarted in that epoch rejoins it; then a validator's node key is rotated, and its node,
// restarted with the new key after the change took effect, votes again. Every admitted payment
// commits, every node has the same chain, and proof bundles taken in each new epoch verify with
// ledger-audit from the genesis file alone (their chain of changes proven by the old sets).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>

#include "crypto/keystore.h"
#include "ledger/epoch.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

TEST(Epochs, AnObserverPromotedUnderLoadBecomesAValidatorAtTheActivationHeight) {
  auto created = Cluster::Create({.validators = 4, .observers = 1, .chain_id = "epochs-test"});
  ASSERT_TRUE(created.has_value()) << created.error().message;
  Cluster& c = **created;
  ASSERT_TRUE(c.StartAll().has_value());
  std::vector<size_t> all;
  for (size_t i = 0; i < c.size(); ++i)
    all.push_back(i);
  const size_t observer = c.observers().at(0);
  ASSERT_TRUE(WaitPeers(c, all, 4));

  TxFactory factory(c.chain_id());
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup;
  ASSERT_TRUE(OpenPayersAndPayees(c, factory, c.validators(), 1'000'000, payers, payees, setup));
  ASSERT_TRUE(WaitCommitted(c, 0, setup));
  PaymentLoad load(c, factory, payers, payees);
  load.Begin();

  // The promotion, approved by every member's governance key (at least the threshold).
  ledger::pb::Operation op;
  op.mutable_change_roles()->set_id(c.member(observer).member_id);
  op.mutable_change_roles()->set_roles(ledger::pb::ROLE_VALIDATOR);
  std::vector<crypto::PrivateKey> governance;
  for (size_t i = 0; i < c.size(); ++i)
    governance.push_back(c.member(i).governance);
  const SignedTx promote = factory.Sign({op}, governance);
  ASSERT_TRUE(Submit(c, 0, promote).has_value());
  ASSERT_TRUE(WaitCommitted(c, 0, {promote.tx_id}));
  auto states = GetTxs(c, 0, {promote.tx_id});
  ASSERT_TRUE(states.has_value());
  const uint64_t changed = (*states)[0].height;
  const uint64_t activation = changed + ledger::kEpochActivationDelay;

  // Ten blocks into the new epoch on every node, the observer a validator.
  ASSERT_TRUE(WaitHeight(c, all, activation + 10, 60'000)) << c.LogTail(observer);
  auto status = c.GetStatus(observer);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->at("role").as_string(), "validator") << c.LogTail(observer);
  // Then an original validator is demoted (back to four), still under load; it follows as an
  // observer, and a validator restarted in the new epoch rejoins it.
  const size_t demoted = c.validators().at(3);
  ledger::pb::Operation demote;
  demote.mutable_change_roles()->set_id(c.member(demoted).member_id);
  demote.mutable_change_roles()->set_roles(ledger::pb::ROLE_OBSERVER);
  const SignedTx demotion = factory.Sign({demote}, governance);
  ASSERT_TRUE(Submit(c, 0, demotion).has_value());
  ASSERT_TRUE(WaitCommitted(c, 0, {demotion.tx_id}));
  states = GetTxs(c, 0, {demotion.tx_id});
  ASSERT_TRUE(states.has_value());
  const uint64_t activation2 = (*states)[0].height + ledger::kEpochActivationDelay;
  ASSERT_TRUE(WaitHeight(c, all, activation2 + 10, 60'000)) << c.LogTail(demoted);
  status = c.GetStatus(demoted);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->at("role").as_string(), "observer") << c.LogTail(demoted);
  const size_t restarted = c.validators().at(1);
  ASSERT_TRUE(c.Terminate(restarted).has_value());
  ASSERT_TRUE(c.Start(restarted).has_value());
  ASSERT_TRUE(WaitHeight(c, all, activation2 + 20, 60'000)) << c.LogTail(restarted);
  status = c.GetStatus(restarted);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->at("role").as_string(), "validator") << c.LogTail(restarted);

  // Then a validator's node key is rotated: its node signs with the old key until the change takes
  // effect, and restarted with the new key it votes again.
  const size_t rotated = c.validators().at(2);
  // Its node is cut off from the activation height until it restarts with the new key: payments
  // it admits meanwhile wait in its mempool, which the restart loses (an admission is not a
  // commit). The load goes to the others while it rotates.
  load.SetAlive(rotated, false);
  const crypto::PrivateKey fresh = crypto::PrivateKey::Generate();
  const crypto::PublicKey fresh_pub = fresh.GetPublicKey();
  ledger::pb::Operation rotate;
  rotate.mutable_rotate_node_key()->set_id(c.member(rotated).member_id);
  rotate.mutable_rotate_node_key()->set_node_key(
      std::string(fresh_pub.bytes.begin(), fresh_pub.bytes.end()));
  const SignedTx rotation = factory.Sign({rotate}, governance);
  ASSERT_TRUE(Submit(c, 0, rotation).has_value());
  ASSERT_TRUE(WaitCommitted(c, 0, {rotation.tx_id}));
  states = GetTxs(c, 0, {rotation.tx_id});
  ASSERT_TRUE(states.has_value());
  const uint64_t activation3 = (*states)[0].height + ledger::kEpochActivationDelay;
  // The others go on without it (four validators, quorum 3); its old key is no longer a member
  // from the activation height, so p2p refuses it until it comes back with the new one.
  std::vector<size_t> others;
  for (size_t i : all)
    if (i != rotated) others.push_back(i);
  ASSERT_TRUE(WaitHeight(c, others, activation3 + 5, 60'000)) << c.LogTail(0);
  EXPECT_LT(HeightOf(c, rotated), activation3 + 5);
  ASSERT_TRUE(c.Terminate(rotated).has_value());
  {
    std::ifstream in(c.member(rotated).home / "passphrase");
    std::string passphrase;
    std::getline(in, passphrase);
    crypto::KeystoreWriteOptions options;
    options.scrypt.n = 1 << 12;
    fs::remove(c.member(rotated).home / "node.key");
    ASSERT_TRUE(
        crypto::WriteKeystoreFile(c.member(rotated).home / "node.key", fresh, passphrase, options)
            .has_value());
  }
  ASSERT_TRUE(c.Start(rotated).has_value()) << c.LogTail(rotated);
  ASSERT_TRUE(WaitHeight(c, all, activation3 + 15, 60'000)) << c.LogTail(rotated);
  status = c.GetStatus(rotated);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->at("role").as_string(), "validator") << c.LogTail(rotated);

  load.Stop();
  EXPECT_TRUE(WaitCommitted(c, 0, load.AdmittedByOthersThan(rotated), 60'000));
  EXPECT_GT(load.Admitted().size(), 0u);
  EXPECT_TRUE(SameChain(c, all, 1, activation3 + 15));

  // Bundles of each new epoch, served by the promoted node, verified from the genesis file.
  for (uint64_t epoch : {uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
    const uint64_t height = (epoch == 1 ? activation : epoch == 2 ? activation2 : activation3) + 5;
    json::object params{{"kind", "account"}, {"id", ToHex(payers.at(0).id)}, {"height", height}};
    const std::string e = std::to_string(epoch);
    auto bundle = FetchBundle(c, observer, params, "epoch" + e + ".bundle");
    ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
    AuditRun run = RunAudit(c.member(0).home / "genesis.json", *bundle, "--explain");
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("chain: change " + e + ": epoch " + e), std::string::npos)
        << run.output;
    EXPECT_NE(run.output.find("in epoch " + e), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace cl::integration

namespace cl::integration {
namespace {

// A member's node that starts long after the others (a bank joining late) catches up by observer
// sync and logs its progress: height reached, of how many, the rate and the time left, then the
// whole catch-up's figures (docs/protocol.md, "Observer sync").
TEST(CatchUp, ALateObserverCatchesUpAndLogsItsProgress) {
  auto created = Cluster::Create({.validators = 4, .observers = 1, .chain_id = "catch-up-test"});
  ASSERT_TRUE(created.has_value()) << created.error().message;
  Cluster& c = **created;
  const size_t observer = c.observers().at(0);
  for (size_t v : c.validators())
    ASSERT_TRUE(c.Start(v).has_value());
  TxFactory factory(c.chain_id());
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup;
  ASSERT_TRUE(OpenPayersAndPayees(c, factory, c.validators(), 1'000'000, payers, payees, setup));
  ASSERT_TRUE(WaitCommitted(c, 0, setup));
  // The live rate, for comparison with the catch-up's (docs/performance.md).
  const uint64_t start_height = HeightOf(c, 0);
  const auto start = std::chrono::steady_clock::now();
  size_t admitted = 0;
  {
    PaymentLoad load(c, factory, payers, payees);
    load.SetAlive(observer, false);
    load.Begin();
    ASSERT_TRUE(WaitHeight(c, c.validators(), 200, 60'000));
    load.Stop();
    admitted = load.Admitted().size();
  }
  const double live_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "live: %llu blocks and %zu transactions in %.1f s (%.0f blocks/s, %.0f "
      "transactions/s)\n",
      static_cast<unsigned long long>(HeightOf(c, 0) - start_height), admitted, live_s,
      static_cast<double>(HeightOf(c, 0) - start_height) / live_s,
      static_cast<double>(admitted) / live_s);
  const uint64_t target = HeightOf(c, 0);
  ASSERT_TRUE(c.Start(observer).has_value());
  ASSERT_TRUE(WaitHeight(c, {observer}, target, 60'000)) << c.LogTail(observer);
  ASSERT_TRUE(WaitUntil(
      [&] { return c.LogTail(observer, 400).find("caught up at height") != std::string::npos; },
      10'000, "the observer's caught-up line"))
      << c.LogTail(observer, 60);
  const std::string log = c.LogTail(observer, 400);
  EXPECT_NE(log.find("catching up: height"), std::string::npos) << log;
  const size_t line = log.find("caught up at height");
  std::printf("%s\n", log.substr(line, log.find('\n', line) - line).c_str());
  EXPECT_TRUE(SameChain(c, {0, observer}, 1, target));
}

}  // namespace
}  // namespace cl::integration
