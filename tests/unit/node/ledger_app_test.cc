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

}  // namespace
}  // namespace cl::node
