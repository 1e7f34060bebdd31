// What the node takes for a failure of its storage (exit 3, "free space or replace the disk"): only
// an error a disk-backed store reports about its own I/O or on-disk checks. A kCorruption from a
// logical check (the executor: "hold names a missing account", the state tree's invariants) is not
// one: it takes the ordinary fatal path with its own message.
#include "node/storage_failure.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "ledger/fault_env.h"
#include "ledger/kv_store.h"
#include "ledger/leveldb_store.h"

namespace cl::node {
namespace {

namespace fs = std::filesystem;

TEST(StorageFailure, ALogicalCorruptionIsNotAStorageFailure) {
  EXPECT_FALSE(
      IsStorageFailure(MakeError(ErrorCode::kCorruption, "hold names a missing account").error()));
  EXPECT_FALSE(IsStorageFailure(MakeError(ErrorCode::kIoError, "not from a store").error()));
}

TEST(StorageFailure, AFailedWriteOfADiskStoreIsAStorageFailureWhateverItsCode) {
  std::string pattern = (fs::temp_directory_path() / "storage_failure_test.XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  for (ledger::FaultKind kind : {ledger::FaultKind::kAppendError, ledger::FaultKind::kSyncError,
                                 ledger::FaultKind::kDiskFull, ledger::FaultKind::kTornWrite}) {
    SCOPED_TRACE(std::string(ledger::FaultKindName(kind)));
    const fs::path dir = fs::path(pattern) / std::string(ledger::FaultKindName(kind));
    ledger::FaultEnv env;
    ledger::LevelDbOptions options;
    options.env = &env;
    options.name = "test database";
    auto store = ledger::LevelDbStore::Open(dir, options);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    env.Arm(kind, 0);
    ledger::WriteBatch batch;
    batch.Put(ToBytes("key"), ToBytes("value"));
    auto written = (*store)->Write(batch, /*sync=*/true);
    ASSERT_FALSE(written.has_value());
    EXPECT_TRUE(IsStorageFailure(written.error())) << written.error().ToString();
  }
  std::error_code ignored;
  fs::remove_all(pattern, ignored);
}

}  // namespace
}  // namespace cl::node
