// LedgerApp on a MemoryStore: null (empty) blocks advance the chain, and PruneState drops the state
// versions older than the retention window while the retained ones stay readable and provable.
// With the state tree in a store of its own: a crash between the tree's write and the block's
// leaves the tree a version ahead, which Open drops, and the chain goes on with the same roots as
// a node on one store.
#include "node/ledger_app.h"

#include <gtest/gtest.h>

#include "genesis/genesis.h"
#include "ledger/memory_store.h"
#include "ledger/transaction.h"
#include "tests/unit/ledger/hooked_store.h"
#include "tests/unit/node/test_txs.h"
#include "util/canonical_proto.h"

namespace cl::node {
namespace {

class LedgerAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto consortium = genesis::GenerateLocalConsortium("prune-test", 4, 0, 1'000);
    ASSERT_TRUE(consortium.has_value()) << consortium.error().message;
    auto loaded = genesis::LoadGenesis(consortium->genesis_json);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    auto app = LedgerApp::Open(&store_, *loaded);
    ASSERT_TRUE(app.has_value()) << app.error().message;
    app_ = std::move(*app);
  }

  // Commits empty payloads (null blocks) up to `height`.
  void CommitTo(uint64_t height) {
    while (app_->height() < height) {
      auto result = app_->Commit(app_->height() + 1, {}, {}, [](const ledger::DecodedBlock&) {
        return Result<std::vector<ledger::VerifiedTx>>(std::vector<ledger::VerifiedTx>{});
      });
      ASSERT_TRUE(result.has_value()) << result.error().message;
    }
  }

  ledger::MemoryStore store_;
  std::unique_ptr<LedgerApp> app_;
};

TEST_F(LedgerAppTest, PruneStateKeepsExactlyTheRetainedVersions) {
  CommitTo(20);
  ASSERT_TRUE(app_->PruneState(5).has_value());
  // Versions 16..20 stay; 0..15 are gone.
  for (uint64_t v = 0; v <= 20; ++v) {
    auto root = app_->tree().Root(v);
    if (v >= 16) {
      EXPECT_TRUE(root.has_value()) << "version " << v;
    } else {
      ASSERT_FALSE(root.has_value()) << "version " << v;
      EXPECT_EQ(root.error().code, ErrorCode::kNotFound);
    }
  }
  // The chain goes on after pruning, and a later prune moves the window.
  CommitTo(30);
  ASSERT_TRUE(app_->PruneState(5).has_value());
  EXPECT_FALSE(app_->tree().Root(25).has_value());
  EXPECT_TRUE(app_->tree().Root(26).has_value());
}

TEST_F(LedgerAppTest, RetainZeroOrAWindowLongerThanTheChainKeepsEverything) {
  CommitTo(10);
  ASSERT_TRUE(app_->PruneState(0).has_value());
  ASSERT_TRUE(app_->PruneState(100).has_value());
  for (uint64_t v = 0; v <= 10; ++v)
    EXPECT_TRUE(app_->tree().Root(v).has_value()) << "version " << v;
}

using CrashingStore = ledger::testing::HookedStore;

class TwoStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto consortium = genesis::GenerateLocalConsortium(kChain, 4, 0, 1'000);
    ASSERT_TRUE(consortium.has_value()) << consortium.error().message;
    auto loaded = genesis::LoadGenesis(consortium->genesis_json);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    genesis_ = std::move(*loaded);
    auto reference = LedgerApp::Open(&reference_store_, genesis_);
    ASSERT_TRUE(reference.has_value()) << reference.error().message;
    reference_ = std::move(*reference);
  }

  // Block `height` built on the reference chain: one transaction, so every block changes state.
  Bytes NextBlock(uint64_t height) {
    const Bytes envelope =
        ledger::SignTransaction(testing::CreateAccountBody(kChain, height, height + 10, key_),
                                std::span<const crypto::PrivateKey>(&key_, 1));
    auto parsed = ledger::ParseTransaction(envelope, kChain);
    EXPECT_TRUE(parsed.has_value());
    return reference_->BuildBlock(height, reference_->last_digest(), 10'000 + height * 1'000,
                                  std::vector<Bytes>{envelope}, std::vector<Hash32>{parsed->tx_id},
                                  0);
  }

  static Result<CommitResult> CommitOn(LedgerApp& app, uint64_t height, const Bytes& block) {
    return app.Commit(height, block, {},
                      [](const ledger::DecodedBlock& b) -> Result<std::vector<ledger::VerifiedTx>> {
                        std::vector<ledger::VerifiedTx> txs;
                        for (const Bytes& envelope : b.txs) {
                          auto tx = ledger::VerifyEnvelope(envelope, kChain);
                          if (!tx) return std::unexpected(tx.error());
                          txs.push_back(std::move(*tx));
                        }
                        return txs;
                      });
  }

  static constexpr char kChain[] = "two-store-test";
  genesis::Genesis genesis_;
  crypto::PrivateKey key_ = crypto::PrivateKey::Generate();
  ledger::MemoryStore reference_store_;
  std::unique_ptr<LedgerApp> reference_;
};

TEST_F(TwoStoreTest, TreeVersionWrittenBeforeACrashIsDroppedAndTheBlockReExecuted) {
  CrashingStore chain;
  ledger::MemoryStore state;
  auto app = LedgerApp::Open(&chain, &state, genesis_);
  ASSERT_TRUE(app.has_value()) << app.error().message;
  EXPECT_EQ(*(*app)->tree().Root(0), *reference_->tree().Root(0));
  std::vector<Bytes> blocks;
  for (uint64_t h = 1; h <= 3; ++h) {
    blocks.push_back(NextBlock(h));
    auto expected = CommitOn(*reference_, h, blocks.back());
    ASSERT_TRUE(expected.has_value()) << expected.error().message;
    auto got = CommitOn(**app, h, blocks.back());
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(got->state_root, expected->state_root) << "height " << h;
  }
  // Block 4: the tree's batch reaches the state store, the block's does not.
  blocks.push_back(NextBlock(4));
  auto expected4 = CommitOn(*reference_, 4, blocks.back());
  ASSERT_TRUE(expected4.has_value()) << expected4.error().message;
  EXPECT_NE(expected4->state_root, *reference_->tree().Root(3));
  chain.fail_next_write = true;
  ASSERT_FALSE(CommitOn(**app, 4, blocks.back()).has_value());
  app->reset();
  EXPECT_EQ(ledger::StateTree(&state).LatestVersion(), 4u);  // the crash left version 4 behind

  auto reopened = LedgerApp::Open(&chain, &state, genesis_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  EXPECT_EQ((*reopened)->height(), 3u);
  auto dropped = (*reopened)->tree().Root(4);
  ASSERT_FALSE(dropped.has_value());
  EXPECT_EQ(dropped.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(*(*reopened)->tree().Root(3), *reference_->tree().Root(3));
  auto again = CommitOn(**reopened, 4, blocks.back());
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->state_root, expected4->state_root);
  blocks.push_back(NextBlock(5));
  auto expected5 = CommitOn(*reference_, 5, blocks.back());
  auto got5 = CommitOn(**reopened, 5, blocks.back());
  ASSERT_TRUE(expected5.has_value() && got5.has_value());
  EXPECT_EQ(got5->state_root, expected5->state_root);
}

// `block` with its first envelope replaced, the header unchanged.
Bytes WithFirstEnvelope(const Bytes& block_bytes, const std::string& envelope) {
  ledger::pb::Block block;
  EXPECT_TRUE(block.ParseFromArray(block_bytes.data(), static_cast<int>(block_bytes.size())));
  block.set_txs(0, envelope);
  return ToBytes(CanonicalEncoding(block));
}

// Issue 14 defect 10 (b): a lagging replica checks a state reply's payload against its commit
// certificate by this digest; with one signature byte flipped it named the certified block, and the
// replica executed a null block in its place.
TEST_F(TwoStoreTest, ABlockDifferingOnlyInASignatureByteHasAnotherDigest) {
  const Bytes block = NextBlock(1);
  ledger::pb::Block parsed;
  ASSERT_TRUE(parsed.ParseFromArray(block.data(), static_cast<int>(block.size())));
  ledger::pb::TxEnvelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(parsed.txs(0)));
  std::string* sig = envelope.mutable_signatures(0)->mutable_signature();
  (*sig)[20] = static_cast<char>((*sig)[20] ^ 0x01);
  const Bytes tampered = WithFirstEnvelope(block, CanonicalEncoding(envelope));
  EXPECT_NE(reference_->Digest(tampered), reference_->Digest(block));
  // Committed anyway (say, under a certificate of its own), it is a null block with its own digest.
  auto result = CommitOn(*reference_, 1, tampered);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_TRUE(result->null_block);
  EXPECT_EQ(result->block_digest, reference_->Digest(tampered));
}

// Issue 14 defect 10 (c): a Byzantine primary sends one header with two valid signature sets of
// the same bodies to different backups. They used to share a digest, commit under one
// certificate and execute differently (a 2-of-2 controller is satisfied by one set only).
TEST_F(TwoStoreTest, OneHeaderWithAnotherSignatureSetIsNotTheProposedBlock) {
  const Bytes block = NextBlock(1);
  ledger::pb::Block parsed;
  ASSERT_TRUE(parsed.ParseFromArray(block.data(), static_cast<int>(block.size())));
  ledger::pb::TxEnvelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(parsed.txs(0)));
  ledger::pb::TxBody body;
  ASSERT_TRUE(body.ParseFromString(envelope.body()));
  const std::vector<crypto::PrivateKey> two = {key_, crypto::PrivateKey::Generate()};
  const Bytes cosigned = ledger::SignTransaction(body, two);
  ASSERT_TRUE(ledger::VerifyEnvelope(cosigned, kChain).has_value());
  const Bytes equivocation = WithFirstEnvelope(block, ToString(cosigned));
  EXPECT_NE(reference_->Digest(equivocation), reference_->Digest(block));
  const TxResolver verify_all =
      [](const ledger::DecodedBlock& b) -> Result<std::vector<ledger::VerifiedTx>> {
    std::vector<ledger::VerifiedTx> txs;
    for (const Bytes& e : b.txs) {
      auto tx = ledger::VerifyEnvelope(e, kChain);
      if (!tx) return std::unexpected(tx.error());
      txs.push_back(std::move(*tx));
    }
    return txs;
  };
  EXPECT_TRUE(reference_->CheckProposal(1, block, 20'000, verify_all).has_value());
  auto refused = reference_->CheckProposal(1, equivocation, 20'000, verify_all);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "block witness_root does not match its txs");
}

// A faulty primary's block over the consortium's genesis limits is refused, even when it is within
// the code's own limits (issue 14, defect 15).
TEST_F(TwoStoreTest, AProposalOverTheGenesisTransactionLimitIsRefused) {
  std::vector<Bytes> envelopes;
  std::vector<Hash32> ids;
  for (uint64_t i = 1; i <= 2; ++i) {
    envelopes.push_back(ledger::SignTransaction(testing::CreateAccountBody(kChain, i, 10 + i, key_),
                                                std::span<const crypto::PrivateKey>(&key_, 1)));
    ids.push_back(ledger::ParseTransaction(envelopes.back(), kChain)->tx_id);
  }
  const Bytes block =
      reference_->BuildBlock(1, reference_->last_digest(), 11'000, envelopes, ids, 0);
  const TxResolver verify_all =
      [](const ledger::DecodedBlock& b) -> Result<std::vector<ledger::VerifiedTx>> {
    std::vector<ledger::VerifiedTx> txs;
    for (const Bytes& e : b.txs) {
      auto tx = ledger::VerifyEnvelope(e, kChain);
      if (!tx) return std::unexpected(tx.error());
      txs.push_back(std::move(*tx));
    }
    return txs;
  };
  ASSERT_TRUE(reference_->CheckProposal(1, block, 20'000, verify_all).has_value());
  genesis::Genesis one_tx = genesis_;
  one_tx.consensus.max_block_txs = 1;
  ledger::MemoryStore store;
  auto app = LedgerApp::Open(&store, one_tx);
  ASSERT_TRUE(app.has_value()) << app.error().message;
  auto refused = (*app)->CheckProposal(1, block, 20'000, verify_all);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "proposal has more transactions than max_block_txs");
  genesis::Genesis small = genesis_;
  small.consensus.max_block_bytes = block.size() - 1;
  ledger::MemoryStore store2;
  auto app2 = LedgerApp::Open(&store2, small);
  ASSERT_TRUE(app2.has_value()) << app2.error().message;
  refused = (*app2)->CheckProposal(1, block, 20'000, verify_all);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "proposal is larger than max_block_bytes");
}

TEST_F(TwoStoreTest, GenesisTreeWrittenBeforeACrashIsReplacedAtTheNextOpen) {
  CrashingStore chain;
  ledger::MemoryStore state;
  chain.fail_next_write = true;
  ASSERT_FALSE(LedgerApp::Open(&chain, &state, genesis_).has_value());
  EXPECT_EQ(ledger::StateTree(&state).LatestVersion(), 0u);
  auto app = LedgerApp::Open(&chain, &state, genesis_);
  ASSERT_TRUE(app.has_value()) << app.error().message;
  EXPECT_EQ((*app)->height(), 0u);
  EXPECT_EQ(*(*app)->tree().Root(0), *reference_->tree().Root(0));
}

TEST_F(TwoStoreTest, TreeBehindTheChainIsReportedAsCorruption) {
  ledger::MemoryStore chain;
  ledger::MemoryStore state;
  {
    auto app = LedgerApp::Open(&chain, &state, genesis_);
    ASSERT_TRUE(app.has_value()) << app.error().message;
  }
  ledger::MemoryStore empty_state;  // e.g. a data directory of the one-store layout
  auto reopened = LedgerApp::Open(&chain, &empty_state, genesis_);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, ErrorCode::kCorruption);
}

// A failed read of the tree's last key at start is reported as that read's error (it was reported
// as "state tree version (none) does not match the block store's height", losing the I/O error).
TEST_F(TwoStoreTest, AFailedReadOfTheTreesLastKeyIsReportedAsItsError) {
  ledger::MemoryStore chain;
  ledger::testing::HookedStore state;
  {
    auto app = LedgerApp::Open(&chain, &state, genesis_);
    ASSERT_TRUE(app.has_value()) << app.error().message;
  }
  state.last_key_error = Error{ErrorCode::kIoError, "state database: read failed: IO error: EIO"};
  auto reopened = LedgerApp::Open(&chain, &state, genesis_);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, ErrorCode::kIoError) << reopened.error().message;
  EXPECT_NE(reopened.error().message.find("read failed: IO error: EIO"), std::string::npos)
      << reopened.error().message;
}

// Epochs in the node's ledger side (docs/consensus.md "Epochs"): a committed change_roles that
// promotes the observer is reported with its activation height, the headers the node builds and
// accepts name each height's set, and the schedule and the epoch index survive a reopen.
class LedgerAppEpochs : public TwoStoreTest {
 protected:
  void SetUp() override {
    auto consortium = genesis::GenerateLocalConsortium(kChain, 4, 1, 1'000);
    ASSERT_TRUE(consortium.has_value()) << consortium.error().message;
    lc_ = std::move(*consortium);
    auto loaded = genesis::LoadGenesis(lc_.genesis_json);
    ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
    genesis_ = std::move(*loaded);
    auto app = LedgerApp::Open(&store_, genesis_);
    ASSERT_TRUE(app.has_value()) << app.error().message;
    app_ = std::move(*app);
  }
  // A block at the next height with one transaction of `body`, signed by every member's
  // governance key (a quorum whatever the threshold).
  Result<CommitResult> CommitTx(ledger::pb::TxBody body) {
    std::vector<crypto::PrivateKey> keys;
    for (const auto& m : lc_.keys)
      keys.push_back(*crypto::PrivateKey::FromBytes(m.governance_secret));
    const Bytes envelope = ledger::SignTransaction(body, keys);
    auto parsed = ledger::ParseTransaction(envelope, kChain);
    EXPECT_TRUE(parsed.has_value());
    const uint64_t h = app_->height() + 1;
    Bytes block =
        app_->BuildBlock(h, app_->last_digest(), 10'000 + h * 1'000, std::vector<Bytes>{envelope},
                         std::vector<Hash32>{parsed->tx_id}, 0);
    return CommitOn(*app_, h, block);
  }
  void CommitNullTo(uint64_t height) {
    while (app_->height() < height) {
      auto r = CommitOn(*app_, app_->height() + 1, {});
      ASSERT_TRUE(r.has_value()) << r.error().message;
    }
  }
  genesis::LocalConsortium lc_;
  ledger::MemoryStore store_;
  std::unique_ptr<LedgerApp> app_;
};

TEST_F(LedgerAppEpochs, APromotionIsReportedAndHeadersNameEachHeightsSet) {
  const std::vector<crypto::PublicKey> before = app_->ValidatorsFor(1);
  ASSERT_EQ(before.size(), 4u);
  ledger::pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(100);
  auto* roles = body.add_operations()->mutable_change_roles();
  roles->set_id(5);  // the partner, an observer
  roles->set_roles(ledger::pb::ROLE_VALIDATOR);
  auto result = CommitTx(body);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->receipts.receipts(0).results(0).code(), 0u);
  ASSERT_TRUE(result->scheduled.has_value());
  const uint64_t h = result->height;
  const uint64_t a = h + ledger::kEpochActivationDelay;
  EXPECT_EQ(result->scheduled->epoch, 1u);
  EXPECT_EQ(result->scheduled->changed_height, h);
  EXPECT_EQ(result->scheduled->activation_height, a);
  ASSERT_EQ(result->scheduled->validators.size(), 5u);
  EXPECT_EQ(result->scheduled->set_hash, ledger::ValidatorSetHash(result->scheduled->validators));
  EXPECT_EQ(app_->ValidatorsFor(a - 1), before);
  EXPECT_EQ(app_->ValidatorsFor(a), result->scheduled->validators);
  EXPECT_EQ(app_->EpochFor(a - 1), 0u);
  EXPECT_EQ(app_->EpochFor(a), 1u);

  // A header for the activation height names the new set; one naming the old is refused there.
  CommitNullTo(a - 1);
  auto resolve = [](const ledger::DecodedBlock&) {
    return Result<std::vector<ledger::VerifiedTx>>(std::vector<ledger::VerifiedTx>{});
  };
  Bytes at_a = app_->BuildBlock(a, app_->last_digest(), 10'000 + a * 1'000, {}, {}, 4);
  EXPECT_TRUE(app_->CheckProposal(a, at_a, 10'000 + a * 1'000, resolve).has_value());
  auto decoded = ledger::DecodeBlock(at_a, kChain);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(
      decoded->header.validator_set_hash(),
      std::string(reinterpret_cast<const char*>(result->scheduled->set_hash.bytes.data()), 32));
  ledger::MemoryStore other_store;  // the same genesis, no change: it names the old set
  auto other = LedgerApp::Open(&other_store, genesis_);
  ASSERT_TRUE(other.has_value());
  Bytes old_set = (*other)->BuildBlock(a, app_->last_digest(), 10'000 + a * 1'000, {}, {}, 0);
  auto refused = app_->CheckProposal(a, old_set, 10'000 + a * 1'000, resolve);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("another validator set"), std::string::npos);
  // Proposer index 4 exists only in the new set.
  Bytes before_a = (*other)->BuildBlock(a - 1, app_->last_digest(), 10'000, {}, {}, 4);
  auto not_yet = app_->CheckProposal(a - 1, before_a, 10'000 + a * 1'000, resolve);
  ASSERT_FALSE(not_yet.has_value());
  EXPECT_NE(not_yet.error().message.find("proposer is not a validator"), std::string::npos);

  // The history has the change once its block's certificate is stored.
  auto history = app_->EpochHistory();
  ASSERT_TRUE(history.has_value());
  EXPECT_TRUE(history->empty());
  const Bytes cert = {0x0a, 0x01, 0x00};
  ASSERT_TRUE(app_->StoreExecutionCertificate(h, cert).has_value());
  history = app_->EpochHistory();
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].height, h);
  EXPECT_EQ((*history)[0].validators, result->scheduled->validators);
  EXPECT_EQ((*history)[0].approval, cert);

  // A reopened app has the same schedule.
  app_.reset();
  auto reopened = LedgerApp::Open(&store_, genesis_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().message;
  EXPECT_EQ((*reopened)->ValidatorsFor(a), result->scheduled->validators);
  EXPECT_EQ((*reopened)->ValidatorsFor(a - 1), before);
  auto scheduled = (*reopened)->ScheduledEpoch(1);
  ASSERT_TRUE(scheduled.has_value() && scheduled->has_value());
  EXPECT_EQ((*scheduled)->activation_height, a);
}

}  // namespace
}  // namespace cl::node
