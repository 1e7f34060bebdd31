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
// same key win.
class WriteBatch {
 public:
  struct Op {
    Bytes key;
    std::optional<Bytes> value;  // nullopt: delete
  };

  void Put(ByteSpan key, ByteSpan value);
  // Takes the buffers without copying (for large batches built from fresh encodings).
  void Put(Bytes&& key, Bytes&& value);
  void Delete(ByteSpan key);
  // Moves other's operations to the end of this batch (they then win over earlier ones).
  void Append(WriteBatch&& other);
  void Clear() {
    ops_.clear();
    approximate_bytes_ = 0;
  }
  const std::vector<Op>& ops() const { return ops_; }
  size_t size() const { return ops_.size(); }
  size_t approximate_bytes() const { return approximate_bytes_; }

 private:
  std::vector<Op> ops_;
  size_t approximate_bytes_ = 0;
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
  // Applies the batch atomically; with sync, returns only once it is durable (fsync).
  virtual Status Write(const WriteBatch& batch, bool sync) = 0;
};

}  // namespace cl::ledger
