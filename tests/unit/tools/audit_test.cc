// Proof bundles against a real genesis file: the anchor ledger-audit builds from a genesis file
// (chain id, genesis hash, validators by member id) accepts a bundle certified by that consortium's
// node keys and rejects one from another consortium. Also (re)writes the docs/proofs.md worked
// example: tests/vectors/proofs/example-genesis.json + example-account.bundle, with
// LEDGER_WRITE_PROOF_VECTORS=1.
#include <gtest/gtest.h>

#include <fstream>

#include "genesis/genesis.h"
#include "tests/unit/ledger/proof_chain.h"

namespace cl::ledger {
namespace {

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

TEST(Audit, BundleCertifiedByTheGenesisValidatorsVerifiesAndAnotherConsortiumsFails) {
  auto lc = genesis::GenerateLocalConsortium(kExampleChain, 4, 0, kExampleTimeMs).value();
  auto g = genesis::LoadGenesis(lc.genesis_json).value();
  ASSERT_EQ(g.validators.size(), 4u);
  ProofChain chain(g.chain_id, ValidatorKeys(lc, g), g.hash);
  Bytes bundle = chain.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1");
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

TEST(Audit, CommittedExampleVerifiesAgainstItsGenesisFile) {
  const std::string dir = std::string(LEDGER_VECTORS_DIR) + "/proofs/";
  if (std::getenv("LEDGER_WRITE_PROOF_VECTORS") != nullptr) {
    auto lc = genesis::GenerateLocalConsortium(kExampleChain, 4, 0, kExampleTimeMs).value();
    auto g = genesis::LoadGenesis(lc.genesis_json).value();
    ProofChain chain(g.chain_id, ValidatorKeys(lc, g), g.hash);
    std::ofstream(dir + "example-genesis.json", std::ios::binary) << lc.genesis_json;
    for (auto [kind, subject, file] :
         {std::tuple{pb::BUNDLE_KIND_ACCOUNT, "acc-1", "example-account.bundle"},
          std::tuple{pb::BUNDLE_KIND_ASSET_SUPPLY, "USD.1", "example-supply.bundle"},
          std::tuple{pb::BUNDLE_KIND_NO_ACCOUNT, "acc-9", "example-no-account.bundle"}}) {
      Bytes b = chain.Build(kind, subject);
      std::ofstream(dir + file, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
    Bytes tx = chain.BuildTx(1);
    std::ofstream(dir + "example-tx.bundle", std::ios::binary)
        .write(reinterpret_cast<const char*>(tx.data()), static_cast<std::streamsize>(tx.size()));
  }
  auto g = genesis::LoadGenesisFile(dir + "example-genesis.json");
  ASSERT_TRUE(g.has_value()) << g.error().message;
  for (const char* file : {"example-account.bundle", "example-supply.bundle",
                           "example-no-account.bundle", "example-tx.bundle"}) {
    auto facts = VerifyProofBundle(AnchorOf(*g), ReadAll(dir + file));
    EXPECT_TRUE(facts.has_value()) << file << ": " << facts.error().message;
  }
}

}  // namespace
}  // namespace cl::ledger
