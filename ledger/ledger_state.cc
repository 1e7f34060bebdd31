#include "ledger/ledger_state.h"

#include <algorithm>

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

Result<const std::optional<Bytes>*> LedgerState::Find(const Bytes& key) const {
  auto it = writes_.find(key);
  if (it != writes_.end()) return &it->second;
  return BaseFind(key);
}

Result<const std::optional<Bytes>*> LedgerState::BaseFind(const Bytes& key) const {
  auto cached = base_cache_.find(key);
  if (cached != base_cache_.end()) return &cached->second;
  auto value = base_.Get(key);
  if (!value) return std::unexpected(value.error());
  return &base_cache_.emplace(key, std::move(*value)).first->second;
}

Result<std::optional<Bytes>> LedgerState::Get(const Bytes& key) const {
  auto found = Find(key);
  if (!found) return std::unexpected(found.error());
  return **found;
}

Result<std::optional<Bytes>> LedgerState::BaseGet(const Bytes& key) const {
  auto found = BaseFind(key);
  if (!found) return std::unexpected(found.error());
  return **found;
}

void LedgerState::Record(const Bytes& key) {
  auto it = writes_.find(key);
  if (it == writes_.end()) {
    journal_.push_back(Undo{key, false, std::nullopt});
  } else {
    journal_.push_back(Undo{key, true, it->second});
  }
}

void LedgerState::Put(const Bytes& key, Bytes value) {
  Record(key);
  writes_.insert_or_assign(key, std::optional<Bytes>(std::move(value)));
}

void LedgerState::Delete(const Bytes& key) {
  Record(key);
  writes_.insert_or_assign(key, std::optional<Bytes>());
}

void LedgerState::RollbackTo(size_t savepoint) {
  LEDGER_ASSERT(savepoint <= journal_.size());
  while (journal_.size() > savepoint) {
    Undo& u = journal_.back();
    if (u.had_entry) {
      writes_.insert_or_assign(u.key, std::move(u.previous));
    } else {
      writes_.erase(u.key);
    }
    journal_.pop_back();
  }
}

std::vector<StateChange> LedgerState::TakeChanges() const {
  std::vector<StateChange> out;
  out.reserve(writes_.size());
  for (const auto& [k, v] : writes_)
    out.push_back(StateChange{k, v});
  std::sort(out.begin(), out.end(),
            [](const StateChange& a, const StateChange& b) { return BytesLess()(a.key, b.key); });
  return out;
}

}  // namespace cl::ledger
