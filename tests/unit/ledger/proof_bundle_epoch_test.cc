// Proof bundles across epochs (docs/proofs.md "The chain of validator-set changes"): a bundle at
// a height in epoch k carries the k changes from genesis, each approved by the execution
// certificate of the set before it; the verifier follows them from genesis's set alone. Each
// negative test edits a genuine multi-epoch bundle so that exactly one check refuses it.
#include <gtest/gtest.h>

#include <functional>

#include "ledger/epoch.h"
#include "ledger/merkle.h"
#include "ledger/proof_bundle.h"
#include "tests/unit/ledger/proof_chain.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

constexpr char kChain[] = "epoch-test";

Hash32 Genesis() {
  return crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("epoch genesis"));
}

std::vector<crypto::PrivateKey> NewKeys(size_t n) {
  std::vector<crypto::PrivateKey> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back(crypto::PrivateKey::Generate());
  return keys;
}

// Genesis: A B C D. Change 1 (block 10, in force from 75) rotates A's key to R: R B C D, approved
// by A B C. Change 2 (block 75, in force from 140) adds E: R B C D E, approved by B C D (indices
// 1 to 3, which are also B C D in genesis's set). The block is at 140, in epoch 2 (5 validators,
// quorum 4). Heights at the edges: h_2 == A_1 and H == A_2.
struct ThreeEpochs {
  std::vector<crypto::PrivateKey> set0 = NewKeys(4);
  crypto::PrivateKey r = crypto::PrivateKey::Generate();
  crypto::PrivateKey e = crypto::PrivateKey::Generate();
  std::vector<crypto::PrivateKey> set1 = {r, set0[1], set0[2], set0[3]};
  std::vector<crypto::PrivateKey> set2 = {r, set0[1], set0[2], set0[3], e};
  ProofChain c{kChain, set0, Genesis(),
               ProofEpochs{{{10, set1, {0, 1, 2}}, {75, set2, {1, 2, 3}}}, 140}};
};

pb::ProofBundle Parse(const Bytes& b) {
  pb::ProofBundle p;
  EXPECT_TRUE(p.ParseFromArray(b.data(), static_cast<int>(b.size())));
  return p;
}

std::string FailureOf(const TrustAnchor& anchor, const pb::ProofBundle& bundle) {
  Result<VerifiedFacts> r = VerifyProofBundle(anchor, ToBytes(CanonicalEncoding(bundle)));
  return r ? std::string("verified") : r.error().message;
}

Bytes KeyBytes(const crypto::PrivateKey& k) {
  const crypto::PublicKey p = k.GetPublicKey();
  return Bytes(p.bytes.begin(), p.bytes.end());
}

// The set hash over key bytes as a change lists them (valid keys or not).
Hash32 RootOfKeyBytes(const std::vector<Bytes>& keys) {
  return MerkleRoot(keys);
}

// Replaces change `i` (0-based) with `keys` (as bytes) approved by `signers` of `signing`,
// signed in `epoch`, naming hash(keys) and height + 65 unless told otherwise.
struct ChangeEdit {
  uint64_t height;
  std::vector<Bytes> keys;
  const std::vector<crypto::PrivateKey>* signing;
  std::vector<uint32_t> signers;
  uint64_t epoch;
  std::optional<Hash32> next_set_hash = std::nullopt;
  std::optional<uint64_t> activation = std::nullopt;
  std::string chain = kChain;
};
void SetChange(pb::ProofBundle& p, int i, const ChangeEdit& e) {
  pb::ValidatorSetChange* c = p.mutable_validator_changes(i);
  c->set_height(e.height);
  c->clear_validator_keys();
  for (const Bytes& k : e.keys)
    c->add_validator_keys(ToString(k));
  const Bytes approval = SignProofApproval(e.chain, *e.signing, e.signers, e.height, e.epoch,
                                           e.next_set_hash.value_or(RootOfKeyBytes(e.keys)),
                                           e.activation.value_or(e.height + kEpochActivationDelay));
  ASSERT_TRUE(
      c->mutable_approval()->ParseFromArray(approval.data(), static_cast<int>(approval.size())));
}

std::vector<Bytes> KeysOf(const std::vector<crypto::PrivateKey>& keys) {
  std::vector<Bytes> out;
  for (const crypto::PrivateKey& k : keys)
    out.push_back(KeyBytes(k));
  return out;
}

TEST(ProofBundleEpochs, BundleInEpochTwoVerifiesFromGenesisAndNamesTheChain) {
  ThreeEpochs t;
  const Bytes bytes = t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount);
  const pb::ProofBundle p = Parse(bytes);
  EXPECT_EQ(p.version(), kProofBundleVersionWithChanges);
  ASSERT_EQ(p.validator_changes_size(), 2);
  Result<VerifiedFacts> f = VerifyProofBundle(t.c.anchor, bytes);
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->height, 140u);
  EXPECT_EQ(f->epoch, 2u);
  EXPECT_EQ(f->amount, "300");
  ASSERT_EQ(f->epoch_changes.size(), 2u);
  const VerifiedEpochChange& c1 = f->epoch_changes[0];
  EXPECT_EQ(c1.epoch, 1u);
  EXPECT_EQ(c1.height, 10u);
  EXPECT_EQ(c1.activation_height, 75u);
  EXPECT_EQ(c1.validators, 4u);
  EXPECT_EQ(c1.previous_validators, 4u);
  EXPECT_EQ(c1.signers, 3u);
  EXPECT_EQ(c1.set_hash, ValidatorSetHash(PublicKeysOf(t.set1)));
  const VerifiedEpochChange& c2 = f->epoch_changes[1];
  EXPECT_EQ(c2.epoch, 2u);
  EXPECT_EQ(c2.height, 75u);
  EXPECT_EQ(c2.activation_height, 140u);
  EXPECT_EQ(c2.validators, 5u);
  EXPECT_EQ(c2.signers, 3u);
  EXPECT_EQ(c2.set_hash, ValidatorSetHash(PublicKeysOf(t.set2)));
  // --explain: genesis, each change, then the header in epoch 2.
  ASSERT_GE(f->checks.size(), 4u);
  EXPECT_EQ(f->checks[1],
            "chain: change 1: epoch 1 from height 75 (scheduled by block 10): 4 "
            "validators, set hash " +
                c1.set_hash.ToHex() + "; approved by 3 of the 4 validators of epoch 0 (quorum 3)");
  EXPECT_TRUE(f->checks[3].ends_with(", in epoch 2 (5 validators, quorum 4)")) << f->checks[3];
  // What verifies is the one canonical encoding of what was parsed (the fuzz target's
  // differential, tests/fuzz/audit_bundle_fuzz_entry.cc), changes and approvals included.
  EXPECT_EQ(ToBytes(CanonicalEncoding(p)), bytes);
  // Every kind.
  for (size_t i = 0; i < t.c.tx_ids.size(); ++i)
    EXPECT_TRUE(VerifyProofBundle(t.c.anchor, t.c.BuildTx(i)).has_value());
  EXPECT_TRUE(VerifyProofBundle(t.c.anchor, t.c.Build(pb::BUNDLE_KIND_ASSET_SUPPLY, kProofAsset))
                  .has_value());
}

TEST(ProofBundleEpochs, FlippingAnyByteOfAMultiEpochBundleFails) {
  ThreeEpochs t;
  const Bytes b = t.c.Build(pb::BUNDLE_KIND_NO_TRANSFER, kProofAbsentTransfer);
  ASSERT_TRUE(VerifyProofBundle(t.c.anchor, b).has_value());
  for (size_t i = 0; i < b.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}, uint8_t{0x58}}) {
      Bytes flipped = b;
      flipped[i] ^= mask;
      EXPECT_FALSE(VerifyProofBundle(t.c.anchor, flipped).has_value())
          << "byte " << i << " mask " << int(mask) << " of " << b.size();
    }
  }
}

// ---- The producer ----

TEST(ProofBundleEpochs, ProducerIncludesOnlyTheChangesInForceAtTheHeight) {
  // Epoch 1 from 75; the block at 100 is in epoch 1 although change 2 (block 80, in force from
  // 145) is already in the node's history.
  std::vector<crypto::PrivateKey> set0 = NewKeys(4), set1 = NewKeys(4), set2 = NewKeys(4);
  ProofChain c{kChain, set0, Genesis(), ProofEpochs{{{10, set1, {0, 1, 2}}}, 100}};
  std::vector<EpochChange> history = c.history;
  const std::vector<crypto::PublicKey> next = PublicKeysOf(set2);
  history.push_back({80, next,
                     SignProofApproval(kChain, set1, {0, 1, 2}, 80, 1, ValidatorSetHash(next),
                                       80 + kEpochActivationDelay)});
  ProofRequest req{pb::BUNDLE_KIND_ACCOUNT, ToBytes(kProofAccount), 0};
  Result<Bytes> b = BuildProofBundle(c.blocks, c.tree, kChain, Genesis(), req, history);
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_EQ(Parse(*b).validator_changes_size(), 1);
  Result<VerifiedFacts> f = VerifyProofBundle(c.anchor, *b);
  ASSERT_TRUE(f.has_value()) << f.error().message;
  EXPECT_EQ(f->epoch, 1u);
}

TEST(ProofBundleEpochs, ProducerRefusesAHistoryThatIsIncompleteOrOutOfOrder) {
  ThreeEpochs t;
  ProofRequest req{pb::BUNDLE_KIND_ACCOUNT, ToBytes(kProofAccount), 0};
  // Missing change 2: the height's certificate names epoch 2.
  std::vector<EpochChange> partial = {t.c.history[0]};
  Result<Bytes> b = BuildProofBundle(t.c.blocks, t.c.tree, kChain, Genesis(), req, partial);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(
      b.error().message,
      "height 140 is certified in epoch 2, but the epoch history has 1 changes in force there");
  // Out of order.
  std::vector<EpochChange> swapped = {t.c.history[1], t.c.history[0]};
  b = BuildProofBundle(t.c.blocks, t.c.tree, kChain, Genesis(), req, swapped);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(b.error().message, "epoch history: change 2: out of order");
  // An approval that is not a certificate.
  std::vector<EpochChange> garbled = t.c.history;
  garbled[0].approval = ToBytes("not a certificate");
  b = BuildProofBundle(t.c.blocks, t.c.tree, kChain, Genesis(), req, garbled);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().message, "epoch history: change 1: the approval is not a certificate");
}

// ---- The version says whether there are changes ----

TEST(ProofBundleEpochs, VersionIsOneWithoutChangesAndTwoWithThem) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_version(kProofBundleVersion);
  EXPECT_EQ(FailureOf(t.c.anchor, p), "bundle: version 1 carries no validator set changes");
  // A genesis-epoch bundle is version 1, and the same bundle as version 2 is refused.
  ProofChain g{kChain, NewKeys(4), Genesis()};
  pb::ProofBundle q = Parse(g.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  EXPECT_EQ(q.version(), kProofBundleVersion);
  EXPECT_EQ(FailureOf(g.anchor, q), "verified");
  q.set_version(kProofBundleVersionWithChanges);
  EXPECT_EQ(FailureOf(g.anchor, q),
            "bundle: version 2 without validator set changes (that is version 1)");
}

// ---- The negative tests of issue 16, each failing for its own reason ----

// A bundle at a height of epoch 1 signed by set 1, with no change: the header names set 1.
TEST(ProofBundleEpochs, EmptyChainWhereOneIsNeededFails) {
  std::vector<crypto::PrivateKey> set0 = NewKeys(4), set1 = NewKeys(4);
  ProofChain c{kChain, set0, Genesis(), ProofEpochs{{{10, set1, {0, 1, 2}}}, 80}};
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  ASSERT_EQ(FailureOf(c.anchor, p), "verified");
  p.clear_validator_changes();
  p.set_version(kProofBundleVersion);
  EXPECT_EQ(FailureOf(c.anchor, p), "header: validator set hash is not the genesis validator set");
}

// Change 2 without change 1: its approval is by B C D, whose indices and keys are the same in
// genesis's set, so the signatures pass; the epoch they signed in gives the gap away.
TEST(ProofBundleEpochs, AGapInTheChainFails) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes()->DeleteSubrange(0, 1);
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 1: the approval is signed in epoch 1, not epoch 0 (a change is missing "
            "or out of place)");
}

TEST(ProofBundleEpochs, ChangesOutOfOrderFail) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes()->SwapElements(0, 1);
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 2: height 10 is below the activation height 140 of change 1 (changes "
            "out of order)");
  // The same change twice.
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  *p.mutable_validator_changes(1) = p.validator_changes(0);
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 2: height 10 is below the activation height 75 of change 1 (changes "
            "out of order)");
  // A change at height 0.
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(0)->set_height(0);
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 1: height 0 is not a block");
}

// Change 1 approved by the new set (R B C) instead of the old one (A B C): R's signature does not
// verify under A's key.
TEST(ProofBundleEpochs, AChangeSignedByTheNewSetInsteadOfTheOldFails) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  SetChange(p, 0, {10, KeysOf(t.set1), &t.set1, {0, 1, 2}, 0});
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 1: invalid signature by validator 0");
  // Change 2 approved by set 2 (5 keys, index 4 is E): E is not in set 1.
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  SetChange(p, 1, {75, KeysOf(t.set2), &t.set2, {1, 2, 4}, 1});
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 2: signer 4 is outside the validator set");
}

TEST(ProofBundleEpochs, TooFewOrDuplicateSignersOfAChangeFail) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  SetChange(p, 0, {10, KeysOf(t.set1), &t.set0, {0, 2}, 0});
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 1: 2 signatures, quorum is 3");
  SetChange(p, 0, {10, KeysOf(t.set1), &t.set0, {0, 2, 2}, 0});
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 1: signer 2 repeated");
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  SetChange(p, 1, {75, KeysOf(t.set2), &t.set1, {1, 3}, 1});
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 2: 2 signatures, quorum is 3");
}

TEST(ProofBundleEpochs, KeysThatDifferFromTheCertifiedSetFail) {
  ThreeEpochs t;
  const std::string expected =
      "chain: change 1: the keys are not the set the approval certifies (next_set_hash differs)";
  // Another key in place of R.
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(0)->set_validator_keys(
      0, ToString(KeyBytes(crypto::PrivateKey::Generate())));
  EXPECT_EQ(FailureOf(t.c.anchor, p), expected);
  // The same keys in another order (other replica indices).
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(0)->mutable_validator_keys()->SwapElements(0, 1);
  EXPECT_EQ(FailureOf(t.c.anchor, p), expected);
  // One key left out.
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(1)->mutable_validator_keys()->RemoveLast();
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 2: the keys are not the set the approval certifies (next_set_hash "
            "differs)");
}

// Each remaining check of a change, on an approval that a quorum of the old set did sign.
TEST(ProofBundleEpochs, EachCheckOfAChangeRefusesWhatItChecks) {
  ThreeEpochs t;
  const Bytes bad_key = Bytes(33, 0x05);  // no compressed key starts with 0x05
  std::vector<Bytes> three = KeysOf(t.set1);
  three.pop_back();
  std::vector<Bytes> repeated = KeysOf(t.set1);
  repeated[3] = repeated[1];
  std::vector<Bytes> invalid = KeysOf(t.set1);
  invalid[2] = bad_key;
  struct Case {
    ChangeEdit edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {{10, KeysOf(t.set1), &t.set0, {0, 1, 2}, 0, std::nullopt, std::nullopt, "other-chain"},
       "chain: change 1: invalid signature by validator 0"},
      {{10, KeysOf(t.set1), &t.set0, {0, 1, 2}, 1},
       "chain: change 1: the approval is signed in epoch 1, not epoch 0 (a change is missing or "
       "out "
       "of place)"},
      {{10, KeysOf(t.set1), &t.set0, {0, 1, 2}, 0, std::nullopt, 74},
       "chain: change 1: the approval's activation height is 74, not height + 65 = 75"},
      {{10, three, &t.set0, {0, 1, 2}, 0},
       "chain: change 1: the new set has 3 validators, not 4 to 64"},
      {{10, repeated, &t.set0, {0, 1, 2}, 0}, "chain: change 1: key 3 repeats a key"},
      {{10, invalid, &t.set0, {0, 1, 2}, 0},
       "chain: change 1: key 2 is not a valid compressed key"},
  };
  for (const Case& k : cases) {
    pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
    SetChange(p, 0, k.edit);
    EXPECT_EQ(FailureOf(t.c.anchor, p), k.expected);
  }
  // The approval of another block than the change's.
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(0)->set_height(9);
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 1: the approval is for height 10, not the change's height 9");
  // An execution certificate that schedules no change.
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  pb::BundleExecutionVoteBody body;
  body.set_height(10);
  body.set_block_digest(std::string(32, 'd'));
  Bytes plain = SignProofCert(kChain, t.set0, {0, 1, 2}, crypto::Domain::kExecutionVote,
                              SerializeRecord(body));
  ASSERT_TRUE(p.mutable_validator_changes(0)->mutable_approval()->ParseFromArray(
      plain.data(), static_cast<int>(plain.size())));
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "chain: change 1: the approval schedules no validator set change");
}

TEST(ProofBundleEpochs, AnUnknownFieldInAChangeOrItsApprovalIsRefused) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.mutable_validator_changes(1)
      ->mutable_approval()
      ->GetReflection()
      ->MutableUnknownFields(p.mutable_validator_changes(1)->mutable_approval())
      ->AddVarint(99, 1);
  EXPECT_EQ(FailureOf(t.c.anchor, p), "bundle: has an unknown field");
  p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  pb::BundleExecutionVoteBody body;
  ASSERT_TRUE(body.ParseFromString(p.validator_changes(0).approval().body()));
  body.GetReflection()->MutableUnknownFields(&body)->AddVarint(99, 1);
  p.mutable_validator_changes(0)->mutable_approval()->set_body(body.SerializeAsString());
  EXPECT_EQ(FailureOf(t.c.anchor, p), "chain: change 1: approval: body: has an unknown field");
}

TEST(ProofBundleEpochs, ABundleOfAnotherChainFails) {
  ThreeEpochs t;
  const pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  TrustAnchor other = t.c.anchor;
  other.chain_id = "other-chain";
  EXPECT_EQ(FailureOf(other, p), "chain: bundle is for another chain id");
  other = t.c.anchor;
  other.genesis_hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("other"));
  EXPECT_EQ(FailureOf(other, p), "chain: bundle is for another genesis (genesis hash differs)");
  // Another consortium's genesis validators under the same chain id and genesis hash: the first
  // change is not theirs.
  other = t.c.anchor;
  other.validators = PublicKeysOf(NewKeys(4));
  EXPECT_EQ(FailureOf(other, p), "chain: change 1: invalid signature by validator 0");
}

// A block at 50, in epoch 0 (its header and certificates are genesis's set's), with change 1
// (in force from 75) added: the chain says epoch 1, and 50 is below its first height.
TEST(ProofBundleEpochs, AHeightBelowTheLastChangesActivationFails) {
  std::vector<crypto::PrivateKey> set0 = NewKeys(4), set1 = NewKeys(4);
  ProofChain c{kChain, set0, Genesis(), ProofEpochs{{}, 50}};
  pb::ProofBundle p = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  ASSERT_EQ(FailureOf(c.anchor, p), "verified");
  const std::vector<crypto::PublicKey> next = PublicKeysOf(set1);
  const std::vector<EpochChange> history = {
      {10, next, SignProofApproval(kChain, set0, {0, 1, 2}, 10, 0, ValidatorSetHash(next), 75)}};
  ASSERT_TRUE(AddValidatorChanges(history, 75, p).has_value());
  ASSERT_EQ(p.validator_changes_size(), 1);
  EXPECT_EQ(FailureOf(c.anchor, p),
            "header: height 50 is below the activation height 75 of epoch 1");
}

TEST(ProofBundleEpochs, TheBundlesCertificateOfAnotherEpochFails) {
  ThreeEpochs t;
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_execution_certificate(ToString(t.c.ExecCert({1, 2, 3, 4}, 1)));
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "execution certificate: signed in epoch 1, but the bundle's chain ends in epoch 2");
  p.set_execution_certificate(ToString(t.c.ExecCert({1, 2, 3, 4}, 3)));
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "execution certificate: signed in epoch 3, but the bundle's chain ends in epoch 2");
  // Epoch 2's quorum is 4 of 5: the 3 signers that were a quorum of epoch 1 are not.
  p.set_execution_certificate(ToString(t.c.ExecCert({0, 1, 2})));
  EXPECT_EQ(FailureOf(t.c.anchor, p), "execution certificate: 3 signatures, quorum is 4");
}

// The bundle's own block scheduled the next change (in force from H + 65, so not in its chain):
// its certificate names it, well formed, and the bundle verifies in its epoch.
TEST(ProofBundleEpochs, ABlockThatSchedulesTheNextChangeVerifiesInItsOwnEpoch) {
  ThreeEpochs t;
  auto cert = [&](std::string next_set_hash, uint64_t activation) {
    pb::BundleExecutionVoteBody body;
    body.set_height(140);
    body.set_block_digest(ToString(t.c.header_hash.span()));
    body.set_state_root(ToString(t.c.state_root.span()));
    body.set_result_root(ToString(t.c.receipt_root.span()));
    body.set_epoch(2);
    body.set_next_set_hash(next_set_hash);
    body.set_next_activation_height(activation);
    return ToString(SignProofCert(kChain, t.set2, {0, 1, 2, 3}, crypto::Domain::kExecutionVote,
                                  SerializeRecord(body)));
  };
  const std::string next = ToString(ValidatorSetHash(PublicKeysOf(t.set0)).span());
  pb::ProofBundle p = Parse(t.c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  p.set_execution_certificate(cert(next, 205));
  EXPECT_EQ(FailureOf(t.c.anchor, p), "verified");
  p.set_execution_certificate(cert(next, 204));
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "execution certificate: next activation height is not height + 65");
  p.set_execution_certificate(cert("", 205));
  EXPECT_EQ(FailureOf(t.c.anchor, p),
            "execution certificate: next activation height is not height + 65");
  p.set_execution_certificate(cert(next.substr(1), 205));
  EXPECT_EQ(FailureOf(t.c.anchor, p), "execution certificate: next set hash is not 32 bytes");
}

// The omission case: genesis A B C D E; change 1 demotes E (A B C D), change 2 promotes it back
// (A B C D E again). A bundle in epoch 2 that leaves out both changes passes the header (the set
// hash is genesis's) and the signatures (same keys, same indices: the certificate reads as one of
// an older set); only the epoch its signers signed in (named by both certificates) refuses it.
// Leaving out only change 2 fails at the header (set 1 differs from set 2).
TEST(ProofBundleEpochs, ACertificateReadUnderAnOlderEpochsSetFails) {
  std::vector<crypto::PrivateKey> set0 = NewKeys(5);
  std::vector<crypto::PrivateKey> set1(set0.begin(), set0.begin() + 4);
  ProofChain c{kChain, set0, Genesis(),
               ProofEpochs{{{10, set1, {0, 1, 2, 3}}, {80, set0, {0, 1, 2}}}, 200}};
  const pb::ProofBundle good = Parse(c.Build(pb::BUNDLE_KIND_ACCOUNT, kProofAccount));
  ASSERT_EQ(FailureOf(c.anchor, good), "verified");
  pb::ProofBundle p = good;
  p.clear_validator_changes();
  p.set_version(kProofBundleVersion);
  // The commit certificate names its epoch too, so the omission fails there, before step 5.
  EXPECT_EQ(FailureOf(c.anchor, p),
            "commit certificate: signed in epoch 2, but the bundle's chain ends in epoch 0");
  p = good;
  p.mutable_validator_changes()->RemoveLast();
  EXPECT_EQ(FailureOf(c.anchor, p),
            "header: validator set hash is not the validator set of epoch 1");
}

}  // namespace
}  // namespace cl::ledger
