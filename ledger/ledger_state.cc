#include "ledger/ledger_state.h"

#include <algorithm>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "util/assert.h"

namespace cl::ledger {
namespace keys {
namespace {
Bytes WithPrefix(uint8_t prefix, std::string_view rest) {
  Bytes k;
  k.reserve(1 + rest.size());
  k.push_back(prefix);
  k.insert(k.end(), rest.begin(), rest.end());
  return k;
}
}  // namespace

Bytes Account(std::string_view id) {
  return WithPrefix(kAccount, id);
}
Bytes Transfer(std::string_view id) {
  return WithPrefix(kTransfer, id);
}
Bytes Asset(std::string_view code) {
  return WithPrefix(kAsset, code);
}
Bytes Member(uint32_t id) {
  Bytes k{kMember};
  AppendU32BE(k, id);
  return k;
}
Bytes Governance() {
  return Bytes{kGovernance};
}
Bytes HoldMeta() {
  return Bytes{kHoldMeta};
}
Bytes ExpiryCount(uint64_t second) {
  Bytes k{kExpiryCount};
  AppendU64BE(k, second);
  return k;
}
Bytes ExpiryItem(uint64_t second, uint32_t index) {
  Bytes k{kExpiryItem};
  AppendU64BE(k, second);
  AppendU32BE(k, index);
  return k;
}
Bytes TxSeen(const Hash32& tx_id) {
  Bytes k{kTxSeen};
  Append(k, tx_id.span());
  return k;
}
}  // namespace keys

Bytes SerializeRecord(const google::protobuf::Message& msg) {
  // Straight into the result buffer (no std::string and copy): the same deterministic encoder and
  // bytes as SerializeToCodedStream, which computes the same size and calls the same writer.
  LEDGER_ASSERT(msg.IsInitialized());
  const size_t size = msg.ByteSizeLong();
  Bytes out(size);
  google::protobuf::io::ArrayOutputStream stream(out.data(), static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  msg.SerializeWithCachedSizes(&coded);
  LEDGER_ASSERT(!coded.HadError() && static_cast<size_t>(coded.ByteCount()) == size);
  return out;
}

namespace {
constexpr size_t kMinIndexEntries = 64;
}  // namespace

void LedgerState::Reserve(size_t keys) {
  if (2 * keys > index_.size()) GrowIndex(2 * keys);
}

void LedgerState::GrowIndex(size_t min_entries) const {
  size_t n = std::max(kMinIndexEntries, index_.size());
  while (n < min_entries)
    n *= 2;
  std::vector<IndexEntry> grown(n);
  const size_t mask = n - 1;
  for (const IndexEntry& e : index_) {
    if (e.slot == nullptr) continue;
    size_t i = e.hash & mask;
    while (grown[i].slot != nullptr)
      i = (i + 1) & mask;
    grown[i] = e;
  }
  index_ = std::move(grown);
}

LedgerState::Slot& LedgerState::SlotFor(const Bytes& key) const {
  const std::string_view k = AsStringView(key);
  const uint64_t hash = BytesHash()(k);
  if (2 * (slots_.size() + 1) > index_.size()) GrowIndex(2 * (slots_.size() + 1));
  const size_t mask = index_.size() - 1;
  size_t i = hash & mask;
  for (; index_[i].slot != nullptr; i = (i + 1) & mask) {
    if (index_[i].hash == hash && index_[i].slot->key == k) return *index_[i].slot;
  }
  char* stored = static_cast<char*>(arena_.allocate(k.size() == 0 ? 1 : k.size(), 1));
  if (!k.empty()) std::memcpy(stored, k.data(), k.size());
  Slot& slot = slots_.emplace_back();
  slot.key = std::string_view(stored, k.size());
  index_[i] = IndexEntry{hash, &slot};
  return slot;
}

Result<const std::optional<Bytes>*> LedgerState::LoadBase(const Bytes& key, Slot& slot) const {
  if (!slot.base_loaded) {
    auto value = base_.Get(key);
    if (!value) return std::unexpected(value.error());
    slot.base = std::move(*value);
    slot.base_loaded = true;
  }
  return &slot.base;
}

Result<const std::optional<Bytes>*> LedgerState::Find(const Bytes& key) const {
  return ValueOf(key, SlotFor(key));
}

Result<std::optional<Bytes>> LedgerState::Get(const Bytes& key) const {
  auto found = Find(key);
  if (!found) return std::unexpected(found.error());
  return **found;
}

Result<std::optional<Bytes>> LedgerState::BaseGet(const Bytes& key) const {
  auto found = LoadBase(key, SlotFor(key));
  if (!found) return std::unexpected(found.error());
  return **found;
}

void LedgerState::PutSlot(Slot& slot, std::optional<Bytes> value) {
  journal_.push_back(Undo{&slot, slot.written, std::move(slot.value)});
  slot.value = std::move(value);
  slot.written = true;
}

void LedgerState::Put(const Bytes& key, Bytes value) {
  PutSlot(SlotFor(key), std::move(value));
}

void LedgerState::Delete(const Bytes& key) {
  PutSlot(SlotFor(key), std::nullopt);
}

void LedgerState::RollbackTo(size_t savepoint) {
  LEDGER_ASSERT(savepoint <= journal_.size());
  while (journal_.size() > savepoint) {
    Undo& u = journal_.back();
    u.slot->written = u.was_written;
    u.slot->value = std::move(u.previous);
    journal_.pop_back();
  }
}

Result<std::vector<LedgerState::Write>> LedgerState::SortedWrites() const {
  // Sorted by (first 24 bytes as three big-endian numbers, whole key): the same order as
  // comparing whole keys byte by byte (BytesLess, the tree's order; shorter keys are zero-padded,
  // and a tie falls back to the whole keys), with the comparisons of account and transfer keys
  // (17 bytes) on integers held in the array instead of a memcmp of keys scattered over the arena.
  struct Keyed {
    uint64_t order[3];
    Write write;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(slots_.size());
  for (Slot& slot : slots_) {
    if (!slot.written) continue;
    const std::string_view key = slot.key;
    if (!slot.base_loaded) {
      auto loaded = LoadBase(ToBytes(key), slot);
      if (!loaded) return std::unexpected(loaded.error());
    }
    uint8_t prefix[24] = {};
    std::memcpy(prefix, key.data(), std::min(key.size(), sizeof prefix));
    keyed.push_back(Keyed{{LoadU64BE(prefix), LoadU64BE(prefix + 8), LoadU64BE(prefix + 16)},
                          Write{key, &slot.base, &slot.value}});
  }
  // string_view compares bytes as unsigned char (memcmp), like BytesLess.
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    for (int i = 0; i < 3; ++i) {
      if (a.order[i] != b.order[i]) return a.order[i] < b.order[i];
    }
    return a.write.key < b.write.key;
  });
  std::vector<Write> out;
  out.reserve(keyed.size());
  for (const Keyed& k : keyed)
    out.push_back(k.write);
  return out;
}

std::vector<StateChange> LedgerState::TakeChanges() const {
  std::vector<StateChange> out;
  for (const Slot& slot : slots_) {
    if (slot.written) out.push_back(StateChange{ToBytes(slot.key), slot.value});
  }
  std::sort(out.begin(), out.end(),
            [](const StateChange& a, const StateChange& b) { return BytesLess()(a.key, b.key); });
  return out;
}

std::vector<StateChange> LedgerState::MoveChanges(const std::vector<Write>& writes) {
  std::vector<StateChange> out;
  out.reserve(writes.size());
  // Key order is random order in memory: the slots and keys a few writes ahead are prefetched.
  constexpr size_t kPrefetchAhead = 8;
  for (size_t i = 0; i < writes.size(); ++i) {
    if (i + kPrefetchAhead < writes.size()) {
      __builtin_prefetch(writes[i + kPrefetchAhead].after);
      __builtin_prefetch(writes[i + kPrefetchAhead].key.data());
    }
    const Write& w = writes[i];
    // `after` points at a slot this state owns; the cast only drops the view's const.
    out.push_back(
        StateChange{ToBytes(w.key), std::move(*const_cast<std::optional<Bytes>*>(w.after))});
  }
  return out;
}

}  // namespace cl::ledger
