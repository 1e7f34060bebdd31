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
#include "util/hex.h"

namespace cl::ledger {
namespace {

constexpr char kChain[] = "proof-test";
constexpr size_t kValidators = 4;  // f = 1, quorum 3
constexpr uint64_t kHeight = 1;

Bytes MakeTx(const crypto::PrivateKey& key, uint64_t nonce) {
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(1000);
  body.set_nonce(nonce);
  auto* close = body.add_operations()->mutable_close_account();
  Bytes id(16, 0);
  id[15] = static_cast<uint8_t>(nonce + 1);
  close->set_account(id.data(), id.size());
  return SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
}

Bytes SignCert(const std::vector<crypto::PrivateKey>& keys, const std::vector<uint32_t>& signers,
               crypto::Domain tag, const Bytes& body) {
  pb::BundleCertificate cert;
  cert.set_body(ToString(body));
  Hash32 digest = crypto::SignedDigest(tag, kChain, body);
  for (uint32_t i : signers) {
    pb::BundleSigner* s = cert.add_signers();
    s->set_replica(i);
    s->set_signature(ToString(keys[i % keys.size()].Sign(digest).span()));
  }
  return SerializeRecord(cert);
}

// A one-block chain in memory with accounts, an asset, a transfer and three transactions, and
// certificates signed by the test's validator keys over the documented bodies.
struct Chain {
  std::vector<crypto::PrivateKey> keys;
  TrustAnchor anchor;
  MemoryStore kv;
  StateTree tree{&kv};
  BlockStore blocks{&kv};
  std::vector<Hash32> tx_ids;
  Hash32 header_hash;
  Hash32 state_root;
  Hash32 receipt_root;

  Chain() {
    for (size_t i = 0; i < kValidators; ++i)
      keys.push_back(crypto::PrivateKey::Generate());
    anchor.chain_id = kChain;
    anchor.genesis_hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("genesis"));
    for (const auto& k : keys)
      anchor.validators.push_back(k.GetPublicKey());

    pb::AccountRecord acc;
    acc.set_id("acc-1");
    acc.set_asset("USD.1");
    acc.set_credits_posted(500);
    acc.set_debits_posted(200);
    pb::AccountRecord issuer;
    issuer.set_id("iss-1");
    issuer.set_asset("USD.1");
    issuer.set_issuer(true);
    issuer.set_debits_posted(1000);
    pb::AssetRecord asset;
    asset.set_code("USD.1");
    asset.set_issuer_account("iss-1");
    pb::TransferRecord tr;
    tr.mutable_transfer()->set_id("tr-1");
    tr.set_height(kHeight);
    std::vector<StateWrite> writes = {{keys::Account("acc-1"), SerializeRecord(acc)},
                                      {keys::Account("acc-2"), SerializeRecord(acc)},
                                      {keys::Account("iss-1"), SerializeRecord(issuer)},
                                      {keys::Asset("USD.1"), SerializeRecord(asset)},
                                      {keys::Transfer("tr-1"), SerializeRecord(tr)}};
    WriteBatch tb;
    state_root = tree.Apply(kHeight, writes, &tb).value();
    EXPECT_TRUE(kv.Write(tb, true).has_value());

    std::vector<Bytes> txs;
    for (uint64_t i = 0; i < 3; ++i) {
      txs.push_back(MakeTx(keys[0], i));
      tx_ids.push_back(ParseTransaction(txs.back(), kChain)->tx_id);
    }
    pb::BlockHeader header;
    header.set_chain_id(kChain);
    header.set_height(kHeight);
    header.set_prev_header_hash(ToString(anchor.genesis_hash.span()));
    header.set_timestamp_ms(1'700'000'000'000);
    std::vector<Bytes> vkeys;
    for (const auto& k : anchor.validators)
      vkeys.emplace_back(k.bytes.begin(), k.bytes.end());
    header.set_validator_set_hash(ToString(MerkleRoot(vkeys).span()));
    Bytes block = EncodeBlock(header, txs, tx_ids);
    DecodedBlock decoded = DecodeBlock(block, kChain).value();
    header_hash = decoded.header_hash;
    pb::ReceiptList receipts;
    for (const Hash32& id : tx_ids) {
      pb::Receipt* r = receipts.add_receipts();
      r->set_tx_id(ToString(id.span()));
      r->set_height(kHeight);
    }
    receipt_root = ReceiptRoot(receipts);
    pb::ExecutedBlock executed;
    executed.set_height(kHeight);
    WriteBatch bb;
    blocks.AddCommitted(decoded, block, CommitCert({0, 1, 2}), receipts, executed, &bb);
    blocks.AddExecutionCertificate(kHeight, ExecCert({1, 2, 3}), &bb);
    EXPECT_TRUE(kv.Write(bb, true).has_value());
  }

  Bytes CommitCert(const std::vector<uint32_t>& signers) const {
    pb::BundleVoteBody vote;
    vote.set_view(0);
    vote.set_seq(kHeight);
    vote.set_digest(ToString(header_hash.span()));
    return SignCert(keys, signers, crypto::Domain::kCommit, SerializeRecord(vote));
  }
  Bytes ExecCert(const std::vector<uint32_t>& signers) const {
    pb::BundleExecutionVoteBody body;
    body.set_height(kHeight);
    body.set_block_digest(ToString(header_hash.span()));
    body.set_state_root(ToString(state_root.span()));
    body.set_result_root(ToString(receipt_root.span()));
    return SignCert(keys, signers, crypto::Domain::kExecutionVote, SerializeRecord(body));
  }

  Bytes Build(pb::BundleKind kind, std::string_view subject) {
    ProofRequest req;
    req.kind = kind;
    req.subject = Bytes(subject.begin(), subject.end());
    Result<Bytes> b = BuildProofBundle(blocks, tree, kChain, anchor.genesis_hash, req);
    EXPECT_TRUE(b.has_value()) << b.error().message;
    return b.value_or(Bytes{});
  }
  Bytes BuildTx(size_t i) {
    return Build(pb::BUNDLE_KIND_TRANSACTION, AsStringView(tx_ids[i].span()));
  }
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
