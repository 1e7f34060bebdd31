#include "ledger/state_reader.h"

namespace cl::ledger {

Result<std::optional<Bytes>> MapStateReader::Get(ByteSpan key) const {
  auto it = entries_.find(Bytes(key.begin(), key.end()));
  if (it == entries_.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

void MapStateReader::Apply(const std::vector<StateChange>& changes) {
  for (const auto& c : changes) {
    if (c.value) {
      entries_[c.key] = *c.value;
    } else {
      entries_.erase(c.key);
    }
  }
}

}  // namespace cl::ledger
