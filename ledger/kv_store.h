// The key-value store interface under the state tree, the block store and the node's consensus
// storage: point reads, ordered iteration over a prefix, and atomic write batches with an optional
// sync. Implementations: LevelDbStore (ledger/leveldb_store.h) on disk, MemoryStore
// (ledger/memory_store.h) for tests and the simulator.
//
// Thread safety: Get and Scan may run concurrently with each other and with Write; a Write is
// atomic with respect to readers (a reader sees all of a batch or none of it).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// An ordered list of puts and deletes applied atomically by KvStore::Write. Later operations on the
// same key win. The operations live in one contiguous buffer (a batch of a large block holds tens
// of thousands of records; one allocation per record would dominate building it). In memory only,
// never persisted.
class WriteBatch {
 public:
  void Put(ByteSpan key, ByteSpan value);
  void Delete(ByteSpan key);
  // Moves other's operations to the end of this batch (they then win over earlier ones).
  void Append(WriteBatch&& other);
  void Clear() {
    rep_.clear();
    count_ = 0;
  }
  // Visits the operations in order: value is nullopt for a delete. The spans point into the batch.
  void ForEach(const std::function<void(ByteSpan key, std::optional<ByteSpan> value)>& visit) const;
  size_t size() const { return count_; }
  // Bytes of keys and values plus a few bytes of framing per operation.
  size_t approximate_bytes() const { return rep_.size(); }

 private:
  // Per operation: u8 kind (kPut / kDelete), u32 key length (native order), key, and for a put u32
  // value length, value.
  Bytes rep_;
  size_t count_ = 0;
};

// Return false from a visitor to stop the scan early.
using KvVisitor = std::function<bool(ByteSpan key, ByteSpan value)>;

class KvStore {
 public:
  virtual ~KvStore() = default;

  // nullopt when the key is absent; an error only when the store itself fails.
  virtual Result<std::optional<Bytes>> Get(ByteSpan key) const = 0;
  // Visits, in ascending byte order, every key that starts with prefix and is >= start (an empty
  // start means the whole prefix).
  virtual Status Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const = 0;
  // The greatest key that starts with prefix (nullopt when none does).
  virtual Result<std::optional<Bytes>> LastKey(ByteSpan prefix) const = 0;
  // Applies the batch atomically; with sync, returns only once it is durable (fsync).
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;
};

}  // namespace cl::ledger
