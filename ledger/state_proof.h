// Proofs over the authenticated state tree (ledger/state_tree.h): that a key holds a value at a
// version (inclusion) or holds none (non-inclusion), checked against that version's root with
// VerifyStateProof. The verifier depends only on crypto/sha256, never on storage, so the offline
// verifier (tools/ledger-audit) links it. docs/state-tree.md specifies the hashing and the byte
// format for third-party verifiers.
//
// Thread safety: plain values and stateless functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// Limits enforced by the encoder's callers and by Decode. A key hash has 256 bits, so a path has at
// most 256 siblings (two key hashes differ at bit 255 at the latest).
inline constexpr size_t kStateProofMaxSiblings = 256;
// Largest value the state tree stores (and so the largest value a proof carries).
inline constexpr size_t kStateValueMaxBytes = size_t{1} << 20;
// Largest key the state tree accepts.
inline constexpr size_t kStateKeyMaxBytes = 1024;

// key_hash = H(0x02 || key), value_hash = H(0x03 || value), leaf = H(0x00 || key_hash ||
// value_hash).
Hash32 StateKeyHash(ByteSpan key);
Hash32 StateValueHash(ByteSpan value);
Hash32 StateLeafHash(const Hash32& key_hash, const Hash32& value_hash);
// H(0x01 || left || right).
Hash32 StateInnerHash(const Hash32& left, const Hash32& right);

struct StateProof {
  // How the path from the root along the key hash's bits ends. Encoded as the first byte of a
  // proof: do not change the values.
  enum class Kind : uint8_t {
    kInclusion = 0x00,  // at the key's own leaf; `value` holds its value
    kEmpty = 0x01,      // at an empty subtree: the key is absent
    kOtherLeaf = 0x02,  // at the leaf of another key sharing the path: the key is absent
  };

  Kind kind = Kind::kEmpty;
  // kInclusion: the key's value.
  Bytes value;
  // kOtherLeaf: the leaf found where the key would be.
  Hash32 other_key_hash;
  Hash32 other_value_hash;
  // The sibling subtree hashes from the root down: siblings[i] is the sibling at depth i, i.e. the
  // subtree whose path is key_hash's first i bits followed by the complement of bit i. An empty
  // sibling is 32 zero bytes.
  std::vector<Hash32> siblings;

  bool operator==(const StateProof&) const = default;

  // The byte format of docs/state-tree.md (empty siblings compressed by a bitmap).
  Bytes Encode() const;
  // Parses untrusted bytes: bounded by the limits above, canonical (exactly one encoding per
  // proof), never crashes. kInvalidArgument on any malformed input.
  static Result<StateProof> Decode(ByteSpan bytes);
};

// Checks that, under `root`, `key` holds `value` (value set) or is absent (value nullopt).
// kUnauthenticated when the proof does not show exactly that.
Status VerifyStateProof(const Hash32& root, ByteSpan key, std::optional<ByteSpan> value,
                        const StateProof& proof);

}  // namespace cl::ledger
