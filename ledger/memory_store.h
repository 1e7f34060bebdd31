// MemoryStore: the KvStore interface over an ordered in-memory map, for unit tests and the
// deterministic simulator. Nothing survives the object.
//
// Thread safety: every method may be called from several threads. Reads share a lock; Write takes
// it exclusively, so a reader sees all of a batch or none of it. A Scan visitor runs under the
// shared lock and must not call Write on the same store (it would deadlock).
#pragma once

#include <map>
#include <shared_mutex>
#include <string>

#include "ledger/kv_store.h"

namespace cl::ledger {

class MemoryStore final : public KvStore {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  Result<std::optional<Bytes>> Get(ByteSpan key) const override;
  Status Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const override;
  Result<std::optional<Bytes>> LastKey(ByteSpan prefix) const override;
  Status Write(const WriteBatch& batch, bool sync) override;

  // Number of keys held (tests count what pruning leaves behind).
  size_t size() const;

 private:
  mutable std::shared_mutex mutex_;
  // std::string keys compare bytewise unsigned (memcmp), the order LevelDB uses.
  std::map<std::string, std::string, std::less<>> map_;
};

}  // namespace cl::ledger
