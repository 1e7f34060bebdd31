// LedgerApp on a MemoryStore: null (empty) blocks advance the chain, and PruneState drops the state
// versions older than the retention window while the retained ones stay readable and provable.
#include "node/ledger_app.h"

#include <gtest/gtest.h>

#include "genesis/genesis.h"
#include "ledger/memory_store.h"

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

}  // namespace
}  // namespace cl::node
