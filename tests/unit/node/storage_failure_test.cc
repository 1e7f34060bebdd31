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

// LevelDB reports a process out of descriptors (EMFILE, or ENFILE for the whole system) as an I/O
// error with the operating system's text. Nothing is wrong with the disk: the line must say to
// raise the descriptor limit, not to replace the disk (the node still stops: a write may have
// failed).
Error DescriptorError(std::string_view os_text) {
  Error error = MakeError(ErrorCode::kIoError,
                          "chain database /srv/n1/data: write failed: IO error: "
                          "/srv/n1/data/000007.ldb: " +
                              std::string(os_text))
                    .error();
  error.storage_failure = true;
  return error;
}

TEST(StorageFailure, OutOfFileDescriptorsAdvisesRaisingTheLimitNotReplacingTheDisk) {
  const std::string line =
      StorageFailureLine("committing block 812", DescriptorError("Too many open files"));
  EXPECT_TRUE(
      line.starts_with("storage failure while committing block 812: chain database "
                       "/srv/n1/data: write failed"))
      << line;
  EXPECT_NE(line.find("the process ran out of file descriptors"), std::string::npos) << line;
  EXPECT_NE(line.find("ulimit -n"), std::string::npos) << line;
  EXPECT_NE(line.find("LimitNOFILE"), std::string::npos) << line;
  EXPECT_EQ(line.find("replace the disk"), std::string::npos) << line;
}

TEST(StorageFailure, SystemOutOfFileDescriptorsAdvisesTheSystemLimit) {
  const std::string line =
      StorageFailureLine("committing block 812", DescriptorError("Too many open files in system"));
  EXPECT_NE(line.find("the system ran out of file descriptors"), std::string::npos) << line;
  EXPECT_NE(line.find("fs.file-max"), std::string::npos) << line;
  EXPECT_EQ(line.find("replace the disk"), std::string::npos) << line;
}

TEST(StorageFailure, ADiskErrorKeepsTheDiskAdvice) {
  Error error =
      MakeError(ErrorCode::kIoError,
                "chain database /srv/n1/data: write failed: IO error: /srv/n1/data/000005.log: No "
                "space left on device")
          .error();
  error.storage_failure = true;
  const std::string line = StorageFailureLine("committing block 812", error);
  EXPECT_EQ(line,
            "storage failure while committing block 812: chain database /srv/n1/data: write "
            "failed: IO error: /srv/n1/data/000005.log: No space left on device; stopping (free "
            "space or replace the disk, then restart the node)");
}

}  // namespace
}  // namespace cl::node
