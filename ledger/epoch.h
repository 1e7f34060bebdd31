// Epochs (DESIGN decision 15, docs/consensus.md "Epochs"): which validator set certifies each
// height. The set changes only by a governance operation (change_roles gaining or losing the
// validator role, remove_member of a validator, rotate_node_key of a validator); the block h that
// commits it ends the epoch, and the new set certifies heights from h + kEpochActivationDelay on.
// The schedule lives in the state tree (key 'v', an EpochRecord), so the old set's execution
// certificate of block h covers the new set, and a proof of that record carries it to an auditor.
//
// Thread safety: free functions only; each is a pure function of its inputs.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "ledger/state_reader.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// PBFT needs n >= 3f + 1 with f >= 1.
inline constexpr uint32_t kMinValidators = 4;
// The largest set consensus accepts (consensus::kMaxValidators; node/ asserts they agree).
inline constexpr uint32_t kMaxValidatorsPerSet = 64;
// A change committed in block h takes effect at h + kEpochActivationDelay. It must exceed the
// largest consensus window (consensus::kMaxWindowSeqs = 64; node/ asserts it): a replica handles
// a sequence number s only while s <= its stable checkpoint + window, so every height the old
// set may have in flight when block h commits is below h + 65, and every height from h + 65 on is
// ordered only once a quorum has executed and certified a block after h (docs/consensus.md).
inline constexpr uint64_t kEpochActivationDelay = 65;

// The validator set hash a block header commits to: the RFC 6962 root over the compressed keys,
// in replica order.
Hash32 ValidatorSetHash(std::span<const crypto::PublicKey> keys);

// Reads one state key (nullopt: absent); an error only when storage fails.
using StateGetter = std::function<Result<std::optional<Bytes>>(const Bytes& key)>;

// The epoch record of a state. Before the first change the state has none, and this returns
// epoch 0: the members with the validator role (which no operation has changed yet), by id,
// activation height 1. A stored record that does not parse, or a set whose key is not a valid
// compressed key, is corruption.
Result<pb::EpochRecord> ReadEpochRecord(const StateGetter& get);
Result<pb::EpochRecord> ReadEpochRecord(const StateReader& state);

// The set that certifies `height`, given the record of the state after height - 1 (or any later
// state before the next change): the scheduled set once height reaches its activation height.
const pb::ValidatorSetRecord& SetForHeight(const pb::EpochRecord& record, uint64_t height);

// The keys of a set, in replica order (checked when the record was read).
std::vector<crypto::PublicKey> SetKeys(const pb::ValidatorSetRecord& set);

// The validators of a list of members: those with the validator role and not removed, by id.
pb::ValidatorSetRecord ValidatorsOfMembers(std::span<const pb::MemberRecord> members);

}  // namespace cl::ledger
