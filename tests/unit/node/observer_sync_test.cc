// An observer's block sync (node/observer_sync.h) with real certificates signed by the
// consortium's validator keys: a reply is taken only from the validator asked, for the heights
// asked, and only for the exact bytes the certificates name (issue 14, defect 10 (a): one flipped
// signature byte made the observer store a null block durably, then halt for good). An execution
// that differs from the certified one stores nothing, so a restart resumes from the last verified
// block.
#include "node/observer_sync.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "genesis/genesis.h"
#include "ledger/memory_store.h"
#include "ledger/transaction.h"
#include "tests/unit/node/test_txs.h"
#include "util/canonical_proto.h"

namespace cl::node {
namespace {

constexpr char kChain[] = "observer-sync-test";

Result<std::vector<ledger::VerifiedTx>> VerifyAll(const ledger::DecodedBlock& block) {
  std::vector<ledger::VerifiedTx> txs;
  for (const Bytes& envelope : block.txs) {
    auto tx = ledger::VerifyEnvelope(envelope, kChain);
    if (!tx) return std::unexpected(tx.error());
    txs.push_back(std::move(*tx));
  }
  return txs;
}

class ObserverSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto consortium = genesis::GenerateLocalConsortium(kChain, 4, 0, 1'000);
    ASSERT_TRUE(consortium.has_value()) << consortium.error().message;
    auto loaded = genesis::LoadGenesis(consortium->genesis_json);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    genesis_ = std::move(*loaded);
    for (const genesis::Validator& v : genesis_.validators) {
      keys_.push_back(v.node_key);
      for (const genesis::MemberKeys& m : consortium->keys) {
        auto secret = crypto::PrivateKey::FromBytes(m.node_secret);
        ASSERT_TRUE(secret.has_value());
        if (secret->GetPublicKey() == v.node_key) secrets_.push_back(*secret);
      }
    }
    ASSERT_EQ(secrets_.size(), keys_.size());
    auto validator = LedgerApp::Open(&validator_store_, genesis_);
    auto observer = LedgerApp::Open(&observer_store_, genesis_);
    ASSERT_TRUE(validator.has_value() && observer.has_value());
    validator_ = std::move(*validator);
    observer_ = std::move(*observer);
  }

  // Block `height` with one transaction, committed on the validators' chain and certified by
  // validators 0..2 (a quorum of 4).
  consensus::pb::CertifiedBlock CertifiedNext() {
    const uint64_t height = validator_->height() + 1;
    const Bytes envelope =
        ledger::SignTransaction(testing::CreateAccountBody(kChain, height, height + 10, tx_key_),
                                std::span<const crypto::PrivateKey>(&tx_key_, 1));
    auto parsed = ledger::ParseTransaction(envelope, kChain);
    EXPECT_TRUE(parsed.has_value());
    const Bytes payload =
        validator_->BuildBlock(height, validator_->last_digest(), 10'000 + height * 1'000,
                               std::vector<Bytes>{envelope}, std::vector<Hash32>{parsed->tx_id}, 0);
    auto result = validator_->Commit(height, payload, {}, VerifyAll);
    EXPECT_TRUE(result.has_value());
    EXPECT_FALSE(result->null_block) << result->null_reason;
    return Certify(height, payload, result->block_digest, result->state_root, result->receipt_root);
  }

  consensus::pb::CertifiedBlock Certify(uint64_t height, const Bytes& payload, const Hash32& digest,
                                        const Hash32& state_root, const Hash32& receipt_root) {
    consensus::pb::CertifiedBlock out;
    out.set_height(height);
    out.set_payload(ToString(payload));
    const std::string vote = consensus::EncodeVoteBody(0, height, digest);
    const std::string exec =
        consensus::EncodeExecutionVoteBody(height, digest, state_root, receipt_root);
    out.mutable_commit_cert()->set_body(vote);
    out.mutable_exec_cert()->set_body(exec);
    for (uint32_t i = 0; i < 3; ++i) {
      auto* c = out.mutable_commit_cert()->add_signers();
      c->set_replica(i);
      c->set_signature(
          ToString(secrets_[i]
                       .Sign(crypto::SignedDigest(crypto::Domain::kCommit, kChain, AsSpan(vote)))
                       .span()));
      auto* e = out.mutable_exec_cert()->add_signers();
      e->set_replica(i);
      e->set_signature(ToString(
          secrets_[i]
              .Sign(crypto::SignedDigest(crypto::Domain::kExecutionVote, kChain, AsSpan(exec)))
              .span()));
    }
    return out;
  }

  SyncReplyOutcome Apply(const SyncRequestSent* request, const crypto::PublicKey& from,
                         const pb::SyncReply& reply) {
    return ApplySyncReply(*observer_, consensus::ValidatorSet(keys_), request, from, reply,
                          VerifyAll, [this](const CommitResult&) { ++after_commit_calls_; });
  }

  SyncRequestSent AskedValidator(uint32_t index) const {
    return SyncRequestSent{keys_[index], observer_->height() + 1, 16};
  }

  genesis::Genesis genesis_;
  std::vector<crypto::PublicKey> keys_;
  std::vector<crypto::PrivateKey> secrets_;
  crypto::PrivateKey tx_key_ = crypto::PrivateKey::Generate();
  ledger::MemoryStore validator_store_;
  ledger::MemoryStore observer_store_;
  std::unique_ptr<LedgerApp> validator_;
  std::unique_ptr<LedgerApp> observer_;
  size_t after_commit_calls_ = 0;
};

TEST_F(ObserverSyncTest, ACertifiedReplyFromTheAskedValidatorIsCommittedWithItsCertificate) {
  pb::SyncReply reply;
  *reply.add_blocks() = CertifiedNext();
  *reply.add_blocks() = CertifiedNext();
  const SyncRequestSent request = AskedValidator(1);
  SyncReplyOutcome outcome = Apply(&request, keys_[1], reply);
  ASSERT_FALSE(outcome.fatal) << outcome.fatal->message;
  ASSERT_FALSE(outcome.dropped) << outcome.dropped->message;
  EXPECT_EQ(outcome.committed, 2u);
  EXPECT_EQ(after_commit_calls_, 2u);
  EXPECT_EQ(observer_->height(), 2u);
  EXPECT_EQ(observer_->last_digest(), validator_->last_digest());
  EXPECT_EQ(*observer_->tree().Root(2), *validator_->tree().Root(2));
  // The execution certificate was stored in the block's own batch.
  EXPECT_EQ(observer_->blocks().GetExecutionCertificate(2).value(),
            ToBytes(reply.blocks(1).exec_cert().SerializeAsString()));
}

// Defect 10 (a): genuine certificates, one signature byte flipped in the payload.
TEST_F(ObserverSyncTest, ASignatureByteFlippedUnderGenuineCertificatesIsRefusedAndNothingStored) {
  consensus::pb::CertifiedBlock block = CertifiedNext();
  ledger::pb::Block payload;
  ASSERT_TRUE(payload.ParseFromString(block.payload()));
  ledger::pb::TxEnvelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(payload.txs(0)));
  std::string* sig = envelope.mutable_signatures(0)->mutable_signature();
  (*sig)[5] = static_cast<char>((*sig)[5] ^ 0x40);
  payload.set_txs(0, CanonicalEncoding(envelope));
  const consensus::pb::CertifiedBlock genuine = block;
  block.set_payload(CanonicalEncoding(payload));
  pb::SyncReply reply;
  *reply.add_blocks() = block;
  const SyncRequestSent request = AskedValidator(2);
  SyncReplyOutcome outcome = Apply(&request, keys_[2], reply);
  EXPECT_FALSE(outcome.fatal) << outcome.fatal->message;
  ASSERT_TRUE(outcome.dropped);
  EXPECT_EQ(outcome.dropped->message, "sync reply: block 1 is not the block its certificates name");
  EXPECT_EQ(outcome.committed, 0u);
  EXPECT_EQ(observer_->height(), 0u);
  EXPECT_EQ(observer_->blocks().LatestHeight().value(), 0u);
  // The genuine block from another validator is taken afterwards.
  pb::SyncReply good;
  *good.add_blocks() = genuine;
  const SyncRequestSent again = AskedValidator(3);
  outcome = Apply(&again, keys_[3], good);
  ASSERT_FALSE(outcome.fatal || outcome.dropped);
  EXPECT_EQ(observer_->height(), 1u);
  EXPECT_EQ(*observer_->tree().Root(1), *validator_->tree().Root(1));
}

TEST_F(ObserverSyncTest, AnUnsolicitedReplyIsDropped) {
  pb::SyncReply reply;
  *reply.add_blocks() = CertifiedNext();
  SyncReplyOutcome outcome = Apply(nullptr, keys_[0], reply);
  ASSERT_TRUE(outcome.dropped);
  EXPECT_EQ(outcome.dropped->message, "sync reply: no request outstanding");
  EXPECT_EQ(observer_->height(), 0u);
}

TEST_F(ObserverSyncTest, AReplyFromAPeerThatWasNotAskedIsDropped) {
  pb::SyncReply reply;
  *reply.add_blocks() = CertifiedNext();
  const SyncRequestSent request = AskedValidator(1);
  for (const crypto::PublicKey& from :
       {keys_[0], keys_[2], crypto::PrivateKey::Generate().GetPublicKey()}) {
    SyncReplyOutcome outcome = Apply(&request, from, reply);
    ASSERT_TRUE(outcome.dropped);
    EXPECT_EQ(outcome.dropped->message, "sync reply: from a peer this node did not ask");
  }
  EXPECT_EQ(observer_->height(), 0u);
}

TEST_F(ObserverSyncTest, AReplyForHeightsNotAskedIsDropped) {
  pb::SyncReply reply;
  *reply.add_blocks() = CertifiedNext();
  *reply.add_blocks() = CertifiedNext();
  *reply.add_blocks() = CertifiedNext();
  SyncRequestSent later = AskedValidator(1);
  later.from_height = 2;
  SyncReplyOutcome outcome = Apply(&later, keys_[1], reply);
  ASSERT_TRUE(outcome.dropped);
  EXPECT_EQ(outcome.dropped->message, "sync reply: block 0 is not at height 2");
  SyncRequestSent fewer = AskedValidator(1);
  fewer.max_blocks = 2;
  outcome = Apply(&fewer, keys_[1], reply);
  ASSERT_TRUE(outcome.dropped);
  EXPECT_EQ(outcome.dropped->message, "sync reply: more blocks than asked for");
  pb::SyncReply gap;
  *gap.add_blocks() = reply.blocks(0);
  *gap.add_blocks() = reply.blocks(2);
  const SyncRequestSent request = AskedValidator(1);
  outcome = Apply(&request, keys_[1], gap);
  ASSERT_TRUE(outcome.dropped);
  EXPECT_EQ(outcome.dropped->message, "sync reply: block 1 is not at height 2");
  EXPECT_EQ(observer_->height(), 0u);
}

// Only possible if more than f validators sign a wrong execution (or this node has a bug): the
// observer stops, but stores nothing, so a restart starts again from the last verified block.
TEST_F(ObserverSyncTest, AnExecutionThatDiffersFromTheCertificateStoresNothing) {
  const consensus::pb::CertifiedBlock genuine = CertifiedNext();
  auto exec = consensus::DecodeExecutionVoteBody(genuine.exec_cert().body());
  ASSERT_TRUE(exec.has_value());
  for (const bool wrong_state_root : {true, false}) {
    SCOPED_TRACE(wrong_state_root ? "wrong state root" : "wrong receipt root");
    ledger::MemoryStore store;
    auto observer = LedgerApp::Open(&store, genesis_);
    ASSERT_TRUE(observer.has_value());
    observer_ = std::move(*observer);
    Hash32 state_root = exec->state_root;
    Hash32 receipt_root = exec->result_root;
    (wrong_state_root ? state_root : receipt_root).bytes[0] ^= 1;
    pb::SyncReply reply;
    *reply.add_blocks() =
        Certify(1, ToBytes(genuine.payload()), exec->block_digest, state_root, receipt_root);
    const SyncRequestSent request = AskedValidator(0);
    SyncReplyOutcome outcome = Apply(&request, keys_[0], reply);
    ASSERT_TRUE(outcome.fatal);
    EXPECT_EQ(outcome.fatal->code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(outcome.fatal->message.find("differs from the execution certificate"),
              std::string::npos);
    EXPECT_EQ(after_commit_calls_, 0u);
    EXPECT_EQ(store.Get(ToBytes("bkM")).value(), std::nullopt);
    observer_.reset();
    auto restarted = LedgerApp::Open(&store, genesis_);
    ASSERT_TRUE(restarted.has_value()) << restarted.error().message;
    EXPECT_EQ((*restarted)->height(), 0u);
    EXPECT_FALSE((*restarted)->blocks().GetBlock(1).value().has_value());
  }
}

}  // namespace
}  // namespace cl::node
