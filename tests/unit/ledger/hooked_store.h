// A MemoryStore with hooks for tests of what a node sees around a crash or a concurrent write:
// fail_next_write makes the next Write fail without writing (the process died just before it), and
// a pending batch is written right after the first read of trigger_key (a prune that runs while a
// reader walks the version it drops); last_key_error and read_error fail reads.
#pragma once

#include <optional>

#include "ledger/kv_store.h"
#include "ledger/memory_store.h"

namespace cl::ledger::testing {

class HookedStore final : public KvStore {
 public:
  Result<std::optional<Bytes>> Get(ByteSpan key) const override {
    if (read_error) return std::unexpected(*read_error);
    auto value = inner.Get(key);
    if (pending && Bytes(key.begin(), key.end()) == trigger_key) {
      const Status written = inner.Write(*pending, /*sync=*/true);
      if (!written) return std::unexpected(written.error());
      pending.reset();
    }
    return value;
  }
  Status Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const override {
    if (read_error) return std::unexpected(*read_error);
    return inner.Scan(prefix, start, visit);
  }
  Result<std::optional<Bytes>> LastKey(ByteSpan prefix) const override {
    if (last_key_error) return std::unexpected(*last_key_error);
    return inner.LastKey(prefix);
  }
  Status Write(const WriteBatch& batch, bool sync) override {
    if (fail_next_write) {
      fail_next_write = false;
      return MakeError(ErrorCode::kIoError, "simulated crash before this write");
    }
    return inner.Write(batch, sync);
  }

  bool fail_next_write = false;
  std::optional<Error> last_key_error;  // every LastKey fails with it (a failed read)
  std::optional<Error> read_error;      // every Get and Scan fails with it
  mutable std::optional<WriteBatch> pending;
  Bytes trigger_key;
  mutable MemoryStore inner;
};

}  // namespace cl::ledger::testing
