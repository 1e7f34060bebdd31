// Proof bundles against a real genesis file, and what ledger-audit prints for them: the anchor
// ledger-audit builds from a genesis file (chain id, genesis hash, validators by member id) accepts
// a bundle certified by that consortium's node keys and rejects one from another consortium; the
// statement and the JSON are rendered from verified values only, with the RPC's keys and
// spellings. Also (re)writes the docs/proofs.md worked example (tests/vectors/proofs/example-*)
// with LEDGER_WRITE_PROOF_VECTORS=1, and checks that docs/proofs.md shows its output exactly.
#include "tools/audit_report.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "genesis/genesis.h"
#include "node/rpc_methods.h"
#include "tests/unit/ledger/proof_chain.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

namespace json = boost::json;

constexpr char kExampleChain[] = "audit-example";
constexpr uint64_t kExampleTimeMs = 1'700'000'000'000;

TrustAnchor AnchorOf(const genesis::Genesis& g) {
  TrustAnchor a;
  a.chain_id = g.chain_id;
  a.genesis_hash = g.hash;
  for (const genesis::Validator& v : g.validators)
    a.validators.push_back(v.node_key);
  return a;
}

// The validators' node secrets in replica order (genesis validators by member id).
std::vector<crypto::PrivateKey> ValidatorKeys(const genesis::LocalConsortium& lc,
                                              const genesis::Genesis& g) {
  std::vector<crypto::PrivateKey> out;
  for (const genesis::Validator& v : g.validators)
    for (const genesis::MemberKeys& m : lc.keys)
      if (m.member_id == v.member_id)
        out.push_back(crypto::PrivateKey::FromBytes(m.node_secret).value());
  return out;
}

Bytes ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string VectorsDir() {
  return std::string(LEDGER_VECTORS_DIR) + "/proofs/";
}

// What `ledger-audit verify --explain` prints for verified facts (tools/audit.cc).
std::string Explain(const VerifiedFacts& f) {
  std::string out;
  for (const std::string& c : f.checks)
    out += "  ok  " + c + "\n";
  return out + "VERIFIED: " + tools::AuditStatement(f) + "\n";
}

struct Example {
  pb::BundleKind kind;
  std::string subject;  // empty: the transaction at index 1
  const char* file;
};
std::vector<Example> Examples() {
  return {{pb::BUNDLE_KIND_ACCOUNT, kProofAccount, "example-account.bundle"},
          {pb::BUNDLE_KIND_TRANSFER, kProofTransfer, "example-transfer.bundle"},
          {pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset, "example-supply.bundle"},
          {pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount, "example-no-account.bundle"},
          {pb::BUNDLE_KIND_TRANSACTION, "", "example-tx.bundle"}};
}

TEST(Audit, BundleCertifiedByTheGenesisValidatorsVerifiesAndAnotherConsortiumsFails) {
  auto lc = genesis::GenerateLocalConsortium(kExampleChain, 4, 0, kExampleTimeMs).value();
  auto g = genesis::LoadGenesis(lc.genesis_json).value();
  ASSERT_EQ(g.validators.size(), 4u);
  ProofChain chain(g.chain_id, ValidatorKeys(lc, g), g.hash);
  Bytes bundle = chain.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
  auto facts = VerifyProofBundle(AnchorOf(g), bundle);
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->amount, "300");

  // Same chain id, another consortium's keys and genesis.
  auto other_lc = genesis::GenerateLocalConsortium(kExampleChain, 4, 0, kExampleTimeMs).value();
  auto other = genesis::LoadGenesis(other_lc.genesis_json).value();
  auto r = VerifyProofBundle(AnchorOf(other), bundle);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "chain: bundle is for another genesis (genesis hash differs)");
}

TEST(Audit, CommittedExampleVerifiesAgainstItsGenesisFileAndTheDocsShowItsOutput) {
  const std::string dir = VectorsDir();
  if (std::getenv("LEDGER_WRITE_PROOF_VECTORS") != nullptr) {
    auto lc = genesis::GenerateLocalConsortium(kExampleChain, 4, 0, kExampleTimeMs).value();
    auto g = genesis::LoadGenesis(lc.genesis_json).value();
    ProofChain chain(g.chain_id, ValidatorKeys(lc, g), g.hash);
    std::ofstream(dir + "example-genesis.json", std::ios::binary) << lc.genesis_json;
    for (const Example& e : Examples()) {
      Bytes b = e.subject.empty() ? chain.BuildTx(1) : chain.Build(e.kind, e.subject);
      std::ofstream(dir + e.file, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
  }
  auto g = genesis::LoadGenesisFile(dir + "example-genesis.json");
  ASSERT_TRUE(g.has_value()) << g.error().message;
  std::ifstream doc_file(std::string(LEDGER_VECTORS_DIR) + "/../../docs/proofs.md");
  std::stringstream doc;
  doc << doc_file.rdbuf();
  for (const Example& e : Examples()) {
    auto facts = VerifyProofBundle(AnchorOf(*g), ReadAll(dir + e.file));
    ASSERT_TRUE(facts.has_value()) << e.file << ": " << facts.error().message;
    EXPECT_EQ(facts->kind, e.kind);
    // docs/proofs.md shows the account example's --explain output and each one's statement.
    if (e.kind == pb::BUNDLE_KIND_ACCOUNT) {
      EXPECT_NE(doc.str().find(Explain(*facts)), std::string::npos) << Explain(*facts);
    }
    EXPECT_NE(doc.str().find("VERIFIED: " + tools::AuditStatement(*facts)), std::string::npos)
        << e.file << ": " << tools::AuditStatement(*facts);
  }
}

// The worked example across epochs (docs/proofs.md): its own genesis (4 validators, chain id
// audit-epochs); change 1 (block 10) rotates validator 0's node key, change 2 (block 75) adds a
// fifth validator; the account bundle is at height 140, the first of epoch 2. Regenerated with
// the other examples (LEDGER_WRITE_PROOF_VECTORS=1), with new keys each time.
TEST(Audit, EpochExampleVerifiesFromItsGenesisFileAloneAndTheDocsShowItsOutput) {
  const std::string dir = VectorsDir();
  if (std::getenv("LEDGER_WRITE_PROOF_VECTORS") != nullptr) {
    auto lc = genesis::GenerateLocalConsortium("audit-epochs", 4, 0, kExampleTimeMs).value();
    auto g = genesis::LoadGenesis(lc.genesis_json).value();
    std::vector<crypto::PrivateKey> set0 = ValidatorKeys(lc, g);
    std::vector<crypto::PrivateKey> set1 = set0;
    set1[0] = crypto::PrivateKey::Generate();
    std::vector<crypto::PrivateKey> set2 = set1;
    set2.push_back(crypto::PrivateKey::Generate());
    ProofChain chain(g.chain_id, set0, g.hash,
                     ProofEpochs{{{10, set1, {0, 1, 2}}, {75, set2, {1, 2, 3}}}, 140});
    std::ofstream(dir + "example-epochs-genesis.json", std::ios::binary) << lc.genesis_json;
    Bytes b = chain.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
    std::ofstream(dir + "example-epochs.bundle", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  auto g = genesis::LoadGenesisFile(dir + "example-epochs-genesis.json");
  ASSERT_TRUE(g.has_value()) << g.error().message;
  auto facts = VerifyProofBundle(AnchorOf(*g), ReadAll(dir + "example-epochs.bundle"));
  ASSERT_TRUE(facts.has_value()) << facts.error().message;
  EXPECT_EQ(facts->epoch, 2u);
  EXPECT_EQ(facts->height, 140u);
  EXPECT_NE(tools::AuditStatement(*facts).find(" at height 140 in epoch 2 (block time "),
            std::string::npos);
  json::value j = json::parse(tools::AuditJson(*facts));
  EXPECT_EQ(j.at("epoch").as_int64(), 2);
  const json::array& epochs = j.at("epochs").as_array();
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0], json::parse(json::serialize(json::object{
                           {"epoch", 1},
                           {"height", 10},
                           {"activation_height", 75},
                           {"validators", 4},
                           {"validator_set_hash", facts->epoch_changes[0].set_hash.ToHex()},
                           {"signers", 3},
                           {"previous_validators", 4}})));
  EXPECT_EQ(epochs[1].at("activation_height").as_int64(), 140);
  EXPECT_EQ(epochs[1].at("validators").as_int64(), 5);
  // Another consortium's genesis file with the same chain id: the first change is not its set's.
  auto other_lc = genesis::GenerateLocalConsortium("audit-epochs", 4, 0, kExampleTimeMs).value();
  TrustAnchor other = AnchorOf(genesis::LoadGenesis(other_lc.genesis_json).value());
  other.genesis_hash = g->hash;
  auto r = VerifyProofBundle(other, ReadAll(dir + "example-epochs.bundle"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.rfind("chain: change 1: invalid signature by validator ", 0), 0u)
      << r.error().message;
  std::ifstream doc_file(std::string(LEDGER_VECTORS_DIR) + "/../../docs/proofs.md");
  std::stringstream doc;
  doc << doc_file.rdbuf();
  EXPECT_NE(doc.str().find(Explain(*facts)), std::string::npos) << Explain(*facts);
}

// ---- What is printed: verified values only, ids as hex (issue 14, defects 1 and 23) ----

struct Printed : ::testing::Test {
  ProofChain chain{"audit-print",
                   {crypto::PrivateKey::Generate(), crypto::PrivateKey::Generate(),
                    crypto::PrivateKey::Generate(), crypto::PrivateKey::Generate()},
                   crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("g"))};
  VerifiedFacts Verify(const Bytes& bundle) {
    auto f = VerifyProofBundle(chain.anchor, bundle);
    EXPECT_TRUE(f.has_value()) << f.error().message;
    return f.value_or(VerifiedFacts{});
  }
};

TEST_F(Printed, IdsAreHexAndOnlyAssetCodesAreText) {
  const std::string absent = ToHex(AsSpan(kProofAbsentAccount));
  VerifiedFacts none = Verify(chain.Build(pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount));
  EXPECT_EQ(tools::AuditStatement(none),
            "account " + absent + " did not exist at height 1 (block time 2023-11-14T22:13:20Z)");
  json::value j = json::parse(tools::AuditJson(none));
  EXPECT_EQ(j.at("subject").as_string(), absent);
  EXPECT_EQ(j.at("kind").as_string(), "no_account");

  VerifiedFacts supply = Verify(chain.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset));
  EXPECT_EQ(tools::AuditStatement(supply), "asset USD.1 had a net supply of 1000 (issuer account " +
                                               ToHex(AsSpan(kProofIssuerAccount)) +
                                               ") at height 1 (block time 2023-11-14T22:13:20Z)");
  EXPECT_EQ(json::parse(tools::AuditJson(supply)).at("subject").as_string(), "USD.1");
}

TEST_F(Printed, ARejectedTransactionIsNotSaidToBeCommitted) {
  VerifiedFacts ok = Verify(chain.BuildTx(1));
  EXPECT_NE(tools::AuditStatement(ok).find("executed with receipt status committed (operations: "
                                           "ok)"),
            std::string::npos)
      << tools::AuditStatement(ok);
  VerifiedFacts refused = Verify(chain.BuildTx(2));
  const std::string s = tools::AuditStatement(refused);
  EXPECT_EQ(s.find("committed"), std::string::npos) << s;
  EXPECT_NE(s.find("included at index 2 of 3 and executed with receipt status rejected "
                   "(operations: balance_not_zero)"),
            std::string::npos)
      << s;
  json::value j = json::parse(tools::AuditJson(refused));
  EXPECT_EQ(j.at("receipt").at("status").as_string(), "rejected");
  EXPECT_EQ(j.at("index").as_int64(), 2);
  // A receipt refused as a whole (tx_expired) says it was not executed.
  refused.receipt->set_code(static_cast<uint32_t>(ResultCode::kTxExpired));
  refused.receipt->clear_results();
  EXPECT_NE(tools::AuditStatement(refused).find(
                "included at index 2 of 3 and not executed (receipt status rejected, code "
                "tx_expired)"),
            std::string::npos)
      << tools::AuditStatement(refused);
}

// `ledger-audit --json` uses the RPC's keys and spellings: each record object is what the RPC's
// read of it at that height answers.
TEST_F(Printed, JsonRecordsAreTheRpcsRenderings) {
  auto with_height = [](json::object o, uint64_t h) {
    o["at_height"] = h;
    return json::value(std::move(o));
  };
  VerifiedFacts account = Verify(chain.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  json::value a = json::parse(tools::AuditJson(account));
  EXPECT_EQ(a.at("account"), with_height(node::RenderAccount(*account.account), 1));
  EXPECT_EQ(a.at("balance").as_string(), "300");
  EXPECT_EQ(a.at("digest").as_string(), chain.header_hash.ToHex());

  VerifiedFacts transfer = Verify(chain.Build(pb::BUNDLE_KIND_TRANSFER, kProofTransfer));
  json::value t = json::parse(tools::AuditJson(transfer));
  EXPECT_EQ(t.at("transfer"), with_height(node::RenderTransfer(*transfer.transfer), 1));
  EXPECT_EQ(t.at("transfer").at("state").as_string(), "posted");

  for (size_t i : {size_t{1}, size_t{2}}) {
    VerifiedFacts tx = Verify(chain.BuildTx(i));
    json::value x = json::parse(tools::AuditJson(tx));
    EXPECT_EQ(x.at("receipt"), json::value(node::RenderReceipt(*tx.receipt)));
    EXPECT_EQ(x.at("tx_id").as_string(), chain.tx_ids[i].ToHex());
  }

  VerifiedFacts supply = Verify(chain.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset));
  json::value s = json::parse(tools::AuditJson(supply));
  // get_asset's keys, in its order.
  std::vector<std::string> keys;
  for (const auto& kv : s.at("asset").as_object())
    keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"code", "scale", "issuer", "issuer_account",
                                            "created_height", "at_height", "supply"}));
  EXPECT_EQ(s.at("asset").at("supply").as_string(), "1000");
  EXPECT_EQ(s.at("account"), with_height(node::RenderAccount(*supply.account), 1));
}

}  // namespace
}  // namespace cl::ledger
