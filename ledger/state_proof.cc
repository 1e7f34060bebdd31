#include "ledger/state_proof.h"

#include <algorithm>

#include "crypto/sha256.h"

namespace cl::ledger {
namespace {

using crypto::Domain;

std::unexpected<Error> Malformed(const char* what) {
  return MakeError(ErrorCode::kInvalidArgument, std::string("state proof: ") + what);
}

std::unexpected<Error> Rejected(const char* what) {
  return MakeError(ErrorCode::kUnauthenticated, std::string("state proof: ") + what);
}

// True when a and b agree on their first `bits` bits.
bool SharePrefix(const Hash32& a, const Hash32& b, size_t bits) {
  for (size_t i = 0; i < bits; ++i) {
    if (a.Bit(i) != b.Bit(i)) return false;
  }
  return true;
}

}  // namespace

Hash32 StateKeyHash(ByteSpan key) {
  return crypto::TaggedHash(Domain::kStateKey, key);
}

Hash32 StateValueHash(ByteSpan value) {
  return crypto::TaggedHash(Domain::kStateValue, value);
}

Hash32 StateLeafHash(const Hash32& key_hash, const Hash32& value_hash) {
  return crypto::TaggedHash(Domain::kMerkleLeaf, key_hash.span(), value_hash.span());
}

Hash32 StateInnerHash(const Hash32& left, const Hash32& right) {
  return crypto::TaggedHash(Domain::kMerkleInner, left.span(), right.span());
}

Bytes StateProof::Encode() const {
  Bytes out;
  out.reserve(3 + value.size() + 64 + (siblings.size() + 7) / 8 + 32 * siblings.size());
  AppendU8(out, static_cast<uint8_t>(kind));
  if (kind == Kind::kInclusion) AppendLengthPrefixed(out, value);
  if (kind == Kind::kOtherLeaf) {
    Append(out, other_key_hash.span());
    Append(out, other_value_hash.span());
  }
  AppendU16BE(out, static_cast<uint16_t>(siblings.size()));
  const size_t bitmap_at = out.size();
  out.resize(out.size() + (siblings.size() + 7) / 8, 0);
  for (size_t i = 0; i < siblings.size(); ++i) {
    if (siblings[i].IsZero()) continue;
    out[bitmap_at + i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  }
  for (const Hash32& sibling : siblings) {
    if (!sibling.IsZero()) Append(out, sibling.span());
  }
  return out;
}

Result<StateProof> StateProof::Decode(ByteSpan bytes) {
  ByteReader reader(bytes);
  StateProof proof;
  const std::optional<uint8_t> kind = reader.U8();
  if (!kind) return Malformed("truncated");
  switch (*kind) {
    case static_cast<uint8_t>(Kind::kInclusion): {
      proof.kind = Kind::kInclusion;
      const std::optional<ByteSpan> value = reader.LengthPrefixed(kStateValueMaxBytes);
      if (!value) return Malformed("bad value");
      proof.value.assign(value->begin(), value->end());
      break;
    }
    case static_cast<uint8_t>(Kind::kEmpty):
      proof.kind = Kind::kEmpty;
      break;
    case static_cast<uint8_t>(Kind::kOtherLeaf): {
      proof.kind = Kind::kOtherLeaf;
      const std::optional<Hash32> key_hash = reader.TakeHash();
      const std::optional<Hash32> value_hash = reader.TakeHash();
      if (!key_hash || !value_hash) return Malformed("truncated leaf");
      proof.other_key_hash = *key_hash;
      proof.other_value_hash = *value_hash;
      break;
    }
    default:
      return Malformed("unknown kind");
  }
  const std::optional<uint16_t> count = reader.U16BE();
  if (!count) return Malformed("truncated");
  if (*count > kStateProofMaxSiblings) return Malformed("too many siblings");
  const std::optional<ByteSpan> bitmap = reader.Take((*count + 7) / 8);
  if (!bitmap) return Malformed("truncated bitmap");
  // Padding bits after the last sibling must be zero, so each proof has one encoding.
  if (*count % 8 != 0 && ((*bitmap)[*count / 8] & (0xff >> (*count % 8))) != 0) {
    return Malformed("nonzero bitmap padding");
  }
  proof.siblings.resize(*count);
  for (size_t i = 0; i < *count; ++i) {
    if (((*bitmap)[i / 8] & (0x80 >> (i % 8))) == 0) continue;
    const std::optional<Hash32> sibling = reader.TakeHash();
    if (!sibling) return Malformed("truncated sibling");
    if (sibling->IsZero()) return Malformed("empty sibling not compressed");
    proof.siblings[i] = *sibling;
  }
  if (!reader.done()) return Malformed("trailing bytes");
  return proof;
}

Status VerifyStateProof(const Hash32& root, ByteSpan key, std::optional<ByteSpan> value,
                        const StateProof& proof) {
  const size_t depth = proof.siblings.size();
  if (depth > kStateProofMaxSiblings) return Rejected("too many siblings");
  const Hash32 key_hash = StateKeyHash(key);
  Hash32 node;
  switch (proof.kind) {
    case StateProof::Kind::kInclusion:
      if (!value) return Rejected("proves inclusion, absence claimed");
      if (!std::ranges::equal(*value, proof.value)) return Rejected("value differs");
      node = StateLeafHash(key_hash, StateValueHash(*value));
      break;
    case StateProof::Kind::kEmpty:
      if (value) return Rejected("proves absence, a value claimed");
      break;  // node stays the empty placeholder (32 zero bytes)
    case StateProof::Kind::kOtherLeaf:
      if (value) return Rejected("proves absence, a value claimed");
      if (proof.other_key_hash == key_hash) return Rejected("leaf is the key's own");
      if (!SharePrefix(proof.other_key_hash, key_hash, depth)) {
        return Rejected("leaf is not on the key's path");
      }
      node = StateLeafHash(proof.other_key_hash, proof.other_value_hash);
      break;
    default:
      return Rejected("unknown kind");
  }
  // In a well-formed tree the subtree above where the path ends holds at least two leaves, so the
  // deepest sibling is never empty (otherwise the path would have ended one level higher).
  if (depth > 0 && proof.siblings[depth - 1].IsZero()) return Rejected("path not collapsed");
  for (size_t i = depth; i-- > 0;) {
    node = key_hash.Bit(i) ? StateInnerHash(proof.siblings[i], node)
                           : StateInnerHash(node, proof.siblings[i]);
  }
  if (node != root) return Rejected("root mismatch");
  return OkStatus();
}

}  // namespace cl::ledger
