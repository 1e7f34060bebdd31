#include "ledger/proof_bundle.h"

#include <gtest/gtest.h>

#include <fstream>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/transaction.h"
#include "tests/unit/ledger/proof_chain.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

constexpr char kChain[] = "proof-test";
constexpr size_t kValidators = 4;  // f = 1, quorum 3
constexpr uint64_t kHeight = kProofHeight;

std::vector<crypto::PrivateKey> NewKeys() {
  std::vector<crypto::PrivateKey> keys;
  for (size_t i = 0; i < kValidators; ++i)
    keys.push_back(crypto::PrivateKey::Generate());
  return keys;
}

struct Chain : ProofChain {
  Chain()
      : ProofChain(kChain, NewKeys(),
                   crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("genesis"))) {}
};

pb::ProofBundle Parse(const Bytes& b) {
  pb::ProofBundle p;
  EXPECT_TRUE(p.ParseFromArray(b.data(), static_cast<int>(b.size())));
  return p;
}

std::string FailureOf(const TrustAnchor& anchor, const Bytes& bundle) {
  Result<VerifiedFacts> r = VerifyProofBundle(anchor, bundle);
  return r ? std::string("verified") : r.error().message;
}

TEST(ProofBundle, AccountBundleVerifiesAndStatesTheBalance) {
  Chain c;
  Result<VerifiedFacts> f = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->height, kHeight);
  EXPECT_EQ(f->timestamp_ms, 1'700'000'000'000u);
  EXPECT_EQ(f->amount, "300");
  ASSERT_TRUE(f->account.has_value());
  EXPECT_EQ(f->account->id(), "acc-1");
  EXPECT_EQ(f->header_hash, c.header_hash);
  EXPECT_EQ(f->state_root, c.state_root);
}

TEST(ProofBundle, TransferNonExistenceAndSupplyBundlesVerify) {
  Chain c;
  auto t = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_TRANSFER, "tr-1"));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->transfer->transfer().id(), "tr-1");
  auto na = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_NO_ACCOUNT, "acc-9"));
  ASSERT_TRUE(na.has_value()) << na.error().message;
  auto nt = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_NO_TRANSFER, "tr-9"));
  ASSERT_TRUE(nt.has_value()) << nt.error().message;
  auto s = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, "USD.1"));
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->amount, "1000");
  EXPECT_EQ(s->account->id(), "iss-1");
}

TEST(ProofBundle, TransactionBundleProvesInclusionAndReceipt) {
  Chain c;
  for (size_t i = 0; i < c.tx_ids.size(); ++i) {
    auto f = VerifyProofBundle(c.anchor, c.BuildTx(i));
    ASSERT_TRUE(f.has_value()) << f.error().message;
    EXPECT_EQ(f->tx_index, i);
    EXPECT_EQ(f->receipt->tx_id(), ToString(c.tx_ids[i].span()));
  }
}

TEST(ProofBundle, BuilderRefusesAbsentOrPresentRecordsForTheWrongKind) {
  Chain c;
  ProofRequest req{pb::BUNDLE_KIND_NO_ACCOUNT, ToBytes("acc-1"), 0};
  auto r = BuildProofBundle(c.blocks, c.tree, kChain, c.anchor.genesis_hash, req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  req = {pb::BUNDLE_KIND_ACCOUNT, ToBytes("acc-9"), 0};
  r = BuildProofBundle(c.blocks, c.tree, kChain, c.anchor.genesis_hash, req);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

void ExpectEveryByteFlipFails(const TrustAnchor& anchor, const Bytes& bundle) {
  ASSERT_TRUE(VerifyProofBundle(anchor, bundle).has_value());
  for (size_t i = 0; i < bundle.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      Bytes b = bundle;
      b[i] ^= mask;
      EXPECT_FALSE(VerifyProofBundle(anchor, b).has_value())
          << "byte " << i << " mask " << int(mask) << " of " << bundle.size();
    }
  }
}

TEST(ProofBundle, FlippingAnyByteOfAnAccountBundleFails) {
  Chain c;
  ExpectEveryByteFlipFails(c.anchor, c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
}

TEST(ProofBundle, FlippingAnyByteOfATransactionOrSupplyBundleFails) {
  Chain c;
  ExpectEveryByteFlipFails(c.anchor, c.BuildTx(1));
  ExpectEveryByteFlipFails(c.anchor, c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, "USD.1"));
}

TEST(ProofBundle, TruncatedBundlesFail) {
  Chain c;
  Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1");
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_FALSE(VerifyProofBundle(c.anchor, ByteSpan(b.data(), n)).has_value()) << n;
}

TEST(ProofBundle, FewerThanQuorumSignaturesFail) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_commit_certificate(ToString(c.CommitCert({0, 3})));
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "commit certificate: 2 signatures, quorum is 3");
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_execution_certificate(ToString(c.ExecCert({1})));
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "execution certificate: 1 signatures, quorum is 3");
  // A repeated signer does not count twice.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_commit_certificate(ToString(c.CommitCert({0, 1, 1})));
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)), "commit certificate: signer 1 repeated");
}

TEST(ProofBundle, SignerOutsideTheValidatorSetFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_commit_certificate(ToString(c.CommitCert({0, 1, 4})));  // index 4 signs with key 0
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "commit certificate: signer 4 is outside the validator set");
  // An outsider's key claiming a member's index.
  TrustAnchor other = c.anchor;
  other.validators[2] = crypto::PrivateKey::Generate().GetPublicKey();
  std::string why = FailureOf(other, c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  EXPECT_EQ(why, "header: validator set hash is not the genesis validator set");
}

TEST(ProofBundle, AnotherChainsGenesisFails) {
  Chain c;
  Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1");
  TrustAnchor other = c.anchor;
  other.genesis_hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("other"));
  EXPECT_EQ(FailureOf(other, b), "chain: bundle is for another genesis (genesis hash differs)");
  other = c.anchor;
  other.chain_id = "other-chain";
  EXPECT_EQ(FailureOf(other, b), "chain: bundle is for another chain id");
  // Another consortium with the same chain id and genesis hash claimed: signatures fail.
  Chain d;
  other = d.anchor;
  other.chain_id = kChain;
  other.genesis_hash = c.anchor.genesis_hash;
  EXPECT_NE(FailureOf(other, b), "verified");
}

TEST(ProofBundle, ProofForAnotherKeyFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_subject("acc-2");  // acc-2 exists with the same record contents but another key
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "state proof: proves another key than the subject");
  // The subject's key with the other key's path.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  pb::ProofBundle q = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "iss-1"));
  p.mutable_state(0)->set_proof(q.state(0).proof());
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "state proof: does not verify against the certified state root");
}

TEST(ProofBundle, SwappedValueFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  pb::AccountRecord rec;
  ASSERT_TRUE(rec.ParseFromString(p.state(0).value()));
  rec.set_credits_posted(1'000'000);
  p.mutable_state(0)->set_value(ToString(SerializeRecord(rec)));
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "state proof: does not verify against the certified state root");
  // Claiming absence of a present key.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1"));
  p.set_kind(pb::BUNDLE_KIND_NO_ACCOUNT);
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)), "state proof: entry claims presence");
}

TEST(ProofBundle, ReceiptOfAnotherTransactionFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.BuildTx(0));
  pb::ProofBundle q = Parse(c.BuildTx(1));
  p.set_receipt(q.receipt());
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)), "receipt: for another transaction");
  p = Parse(c.BuildTx(0));
  *p.mutable_receipt_path() = q.receipt_path();
  EXPECT_EQ(FailureOf(c.anchor, SerializeRecord(p)),
            "receipt: position differs from the transaction's");
}

// The worked example of docs/proofs.md: tests/vectors/proofs/ holds a bundle and its genesis
// anchor. Regenerate with LEDGER_WRITE_PROOF_VECTORS=1 (only when the format changes on purpose).
TEST(ProofBundle, CommittedExampleBundleVerifies) {
  const std::string dir = std::string(LEDGER_VECTORS_DIR) + "/proofs/";
  if (std::getenv("LEDGER_WRITE_PROOF_VECTORS") != nullptr) {
    Chain c;
    Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, "acc-1");
    std::ofstream(dir + "account.bundle", std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    std::ofstream anchor(dir + "anchor.txt");
    anchor << "chain_id " << kChain << "\ngenesis_hash " << c.anchor.genesis_hash.ToHex() << "\n";
    for (const auto& k : c.anchor.validators)
      anchor << "validator " << k.ToHex() << "\n";
  }
  std::ifstream in(dir + "account.bundle", std::ios::binary);
  ASSERT_TRUE(in.good());
  Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ifstream at(dir + "anchor.txt");
  TrustAnchor anchor;
  std::string word, value;
  while (at >> word >> value) {
    if (word == "chain_id") anchor.chain_id = value;
    if (word == "genesis_hash") anchor.genesis_hash = Hash32FromHex(value).value();
    if (word == "validator") anchor.validators.push_back(crypto::PublicKey::FromHex(value).value());
  }
  auto f = VerifyProofBundle(anchor, b);
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->amount, "300");
  ExpectEveryByteFlipFails(anchor, b);
}

}  // namespace
}  // namespace cl::ledger
