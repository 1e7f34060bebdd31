#include "ledger/proof_bundle.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/state_proof.h"
#include "ledger/transaction.h"
#include "tests/unit/ledger/proof_chain.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

constexpr char kChain[] = "proof-test";
constexpr size_t kValidators = 4;  // f = 1, quorum 3
constexpr uint64_t kHeight = kProofHeight;

std::vector<crypto::PrivateKey> NewKeys(size_t n = kValidators) {
  std::vector<crypto::PrivateKey> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back(crypto::PrivateKey::Generate());
  return keys;
}

struct Chain : ProofChain {
  explicit Chain(size_t validators = kValidators)
      : ProofChain(kChain, NewKeys(validators),
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
std::string FailureOf(const TrustAnchor& anchor, const pb::ProofBundle& bundle) {
  return FailureOf(anchor, ToBytes(bundle.SerializeAsString()));
}

// Appends an unknown varint field (number 99) to msg: protobuf keeps it and writes it back.
void AddUnknownField(google::protobuf::Message& msg) {
  msg.GetReflection()->MutableUnknownFields(&msg)->AddVarint(99, 1);
}

TEST(ProofBundle, AccountBundleVerifiesAndStatesTheBalance) {
  Chain c;
  Result<VerifiedFacts> f =
      VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->height, kHeight);
  EXPECT_EQ(f->timestamp_ms, 1'700'000'000'000u);
  EXPECT_EQ(f->amount, "300");
  ASSERT_TRUE(f->account.has_value());
  EXPECT_EQ(f->account->id(), kProofAccount);
  EXPECT_EQ(f->subject, ToBytes(kProofAccount));
  EXPECT_EQ(f->header_hash, c.header_hash);
  EXPECT_EQ(f->state_root, c.state_root);
  EXPECT_EQ(f->receipt_root, c.receipt_root);
}

TEST(ProofBundle, TransferNonExistenceAndSupplyBundlesVerify) {
  Chain c;
  auto t = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_TRANSFER, kProofTransfer));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->transfer->transfer().id(), kProofTransfer);
  auto na = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount));
  ASSERT_TRUE(na.has_value()) << na.error().message;
  EXPECT_EQ(na->subject, ToBytes(kProofAbsentAccount));
  auto nt = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_NO_TRANSFER, kProofAbsentTransfer));
  ASSERT_TRUE(nt.has_value()) << nt.error().message;
  auto s = VerifyProofBundle(c.anchor, c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset));
  ASSERT_TRUE(s.has_value()) << s.error().message;
  EXPECT_EQ(s->amount, "1000");
  EXPECT_EQ(s->account->id(), kProofIssuerAccount);
  EXPECT_EQ(s->subject, ToBytes(kProofAsset));
}

TEST(ProofBundle, TransactionBundleProvesInclusionAndReceipt) {
  Chain c;
  for (size_t i = 0; i < c.tx_ids.size(); ++i) {
    auto f = VerifyProofBundle(c.anchor, c.BuildTx(i));
    ASSERT_TRUE(f.has_value()) << f.error().message;
    EXPECT_EQ(f->tx_index, i);
    EXPECT_EQ(f->tx_count, c.tx_ids.size());
    EXPECT_EQ(f->receipt->tx_id(), ToString(c.tx_ids[i].span()));
    EXPECT_EQ(f->subject, ToBytes(AsStringView(c.tx_ids[i].span())));
  }
}

TEST(ProofBundle, BuilderRefusesAbsentOrPresentRecordsForTheWrongKind) {
  Chain c;
  ProofRequest req{pb::BUNDLE_KIND_NO_ACCOUNT, ToBytes(kProofAccount), 0};
  auto r = BuildProofBundle(c.blocks, c.tree, kChain, c.anchor.genesis_hash, req, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
  req = {pb::BUNDLE_KIND_ACCOUNT, ToBytes(kProofAbsentAccount), 0};
  r = BuildProofBundle(c.blocks, c.tree, kChain, c.anchor.genesis_hash, req, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

void ExpectEveryByteFlipFails(const TrustAnchor& anchor, const Bytes& bundle) {
  ASSERT_TRUE(VerifyProofBundle(anchor, bundle).has_value());
  for (size_t i = 0; i < bundle.size(); ++i) {
    // 0x58 turns a signer's tag 0x12 (field 2) into 0x4a (unknown field 9).
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}, uint8_t{0x58}}) {
      Bytes b = bundle;
      b[i] ^= mask;
      EXPECT_FALSE(VerifyProofBundle(anchor, b).has_value())
          << "byte " << i << " mask " << int(mask) << " of " << bundle.size();
    }
  }
}

TEST(ProofBundle, FlippingAnyByteOfAnAccountBundleFails) {
  Chain c;
  ExpectEveryByteFlipFails(c.anchor, c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
}

TEST(ProofBundle, FlippingAnyByteOfATransactionSupplyOrAbsenceBundleFails) {
  Chain c;
  ExpectEveryByteFlipFails(c.anchor, c.BuildTx(1));
  ExpectEveryByteFlipFails(c.anchor, c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset));
  ExpectEveryByteFlipFails(c.anchor, c.Build(pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount));
}

TEST(ProofBundle, TruncatedBundlesFail) {
  Chain c;
  Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
  for (size_t n = 0; n < b.size(); ++n)
    EXPECT_FALSE(VerifyProofBundle(c.anchor, ByteSpan(b.data(), n)).has_value()) << n;
}

// ---- Defect 1: the subject is exactly the documented id, and only verified values are shown ----

// The attack of issue 14 defect 1: a genuine absence proof for the 32 ASCII characters of an
// existing account's hex id (that key is truly absent) was shown as "account a11ce…0001 did not
// exist", while the account exists under its 16-byte id.
TEST(ProofBundle, AbsenceOfAnExistingAccountsHexIdAsTextFails) {
  Chain c;
  const std::string ascii = ToHex(AsSpan(kProofAccount));
  ASSERT_EQ(ascii.size(), 32u);
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount));
  Result<StateProof> proof = c.tree.Prove(keys::Account(ascii), kHeight);
  ASSERT_TRUE(proof.has_value());
  ASSERT_NE(proof->kind, StateProof::Kind::kInclusion);  // genuinely absent under that key
  p.set_subject(ascii);
  p.mutable_state(0)->set_key(ToString(keys::Account(ascii)));
  p.mutable_state(0)->set_proof(ToString(proof->Encode()));
  EXPECT_EQ(FailureOf(c.anchor, p), "subject: an account or transfer id is 16 bytes, not all zero");
}

// The same with the bundle's own proof: another byte string whose key hash shares the path that
// the absence proof checked passes the proof, so only the subject's form can refuse it.
TEST(ProofBundle, AbsenceBundleWithASubjectSharingTheProvenPathFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount));
  StateProof proof = StateProof::Decode(AsSpan(p.state(0).proof())).value();
  std::string other;
  for (uint32_t i = 0; i < 100'000 && other.empty(); ++i) {
    std::string candidate = "acct-" + std::to_string(i);  // not a 16-byte id
    if (VerifyStateProof(c.state_root, keys::Account(candidate), std::nullopt, proof))
      other = candidate;
  }
  ASSERT_FALSE(other.empty()) << "no string shares the absence proof's path";
  p.set_subject(other);
  p.mutable_state(0)->set_key(ToString(keys::Account(other)));
  EXPECT_EQ(FailureOf(c.anchor, p), "subject: an account or transfer id is 16 bytes, not all zero");
}

TEST(ProofBundle, SubjectOfTheWrongFormFailsForEveryKind) {
  const std::string id15(15, 'x'), id17(17, 'x'), zero16(16, '\0'), tx31(31, 'x');
  struct Case {
    pb::BundleKind kind;
    std::string subject;
  };
  for (const Case& bad : std::vector<Case>{{pb::BUNDLE_KIND_ACCOUNT, id15},
                                           {pb::BUNDLE_KIND_ACCOUNT, id17},
                                           {pb::BUNDLE_KIND_ACCOUNT, zero16},
                                           {pb::BUNDLE_KIND_NO_ACCOUNT, ""},
                                           {pb::BUNDLE_KIND_TRANSFER, id15},
                                           {pb::BUNDLE_KIND_NO_TRANSFER, id17},
                                           {pb::BUNDLE_KIND_TRANSACTION, tx31},
                                           {pb::BUNDLE_KIND_TRANSACTION, kProofAccount},
                                           {pb::BUNDLE_KIND_ASSET_SUPPLY, "usd.1"},
                                           {pb::BUNDLE_KIND_ASSET_SUPPLY, "USD 1"},
                                           {pb::BUNDLE_KIND_ASSET_SUPPLY, "USD.1\n"},
                                           {pb::BUNDLE_KIND_ASSET_SUPPLY, ""},
                                           {pb::BUNDLE_KIND_ASSET_SUPPLY, "ABCDEFGHIJKLM"}}) {
    Status s = CheckProofSubject(bad.kind, AsSpan(bad.subject));
    EXPECT_FALSE(s.has_value()) << bad.kind << " " << ToHex(AsSpan(bad.subject));
  }
  EXPECT_TRUE(CheckProofSubject(pb::BUNDLE_KIND_ACCOUNT, AsSpan(kProofAccount)).has_value());
  EXPECT_TRUE(CheckProofSubject(pb::BUNDLE_KIND_ASSET_SUPPLY, AsSpan("USD.1")).has_value());
  // The builder refuses such requests instead of writing a bundle that cannot verify.
  Chain c;
  ProofRequest req{pb::BUNDLE_KIND_NO_ACCOUNT, ToBytes(id15), 0};
  auto r = BuildProofBundle(c.blocks, c.tree, kChain, c.anchor.genesis_hash, req, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

// A proven asset-supply bundle whose asset record's code differs from the subject (a subject
// that is not the proven code cannot be printed).
TEST(ProofBundle, SupplyForAnotherAssetCodeFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset));
  p.set_subject("USD.2");
  EXPECT_EQ(FailureOf(c.anchor, p),
            "asset_supply: the state entry proves another key than the subject");
}

// ---- Defect 2: canonical encoding everywhere, unknown fields refused ----

TEST(ProofBundle, AnUnknownFieldAnywhereIsRefused) {
  Chain c;
  const pb::ProofBundle account = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  const pb::ProofBundle tx = Parse(c.BuildTx(1));
  // Each case adds one unknown field to one message of a valid bundle.
  using Edit = std::function<void(pb::ProofBundle&)>;
  auto in_bytes = [](std::string* field, auto message) {
    ASSERT_TRUE(message.ParseFromString(*field));
    AddUnknownField(message);
    *field = message.SerializeAsString();
  };
  auto in_cert = [](std::string* field, std::function<void(pb::BundleCertificate&)> edit) {
    pb::BundleCertificate cert;
    ASSERT_TRUE(cert.ParseFromString(*field));
    edit(cert);
    *field = cert.SerializeAsString();
  };
  struct Case {
    const char* where;
    const pb::ProofBundle* base;
    Edit edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"bundle", &account, [](pb::ProofBundle& p) { AddUnknownField(p); },
       "bundle: has an unknown field"},
      {"state entry", &account, [](pb::ProofBundle& p) { AddUnknownField(*p.mutable_state(0)); },
       "bundle: has an unknown field"},
      {"tx_path", &tx, [](pb::ProofBundle& p) { AddUnknownField(*p.mutable_tx_path()); },
       "bundle: has an unknown field"},
      {"receipt_path", &tx, [](pb::ProofBundle& p) { AddUnknownField(*p.mutable_receipt_path()); },
       "bundle: has an unknown field"},
      {"header", &account,
       [&](pb::ProofBundle& p) { in_bytes(p.mutable_header(), pb::BlockHeader()); },
       "header: has an unknown field"},
      {"commit certificate", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_commit_certificate(), [](auto& cert) { AddUnknownField(cert); });
       },
       "commit certificate: has an unknown field"},
      {"commit signer", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_commit_certificate(),
                 [](auto& cert) { AddUnknownField(*cert.mutable_signers(2)); });
       },
       "commit certificate: has an unknown field"},
      {"commit body", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_commit_certificate(),
                 [&](auto& cert) { in_bytes(cert.mutable_body(), pb::BundleVoteBody()); });
       },
       "commit certificate: body: has an unknown field"},
      {"execution certificate", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_execution_certificate(), [](auto& cert) { AddUnknownField(cert); });
       },
       "execution certificate: has an unknown field"},
      {"execution signer", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_execution_certificate(),
                 [](auto& cert) { AddUnknownField(*cert.mutable_signers(0)); });
       },
       "execution certificate: has an unknown field"},
      {"execution body", &account,
       [&](pb::ProofBundle& p) {
         in_cert(p.mutable_execution_certificate(),
                 [&](auto& cert) { in_bytes(cert.mutable_body(), pb::BundleExecutionVoteBody()); });
       },
       "execution certificate: body: has an unknown field"},
      {"account record", &account,
       [&](pb::ProofBundle& p) {
         in_bytes(p.mutable_state(0)->mutable_value(), pb::AccountRecord());
       },
       "account: the state proof does not verify against the certified state root"},
      {"receipt", &tx, [&](pb::ProofBundle& p) { in_bytes(p.mutable_receipt(), pb::Receipt()); },
       "transaction: receipt: has an unknown field"},
  };
  for (const Case& k : cases) {
    pb::ProofBundle p = *k.base;
    k.edit(p);
    EXPECT_EQ(FailureOf(c.anchor, p), k.expected) << k.where;
  }
}

// The real single-byte change found by the outside verifier: the tag of a certificate's fourth
// signer (field 2, 0x12) turned into field 9 (0x4a) hides that signer as an unknown field, and
// three signatures still met the quorum of 4 validators.
TEST(ProofBundle, FourthSignerTurnedIntoUnknownField9IsRefused) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  const Bytes three = c.CommitCert({0, 1, 2});
  Bytes four = c.CommitCert({0, 1, 2, 3});
  p.set_commit_certificate(ToString(four));
  ASSERT_EQ(FailureOf(c.anchor, p), "verified");
  ASSERT_EQ(four[three.size()], 0x12);  // the fourth signer's tag follows the first three
  four[three.size()] = 0x4a;
  p.set_commit_certificate(ToString(four));
  EXPECT_EQ(FailureOf(c.anchor, p), "commit certificate: has an unknown field");
}

// ---- Defect 18: the quorum is ceil((n+f+1)/2), not 2f+1 ----

TEST(ProofBundle, QuorumIsCeilOfNPlusFPlusOneHalvesFor5And6Validators) {
  for (size_t n : {size_t{5}, size_t{6}}) {
    SCOPED_TRACE(n);
    Chain c(n);  // f = 1: 2f+1 = 3 signers are not enough, 4 are
    pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
    p.set_commit_certificate(ToString(c.CommitCert({0, 1, 2})));
    p.set_execution_certificate(ToString(c.ExecCert({1, 2, 3, 4})));
    EXPECT_EQ(FailureOf(c.anchor, p), "commit certificate: 3 signatures, quorum is 4");
    p.set_commit_certificate(ToString(c.CommitCert({0, 1, 2, 4})));
    p.set_execution_certificate(ToString(c.ExecCert({0, 2, 3})));
    EXPECT_EQ(FailureOf(c.anchor, p), "execution certificate: 3 signatures, quorum is 4");
    p.set_execution_certificate(ToString(c.ExecCert({0, 2, 3, 4})));
    EXPECT_EQ(FailureOf(c.anchor, p), "verified");
  }
}

TEST(ProofBundle, FewerThanQuorumSignaturesFail) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_commit_certificate(ToString(c.CommitCert({0, 3})));
  EXPECT_EQ(FailureOf(c.anchor, p), "commit certificate: 2 signatures, quorum is 3");
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_execution_certificate(ToString(c.ExecCert({1})));
  EXPECT_EQ(FailureOf(c.anchor, p), "execution certificate: 1 signatures, quorum is 3");
  // A repeated signer does not count twice.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_commit_certificate(ToString(c.CommitCert({0, 1, 1})));
  EXPECT_EQ(FailureOf(c.anchor, p), "commit certificate: signer 1 repeated");
}

// ---- One test per step of docs/proofs.md: each edit makes exactly that step fail ----
// The verifier stops at the first failed step and names it; every edit below leaves the earlier
// steps passing, so the failure names the step the edit targets.
TEST(ProofBundle, EachVerificationStepRefusesWhatItChecks) {
  Chain c;
  const pb::ProofBundle good = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  ASSERT_EQ(FailureOf(c.anchor, good), "verified");
  struct Case {
    const char* step;
    std::function<void(pb::ProofBundle&)> edit;
    const char* expected;
  };
  pb::BlockHeader other_header;
  ASSERT_TRUE(other_header.ParseFromString(good.header()));
  other_header.set_validator_set_hash(std::string(32, 'v'));
  const std::vector<Case> cases = {
      {"1 bundle", [](pb::ProofBundle& p) { p.set_version(3); }, "bundle: unsupported version"},
      {"1 bundle (shape)", [](pb::ProofBundle& p) { p.add_state(); },
       "bundle: wrong number of entries"},
      {"2 chain", [](pb::ProofBundle& p) { p.set_genesis_hash(std::string(32, 'g')); },
       "chain: bundle is for another genesis (genesis hash differs)"},
      {"3 header",
       [&](pb::ProofBundle& p) { p.set_header(ToString(SerializeRecord(other_header))); },
       "header: validator set hash is not the genesis validator set"},
      {"4 commit certificate",
       [&](pb::ProofBundle& p) {
         p.set_commit_certificate(ToString(c.CommitCert({0, 1})));
       },
       "commit certificate: 2 signatures, quorum is 3"},
      {"5 execution certificate",
       [&](pb::ProofBundle& p) {
         p.set_execution_certificate(ToString(c.ExecCert({0, 5})));
       },
       "execution certificate: signer 5 is outside the validator set"},
      {"6 subject", [](pb::ProofBundle& p) { p.set_subject(kProofAccount.substr(1)); },
       "subject: an account or transfer id is 16 bytes, not all zero"},
      {"7 account", [](pb::ProofBundle& p) { p.set_subject(kProofOtherAccount); },
       "account: the state entry proves another key than the subject"},
  };
  for (const Case& k : cases) {
    pb::ProofBundle p = good;
    k.edit(p);
    EXPECT_EQ(FailureOf(c.anchor, p), k.expected) << k.step;
  }
}

// Step 7 for each kind: an edit that leaves steps 1 to 6 passing fails in the kind's own check.
TEST(ProofBundle, TheFactStepRefusesEachKindsWrongFact) {
  Chain c;
  struct Case {
    pb::BundleKind kind;
    std::string subject;
    std::function<void(pb::ProofBundle&)> edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {pb::BUNDLE_KIND_TRANSFER, kProofTransfer,
       [](pb::ProofBundle& p) { p.set_subject(kProofAbsentTransfer); },
       "transfer: the state entry proves another key than the subject"},
      {pb::BUNDLE_KIND_NO_ACCOUNT, kProofAbsentAccount,
       [](pb::ProofBundle& p) { p.mutable_state(0)->set_present(true); },
       "no_account: the state entry claims presence"},
      {pb::BUNDLE_KIND_NO_TRANSFER, kProofAbsentTransfer,
       [](pb::ProofBundle& p) { p.set_subject(kProofTransfer); },
       "no_transfer: the state entry proves another key than the subject"},
      {pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset,
       [](pb::ProofBundle& p) { p.mutable_state()->SwapElements(0, 1); },
       "asset_supply: the state entry proves another key than the subject"},
  };
  for (const Case& k : cases) {
    pb::ProofBundle p = Parse(c.Build(k.kind, k.subject));
    ASSERT_EQ(FailureOf(c.anchor, p), "verified") << k.expected;
    k.edit(p);
    EXPECT_EQ(FailureOf(c.anchor, p), k.expected);
  }
  pb::ProofBundle tx = Parse(c.BuildTx(0));
  tx.set_subject(ToString(c.tx_ids[1].span()));
  EXPECT_EQ(FailureOf(c.anchor, tx), "transaction: the receipt is for another transaction");
}

TEST(ProofBundle, SignerOutsideTheValidatorSetFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_commit_certificate(ToString(c.CommitCert({0, 1, 4})));  // index 4 signs with key 0
  EXPECT_EQ(FailureOf(c.anchor, p), "commit certificate: signer 4 is outside the validator set");
  // An outsider's key claiming a member's index.
  TrustAnchor other = c.anchor;
  other.validators[2] = crypto::PrivateKey::Generate().GetPublicKey();
  std::string why = FailureOf(other, c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  EXPECT_EQ(why, "header: validator set hash is not the genesis validator set");
}

TEST(ProofBundle, AnotherChainsGenesisFails) {
  Chain c;
  Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
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
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_subject(kProofOtherAccount);  // exists with the same record contents under another key
  EXPECT_EQ(FailureOf(c.anchor, p), "account: the state entry proves another key than the subject");
  // The subject's key with the other key's path.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  pb::ProofBundle q = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofIssuerAccount));
  p.mutable_state(0)->set_proof(q.state(0).proof());
  EXPECT_EQ(FailureOf(c.anchor, p),
            "account: the state proof does not verify against the certified state root");
  // The other account's whole entry under this subject: the record names another id.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  q = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofOtherAccount));
  *p.mutable_state(0) = q.state(0);
  p.set_subject(kProofOtherAccount);
  EXPECT_EQ(FailureOf(c.anchor, p), "verified");  // a genuine bundle for the other account
}

TEST(ProofBundle, SwappedValueFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  pb::AccountRecord rec;
  ASSERT_TRUE(rec.ParseFromString(p.state(0).value()));
  rec.set_credits_posted(1'000'000);
  p.mutable_state(0)->set_value(ToString(SerializeRecord(rec)));
  EXPECT_EQ(FailureOf(c.anchor, p),
            "account: the state proof does not verify against the certified state root");
  // Claiming absence of a present key.
  p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_kind(pb::BUNDLE_KIND_NO_ACCOUNT);
  EXPECT_EQ(FailureOf(c.anchor, p), "no_account: the state entry claims presence");
}

TEST(ProofBundle, ReceiptOfAnotherTransactionFails) {
  Chain c;
  pb::ProofBundle p = Parse(c.BuildTx(0));
  pb::ProofBundle q = Parse(c.BuildTx(1));
  p.set_receipt(q.receipt());
  EXPECT_EQ(FailureOf(c.anchor, p), "transaction: the receipt is for another transaction");
  p = Parse(c.BuildTx(0));
  *p.mutable_receipt_path() = q.receipt_path();
  EXPECT_EQ(FailureOf(c.anchor, p),
            "transaction: the receipt's position differs from the transaction's");
}

// The worked example of docs/proofs.md: tests/vectors/proofs/ holds a bundle and its genesis
// anchor. Regenerate with LEDGER_WRITE_PROOF_VECTORS=1 (only when the format changes on purpose).
TEST(ProofBundle, CommittedExampleBundleVerifies) {
  const std::string dir = std::string(LEDGER_VECTORS_DIR) + "/proofs/";
  if (std::getenv("LEDGER_WRITE_PROOF_VECTORS") != nullptr) {
    Chain c;
    Bytes b = c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
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
  EXPECT_EQ(f->subject, ToBytes(kProofAccount));
  ExpectEveryByteFlipFails(anchor, b);
}

}  // namespace
}  // namespace cl::ledger
