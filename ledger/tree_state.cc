#include "ledger/tree_state.h"

#include <cstring>
#include <string_view>

#include "ledger/ledger_state.h"

namespace cl::ledger {
namespace {

Bytes FlatKey(ByteSpan key) {
  // Sized once and filled with memcpy (vector::insert of a char range trips a GCC 12 false
  // -Wstringop-overflow).
  Bytes k(kLatestValuePrefix.size() + key.size());
  std::memcpy(k.data(), kLatestValuePrefix.data(), kLatestValuePrefix.size());
  if (!key.empty()) std::memcpy(k.data() + kLatestValuePrefix.size(), key.data(), key.size());
  return k;
}

// Bytes a cache entry costs beyond its key and value (node, hash bucket, two buffers).
constexpr size_t kCacheEntryOverheadBytes = 96;

// Records that later blocks read again, so a commit writes them through to the value cache (see
// the header); the rest are written once and rarely read.
bool CacheOnCommit(ByteSpan key) {
  if (key.empty()) return false;
  switch (key[0]) {
    case keys::kTransfer:
    case keys::kTxSeen:
    case keys::kExpiryItem:
      return false;
    default:
      return true;
  }
}

}  // namespace

LatestStateIndex::LatestStateIndex(KvStore* store, StateTree& tree, size_t cache_max_bytes)
    : store_(store), cache_max_bytes_(cache_max_bytes) {
  auto marker = store_->Get(FlatKey({}));
  auto latest = tree.LatestVersion();
  // A store failure here only leaves the index disabled: reads then walk the tree.
  if (marker && marker->has_value() && (*marker)->size() == 8 && latest &&
      LoadU64BE((*marker)->data()) == *latest) {
    version_plus_one_.store(*latest + 1);
  }
}

std::optional<Result<std::optional<Bytes>>> LatestStateIndex::Get(ByteSpan key,
                                                                  uint64_t version) const {
  const uint64_t plus_one = version_plus_one_.load();
  if (plus_one == 0 || plus_one - 1 != version) return std::nullopt;
  const std::string_view cache_key = AsStringView(key);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(cache_key);
    if (it != cache_.end() && version_plus_one_.load() == plus_one) {
      return Result<std::optional<Bytes>>(std::optional<Bytes>(it->second));
    }
  }
  auto value = store_->Get(FlatKey(key));
  if (!value) return Result<std::optional<Bytes>>(std::unexpected(value.error()));
  std::lock_guard lock(mu_);
  // A commit of the next version may have started while the store was read (its batch may already
  // be visible): the value may be newer than `version`, so the caller walks the tree instead.
  if (version_plus_one_.load() != plus_one) return std::nullopt;
  if (value->has_value()) CachePut(cache_key, **value);
  return Result<std::optional<Bytes>>(std::move(*value));
}

void LatestStateIndex::CachePut(std::string_view key, const Bytes& value) const {
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    cache_bytes_ = cache_bytes_ - it->second.size() + value.size();
    it->second = value;
    return;
  }
  size_t bytes = key.size() + value.size() + kCacheEntryOverheadBytes;
  if (cache_bytes_ + bytes > cache_max_bytes_) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  cache_.emplace(std::string(key), value);
  cache_bytes_ += bytes;
}

void LatestStateIndex::Commit(uint64_t height, const std::vector<StateChange>& changes,
                              WriteBatch* batch) {
  const uint64_t plus_one = version_plus_one_.load();
  if (height != 0 && plus_one != height) {
    // Versions were committed without the index (or it never saw genesis): it cannot be completed
    // from here, so it stays disabled and writes nothing.
    version_plus_one_.store(0);
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& c : changes) {
    const std::string_view cache_key = AsStringView(c.key);
    if (c.value) {
      batch->Put(FlatKey(c.key), *c.value);
      if (CacheOnCommit(c.key)) {
        CachePut(cache_key, *c.value);
      } else if (auto it = cache_.find(cache_key); it != cache_.end()) {
        cache_bytes_ = cache_bytes_ - it->second.size() + c.value->size();
        it->second = *c.value;
      }
    } else {
      auto it = cache_.find(cache_key);
      batch->Delete(FlatKey(c.key));
      if (it != cache_.end()) {
        cache_bytes_ -= cache_key.size() + it->second.size() + kCacheEntryOverheadBytes;
        cache_.erase(it);
      }
    }
  }
  Bytes marker;
  AppendU64BE(marker, height);
  batch->Put(FlatKey({}), marker);
  // Readers of the previous version that overlap this commit fall back to the tree from now on.
  version_plus_one_.store(height + 1);
}

Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                             const std::vector<StateChange>& changes, WriteBatch* batch,
                             LatestStateIndex* index) {
  std::vector<StateWrite> writes;
  writes.reserve(changes.size());
  for (const auto& c : changes)
    writes.push_back(StateWrite{c.key, c.value});
  auto root = tree.Apply(height, writes, batch);
  if (root && index != nullptr) index->Commit(height, changes, batch);
  return root;
}

}  // namespace cl::ledger
