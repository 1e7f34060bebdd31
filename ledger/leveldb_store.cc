#include "ledger/leveldb_store.h"

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <system_error>

namespace cl::ledger {
namespace {

leveldb::Slice ToSlice(ByteSpan s) {
  return leveldb::Slice(reinterpret_cast<const char*>(s.data()), s.size());
}

ByteSpan FromSlice(const leveldb::Slice& s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::unexpected<Error> FromLevelDb(const leveldb::Status& s, std::string_view what) {
  // A NotFound that reaches here is a file LevelDB needs and the disk lost (ENOENT), not a key.
  ErrorCode code = ErrorCode::kIoError;
  if (s.IsCorruption()) code = ErrorCode::kCorruption;
  if (s.IsInvalidArgument()) code = ErrorCode::kInvalidArgument;
  Error error{code, std::string(what) + ": " + s.ToString()};
  error.storage_failure = true;
  return std::unexpected(std::move(error));
}

}  // namespace

Result<std::unique_ptr<LevelDbStore>> LevelDbStore::Open(const std::filesystem::path& dir,
                                                         const LevelDbOptions& options) {
  std::error_code ec;
  const auto status = std::filesystem::status(dir, ec);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "database path is not a directory: " + dir.string());
  }
  if (!std::filesystem::exists(status) && !options.create_if_missing) {
    return MakeError(ErrorCode::kNotFound, "database directory does not exist: " + dir.string());
  }

  std::unique_ptr<LevelDbStore> store(new LevelDbStore());
  store->label_ = options.name + " " + dir.string();
  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = true;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.write_buffer_size = options.write_buffer_bytes;
  db_options.compression = options.compress ? leveldb::kSnappyCompression : leveldb::kNoCompression;
  store->block_cache_.reset(leveldb::NewLRUCache(options.block_cache_bytes));
  db_options.block_cache = store->block_cache_.get();
  if (options.bloom_bits_per_key > 0) {
    store->filter_policy_.reset(leveldb::NewBloomFilterPolicy(options.bloom_bits_per_key));
    db_options.filter_policy = store->filter_policy_.get();
  }
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(db_options, dir.string(), &db);
  if (!s.ok()) {
    // LevelDB reports a missing database with create_if_missing off as InvalidArgument.
    if (!options.create_if_missing && s.IsInvalidArgument() &&
        !std::filesystem::exists(dir / "CURRENT", ec)) {
      return MakeError(ErrorCode::kNotFound,
                       "no database in " + dir.string() + ": " + s.ToString());
    }
    return FromLevelDb(s, "opening " + store->label_);
  }
  store->db_.reset(db);
  return store;
}

LevelDbStore::~LevelDbStore() {
  db_.reset();
}

Result<std::optional<Bytes>> LevelDbStore::Get(ByteSpan key) const {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::string value;
  leveldb::Status s = db_->Get(read_options, ToSlice(key), &value);
  // A key miss is NotFound with no message (LevelDB's Version::Get and MemTable::Get); a table file
  // that is gone is NotFound too, with the file's name and strerror(ENOENT): that is an error.
  if (s.IsNotFound() && s.ToString() == "NotFound: ") return std::optional<Bytes>();
  if (!s.ok()) return FromLevelDb(s, label_ + ": read failed");
  return std::optional<Bytes>(Bytes(value.begin(), value.end()));
}

Status LevelDbStore::Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_options));
  const ByteSpan from = std::ranges::lexicographical_compare(start, prefix) ? prefix : start;
  for (it->Seek(ToSlice(from)); it->Valid(); it->Next()) {
    const ByteSpan key = FromSlice(it->key());
    if (key.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), key.begin())) break;
    if (!visit(key, FromSlice(it->value()))) break;
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), label_ + ": scan failed");
  return OkStatus();
}

Result<std::optional<Bytes>> LevelDbStore::LastKey(ByteSpan prefix) const {
  leveldb::ReadOptions read_options;
  read_options.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_options));
  // Position at the first key past every key with the prefix, then step back once.
  Bytes past(prefix.begin(), prefix.end());
  while (!past.empty() && past.back() == 0xff)
    past.pop_back();
  if (past.empty()) {
    it->SeekToLast();
  } else {
    ++past.back();
    it->Seek(ToSlice(past));
    if (it->Valid()) {
      it->Prev();
    } else if (it->status().ok()) {
      it->SeekToLast();
    }
  }
  if (!it->status().ok()) return FromLevelDb(it->status(), label_ + ": scan failed");
  if (!it->Valid()) return std::optional<Bytes>();
  const ByteSpan key = FromSlice(it->key());
  if (key.size() < prefix.size() || !std::equal(prefix.begin(), prefix.end(), key.begin())) {
    return std::optional<Bytes>();
  }
  return std::optional<Bytes>(Bytes(key.begin(), key.end()));
}

Status LevelDbStore::Write(const WriteBatch& batch, bool sync) {
  std::lock_guard lock(write_mu_);
  if (write_failed_) return std::unexpected(*write_failed_);
  if (write_batch_ == nullptr) write_batch_ = std::make_unique<leveldb::WriteBatch>();
  leveldb::WriteBatch& db_batch = *write_batch_;
  db_batch.Clear();  // keeps the buffer's capacity
  batch.ForEach([&](ByteSpan key, std::optional<ByteSpan> value) {
    if (value) {
      db_batch.Put(ToSlice(key), ToSlice(*value));
    } else {
      db_batch.Delete(ToSlice(key));
    }
  });
  leveldb::WriteOptions write_options;
  write_options.sync = sync;
  leveldb::Status s = db_->Write(write_options, &db_batch);
  if (db_batch.ApproximateSize() > kKeptWriteBufferMaxBytes) write_batch_.reset();
  if (!s.ok()) {
    auto error = FromLevelDb(s, label_ + ": write failed");
    write_failed_ = error.error();
    write_failed_->message = label_ + ": an earlier write failed (" + s.ToString() +
                             "); no write is taken until it is reopened";
    return error;
  }
  return OkStatus();
}

}  // namespace cl::ledger
