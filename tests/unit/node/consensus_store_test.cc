// ConsensusStore on a LevelDB chain database: what the replica persists comes back after a
// restart, and a storage failure stops the process at once (docs/operations.md, "Storage
// failures"): one line naming the database, its directory and the operation, exit code 3, and
// nothing after it (the vote it could not persist is never sent).
#include "node/consensus_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "ledger/fault_env.h"
#include "ledger/leveldb_store.h"
#include "node/storage_failure.h"
#include "tests/unit/ledger/hooked_store.h"
#include "tests/unit/temp_dir.h"

namespace cl::node {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

std::unique_ptr<ledger::LevelDbStore> OpenChain(const fs::path& dir, leveldb::Env* env) {
  ledger::LevelDbOptions options;
  options.name = "chain database";
  options.env = env;
  auto store = ledger::LevelDbStore::Open(dir, options);
  if (!store) std::abort();
  return std::move(*store);
}

TEST(ConsensusStore, RecordsComeBackAfterAReopen) {
  TempDir dir;
  {
    auto chain = OpenChain(dir.path(), nullptr);
    ConsensusStore store(chain.get());
    store.AppendRecord(5, "prepare");
    store.PutViewRecord("view change");
    store.PutCheckpoint("checkpoint");
  }
  auto chain = OpenChain(dir.path(), nullptr);
  ConsensusStore store(chain.get());
  auto loaded = store.Load();
  ASSERT_EQ(loaded.records.size(), 1u);
  EXPECT_EQ(loaded.records[0], "prepare");
  EXPECT_EQ(loaded.view_record, "view change");
  EXPECT_EQ(loaded.checkpoint, "checkpoint");
}

// Each kind of fault on the vote's write: the process exits 3 with the line on stderr, before
// AppendRecord returns (a vote it returned from would be sent).
TEST(ConsensusStoreDeathTest, AFailedWriteStopsTheProcessWithOneLineNamingTheDatabase) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (ledger::FaultKind kind : {ledger::FaultKind::kAppendError, ledger::FaultKind::kSyncError,
                                 ledger::FaultKind::kDiskFull, ledger::FaultKind::kTornWrite}) {
    SCOPED_TRACE(std::string(ledger::FaultKindName(kind)));
    EXPECT_EXIT(
        {
          TempDir dir;
          ledger::FaultEnv env;
          auto chain = OpenChain(dir.path(), &env);
          ConsensusStore store(chain.get());
          store.AppendRecord(1, "a vote that is persisted");
          env.Arm(kind, 0);
          store.AppendRecord(2, "a vote that is not");
          std::_Exit(0);  // ran on: the replica would now send the vote
        },
        ::testing::ExitedWithCode(kStorageFailureExitCode),
        "storage failure while persisting consensus state \\(a vote, a view change or a "
        "checkpoint\\): chain database /[^ ]*consensus_store_test[^ ]*: write failed: IO error: "
        "[^ ]*: injected fault");
  }
}

// At a node's start the consensus state is read before the replica is made (Node::Start), so a
// failed read is a refusal to start (exit 2, like every other startup refusal) with the error,
// not a stop while running (exit 3); what Read returned is what the replica's Load gets.
TEST(ConsensusStoreTest, AFailedReadAtStartIsReturnedAndLoadGetsWhatReadReturned) {
  ledger::testing::HookedStore kv;
  {
    ConsensusStore store(&kv);
    store.PutCheckpoint("cert");
    store.PutViewRecord("view");
  }
  ConsensusStore store(&kv);
  kv.read_error = Error{ErrorCode::kIoError, "chain database /d: read failed: IO error: EIO"};
  auto failed = store.Read();
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message, "chain database /d: read failed: IO error: EIO");
  kv.read_error.reset();
  auto read = store.Read();
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(read->checkpoint, "cert");
  kv.read_error = Error{ErrorCode::kIoError, "not read again"};
  consensus::Storage::Loaded loaded = store.Load();
  EXPECT_EQ(loaded.checkpoint, "cert");
  EXPECT_EQ(loaded.view_record, "view");
}

}  // namespace
}  // namespace cl::node
