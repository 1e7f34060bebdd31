#include "ledger/ledger_state.h"

#include <algorithm>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

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
Bytes Epoch() {
  return Bytes{kEpoch};
}
Bytes RetiredKey(std::string_view node_key) {
  return WithPrefix(kRetiredKey, node_key);
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

// Protobuf's wire format, as far as the codecs below use it.
constexpr uint8_t kWireVarint = 0;
constexpr uint8_t kWireLength = 2;
constexpr int kMaxVarintBytes = 10;

size_t VarintSize(uint64_t v) {
  // 1 + floor(log2(v) / 7), and 1 for 0.
  return 1 + static_cast<size_t>((63 - __builtin_clzll(v | 1)) / 7);
}

// Reads a minimal varint (what protobuf writes); false when truncated, over-long (beyond 10
// bytes or 64 bits) or padded with a trailing zero group.
bool ReadCanonicalVarint(const uint8_t*& p, const uint8_t* end, uint64_t* v) {
  if (p < end && *p < 0x80) {
    *v = *p++;
    return true;
  }
  uint64_t result = 0;
  for (int i = 0; i < kMaxVarintBytes && p < end; ++i) {
    const uint8_t byte = *p++;
    if (i == kMaxVarintBytes - 1 && byte > 1) return false;  // past 64 bits
    result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      if (byte == 0) return false;  // a zero last group: not minimal
      *v = result;
      return true;
    }
  }
  return false;
}

// A length-delimited field's contents; false when the length is not minimal or passes the end.
bool ReadCanonicalLength(const uint8_t*& p, const uint8_t* end, ByteSpan* out) {
  uint64_t n = 0;
  if (!ReadCanonicalVarint(p, end, &n) || n > static_cast<uint64_t>(end - p)) return false;
  *out = ByteSpan(p, static_cast<size_t>(n));
  p += n;
  return true;
}

bool IsAscii(ByteSpan s) {
  for (uint8_t c : s) {
    if (c & 0x80) return false;
  }
  return true;
}

// Reads the next field's tag (a minimal varint; field numbers here are below 32).
bool ReadTag(const uint8_t*& p, const uint8_t* end, uint32_t* field, uint8_t* wire) {
  uint64_t tag = 0;
  if (!ReadCanonicalVarint(p, end, &tag) || tag >= 32 << 3) return false;
  *field = static_cast<uint32_t>(tag >> 3);
  *wire = static_cast<uint8_t>(tag & 7);
  return *field != 0;
}

// A canonical Controller: threshold (1, a non-zero uint32) at most once, then keys (2) entries.
bool DecodeController(ByteSpan raw, uint32_t* threshold, ByteSpan* keys) {
  const uint8_t* p = raw.data();
  const uint8_t* end = p + raw.size();
  *threshold = 0;
  if (p < end && *p == (1 << 3 | kWireVarint)) {
    ++p;
    uint64_t v = 0;
    if (!ReadCanonicalVarint(p, end, &v) || v == 0 || v > UINT32_MAX) return false;
    *threshold = static_cast<uint32_t>(v);
  }
  *keys = ByteSpan(p, static_cast<size_t>(end - p));
  while (p < end) {
    if (*p++ != (2 << 3 | kWireLength)) return false;
    ByteSpan key;
    if (!ReadCanonicalLength(p, end, &key)) return false;
  }
  return true;
}

// The two passes of an encoding: a Sizer counts the bytes the Writer then writes into a buffer
// of exactly that size. One field list (a template over the sink) serves both, so they cannot
// disagree.
class Sizer {
 public:
  size_t size() const { return n_; }
  void Varint(uint64_t v) { n_ += VarintSize(v); }
  void Raw(ByteSpan s) { n_ += s.size(); }

 private:
  size_t n_ = 0;
};

class Writer {
 public:
  explicit Writer(uint8_t* p) : p_(p) {}
  uint8_t* pos() const { return p_; }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<uint8_t>(v);
  }
  void Raw(ByteSpan s) {
    if (!s.empty()) std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }

 private:
  uint8_t* p_;
};

template <class Sink>
void Tag(Sink& out, uint32_t field, uint8_t wire) {
  out.Varint(field << 3 | wire);
}
// proto3 scalars: written only when not the default.
template <class Sink>
void VarintField(Sink& out, uint32_t field, uint64_t v) {
  if (v == 0) return;
  Tag(out, field, kWireVarint);
  out.Varint(v);
}
template <class Sink>
void BytesField(Sink& out, uint32_t field, std::string_view s) {
  if (s.empty()) return;
  Tag(out, field, kWireLength);
  out.Varint(s.size());
  out.Raw(AsSpan(s));
}
// A set sub-message is written even when empty.
template <class Sink, class Body>
void MessageField(Sink& out, uint32_t field, const Body& body) {
  Sizer sizer;
  body(sizer);
  Tag(out, field, kWireLength);
  out.Varint(sizer.size());
  body(out);
}

// Sizes *out for `fields` (a generic callable taking a sink), then writes them into it.
template <class Fields>
void Encode(const Fields& fields, Bytes* out) {
  Sizer sizer;
  fields(sizer);
  out->resize(sizer.size());
  Writer writer(out->data());
  fields(writer);
  LEDGER_ASSERT(writer.pos() == out->data() + out->size());
}

}  // namespace

bool DecodeAccountFields(ByteSpan raw, AccountFields* out) {
  AccountFields a;
  const uint8_t* p = raw.data();
  const uint8_t* end = p + raw.size();
  uint32_t last_field = 0;
  while (p < end) {
    uint32_t field = 0;
    uint8_t wire = 0;
    if (!ReadTag(p, end, &field, &wire) || field <= last_field) return false;
    last_field = field;
    if (field <= 3) {  // id, asset, controller
      ByteSpan bytes;
      if (wire != kWireLength || !ReadCanonicalLength(p, end, &bytes)) return false;
      if (field == 1) {
        if (bytes.empty()) return false;
        a.id = AsStringView(bytes);
      } else if (field == 2) {
        // A proto3 string must be UTF-8: ASCII is, anything else is left to protobuf.
        if (bytes.empty() || !IsAscii(bytes)) return false;
        a.asset = AsStringView(bytes);
      } else {
        a.has_controller = true;
        if (!DecodeController(bytes, &a.controller_threshold, &a.controller_keys)) return false;
      }
      continue;
    }
    uint64_t v = 0;
    if (field > 19 || wire != kWireVarint || !ReadCanonicalVarint(p, end, &v) || v == 0) {
      return false;
    }
    if (field == 4 || field == 5) {  // uint32
      if (v > UINT32_MAX) return false;
      (field == 4 ? a.custodian : a.flags) = static_cast<uint32_t>(v);
      continue;
    }
    if (field >= 9 && field <= 12) {  // bool: protobuf writes true as 1
      if (v != 1) return false;
      bool* flag[] = {&a.issuer, &a.debits_frozen, &a.credits_frozen, &a.closed};
      *flag[field - 9] = true;
      continue;
    }
    uint64_t* u64[] = {&a.overdraft_limit,
                       &a.max_per_transfer,
                       &a.max_outflow_per_day,
                       nullptr,
                       nullptr,
                       nullptr,
                       nullptr,
                       &a.debits_posted,
                       &a.credits_posted,
                       &a.debits_pending,
                       &a.credits_pending,
                       &a.outflow_day,
                       &a.outflow_today,
                       &a.created_height};
    *u64[field - 6] = v;
  }
  *out = a;
  return true;
}

AccountFields AccountFieldsOf(const pb::AccountRecord& a) {
  AccountFields f;
  f.id = a.id();
  f.asset = a.asset();
  f.custodian = a.custodian();
  f.flags = a.flags();
  f.overdraft_limit = a.overdraft_limit();
  f.max_per_transfer = a.max_per_transfer();
  f.max_outflow_per_day = a.max_outflow_per_day();
  f.issuer = a.issuer();
  f.debits_frozen = a.debits_frozen();
  f.credits_frozen = a.credits_frozen();
  f.closed = a.closed();
  f.debits_posted = a.debits_posted();
  f.credits_posted = a.credits_posted();
  f.debits_pending = a.debits_pending();
  f.credits_pending = a.credits_pending();
  f.outflow_day = a.outflow_day();
  f.outflow_today = a.outflow_today();
  f.created_height = a.created_height();
  return f;
}

void EncodeAccountFields(const AccountFields& a, Bytes* out) {
  Encode(
      [&a](auto& w) {
        BytesField(w, 1, a.id);
        BytesField(w, 2, a.asset);
        if (a.has_controller) {
          MessageField(w, 3, [&a](auto& c) {
            VarintField(c, 1, a.controller_threshold);
            c.Raw(a.controller_keys);
          });
        }
        VarintField(w, 4, a.custodian);
        VarintField(w, 5, a.flags);
        VarintField(w, 6, a.overdraft_limit);
        VarintField(w, 7, a.max_per_transfer);
        VarintField(w, 8, a.max_outflow_per_day);
        VarintField(w, 9, a.issuer);
        VarintField(w, 10, a.debits_frozen);
        VarintField(w, 11, a.credits_frozen);
        VarintField(w, 12, a.closed);
        VarintField(w, 13, a.debits_posted);
        VarintField(w, 14, a.credits_posted);
        VarintField(w, 15, a.debits_pending);
        VarintField(w, 16, a.credits_pending);
        VarintField(w, 17, a.outflow_day);
        VarintField(w, 18, a.outflow_today);
        VarintField(w, 19, a.created_height);
      },
      out);
}

bool DecodeTransferFields(ByteSpan raw, TransferFields* out) {
  TransferFields t;
  const uint8_t* p = raw.data();
  const uint8_t* end = p + raw.size();
  uint32_t last_field = 0;
  while (p < end) {
    uint32_t field = 0;
    uint8_t wire = 0;
    if (!ReadTag(p, end, &field, &wire) || field <= last_field) return false;
    last_field = field;
    if (field == 1) {  // the Transfer
      ByteSpan transfer;
      if (wire != kWireLength || !ReadCanonicalLength(p, end, &transfer)) return false;
      const uint8_t* q = transfer.data();
      const uint8_t* tend = q + transfer.size();
      uint32_t last = 0;
      while (q < tend) {
        uint32_t f = 0;
        uint8_t w = 0;
        if (!ReadTag(q, tend, &f, &w) || f <= last || f > 11) return false;
        last = f;
        const bool is_varint = f == 4 || f == 9 || f == 10;
        if (w != (is_varint ? kWireVarint : kWireLength)) return false;
        if (is_varint) {
          uint64_t v = 0;
          if (!ReadCanonicalVarint(q, tend, &v) || v == 0 || (f == 9 && v != 1)) return false;
          if (f == 4) t.amount = v;
          continue;
        }
        ByteSpan bytes;
        if (!ReadCanonicalLength(q, tend, &bytes) || bytes.empty()) return false;
        if ((f == 6 || f == 7) && !IsAscii(bytes)) return false;  // strings: left to protobuf
        if (f == 1) t.id = AsStringView(bytes);
        if (f == 2) t.debit_account = AsStringView(bytes);
        if (f == 3) t.credit_account = AsStringView(bytes);
      }
      continue;
    }
    if (field > 8) return false;
    if (field >= 7) {  // pending_id, preimage
      ByteSpan bytes;
      if (wire != kWireLength || !ReadCanonicalLength(p, end, &bytes) || bytes.empty()) {
        return false;
      }
      continue;
    }
    uint64_t v = 0;
    if (wire != kWireVarint || !ReadCanonicalVarint(p, end, &v) || v == 0) return false;
    if (field == 2) {  // the state: an enum value this node knows
      if (!pb::TransferState_IsValid(static_cast<int>(std::min<uint64_t>(v, INT32_MAX)))) {
        return false;
      }
      t.state = static_cast<pb::TransferState>(v);
    }
  }
  *out = t;
  return true;
}

bool EncodeNewTransferRecord(const pb::Transfer& op, pb::TransferState state, uint64_t height,
                             uint64_t deadline_s, Bytes* out) {
  if (!op.GetReflection()->GetUnknownFields(op).empty() || state < 0) return false;
  Encode(
      [&](auto& w) {
        MessageField(w, 1, [&op](auto& t) {
          BytesField(t, 1, op.id());
          BytesField(t, 2, op.debit_account());
          BytesField(t, 3, op.credit_account());
          VarintField(t, 4, op.amount());
          BytesField(t, 5, op.uetr());
          BytesField(t, 6, op.end_to_end_id());
          BytesField(t, 7, op.purpose());
          BytesField(t, 8, op.memo());
          VarintField(t, 9, op.pending());
          VarintField(t, 10, op.timeout_s());
          BytesField(t, 11, op.hash_lock());
        });
        VarintField(w, 2, static_cast<uint64_t>(state));
        VarintField(w, 3, height);
        VarintField(w, 4, deadline_s);
      },
      out);
  return true;
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
