#include "ledger/merkle.h"

#include <bit>

#include "crypto/sha256.h"
#include "util/assert.h"

namespace cl::ledger {
namespace {

using crypto::Domain;

Hash32 InnerHash(const Hash32& left, const Hash32& right) {
  return crypto::TaggedHash(Domain::kMerkleInner, left.span(), right.span());
}

// The largest power of two strictly less than n (n >= 2).
size_t SplitPoint(size_t n) {
  LEDGER_ASSERT(n >= 2);
  return std::bit_floor(n - 1);
}

Hash32 SubtreeRoot(std::span<const Hash32> leaf_hashes) {
  if (leaf_hashes.size() == 1) return leaf_hashes[0];
  const size_t k = SplitPoint(leaf_hashes.size());
  return InnerHash(SubtreeRoot(leaf_hashes.first(k)), SubtreeRoot(leaf_hashes.subspan(k)));
}

// RFC 6962 PATH(m, D[n]), appended leaf-first.
void AppendPath(std::span<const Hash32> leaf_hashes, size_t index, std::vector<Hash32>& path) {
  if (leaf_hashes.size() <= 1) return;
  const size_t k = SplitPoint(leaf_hashes.size());
  if (index < k) {
    AppendPath(leaf_hashes.first(k), index, path);
    path.push_back(SubtreeRoot(leaf_hashes.subspan(k)));
  } else {
    AppendPath(leaf_hashes.subspan(k), index - k, path);
    path.push_back(SubtreeRoot(leaf_hashes.first(k)));
  }
}

std::vector<Hash32> LeafHashes(std::span<const Bytes> leaves) {
  std::vector<Hash32> hashes;
  hashes.reserve(leaves.size());
  for (const Bytes& leaf : leaves)
    hashes.push_back(MerkleLeafHash(leaf));
  return hashes;
}

}  // namespace

Hash32 MerkleLeafHash(ByteSpan data) {
  return crypto::TaggedHash(Domain::kMerkleLeaf, data);
}

Hash32 MerkleRootOfLeafHashes(std::span<const Hash32> leaf_hashes) {
  if (leaf_hashes.empty()) return crypto::Sha256Of(ByteSpan());
  return SubtreeRoot(leaf_hashes);
}

Hash32 MerkleRoot(std::span<const Bytes> leaves) {
  return MerkleRootOfLeafHashes(LeafHashes(leaves));
}

Result<MerkleInclusionProof> MerkleProveLeafHashes(std::span<const Hash32> leaf_hashes,
                                                   uint64_t index) {
  if (index >= leaf_hashes.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "leaf index out of range");
  }
  MerkleInclusionProof proof;
  proof.leaf_index = index;
  proof.tree_size = leaf_hashes.size();
  AppendPath(leaf_hashes, index, proof.path);
  return proof;
}

Result<MerkleInclusionProof> MerkleProve(std::span<const Bytes> leaves, uint64_t index) {
  if (index >= leaves.size()) {
    return MakeError(ErrorCode::kInvalidArgument, "leaf index out of range");
  }
  return MerkleProveLeafHashes(LeafHashes(leaves), index);
}

Status VerifyMerkleInclusionOfLeafHash(const Hash32& root, const Hash32& leaf_hash,
                                       const MerkleInclusionProof& proof) {
  if (proof.leaf_index >= proof.tree_size) {
    return MakeError(ErrorCode::kUnauthenticated, "merkle proof: leaf index out of range");
  }
  if (proof.path.size() > kMerklePathMaxLength) {
    return MakeError(ErrorCode::kUnauthenticated, "merkle proof: path too long");
  }
  uint64_t fn = proof.leaf_index;
  uint64_t sn = proof.tree_size - 1;
  Hash32 r = leaf_hash;
  for (const Hash32& p : proof.path) {
    if (sn == 0) return MakeError(ErrorCode::kUnauthenticated, "merkle proof: path too long");
    if ((fn & 1) == 1 || fn == sn) {
      r = InnerHash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = InnerHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return MakeError(ErrorCode::kUnauthenticated, "merkle proof: path too short");
  if (r != root) return MakeError(ErrorCode::kUnauthenticated, "merkle proof: root mismatch");
  return OkStatus();
}

Status VerifyMerkleInclusion(const Hash32& root, ByteSpan leaf_data,
                             const MerkleInclusionProof& proof) {
  return VerifyMerkleInclusionOfLeafHash(root, MerkleLeafHash(leaf_data), proof);
}

}  // namespace cl::ledger
