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

#include <deque>
#include <map>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/ledger.pb.h"
#include "ledger/state_reader.h"
#include "util/assert.h"
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
inline constexpr uint8_t kEpoch = 'v';
inline constexpr uint8_t kRetiredKey = 'k';

Bytes Account(std::string_view id);
Bytes Transfer(std::string_view id);
Bytes Asset(std::string_view code);
Bytes Member(uint32_t id);
Bytes Governance();
Bytes HoldMeta();
Bytes ExpiryCount(uint64_t second);
Bytes ExpiryItem(uint64_t second, uint32_t index);
Bytes TxSeen(const Hash32& tx_id);
Bytes Epoch();
Bytes RetiredKey(std::string_view node_key);
}  // namespace keys

// Serializes a record deterministically (the bytes hashed into the state tree).
Bytes SerializeRecord(const google::protobuf::Message& msg);

// Hand-written codecs for the records a simple transfer reads and writes, the executor's hot path
// (protobuf's parse and serialize of two accounts and a transfer record cost more than the
// transfer's rules). They reproduce protobuf exactly on the one encoding they accept, the
// canonical one: what SerializeRecord gives for the parsed record (fields in ascending number
// order, each once, no field at its default value, minimal varints, no unknown fields, ASCII text
// in string fields). A decoder returns false on anything else, and the caller then parses with
// protobuf, which decides whether the record is corrupt. Tests compare them with protobuf on
// random records and on corruptions of them. If a field is added to one of these messages, the
// codec must learn it (a test pins the field counts).

// An AccountRecord, flat. Views point into the decoded bytes.
struct AccountFields {
  std::string_view id;
  std::string_view asset;
  bool has_controller = false;
  uint32_t controller_threshold = 0;
  ByteSpan
      controller_keys;  // the Controller's `keys` entries, encoded as stored (tag, length, key)
  uint32_t custodian = 0;
  uint32_t flags = 0;
  uint64_t overdraft_limit = 0;
  uint64_t max_per_transfer = 0;
  uint64_t max_outflow_per_day = 0;
  bool issuer = false;
  bool debits_frozen = false;
  bool credits_frozen = false;
  bool closed = false;
  uint64_t debits_posted = 0;
  uint64_t credits_posted = 0;
  uint64_t debits_pending = 0;
  uint64_t credits_pending = 0;
  uint64_t outflow_day = 0;
  uint64_t outflow_today = 0;
  uint64_t created_height = 0;
};
// Decodes a canonical AccountRecord encoding (see above); false for any other bytes.
bool DecodeAccountFields(ByteSpan raw, AccountFields* out);
// The fields of a record parsed by protobuf (the fallback for a non-canonical encoding): every
// field but the controller's (has_controller, controller_threshold, controller_keys stay unset;
// read the message's controller instead). Views point into the message.
AccountFields AccountFieldsOf(const pb::AccountRecord& a);
// Replaces *out with the bytes SerializeRecord gives for the record these fields describe
// (`controller_keys` must be canonical `keys` entries, as DecodeAccountFields yields them).
void EncodeAccountFields(const AccountFields& a, Bytes* out);

// The TransferRecord fields the invariant check reads. Views point into the decoded bytes.
struct TransferFields {
  std::string_view id;
  std::string_view debit_account;
  std::string_view credit_account;
  uint64_t amount = 0;
  pb::TransferState state = pb::TRANSFER_STATE_POSTED;
};
// Decodes a canonical TransferRecord encoding (see above); false for any other bytes.
bool DecodeTransferFields(ByteSpan raw, TransferFields* out);
// Replaces *out with the bytes SerializeRecord gives for TransferRecord{transfer = op, state,
// height, deadline_s}, the record of a transfer applied now; false (and *out unspecified) when
// `op` holds unknown fields, which only protobuf reproduces.
bool EncodeNewTransferRecord(const pb::Transfer& op, pb::TransferState state, uint64_t height,
                             uint64_t deadline_s, Bytes* out);

// Hash of a byte string, for the block's in-memory lookups (never iterated where order matters).
// Transparent: a lookup by Bytes or string_view builds no key object.
struct BytesHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  size_t operator()(const Bytes& b) const { return (*this)(AsStringView(b)); }
};

class LedgerState {
  struct Slot;

 public:
  explicit LedgerState(const StateReader& base) : base_(base) {}
  LedgerState(const LedgerState&) = delete;
  LedgerState& operator=(const LedgerState&) = delete;

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
  // Names one key's entry in this block's state, so that a read and the write after it look the
  // key up once. Valid as long as the state.
  class KeyRef {
   private:
    friend class LedgerState;
    Slot* slot_ = nullptr;
  };

  // Parses the record into *out, reusing its storage (the hot path keeps one message per role
  // instead of allocating every string and sub-message per read); false when absent, *out then
  // unspecified. With `ref`, also names the key for PutRecord.
  template <class Record>
  Result<bool> ReadRecord(const Bytes& key, Record* out, KeyRef* ref = nullptr) const {
    Slot& slot = SlotFor(key);
    if (ref != nullptr) ref->slot_ = &slot;
    auto raw = ValueOf(key, slot);
    if (!raw) return std::unexpected(raw.error());
    if (!(*raw)->has_value()) return false;
    const Bytes& bytes = **raw.value();
    if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return MakeError(ErrorCode::kCorruption, "state record does not parse");
    }
    return true;
  }
  // The current value (this block's write, else the committed one; nullopt: absent) by pointer
  // into the key's slot, and with `ref`, the key named for a write. The value stays alive until
  // the key's next write is released or rolled back (the undo journal keeps the value it
  // replaced), so views into it outlast a write of the key within the same operation.
  Result<const std::optional<Bytes>*> ReadRaw(const Bytes& key, KeyRef* ref = nullptr) const {
    Slot& slot = SlotFor(key);
    if (ref != nullptr) ref->slot_ = &slot;
    return ValueOf(key, slot);
  }
  void PutBytes(KeyRef ref, Bytes value) {
    LEDGER_ASSERT(ref.slot_ != nullptr);
    PutSlot(*ref.slot_, std::move(value));
  }
  void PutRecord(KeyRef ref, const google::protobuf::Message& msg) {
    LEDGER_ASSERT(ref.slot_ != nullptr);
    PutSlot(*ref.slot_, SerializeRecord(msg));
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

  const StateReader& base() const { return base_; }
  // Room for about `keys` distinct keys without rehashing (a hint).
  void Reserve(size_t keys);
  // The committed value (ignoring this block's writes), served from the block's read cache when
  // this block already read the key.
  Result<std::optional<Bytes>> BaseGet(const Bytes& key) const;

  // One key the block wrote: its committed value and its new value (nullopt: absent / deleted).
  // The pointers point into this state and stay valid until it is changed or destroyed.
  struct Write {
    std::string_view key;
    const std::optional<Bytes>* before;
    const std::optional<Bytes>* after;
  };
  // The block's writes sorted by key, each key once, with their committed values (read now for
  // keys written without being read): what the invariant check compares.
  Result<std::vector<Write>> SortedWrites() const;
  // The block's changes sorted by key, each key once (copies; the state is unchanged).
  std::vector<StateChange> TakeChanges() const;
  // The changes of `writes` (from SortedWrites), moving the new values out of this state: for the
  // end of a block, after the invariant check.
  std::vector<StateChange> MoveChanges(const std::vector<Write>& writes);

 private:
  // Everything the block knows about one key: the committed value once read, and its write.
  struct Slot {
    std::string_view key;  // in arena_
    std::optional<Bytes> base;
    std::optional<Bytes> value;
    bool base_loaded = false;
    bool written = false;
  };
  // An entry of the open-addressing index over slots_: the key's hash beside the slot, so a probe
  // past other keys reads only this array.
  struct IndexEntry {
    uint64_t hash = 0;
    Slot* slot = nullptr;  // null: empty
  };
  void GrowIndex(size_t min_entries) const;
  struct Undo {
    Slot* slot;
    bool was_written;
    std::optional<Bytes> previous;
  };
  Slot& SlotFor(const Bytes& key) const;
  void PutSlot(Slot& slot, std::optional<Bytes> value);
  // The slot's current value (its write, else the committed one, read now if need be).
  Result<const std::optional<Bytes>*> ValueOf(const Bytes& key, Slot& slot) const {
    if (slot.written) return &slot.value;
    return LoadBase(key, slot);
  }
  Result<const std::optional<Bytes>*> LoadBase(const Bytes& key, Slot& slot) const;
  // The current value (this block's write, else the committed one), by pointer into the slot
  // (stable: slots_ is a deque that only grows); valid until the next write of the key.
  Result<const std::optional<Bytes>*> Find(const Bytes& key) const;

  const StateReader& base_;
  // Keys live in a per-block arena: a block creates tens of thousands of slots, and allocating and
  // freeing each key one by one cost more than the ledger rules.
  mutable std::pmr::monotonic_buffer_resource arena_;
  // One table for reads and writes, every key once: lookups are the executor's hottest path.
  // Slots in a deque (stable addresses, chunked allocation), found through an open-addressing
  // index (linear probing, at most half full): one probe usually reads one index entry and the
  // slot, where a node-based map reads a bucket, a node and the key.
  mutable std::deque<Slot> slots_;
  mutable std::vector<IndexEntry> index_;
  std::vector<Undo> journal_;
};

}  // namespace cl::ledger
