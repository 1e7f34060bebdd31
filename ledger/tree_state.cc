#include "ledger/tree_state.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "ledger/ledger_state.h"
#include "util/assert.h"

namespace cl::ledger {
namespace {

// Replaces out's content (a reused buffer) with the store key of `key`'s flat entry.
void EncodeFlatKey(ByteSpan key, Bytes& out) {
  // Sized and filled with memcpy (vector::insert of a char range trips a GCC 12 false
  // -Wstringop-overflow).
  out.resize(kLatestValuePrefix.size() + key.size());
  std::memcpy(out.data(), kLatestValuePrefix.data(), kLatestValuePrefix.size());
  if (!key.empty()) std::memcpy(out.data() + kLatestValuePrefix.size(), key.data(), key.size());
}

Bytes FlatKey(ByteSpan key) {
  Bytes k;
  EncodeFlatKey(key, k);
  return k;
}

// Bytes a cache entry is counted beyond its key and value (table slots at the load factor, block
// header, allocator overhead), rounded up.
constexpr size_t kCacheEntryOverheadBytes = 96;
// The value cache's table holds at most this fraction of full slots (linear probing slows beyond).
constexpr size_t kMaxLoadPercent = 70;
constexpr size_t kMinCacheSlots = 64;

// A cache block's sizes, in host byte order (memory only, never stored).
uint32_t ReadSize(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
void WriteSize(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

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

uint64_t LatestValueCache::Hash(std::string_view key) {
  return std::hash<std::string_view>()(key);
}

std::string_view LatestValueCache::KeyOf(const Slot& slot) {
  const uint8_t* b = slot.block.get();
  return std::string_view(reinterpret_cast<const char*>(b + 8), ReadSize(b));
}

ByteSpan LatestValueCache::ValueOf(const Slot& slot) {
  const uint8_t* b = slot.block.get();
  return ByteSpan(b + 8 + ReadSize(b), ReadSize(b + 4));
}

size_t LatestValueCache::EntryBytes(size_t key_size, size_t value_size) {
  return key_size + value_size + kCacheEntryOverheadBytes;
}

size_t LatestValueCache::Probe(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.block || (s.hash == hash && KeyOf(s) == key)) return i;
  }
}

void LatestValueCache::SetBlock(Slot& slot, std::string_view key, ByteSpan value) {
  LEDGER_ASSERT(key.size() <= UINT32_MAX && value.size() <= UINT32_MAX);
  if (slot.block && KeyOf(slot) == key && ValueOf(slot).size() == value.size()) {
    // The same key with a value of the same size (an account whose balance changed): in place.
    if (!value.empty()) std::memcpy(slot.block.get() + 8 + key.size(), value.data(), value.size());
    return;
  }
  auto block = std::make_unique_for_overwrite<uint8_t[]>(8 + key.size() + value.size());
  WriteSize(block.get(), static_cast<uint32_t>(key.size()));
  WriteSize(block.get() + 4, static_cast<uint32_t>(value.size()));
  if (!key.empty()) std::memcpy(block.get() + 8, key.data(), key.size());
  if (!value.empty()) std::memcpy(block.get() + 8 + key.size(), value.data(), value.size());
  slot.block = std::move(block);
}

bool LatestValueCache::Get(std::string_view key, Bytes* out) const {
  if (count_ == 0) return false;
  const Slot& s = slots_[Probe(key, Hash(key))];
  if (!s.block) return false;
  ByteSpan v = ValueOf(s);
  out->assign(v.begin(), v.end());
  return true;
}

void LatestValueCache::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_ = std::vector<Slot>(std::max(kMinCacheSlots, old.size() * 2));
  for (Slot& s : old) {
    if (s.block) slots_[Probe(KeyOf(s), s.hash)] = std::move(s);
  }
}

void LatestValueCache::Put(std::string_view key, ByteSpan value) {
  const uint64_t hash = Hash(key);
  if (count_ != 0) {
    Slot& s = slots_[Probe(key, hash)];
    if (s.block) {
      bytes_ = bytes_ - ValueOf(s).size() + value.size();
      SetBlock(s, key, value);
      return;
    }
  }
  const size_t entry = EntryBytes(key.size(), value.size());
  if (bytes_ + entry > max_bytes_) Clear();
  if ((count_ + 1) * 100 > slots_.size() * kMaxLoadPercent) Grow();
  Slot& s = slots_[Probe(key, hash)];
  s.hash = hash;
  SetBlock(s, key, value);
  ++count_;
  bytes_ += entry;
}

void LatestValueCache::Update(std::string_view key, ByteSpan value) {
  if (count_ == 0) return;
  Slot& s = slots_[Probe(key, Hash(key))];
  if (!s.block) return;
  bytes_ = bytes_ - ValueOf(s).size() + value.size();
  SetBlock(s, key, value);
}

void LatestValueCache::Erase(std::string_view key) {
  if (count_ == 0) return;
  const size_t mask = slots_.size() - 1;
  size_t i = Probe(key, Hash(key));
  if (!slots_[i].block) return;
  bytes_ -= EntryBytes(key.size(), ValueOf(slots_[i]).size());
  --count_;
  slots_[i].block.reset();
  // Backward-shift deletion: move later entries of the probe run into the hole when their home
  // slot does not lie cyclically in (hole, their slot], so every entry stays reachable.
  for (size_t j = (i + 1) & mask; slots_[j].block; j = (j + 1) & mask) {
    const size_t home = slots_[j].hash & mask;
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    slots_[i] = std::move(slots_[j]);
    i = j;
  }
}

void LatestValueCache::Clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  count_ = 0;
  bytes_ = 0;
}

LatestStateIndex::LatestStateIndex(KvStore* store, StateTree& tree, size_t cache_max_bytes)
    : store_(store), cache_(cache_max_bytes) {
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
    Bytes cached;
    if (cache_.Get(cache_key, &cached) && version_plus_one_.load() == plus_one) {
      return Result<std::optional<Bytes>>(std::optional<Bytes>(std::move(cached)));
    }
  }
  auto value = store_->Get(FlatKey(key));
  if (!value) return Result<std::optional<Bytes>>(std::unexpected(value.error()));
  std::lock_guard lock(mu_);
  // A commit of the next version may have started while the store was read (its batch may already
  // be visible): the value may be newer than `version`, so the caller walks the tree instead.
  if (version_plus_one_.load() != plus_one) return std::nullopt;
  if (value->has_value()) cache_.Put(cache_key, **value);
  return Result<std::optional<Bytes>>(std::move(*value));
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
  Bytes flat_key;  // reused for every change
  for (const auto& c : changes) {
    const std::string_view cache_key = AsStringView(c.key);
    EncodeFlatKey(c.key, flat_key);
    if (c.value) {
      batch->Put(flat_key, *c.value);
      if (CacheOnCommit(c.key)) {
        cache_.Put(cache_key, *c.value);
      } else {
        cache_.Update(cache_key, *c.value);
      }
    } else {
      batch->Delete(flat_key);
      cache_.Erase(cache_key);
    }
  }
  Bytes marker;
  AppendU64BE(marker, height);
  batch->Put(FlatKey({}), marker);
  // Readers of the previous version that overlap this commit fall back to the tree from now on.
  version_plus_one_.store(height + 1);
}

Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                             const std::vector<StateChange>& changes, WriteBatch* tree_batch,
                             WriteBatch* batch, LatestStateIndex* index) {
  auto root = tree.Apply(height, changes, tree_batch);
  if (root && index != nullptr) index->Commit(height, changes, batch);
  return root;
}

}  // namespace cl::ledger
