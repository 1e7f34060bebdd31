// LevelDbStore: the KvStore interface on a LevelDB database in one directory. This is the node's
// durable storage: blocks, certificates, receipts and the state tree share one database so that a
// block and its state changes commit in one synced batch (DESIGN decision 8).
//
// Thread safety: every method may be called from several threads (LevelDB serialises writers and
// gives readers a consistent view of each batch).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ledger/kv_store.h"

namespace leveldb {
class DB;
class Env;
class Cache;
class FilterPolicy;
class WriteBatch;
}  // namespace leveldb

namespace cl::ledger {

struct LevelDbOptions {
  // Create the database when the directory holds none; otherwise a missing database is an error.
  bool create_if_missing = true;
  // LevelDB's cache of uncompressed blocks.
  size_t block_cache_bytes = size_t{64} << 20;
  // Bloom filter bits per key; 0 disables the filter. Point reads of absent keys skip table files.
  int bloom_bits_per_key = 10;
  // Memtable size before a flush to a level-0 table.
  size_t write_buffer_bytes = size_t{32} << 20;
  // Snappy compression of table blocks. Off by default: what the node stores is mostly hashes,
  // signatures and keys, which do not compress, so it would only cost CPU.
  bool compress = false;
  // What the node calls this database in its errors and logs ("chain database", "state
  // database"); every error names it and the directory.
  std::string name = "database";
  // The Env LevelDB reaches the file system through; nullptr is LevelDB's default Env. Tests pass
  // a FaultEnv (ledger/fault_env.h). Not owned: it must outlive the store.
  leveldb::Env* env = nullptr;
};

class LevelDbStore final : public KvStore {
 public:
  // Opens (or with create_if_missing, creates) the database in `dir`. Errors: kNotFound when the
  // database is missing and create_if_missing is false, kInvalidArgument when `dir` is not a
  // directory, kCorruption when the files fail their checks, kIoError otherwise.
  static Result<std::unique_ptr<LevelDbStore>> Open(const std::filesystem::path& dir,
                                                    const LevelDbOptions& options);
  ~LevelDbStore() override;
  LevelDbStore(const LevelDbStore&) = delete;
  LevelDbStore& operator=(const LevelDbStore&) = delete;

  Result<std::optional<Bytes>> Get(ByteSpan key) const override;
  Status Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const override;
  Result<std::optional<Bytes>> LastKey(ByteSpan prefix) const override;
  // After a failed Write every later one fails too, without touching the files (see
  // write_failed_): the database is reopened, by a restart, before it takes writes again.
  Status Write(const WriteBatch& batch, bool sync) override;

 private:
  LevelDbStore() = default;

  std::string label_;  // the name and the directory, for errors
  // Declared in this order so the database closes before its cache and filter policy are freed.
  std::unique_ptr<leveldb::Cache> block_cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_policy_;
  std::unique_ptr<leveldb::DB> db_;
  // Write's conversion buffer, kept between writes so a block's batch of tens of megabytes does not
  // regrow (reallocate, copy, fault in fresh pages) on every block. Dropped when a write left it
  // above kKeptWriteBufferMaxBytes.
  static constexpr size_t kKeptWriteBufferMaxBytes = size_t{64} << 20;
  std::mutex write_mu_;
  std::unique_ptr<leveldb::WriteBatch> write_batch_;
  // Set by the first failed Write; every later Write returns it (guarded by write_mu_). LevelDB
  // refuses writes after a failed sync by itself, but not after a failed append, whose record may
  // be half in the log: a record appended behind it would be reported durable and the database
  // would no longer open (paranoid checks: "checksum mismatch").
  std::optional<Error> write_failed_;
};

}  // namespace cl::ledger
