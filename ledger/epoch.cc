#include "ledger/epoch.h"

#include <algorithm>

#include "ledger/ledger_state.h"
#include "ledger/merkle.h"
#include "util/assert.h"

namespace cl::ledger {

Hash32 ValidatorSetHash(std::span<const crypto::PublicKey> keys) {
  std::vector<Bytes> leaves;
  leaves.reserve(keys.size());
  for (const crypto::PublicKey& k : keys)
    leaves.emplace_back(k.bytes.begin(), k.bytes.end());
  return MerkleRoot(leaves);
}

namespace {

Status CheckSet(const pb::ValidatorSetRecord& set) {
  if (set.validators_size() == 0 ||
      static_cast<uint32_t>(set.validators_size()) > kMaxValidatorsPerSet) {
    return MakeError(ErrorCode::kCorruption, "epoch record: validator count out of range");
  }
  uint32_t last = 0;
  for (const pb::EpochValidator& v : set.validators()) {
    if (v.member() <= last)
      return MakeError(ErrorCode::kCorruption, "epoch record: validators not by member id");
    last = v.member();
    if (!crypto::PublicKey::Parse(AsSpan(v.node_key())))
      return MakeError(ErrorCode::kCorruption, "epoch record: a node key is not a valid key");
  }
  return OkStatus();
}

template <class Record>
Result<std::optional<Record>> GetRecord(const StateGetter& get, const Bytes& key) {
  auto raw = get(key);
  if (!raw) return std::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<Record>();
  Record rec;
  if (!rec.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())))
    return MakeError(ErrorCode::kCorruption, "state record does not parse");
  return std::optional<Record>(std::move(rec));
}

}  // namespace

pb::ValidatorSetRecord ValidatorsOfMembers(std::span<const pb::MemberRecord> members) {
  std::vector<const pb::MemberRecord*> sorted;
  for (const pb::MemberRecord& m : members) {
    if ((m.roles() & pb::ROLE_VALIDATOR) && m.removed_height() == 0) sorted.push_back(&m);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const pb::MemberRecord* a, const pb::MemberRecord* b) { return a->id() < b->id(); });
  pb::ValidatorSetRecord set;
  for (const pb::MemberRecord* m : sorted) {
    pb::EpochValidator* v = set.add_validators();
    v->set_member(m->id());
    v->set_node_key(m->node_key());
  }
  return set;
}

Result<pb::EpochRecord> ReadEpochRecord(const StateGetter& get) {
  auto stored = GetRecord<pb::EpochRecord>(get, keys::Epoch());
  if (!stored) return std::unexpected(stored.error());
  if (stored->has_value()) {
    pb::EpochRecord& r = **stored;
    if (!r.has_current()) return MakeError(ErrorCode::kCorruption, "epoch record: no current set");
    if (Status s = CheckSet(r.current()); !s) return std::unexpected(s.error());
    if (r.has_next()) {
      if (Status s = CheckSet(r.next()); !s) return std::unexpected(s.error());
      if (r.next().epoch() != r.current().epoch() + 1 ||
          r.next().activation_height() <= r.current().activation_height()) {
        return MakeError(ErrorCode::kCorruption, "epoch record: next set out of order");
      }
    }
    return std::move(r);
  }
  auto gov = GetRecord<pb::GovernanceRecord>(get, keys::Governance());
  if (!gov) return std::unexpected(gov.error());
  if (!gov->has_value()) return MakeError(ErrorCode::kCorruption, "no governance record");
  std::vector<pb::MemberRecord> members;
  for (uint32_t id : (*gov)->members()) {
    auto m = GetRecord<pb::MemberRecord>(get, keys::Member(id));
    if (!m) return std::unexpected(m.error());
    if (!m->has_value())
      return MakeError(ErrorCode::kCorruption, "governance names a missing member");
    members.push_back(std::move(**m));
  }
  pb::EpochRecord r;
  *r.mutable_current() = ValidatorsOfMembers(members);
  r.mutable_current()->set_activation_height(1);
  if (Status s = CheckSet(r.current()); !s) return std::unexpected(s.error());
  return r;
}

Result<pb::EpochRecord> ReadEpochRecord(const StateReader& state) {
  return ReadEpochRecord([&state](const Bytes& key) { return state.Get(ByteSpan(key)); });
}

const pb::ValidatorSetRecord& SetForHeight(const pb::EpochRecord& record, uint64_t height) {
  if (record.has_next() && height >= record.next().activation_height()) return record.next();
  return record.current();
}

std::vector<crypto::PublicKey> SetKeys(const pb::ValidatorSetRecord& set) {
  std::vector<crypto::PublicKey> keys;
  keys.reserve(set.validators_size());
  for (const pb::EpochValidator& v : set.validators()) {
    auto k = crypto::PublicKey::Parse(AsSpan(v.node_key()));
    LEDGER_ASSERT(k.has_value());
    keys.push_back(*k);
  }
  return keys;
}

}  // namespace cl::ledger
