// Proof bundles from a real consortium verify offline: bundles fetched with get_proof from the
// partner observer (which the auditor need not trust) are checked by the ledger-audit program with
// nothing but the genesis file, and a bundle with one byte changed fails.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

TEST(Audit, BundlesFromTheObserverVerifyOfflineAndATamperedOneFails) {
  auto cluster = Cluster::Create({4, 1, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  const size_t observer = c.observers().at(0);
  TxFactory f(c.chain_id());
  Wallet alice = TxFactory::NewWallet(1);
  Wallet bob = TxFactory::NewWallet(1);
  SignedTx open = f.OpenAndFund({alice, bob}, c.member(0).governance, 50'000);
  ASSERT_TRUE(Submit(c, 0, open).has_value());
  ASSERT_TRUE(WaitCommitted(c, 0, {open.tx_id}));
  SignedTx pay = f.Pay(alice, bob, 1'234);
  ASSERT_TRUE(Submit(c, observer, pay).has_value());  // the observer forwards it
  ASSERT_TRUE(WaitCommitted(c, observer, {pay.tx_id}));
  const fs::path genesis = c.dir() / "genesis.json";

  // The observer serves proofs only for heights it has verified an execution certificate for.
  std::vector<std::pair<std::string, json::object>> requests = {
      {"account", {{"kind", "account"}, {"id", ToHex(bob.id)}}},
      {"transaction", {{"kind", "transaction"}, {"id", pay.tx_id}}},
      {"no_account", {{"kind", "no_account"}, {"id", ToHex(TxFactory::NewId())}}},
      {"asset_supply", {{"kind", "asset_supply"}, {"asset", "USD.1"}}},
  };
  fs::path account_bundle;
  for (const auto& [name, params] : requests) {
    SCOPED_TRACE(name);
    Result<fs::path> bundle = MakeError(ErrorCode::kUnavailable, "not fetched");
    ASSERT_TRUE(WaitUntil(
        [&] {
          bundle = FetchBundle(c, observer, params, name + ".bundle");
          return bundle.has_value();
        },
        kCommitTimeoutMs, "a " + name + " bundle from the observer"))
        << (bundle ? "" : bundle.error().message);
    AuditRun run = RunAudit(genesis, *bundle);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("VERIFIED"), std::string::npos) << run.output;
    if (name == "account") account_bundle = *bundle;
    // --json: the RPC's kind names and spellings; ids in hex; what get_account / get_tx answer.
    AuditRun as_json = RunAudit(genesis, *bundle, "--json");
    ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
    boost::system::error_code ec;
    json::value facts = json::parse(as_json.output, ec);
    ASSERT_FALSE(ec) << as_json.output;
    EXPECT_EQ(facts.at("kind").as_string(), name);
    if (name == "account") {
      EXPECT_EQ(facts.at("subject").as_string(), ToHex(bob.id));
      auto read =
          c.Call(observer, "get_account", {{"id", ToHex(bob.id)}, {"height", facts.at("height")}});
      ASSERT_TRUE(read.has_value()) << read.error().message;
      EXPECT_EQ(facts.at("account"), *read);
    }
    if (name == "transaction") {
      EXPECT_EQ(facts.at("subject").as_string(), pay.tx_id);
      EXPECT_EQ(facts.at("receipt").at("status").as_string(), "committed");
      auto tx = c.Call(observer, "get_tx", {{"tx_id", pay.tx_id}});
      ASSERT_TRUE(tx.has_value()) << tx.error().message;
      EXPECT_EQ(facts.at("receipt"), tx->at("receipt"));
      EXPECT_EQ(facts.at("index"), tx->at("index"));
    }
  }

  // One byte changed in the middle of the account bundle: verification fails with one line.
  std::ifstream in(account_bundle, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty());
  bytes[bytes.size() / 2] ^= 0x01;
  fs::path tampered = c.dir() / "tampered.bundle";
  std::ofstream(tampered, std::ios::binary) << bytes;
  AuditRun run = RunAudit(genesis, tampered);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("FAILED"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace cl::integration
