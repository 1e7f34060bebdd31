// RFC 6962 (Certificate Transparency) Merkle trees over lists of byte strings, for the transaction
// and receipt roots of a block (DESIGN decision 5), with audit paths and standalone verification.
//
//   MTH({})      = SHA-256("")                  (the hash of the empty string, RFC 6962
//   section 2.1) MTH({d0})    = SHA-256(0x00 || d0) MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) ||
//   MTH(D[k:n])), k = largest power of two < n
//
// The 0x00/0x01 prefixes are crypto::Domain::kMerkleLeaf/kMerkleInner. These rules are hashed into
// every block header: do not change them. docs/state-tree.md describes them for third parties.
//
// Thread safety: stateless functions over values; safe from any thread. VerifyMerkleInclusion
// depends only on crypto/sha256, so the offline verifier can link it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::ledger {

// An audit path has one hash per level; trees hold fewer than 2^63 leaves.
inline constexpr size_t kMerklePathMaxLength = 63;

// An RFC 6962 audit path: the sibling hashes from the leaf up to the root.
struct MerkleInclusionProof {
  uint64_t leaf_index = 0;
  uint64_t tree_size = 0;
  std::vector<Hash32> path;

  bool operator==(const MerkleInclusionProof&) const = default;
};

// H(0x00 || data).
Hash32 MerkleLeafHash(ByteSpan data);

// MTH over the leaves' data.
Hash32 MerkleRoot(std::span<const Bytes> leaves);
// MTH over leaves whose leaf hashes (MerkleLeafHash) are already known.
Hash32 MerkleRootOfLeafHashes(std::span<const Hash32> leaf_hashes);

// The audit path for leaves[index]; kInvalidArgument when index is out of range.
Result<MerkleInclusionProof> MerkleProve(std::span<const Bytes> leaves, uint64_t index);
Result<MerkleInclusionProof> MerkleProveLeafHashes(std::span<const Hash32> leaf_hashes,
                                                   uint64_t index);

// Checks that leaf_data is the leaf at proof.leaf_index of a tree of proof.tree_size leaves with
// this root (RFC 9162 section 2.1.3.2). kUnauthenticated when it does not.
Status VerifyMerkleInclusion(const Hash32& root, ByteSpan leaf_data,
                             const MerkleInclusionProof& proof);
Status VerifyMerkleInclusionOfLeafHash(const Hash32& root, const Hash32& leaf_hash,
                                       const MerkleInclusionProof& proof);

}  // namespace cl::ledger
