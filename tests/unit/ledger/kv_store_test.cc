// The same behaviour suite runs against LevelDbStore and MemoryStore; LevelDB alone also has the
// durability and damaged-database tests.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "ledger/kv_store.h"
#include "ledger/leveldb_store.h"
#include "ledger/memory_store.h"
#include "tests/unit/temp_dir.h"

namespace cl::ledger {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

// Written with append: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + std::string.
std::string Numbered(std::string_view prefix, int i) {
  std::string out(prefix);
  out.append(std::to_string(i));
  return out;
}

struct Entry {
  std::string key;
  std::string value;
  bool operator==(const Entry&) const = default;
};

std::vector<Entry> ScanAll(const KvStore& store, std::string_view prefix, std::string_view start) {
  std::vector<Entry> out;
  auto status = store.Scan(AsSpan(prefix), AsSpan(start), [&](ByteSpan key, ByteSpan value) {
    out.push_back(Entry{ToString(key), ToString(value)});
    return true;
  });
  EXPECT_TRUE(status.has_value()) << status.error().ToString();
  return out;
}

std::optional<std::string> GetString(const KvStore& store, std::string_view key) {
  auto value = store.Get(AsSpan(key));
  EXPECT_TRUE(value.has_value()) << value.error().ToString();
  if (!value || !value->has_value()) return std::nullopt;
  return ToString(**value);
}

// Makes stores of one kind; Reopen gives a store over the same data (for MemoryStore the same one).
class StoreFactory {
 public:
  virtual ~StoreFactory() = default;
  virtual KvStore* Open() = 0;
  virtual KvStore* Reopen() = 0;
};

class LevelDbFactory final : public StoreFactory {
 public:
  KvStore* Open() override { return Reopen(); }
  KvStore* Reopen() override {
    store_.reset();
    auto store = LevelDbStore::Open(dir_.path() / "db", LevelDbOptions{});
    EXPECT_TRUE(store.has_value()) << store.error().ToString();
    store_ = std::move(*store);
    return store_.get();
  }

 private:
  TempDir dir_;
  std::unique_ptr<LevelDbStore> store_;
};

class MemoryFactory final : public StoreFactory {
 public:
  KvStore* Open() override { return &store_; }
  KvStore* Reopen() override { return &store_; }

 private:
  MemoryStore store_;
};

template <class Factory>
class KvStoreBehaviour : public ::testing::Test {
 protected:
  Factory factory_;
};

using StoreKinds = ::testing::Types<LevelDbFactory, MemoryFactory>;
TYPED_TEST_SUITE(KvStoreBehaviour, StoreKinds);

TYPED_TEST(KvStoreBehaviour, BatchIsVisibleWholeAfterReopen) {
  KvStore* store = this->factory_.Open();
  WriteBatch batch;
  for (int i = 0; i < 100; ++i) {
    batch.Put(AsSpan(Numbered("k", i)), AsSpan(Numbered("v", i)));
  }
  ASSERT_TRUE(store->Write(batch, /*sync=*/true).has_value());
  store = this->factory_.Reopen();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(GetString(*store, Numbered("k", i)), Numbered("v", i));
  }
}

TYPED_TEST(KvStoreBehaviour, UnwrittenBatchLeavesNothing) {
  KvStore* store = this->factory_.Open();
  WriteBatch written;
  written.Put(AsSpan("a"), AsSpan("1"));
  ASSERT_TRUE(store->Write(written, true).has_value());
  {
    WriteBatch never_written;
    never_written.Put(AsSpan("b"), AsSpan("2"));
    never_written.Delete(AsSpan("a"));
  }
  store = this->factory_.Reopen();
  EXPECT_EQ(GetString(*store, "a"), "1");
  EXPECT_EQ(GetString(*store, "b"), std::nullopt);
}

TYPED_TEST(KvStoreBehaviour, LaterOpsInBatchWin) {
  KvStore* store = this->factory_.Open();
  WriteBatch batch;
  batch.Put(AsSpan("x"), AsSpan("1"));
  batch.Put(AsSpan("x"), AsSpan("2"));
  batch.Put(AsSpan("y"), AsSpan("1"));
  batch.Delete(AsSpan("y"));
  batch.Delete(AsSpan("z"));
  batch.Put(AsSpan("z"), AsSpan("3"));
  ASSERT_TRUE(store->Write(batch, false).has_value());
  EXPECT_EQ(GetString(*store, "x"), "2");
  EXPECT_EQ(GetString(*store, "y"), std::nullopt);
  EXPECT_EQ(GetString(*store, "z"), "3");
}

TYPED_TEST(KvStoreBehaviour, ScanVisitsPrefixInOrderFromStart) {
  KvStore* store = this->factory_.Open();
  WriteBatch batch;
  for (const char* key : {"p/3", "p/1", "q/1", "p/2", "o/9", "p/\xff", "p"}) {
    batch.Put(AsSpan(key), AsSpan(std::string("v").append(key)));
  }
  ASSERT_TRUE(store->Write(batch, false).has_value());
  const std::vector<Entry> all = ScanAll(*store, "p/", "");
  const std::vector<Entry> expected_all = {
      {"p/1", "vp/1"}, {"p/2", "vp/2"}, {"p/3", "vp/3"}, {"p/\xff", "vp/\xff"}};
  EXPECT_EQ(all, expected_all);
  const std::vector<Entry> from_two = ScanAll(*store, "p/", "p/2");
  const std::vector<Entry> expected_from_two = {
      {"p/2", "vp/2"}, {"p/3", "vp/3"}, {"p/\xff", "vp/\xff"}};
  EXPECT_EQ(from_two, expected_from_two);
  // A start below the prefix means the whole prefix; past it means nothing.
  EXPECT_EQ(ScanAll(*store, "p/", "a"), expected_all);
  EXPECT_TRUE(ScanAll(*store, "p/", "q").empty());
  EXPECT_TRUE(ScanAll(*store, "r", "").empty());
  EXPECT_EQ(ScanAll(*store, "", "").size(), 7u);
}

std::optional<std::string> LastKeyString(const KvStore& store, std::string_view prefix) {
  auto key = store.LastKey(AsSpan(prefix));
  EXPECT_TRUE(key.has_value()) << key.error().ToString();
  if (!key || !key->has_value()) return std::nullopt;
  return ToString(**key);
}

TYPED_TEST(KvStoreBehaviour, LastKeyIsTheGreatestWithThePrefix) {
  KvStore* store = this->factory_.Open();
  EXPECT_EQ(LastKeyString(*store, "p/"), std::nullopt);
  WriteBatch batch;
  for (const char* key : {"p/3", "p/1", "q/1", "o/9", "p"}) {
    batch.Put(AsSpan(key), AsSpan("v"));
  }
  batch.Put(AsSpan(std::string("r\xff\xff", 3)), AsSpan("v"));
  batch.Put(AsSpan(std::string("r\xff\xff\x01", 4)), AsSpan("v"));
  ASSERT_TRUE(store->Write(batch, false).has_value());
  EXPECT_EQ(LastKeyString(*store, "p/"), "p/3");
  EXPECT_EQ(LastKeyString(*store, "p"), "p/3");
  EXPECT_EQ(LastKeyString(*store, "o"), "o/9");
  EXPECT_EQ(LastKeyString(*store, "q/2"), std::nullopt);
  EXPECT_EQ(LastKeyString(*store, "n"), std::nullopt);
  EXPECT_EQ(LastKeyString(*store, "s"), std::nullopt);
  // A prefix ending in 0xff bytes, and the empty prefix (the last key of all).
  EXPECT_EQ(LastKeyString(*store, std::string("r\xff\xff", 3)), std::string("r\xff\xff\x01", 4));
  EXPECT_EQ(LastKeyString(*store, ""), std::string("r\xff\xff\x01", 4));
  // Deleted keys are not found, and the answer survives a reopen.
  WriteBatch del;
  del.Delete(AsSpan("p/3"));
  ASSERT_TRUE(store->Write(del, true).has_value());
  store = this->factory_.Reopen();
  EXPECT_EQ(LastKeyString(*store, "p/"), "p/1");
}

TYPED_TEST(KvStoreBehaviour, ScanStopsWhenVisitorSaysSo) {
  KvStore* store = this->factory_.Open();
  WriteBatch batch;
  for (int i = 0; i < 10; ++i)
    batch.Put(AsSpan(Numbered("k", i)), AsSpan("v"));
  ASSERT_TRUE(store->Write(batch, false).has_value());
  int visited = 0;
  ASSERT_TRUE(
      store->Scan(AsSpan("k"), {}, [&](ByteSpan, ByteSpan) { return ++visited < 3; }).has_value());
  EXPECT_EQ(visited, 3);
}

TYPED_TEST(KvStoreBehaviour, DeleteThenGetIsAbsent) {
  KvStore* store = this->factory_.Open();
  WriteBatch put;
  put.Put(AsSpan("gone"), AsSpan("soon"));
  ASSERT_TRUE(store->Write(put, false).has_value());
  WriteBatch del;
  del.Delete(AsSpan("gone"));
  ASSERT_TRUE(store->Write(del, true).has_value());
  store = this->factory_.Reopen();
  EXPECT_EQ(GetString(*store, "gone"), std::nullopt);
  EXPECT_TRUE(ScanAll(*store, "gone", "").empty());
}

TEST(LevelDbStore, MissingDirectoryWithoutCreateIsNotFound) {
  TempDir dir;
  LevelDbOptions options;
  options.create_if_missing = false;
  auto store = LevelDbStore::Open(dir.path() / "absent", options);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kNotFound) << store.error().ToString();
}

TEST(LevelDbStore, EmptyDirectoryWithoutCreateIsNotFound) {
  TempDir dir;
  LevelDbOptions options;
  options.create_if_missing = false;
  auto store = LevelDbStore::Open(dir.path(), options);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kNotFound) << store.error().ToString();
}

TEST(LevelDbStore, PathThatIsAFileIsAnError) {
  TempDir dir;
  const fs::path file = dir.path() / "file";
  std::ofstream(file) << "not a database";
  auto store = LevelDbStore::Open(file, LevelDbOptions{});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument) << store.error().ToString();
}

// Writes some data and closes the database twice so that it sits in a table file.
void FillAndClose(const fs::path& db) {
  for (int round = 0; round < 2; ++round) {
    auto store = LevelDbStore::Open(db, LevelDbOptions{});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    if (round == 1) continue;
    WriteBatch batch;
    for (int i = 0; i < 1000; ++i) {
      batch.Put(AsSpan(Numbered("key", i)), AsSpan(std::string(100, 'v')));
    }
    ASSERT_TRUE((*store)->Write(batch, true).has_value());
  }
}

void Overwrite(const fs::path& file) {
  const auto size = fs::file_size(file);
  std::ofstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  const std::string garbage(std::max<uintmax_t>(size, 16), '\x5a');
  out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
}

TEST(LevelDbStore, GarbageOverCurrentIsCorruption) {
  TempDir dir;
  const fs::path db = dir.path() / "db";
  FillAndClose(db);
  Overwrite(db / "CURRENT");
  auto store = LevelDbStore::Open(db, LevelDbOptions{});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kCorruption) << store.error().ToString();
}

TEST(LevelDbStore, GarbageOverTableFileIsAnErrorNotACrash) {
  TempDir dir;
  const fs::path db = dir.path() / "db";
  FillAndClose(db);
  int tables = 0;
  for (const auto& entry : fs::directory_iterator(db)) {
    if (entry.path().extension() == ".ldb") {
      Overwrite(entry.path());
      ++tables;
    }
  }
  ASSERT_GT(tables, 0);
  auto store = LevelDbStore::Open(db, LevelDbOptions{});
  if (!store) {
    EXPECT_EQ(store.error().code, ErrorCode::kCorruption) << store.error().ToString();
    return;
  }
  // Opening may succeed (tables are read lazily); reads must then report the damage.
  auto value = (*store)->Get(AsSpan("key1"));
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().code, ErrorCode::kCorruption) << value.error().ToString();
  auto scan = (*store)->Scan(AsSpan("key"), {}, [](ByteSpan, ByteSpan) { return true; });
  ASSERT_FALSE(scan.has_value());
  EXPECT_EQ(scan.error().code, ErrorCode::kCorruption) << scan.error().ToString();
}

// LevelDB reports a table file that is gone (ENOENT) as NotFound with the file's name; only a
// key that is not there is absent. The read of a key in the lost table is an error (it was
// answered as "absent": a block, a transaction or a balance silently missing).
TEST(LevelDbStore, AReadFromATableFileThatIsGoneIsAnErrorNotAbsent) {
  TempDir dir;
  const fs::path db = dir.path() / "db";
  FillAndClose(db);
  auto store = LevelDbStore::Open(db, LevelDbOptions{});  // opens no table yet
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  int tables = 0;
  for (const auto& entry : fs::directory_iterator(db)) {
    if (entry.path().extension() == ".ldb") {
      fs::remove(entry.path());
      ++tables;
    }
  }
  ASSERT_GT(tables, 0);
  auto value = (*store)->Get(AsSpan(Numbered("key", 1)));
  ASSERT_FALSE(value.has_value()) << "a key in a lost table file was answered as absent";
  EXPECT_EQ(value.error().code, ErrorCode::kIoError) << value.error().ToString();
  EXPECT_TRUE(value.error().storage_failure);
  EXPECT_NE(value.error().message.find(".ldb"), std::string::npos) << value.error().message;
}

TEST(LevelDbStore, ReopenWithoutCreateFindsData) {
  TempDir dir;
  const fs::path db = dir.path() / "db";
  FillAndClose(db);
  LevelDbOptions options;
  options.create_if_missing = false;
  options.bloom_bits_per_key = 0;
  auto store = LevelDbStore::Open(db, options);
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  EXPECT_EQ(GetString(**store, "key999"), std::string(100, 'v'));
}

}  // namespace
}  // namespace cl::ledger
