#include "ledger/memory_store.h"

#include <algorithm>
#include <mutex>

namespace cl::ledger {

Result<std::optional<Bytes>> MemoryStore::Get(ByteSpan key) const {
  std::shared_lock lock(mutex_);
  auto it = map_.find(AsStringView(key));
  if (it == map_.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(Bytes(it->second.begin(), it->second.end()));
}

Status MemoryStore::Scan(ByteSpan prefix, ByteSpan start, const KvVisitor& visit) const {
  std::shared_lock lock(mutex_);
  const std::string_view prefix_view = AsStringView(prefix);
  const std::string_view from = std::max(prefix_view, AsStringView(start));
  for (auto it = map_.lower_bound(from); it != map_.end(); ++it) {
    if (!it->first.starts_with(prefix_view)) break;
    if (!visit(AsSpan(it->first), AsSpan(it->second))) break;
  }
  return OkStatus();
}

Result<std::optional<Bytes>> MemoryStore::LastKey(ByteSpan prefix) const {
  std::shared_lock lock(mutex_);
  const std::string_view prefix_view = AsStringView(prefix);
  // The first key past every key with the prefix, then one step back.
  std::string past(prefix_view);
  while (!past.empty() && static_cast<uint8_t>(past.back()) == 0xff)
    past.pop_back();
  auto it = map_.end();
  if (!past.empty()) {
    past.back() = static_cast<char>(static_cast<uint8_t>(past.back()) + 1);
    it = map_.lower_bound(past);
  }
  if (it == map_.begin()) return std::optional<Bytes>();
  --it;
  if (!it->first.starts_with(prefix_view)) return std::optional<Bytes>();
  return std::optional<Bytes>(ToBytes(it->first));
}

Status MemoryStore::Write(const WriteBatch& batch, bool /*sync*/) {
  std::unique_lock lock(mutex_);
  batch.ForEach([&](ByteSpan key, std::optional<ByteSpan> value) {
    if (value) {
      map_.insert_or_assign(ToString(key), ToString(*value));
    } else {
      map_.erase(std::string(AsStringView(key)));
    }
  });
  return OkStatus();
}

size_t MemoryStore::size() const {
  std::shared_lock lock(mutex_);
  return map_.size();
}

}  // namespace cl::ledger
