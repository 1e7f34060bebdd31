// The executor's narrow view of committed state: point reads of the state tree at the previous
// height, and the change list a block produces. The node backs StateReader with StateTree::Get at
// height h-1; unit tests back it with a plain map.
//
// Thread safety: implementations must allow concurrent Get calls; the executor calls from one
// thread.
#pragma once

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Byte-wise lexicographic order (the state tree's and LevelDB's key order). An explicit comparator
// also sidesteps a GCC 12 false -Wstringop-overread on std::less<std::vector<uint8_t>>.
struct BytesLess {
  bool operator()(const Bytes& a, const Bytes& b) const {
    size_t n = std::min(a.size(), b.size());
    int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
    return c < 0 || (c == 0 && a.size() < b.size());
  }
};
template <class V>
using BytesMap = std::map<Bytes, V, BytesLess>;

class StateReader {
 public:
  virtual ~StateReader() = default;
  // nullopt when the key is absent; an error only when storage fails (fatal for the block).
  virtual Result<std::optional<Bytes>> Get(ByteSpan key) const = 0;
};

// One key's new value after a block (nullopt: deleted). A block's changes are sorted by key.
struct StateChange {
  Bytes key;
  std::optional<Bytes> value;
  bool operator==(const StateChange&) const = default;
};

// A StateReader over an in-memory map, for genesis construction, tests and tools.
class MapStateReader final : public StateReader {
 public:
  MapStateReader() = default;
  explicit MapStateReader(BytesMap<Bytes> entries) : entries_(std::move(entries)) {}
  Result<std::optional<Bytes>> Get(ByteSpan key) const override;
  // Applies a block's changes.
  void Apply(const std::vector<StateChange>& changes);
  const BytesMap<Bytes>& entries() const { return entries_; }

 private:
  BytesMap<Bytes> entries_;
};

}  // namespace cl::ledger
