// The ledger's state layout (which key holds which record) and LedgerState, the block's write
// overlay over committed state with savepoints, so a failed linked chain rolls back without a
// trace.
//
// Key layout (the keys are hashed into the state root: DO NOT CHANGE):
//   'a' || account id (16)              -> AccountRecord
//   't' || transfer id (16)             -> TransferRecord (transfers, holds, posts, voids)
//   's' || asset code                   -> AssetRecord
//   'm' || u32be member id              -> MemberRecord
//   'g'                                 -> GovernanceRecord
//   'h'                                 -> HoldIndexMeta
//   'e' || u64be second                 -> u32be number of holds with that deadline second
//   'f' || u64be second || u32be index  -> the hold's transfer id (16)
//   'x' || tx id (32)                   -> u64be height where the transaction was executed
//
// Records are protobuf messages (ledger.proto) with deterministic serialization.
//
// Thread safety: not thread-safe; one block executes on one thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/ledger.pb.h"
#include "ledger/state_reader.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

namespace keys {
inline constexpr uint8_t kAccount = 'a';
inline constexpr uint8_t kTransfer = 't';
inline constexpr uint8_t kAsset = 's';
inline constexpr uint8_t kMember = 'm';
inline constexpr uint8_t kGovernance = 'g';
inline constexpr uint8_t kHoldMeta = 'h';
inline constexpr uint8_t kExpiryCount = 'e';
inline constexpr uint8_t kExpiryItem = 'f';
inline constexpr uint8_t kTxSeen = 'x';

Bytes Account(std::string_view id);
Bytes Transfer(std::string_view id);
Bytes Asset(std::string_view code);
Bytes Member(uint32_t id);
Bytes Governance();
Bytes HoldMeta();
Bytes ExpiryCount(uint64_t second);
Bytes ExpiryItem(uint64_t second, uint32_t index);
Bytes TxSeen(const Hash32& tx_id);
}  // namespace keys

// Serializes a record deterministically (the bytes hashed into the state tree).
Bytes SerializeRecord(const google::protobuf::Message& msg);

// Hash of a byte string, for the block's in-memory lookups (never iterated where order matters).
struct BytesHash {
  size_t operator()(const Bytes& b) const {
    return std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  }
};

class LedgerState {
 public:
  explicit LedgerState(const StateReader& base) : base_(base) {}

  Result<std::optional<Bytes>> Get(const Bytes& key) const;
  void Put(const Bytes& key, Bytes value);
  void Delete(const Bytes& key);

  // Typed access; a record that fails to parse is corruption (an error, fatal for the block).
  template <class Record>
  Result<std::optional<Record>> GetRecord(const Bytes& key) const {
    auto raw = Find(key);  // parsed in place: no copy of the value
    if (!raw) return std::unexpected(raw.error());
    if (!(*raw)->has_value()) return std::optional<Record>();
    Record rec;
    const Bytes& bytes = **raw.value();
    if (!rec.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return MakeError(ErrorCode::kCorruption, "state record does not parse");
    }
    return std::optional<Record>(std::move(rec));
  }
  void PutRecord(const Bytes& key, const google::protobuf::Message& msg) {
    Put(key, SerializeRecord(msg));
  }

  Result<std::optional<pb::AccountRecord>> GetAccount(std::string_view id) const {
    return GetRecord<pb::AccountRecord>(keys::Account(id));
  }
  void PutAccount(const pb::AccountRecord& rec) { PutRecord(keys::Account(rec.id()), rec); }
  Result<std::optional<pb::TransferRecord>> GetTransfer(std::string_view id) const {
    return GetRecord<pb::TransferRecord>(keys::Transfer(id));
  }
  void PutTransfer(const pb::TransferRecord& rec) {
    PutRecord(keys::Transfer(rec.transfer().id()), rec);
  }

  // Savepoints: RollbackTo undoes every write made since the savepoint was taken.
  size_t Savepoint() const { return journal_.size(); }
  void RollbackTo(size_t savepoint);
  // Forgets undo information (after a chain commits); earlier savepoints become invalid.
  void ReleaseSavepoints() { journal_.clear(); }

  // The block's writes so far, in no particular order (TakeChanges sorts them).
  using WriteMap = std::unordered_map<Bytes, std::optional<Bytes>, BytesHash>;
  const WriteMap& writes() const { return writes_; }
  const StateReader& base() const { return base_; }
  // The committed value (ignoring this block's writes), served from the read cache when this block
  // already read the key: the invariant check compares before and after without re-reading.
  Result<std::optional<Bytes>> BaseGet(const Bytes& key) const;
  // The block's changes sorted by key, each key once.
  std::vector<StateChange> TakeChanges() const;

 private:
  struct Undo {
    Bytes key;
    bool had_entry;
    std::optional<Bytes> previous;
  };
  void Record(const Bytes& key);
  // The current value (this block's write, else the committed one), by pointer into writes_ or
  // base_cache_ (stable: unordered_map nodes do not move); valid until the next write of the key.
  Result<const std::optional<Bytes>*> Find(const Bytes& key) const;
  Result<const std::optional<Bytes>*> BaseFind(const Bytes& key) const;

  const StateReader& base_;
  // Hash maps: lookups are the executor's hottest path, and ordered maps of ~30,000 byte-string
  // keys per block cost more in comparisons than the rest of a transfer.
  WriteMap writes_;
  std::vector<Undo> journal_;
  // Committed values this block has read (reads of the tree are the executor's main cost).
  mutable WriteMap base_cache_;
};

}  // namespace cl::ledger
