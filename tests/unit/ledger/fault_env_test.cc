// FaultEnv (ledger/fault_env.h) fires each kind of fault at the occurrence asked for, and
// LevelDbStore under it: a failed write is reported as failed, names the database, and is the last
// write the store makes (a later write is refused, so nothing is appended after a torn record),
// and the directory then reopens with the real Env holding exactly the writes that succeeded.
#include "ledger/fault_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/leveldb_store.h"
#include "tests/unit/temp_dir.h"

namespace cl::ledger {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

std::unique_ptr<LevelDbStore> OpenStore(const fs::path& dir, leveldb::Env* env) {
  LevelDbOptions options;
  options.name = "test database";
  options.env = env;
  auto store = LevelDbStore::Open(dir, options);
  EXPECT_TRUE(store.has_value()) << store.error().ToString();
  return store ? std::move(*store) : nullptr;
}

Status Put(KvStore& store, std::string_view key, size_t value_bytes = 100, bool sync = true) {
  WriteBatch batch;
  batch.Put(AsSpan(key), AsSpan(std::string(value_bytes, 'v')));
  return store.Write(batch, sync);
}

bool Has(const KvStore& store, std::string_view key) {
  auto value = store.Get(AsSpan(key));
  EXPECT_TRUE(value.has_value()) << value.error().ToString();
  return value && value->has_value();
}

TEST(FaultEnv, CountsTheOperationsOfASyncedWrite) {
  TempDir dir;
  FaultEnv env;
  auto store = OpenStore(dir.path() / "db", &env);
  ASSERT_NE(store, nullptr);
  const FaultEnvCounts before = env.counts();
  ASSERT_TRUE(Put(*store, "k").has_value());
  const FaultEnvCounts after = env.counts();
  // One log record: its header and its payload, a flush, and the sync.
  EXPECT_EQ(after.appends - before.appends, 2u);
  EXPECT_EQ(after.flushes - before.flushes, 1u);
  EXPECT_EQ(after.syncs - before.syncs, 1u);
  EXPECT_GT(after.appended_bytes - before.appended_bytes, 100u);
}

TEST(FaultEnv, EachKindFiresAtTheOccurrenceAsked) {
  for (FaultKind kind : {FaultKind::kAppendError, FaultKind::kSyncError, FaultKind::kDiskFull,
                         FaultKind::kTornWrite}) {
    SCOPED_TRACE(std::string(FaultKindName(kind)));
    TempDir dir;
    FaultEnv env;
    auto store = OpenStore(dir.path() / "db", &env);
    ASSERT_NE(store, nullptr);
    // Each write appends twice and syncs once: occurrence 2 (appends) or 1 (syncs) is the
    // second write's.
    env.Arm(kind, kind == FaultKind::kSyncError ? 1 : 2, /*disk_full_fit_bytes=*/10);
    ASSERT_TRUE(Put(*store, "first").has_value());
    EXPECT_FALSE(env.fired());
    auto failed = Put(*store, "second");
    ASSERT_FALSE(failed.has_value());
    EXPECT_TRUE(env.fired());
    EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
    EXPECT_NE(failed.error().message.find("test database"), std::string::npos)
        << failed.error().message;
    EXPECT_NE(failed.error().message.find(dir.path().string()), std::string::npos)
        << failed.error().message;
    EXPECT_NE(failed.error().message.find("injected fault"), std::string::npos)
        << failed.error().message;
    EXPECT_EQ(env.crashed(), kind == FaultKind::kTornWrite);
  }
}

// The defect this pins: LevelDB itself refuses writes after a failed sync, but not after a failed
// append, whose record may be half in the log. A write after it went on appending behind the torn
// record, and was reported durable.
TEST(LevelDbStoreUnderFaults, AWriteAfterAFailedWriteIsRefusedAndReopeningKeepsTheGoodWrites) {
  for (FaultKind kind : {FaultKind::kAppendError, FaultKind::kSyncError, FaultKind::kDiskFull}) {
    for (uint64_t occurrence : {0u, 1u}) {
      SCOPED_TRACE(std::string(FaultKindName(kind)) + " at " + std::to_string(occurrence));
      if (kind == FaultKind::kSyncError && occurrence == 1) continue;  // one sync per write
      TempDir dir;
      {
        FaultEnv env;
        auto store = OpenStore(dir.path() / "db", &env);
        ASSERT_NE(store, nullptr);
        ASSERT_TRUE(Put(*store, "before").has_value());
        env.Arm(kind, occurrence, /*disk_full_fit_bytes=*/7);
        ASSERT_FALSE(Put(*store, "failed").has_value());
        ASSERT_TRUE(env.fired());
        if (kind == FaultKind::kDiskFull) {
          // The operator freed space: the disk takes writes again, the store must not.
          env.Arm(FaultKind::kNone, 0);
        }
        auto later = Put(*store, "later");
        EXPECT_FALSE(later.has_value()) << "a write after a failed one was reported durable";
        if (!later) {
          EXPECT_NE(later.error().message.find("an earlier write failed"), std::string::npos)
              << later.error().message;
        }
        EXPECT_EQ(env.counts().changes_after_fault, 0u);
      }
      auto reopened = OpenStore(dir.path() / "db", nullptr);
      ASSERT_NE(reopened, nullptr);
      EXPECT_TRUE(Has(*reopened, "before"));
      EXPECT_FALSE(Has(*reopened, "later"));
      // "failed" may or may not be there (a failed sync may have reached the disk), and the store
      // takes writes again.
      EXPECT_TRUE(Put(*reopened, "after restart").has_value());
    }
  }
}

TEST(LevelDbStoreUnderFaults, ATornLastWriteReopensWithoutIt) {
  for (uint64_t occurrence : {0u, 1u}) {
    SCOPED_TRACE(occurrence);
    TempDir dir;
    {
      FaultEnv env;
      auto store = OpenStore(dir.path() / "db", &env);
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(Put(*store, "before").has_value());
      env.Arm(FaultKind::kTornWrite, occurrence);
      ASSERT_FALSE(Put(*store, "torn", 5000).has_value());
      ASSERT_TRUE(env.crashed());
    }
    auto reopened = OpenStore(dir.path() / "db", nullptr);
    ASSERT_NE(reopened, nullptr);
    EXPECT_TRUE(Has(*reopened, "before"));
    EXPECT_FALSE(Has(*reopened, "torn"));
    EXPECT_TRUE(Put(*reopened, "after restart").has_value());
  }
}

// LevelDB's sticky background error: a table that a background compaction (a memtable flush)
// writes fails; the writes after it fail too, naming the database, and reopening keeps every write
// that was reported as done.
TEST(LevelDbStoreUnderFaults, AFailedBackgroundCompactionFailsTheWritesAfterIt) {
  for (FaultKind kind : {FaultKind::kAppendError, FaultKind::kSyncError, FaultKind::kDiskFull}) {
    SCOPED_TRACE(std::string(FaultKindName(kind)));
    TempDir dir;
    std::vector<std::string> done;
    {
      FaultEnv env;
      LevelDbOptions options;
      options.name = "test database";
      options.env = &env;
      options.write_buffer_bytes = 64 << 10;  // a flush every few dozen writes
      auto opened = LevelDbStore::Open(dir.path() / "db", options);
      ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
      LevelDbStore& store = **opened;
      env.Arm(kind, 0, /*disk_full_fit_bytes=*/100, ".ldb");
      std::optional<Error> failed;
      for (int i = 0; i < 5'000 && !failed; ++i) {
        const std::string key = "key" + std::to_string(i);
        auto written = Put(store, key, 1'000, /*sync=*/false);
        if (written) {
          done.push_back(key);
        } else {
          failed = written.error();
        }
      }
      ASSERT_TRUE(failed.has_value()) << "no write failed after the compaction's fault";
      EXPECT_TRUE(env.fired());
      EXPECT_NE(failed->message.find("test database"), std::string::npos) << failed->message;
      EXPECT_NE(failed->message.find("injected fault"), std::string::npos) << failed->message;
      EXPECT_FALSE(Put(store, "later").has_value());
    }
    auto reopened = OpenStore(dir.path() / "db", nullptr);
    ASSERT_NE(reopened, nullptr);
    for (const std::string& key : done)
      ASSERT_TRUE(Has(*reopened, key)) << key;
    EXPECT_FALSE(Has(*reopened, "later"));
  }
}

// A read of a table file that fails (an I/O error, or a block whose checksum does not match) is a
// storage failure naming the database and the file, never "absent"; the next read works again.
TEST(LevelDbStoreUnderFaults, AFailedReadOfATableIsAnErrorNamingTheDatabase) {
  for (FaultKind kind : {FaultKind::kReadError, FaultKind::kReadCorruption}) {
    SCOPED_TRACE(std::string(FaultKindName(kind)));
    TempDir dir;
    FaultEnv env;
    for (int round = 0; round < 2; ++round) {  // the data ends in a table file, not yet opened
      auto store = OpenStore(dir.path(), &env);
      ASSERT_NE(store, nullptr);
      if (round == 0) {
        ASSERT_TRUE(Put(*store, "key").has_value());
      }
    }
    auto store = OpenStore(dir.path(), &env);
    ASSERT_NE(store, nullptr);
    env.Arm(kind, 0, 0, ".ldb");
    auto value = store->Get(AsSpan("key"));
    ASSERT_TRUE(env.fired());
    ASSERT_FALSE(value.has_value()) << "a failed read was answered";
    EXPECT_TRUE(value.error().storage_failure);
    EXPECT_EQ(value.error().code,
              kind == FaultKind::kReadError ? ErrorCode::kIoError : ErrorCode::kCorruption)
        << value.error().message;
    EXPECT_NE(value.error().message.find("test database"), std::string::npos);
    EXPECT_NE(value.error().message.find("injected fault"), std::string::npos);
    EXPECT_TRUE(Has(*store, "key"));
  }
}

}  // namespace
}  // namespace cl::ledger
