#include "ledger/merkle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

// RFC 6962 section 2.1, transcribed literally with plain SHA-256 over concatenations.
Hash32 NaiveMth(const std::vector<Bytes>& d, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n == 0) return crypto::Sha256Of({});
  if (n == 1) {
    Bytes in = {0x00};
    in.insert(in.end(), d[begin].begin(), d[begin].end());
    return crypto::Sha256Of(in);
  }
  size_t k = 1;
  while (k * 2 < n)
    k *= 2;
  Bytes in = {0x01};
  const Hash32 left = NaiveMth(d, begin, begin + k);
  const Hash32 right = NaiveMth(d, begin + k, end);
  in.insert(in.end(), left.bytes.begin(), left.bytes.end());
  in.insert(in.end(), right.bytes.begin(), right.bytes.end());
  return crypto::Sha256Of(in);
}

// RFC 6962 PATH(m, D[n]).
std::vector<Hash32> NaivePath(const std::vector<Bytes>& d, size_t m, size_t begin, size_t end) {
  const size_t n = end - begin;
  if (n <= 1) return {};
  size_t k = 1;
  while (k * 2 < n)
    k *= 2;
  std::vector<Hash32> path;
  if (m < k) {
    path = NaivePath(d, m, begin, begin + k);
    path.push_back(NaiveMth(d, begin + k, end));
  } else {
    path = NaivePath(d, m - k, begin + k, end);
    path.push_back(NaiveMth(d, begin, begin + k));
  }
  return path;
}

std::vector<Bytes> Leaves(size_t n) {
  std::vector<Bytes> leaves;
  for (size_t i = 0; i < n; ++i) {
    std::string leaf = "leaf-";
    leaf.append(std::to_string(i));
    leaves.push_back(ToBytes(leaf));
  }
  return leaves;
}

TEST(Merkle, EmptyTreeRootIsSha256OfEmptyString) {
  EXPECT_EQ(MerkleRoot({}).ToHex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Merkle, RootMatchesRfcDefinitionForEverySizeUpTo300) {
  std::vector<Bytes> all = Leaves(300);
  for (size_t n = 0; n <= 300; ++n) {
    std::vector<Bytes> leaves(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
    ASSERT_EQ(MerkleRoot(leaves), NaiveMth(leaves, 0, n)) << "size " << n;
  }
}

TEST(Merkle, EveryProofMatchesRfcAndVerifiesForEverySizeAndIndex) {
  std::vector<Bytes> all = Leaves(300);
  for (size_t n = 1; n <= 300; ++n) {
    std::vector<Bytes> leaves(all.begin(), all.begin() + static_cast<ptrdiff_t>(n));
    std::vector<Hash32> leaf_hashes;
    for (const Bytes& leaf : leaves)
      leaf_hashes.push_back(MerkleLeafHash(leaf));
    const Hash32 root = MerkleRootOfLeafHashes(leaf_hashes);
    for (size_t m = 0; m < n; ++m) {
      auto proof = MerkleProveLeafHashes(leaf_hashes, m);
      ASSERT_TRUE(proof.has_value());
      ASSERT_EQ(proof->path, NaivePath(leaves, m, 0, n)) << n << " " << m;
      ASSERT_TRUE(VerifyMerkleInclusion(root, leaves[m], *proof).has_value()) << n << " " << m;
      // Another leaf's data at this index fails.
      ASSERT_FALSE(VerifyMerkleInclusion(root, ToBytes("other"), *proof).has_value());
    }
  }
}

TEST(Merkle, TamperedProofsFail) {
  for (size_t n : {1, 2, 3, 5, 8, 13, 64, 100, 255}) {
    const std::vector<Bytes> leaves = Leaves(n);
    const Hash32 root = MerkleRoot(leaves);
    for (size_t m = 0; m < n; ++m) {
      auto proof = MerkleProve(leaves, m);
      ASSERT_TRUE(proof.has_value());
      for (size_t j = 0; j < proof->path.size(); ++j) {
        for (size_t byte : {size_t{0}, size_t{17}, size_t{31}}) {
          MerkleInclusionProof bad = *proof;
          bad.path[j].bytes[byte] ^= 0x01;
          EXPECT_FALSE(VerifyMerkleInclusion(root, leaves[m], bad).has_value());
        }
      }
      MerkleInclusionProof wrong_index = *proof;
      wrong_index.leaf_index = (m + 1) % n;
      if (n > 1) {
        EXPECT_FALSE(VerifyMerkleInclusion(root, leaves[m], wrong_index).has_value());
      }
      // (A different tree_size can hash the same way, so the size is bound by the caller's root
      // and size together, as in RFC 6962; a size of zero or at most the index never verifies.)
      MerkleInclusionProof wrong_size = *proof;
      wrong_size.tree_size = m;
      EXPECT_FALSE(VerifyMerkleInclusion(root, leaves[m], wrong_size).has_value());
      if (!proof->path.empty()) {
        MerkleInclusionProof shorter = *proof;
        shorter.path.pop_back();
        EXPECT_FALSE(VerifyMerkleInclusion(root, leaves[m], shorter).has_value());
      }
      MerkleInclusionProof longer = *proof;
      longer.path.push_back(root);
      EXPECT_FALSE(VerifyMerkleInclusion(root, leaves[m], longer).has_value());
      Hash32 other_root = root;
      other_root.bytes[0] ^= 0x80;
      EXPECT_FALSE(VerifyMerkleInclusion(other_root, leaves[m], *proof).has_value());
    }
  }
}

TEST(Merkle, OutOfRangeIndexIsAnError) {
  const std::vector<Bytes> leaves = Leaves(4);
  EXPECT_FALSE(MerkleProve(leaves, 4).has_value());
  EXPECT_FALSE(MerkleProve({}, 0).has_value());
  MerkleInclusionProof proof{.leaf_index = 4, .tree_size = 4, .path = {}};
  EXPECT_FALSE(VerifyMerkleInclusion(MerkleRoot(leaves), leaves[0], proof).has_value());
}

TEST(Merkle, SingleLeafRootIsLeafHash) {
  const std::vector<Bytes> leaves = {ToBytes("only")};
  EXPECT_EQ(MerkleRoot(leaves), MerkleLeafHash(leaves[0]));
  auto proof = MerkleProve(leaves, 0);
  ASSERT_TRUE(proof.has_value());
  EXPECT_TRUE(proof->path.empty());
  EXPECT_TRUE(VerifyMerkleInclusion(MerkleRoot(leaves), leaves[0], *proof).has_value());
}

}  // namespace
}  // namespace cl::ledger
