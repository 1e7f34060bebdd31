#include "crypto/sha256.h"

#include <gtest/gtest.h>

#include "util/hex.h"

namespace cl::crypto {
namespace {

TEST(Sha256, MatchesFips180Examples) {
  EXPECT_EQ(Sha256Of(AsSpan("abc")).ToHex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Of(AsSpan("")).ToHex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 h;
  h.Update(AsSpan("a")).Update(AsSpan("bc"));
  EXPECT_EQ(h.Final(), Sha256Of(AsSpan("abc")));
}

TEST(Sha256, TaggedHashPrefixesTheTag) {
  Bytes tagged = {0x01};
  Append(tagged, AsSpan("xy"));
  EXPECT_EQ(TaggedHash(Domain::kMerkleInner, AsSpan("xy")), Sha256Of(tagged));
  EXPECT_EQ(TaggedHash(Domain::kMerkleInner, AsSpan("x"), AsSpan("y")), Sha256Of(tagged));
  EXPECT_NE(TaggedHash(Domain::kMerkleLeaf, AsSpan("xy")), Sha256Of(tagged));
}

TEST(Sha256, SignedDigestFramesTheChainId) {
  Bytes expected = {0x20, 4};
  Append(expected, AsSpan("testbody"));
  EXPECT_EQ(SignedDigest(Domain::kTransaction, "test", AsSpan("body")), Sha256Of(expected));
  // The length byte keeps ("ab", "c...") and ("a", "bc...") apart.
  EXPECT_NE(SignedDigest(Domain::kTransaction, "ab", AsSpan("c")),
            SignedDigest(Domain::kTransaction, "a", AsSpan("bc")));
}

}  // namespace
}  // namespace cl::crypto
