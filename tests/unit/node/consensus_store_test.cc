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

// Epochs: each epoch's replica has its own records, view record and checkpoint in the one chain
// database; dropping one epoch's records up to a height leaves the others' alone.
TEST(ConsensusStore, EachEpochKeepsItsOwnState) {
  TempDir dir;
  auto chain = OpenChain(dir.path(), nullptr);
  {
    ConsensusStore e0(chain.get());
    ConsensusStore e1(chain.get(), 1);
    ConsensusStore e2(chain.get(), 2);
    e0.AppendRecord(60, "e0 prepare");
    e0.PutViewRecord("e0 view");
    e0.PutCheckpoint("e0 checkpoint");
    e1.AppendRecord(70, "e1 prepare");
    e1.AppendRecord(71, "e1 commit");
    e1.PutCheckpoint("e1 checkpoint");
    e2.AppendRecord(140, "e2 prepare");
    e1.DropRecordsUpTo(70);
  }
  ConsensusStore e0(chain.get());
  auto l0 = e0.Load();
  ASSERT_EQ(l0.records, std::vector<std::string>{"e0 prepare"});
  EXPECT_EQ(l0.view_record, "e0 view");
  EXPECT_EQ(l0.checkpoint, "e0 checkpoint");
  ConsensusStore e1(chain.get(), 1);
  auto l1 = e1.Load();
  ASSERT_EQ(l1.records, std::vector<std::string>{"e1 commit"});
  EXPECT_EQ(l1.view_record, "");
  EXPECT_EQ(l1.checkpoint, "e1 checkpoint");
  ConsensusStore e2(chain.get(), 2);
  auto l2 = e2.Load();
  ASSERT_EQ(l2.records, std::vector<std::string>{"e2 prepare"});
  EXPECT_EQ(l2.checkpoint, "");
  ConsensusStore e3(chain.get(), 3);
  EXPECT_TRUE(e3.Load().records.empty());
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
