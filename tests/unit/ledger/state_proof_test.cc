#include "ledger/state_proof.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "ledger/memory_store.h"
#include "ledger/state_tree.h"
#include "util/hex.h"

namespace cl::ledger {
namespace {

std::string KeyName(int i) {
  std::string key = "key/";
  key.append(std::to_string(i));
  return key;
}

// A tree of 3,000 keys and proofs of each kind from it.
class StateProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<StateWrite> writes;
    for (int i = 0; i < 3000; ++i) {
      std::string value = "value-";
      value.append(std::to_string(i));
      writes.push_back(StateWrite{ToBytes(KeyName(i)), ToBytes(value)});
    }
    WriteBatch batch;
    auto root = tree_.Apply(1, writes, &batch);
    ASSERT_TRUE(root.has_value());
    ASSERT_TRUE(store_.Write(batch, true).has_value());
    root_ = *root;
  }

  // The first absent key whose proof has the given kind.
  std::string AbsentKeyWithKind(StateProof::Kind kind) {
    for (int i = 3000; i < 100000; ++i) {
      auto proof = tree_.Prove(AsSpan(KeyName(i)), 1);
      if (proof && proof->kind == kind) return KeyName(i);
    }
    ADD_FAILURE() << "no absent key gives that proof kind";
    return {};
  }

  MemoryStore store_;
  StateTree tree_{&store_};
  Hash32 root_;
};

TEST_F(StateProofTest, InclusionProofVerifiesAndRoundTrips) {
  auto proof = tree_.Prove(AsSpan(KeyName(7)), 1);
  ASSERT_TRUE(proof.has_value());
  EXPECT_EQ(proof->kind, StateProof::Kind::kInclusion);
  EXPECT_EQ(ToString(proof->value), "value-7");
  auto decoded = StateProof::Decode(proof->Encode());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, *proof);
  EXPECT_TRUE(VerifyStateProof(root_, AsSpan(KeyName(7)), AsSpan("value-7"), *decoded).has_value());
}

TEST_F(StateProofTest, WrongValueKeyOrRootFails) {
  auto proof = tree_.Prove(AsSpan(KeyName(7)), 1);
  ASSERT_TRUE(proof.has_value());
  EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(7)), AsSpan("value-8"), *proof).has_value());
  EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(7)), std::nullopt, *proof).has_value());
  EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(8)), AsSpan("value-7"), *proof).has_value());
  EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(8)), std::nullopt, *proof).has_value());
  Hash32 other_root = root_;
  other_root.bytes[31] ^= 1;
  EXPECT_FALSE(
      VerifyStateProof(other_root, AsSpan(KeyName(7)), AsSpan("value-7"), *proof).has_value());
  // The proof's own value must also be the claimed one.
  StateProof altered = *proof;
  altered.value = ToBytes("value-8");
  EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(7)), AsSpan("value-7"), altered).has_value());
}

TEST_F(StateProofTest, NonInclusionProofsOfBothKindsVerify) {
  for (StateProof::Kind kind : {StateProof::Kind::kEmpty, StateProof::Kind::kOtherLeaf}) {
    const std::string key = AbsentKeyWithKind(kind);
    auto proof = tree_.Prove(AsSpan(key), 1);
    ASSERT_TRUE(proof.has_value());
    auto decoded = StateProof::Decode(proof->Encode());
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, *proof);
    EXPECT_TRUE(VerifyStateProof(root_, AsSpan(key), std::nullopt, *decoded).has_value());
    EXPECT_FALSE(VerifyStateProof(root_, AsSpan(key), AsSpan("x"), *decoded).has_value());
    // A present key cannot borrow the absence proof.
    EXPECT_FALSE(VerifyStateProof(root_, AsSpan(KeyName(1)), std::nullopt, *decoded).has_value());
  }
}

// Changing any single byte of an encoded proof makes it undecodable or unverifiable.
TEST_F(StateProofTest, EveryTamperedByteFails) {
  std::vector<std::pair<std::string, std::optional<std::string>>> cases = {
      {KeyName(42), "value-42"},
      {AbsentKeyWithKind(StateProof::Kind::kEmpty), std::nullopt},
      {AbsentKeyWithKind(StateProof::Kind::kOtherLeaf), std::nullopt},
  };
  for (const auto& [key, value] : cases) {
    auto proof = tree_.Prove(AsSpan(key), 1);
    ASSERT_TRUE(proof.has_value());
    const Bytes encoded = proof->Encode();
    std::optional<ByteSpan> claimed;
    if (value) claimed = AsSpan(*value);
    ASSERT_TRUE(VerifyStateProof(root_, AsSpan(key), claimed, *StateProof::Decode(encoded)));
    for (size_t i = 0; i < encoded.size(); ++i) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        Bytes tampered = encoded;
        tampered[i] ^= flip;
        auto decoded = StateProof::Decode(tampered);
        if (!decoded) continue;
        EXPECT_FALSE(VerifyStateProof(root_, AsSpan(key), claimed, *decoded).has_value())
            << "byte " << i << " flip " << int{flip};
      }
    }
    // Truncations and extensions never verify either.
    for (size_t n = 0; n < encoded.size(); ++n) {
      EXPECT_FALSE(StateProof::Decode(ByteSpan(encoded).first(n)).has_value());
    }
    Bytes extended = encoded;
    extended.push_back(0);
    EXPECT_FALSE(StateProof::Decode(extended).has_value());
  }
}

// The worked example of docs/state-tree.md section 3.1, verified with the documented bytes.
TEST(StateProof, DocumentedExampleVerifies) {
  const Hash32 root =
      *Hash32FromHex("0267d59188f411a982b13df3383bd5971b14d96b9e7508a93b30e12e01ce03ca");
  MemoryStore store;
  StateTree tree(&store);
  WriteBatch batch;
  const std::vector<StateWrite> writes = {{ToBytes("alice"), ToBytes("100")},
                                          {ToBytes("bob"), ToBytes("200")},
                                          {ToBytes("carol"), ToBytes("300")}};
  ASSERT_EQ(tree.Apply(1, writes, &batch).value(), root);
  const Bytes alice = *FromHex(
      "000331303000024"
      "0cc4ecf60f241ae4c787c22a21cb407b72a9fd6ea22120598e6146690f7d16355");
  auto proof = StateProof::Decode(alice);
  ASSERT_TRUE(proof.has_value());
  EXPECT_TRUE(VerifyStateProof(root, AsSpan("alice"), AsSpan("100"), *proof).has_value());
  const Bytes dave = *FromHex(
      "02fba4c3be56d4071c375fb91cdd915a8cdd0d0a8e5d1eb14cc822f6ebe2d5948d"
      "e8f1f1a5d04d4c5fccf7588c1d6cbd4f9d3377cac764c2c429b185f26205f473"
      "000240cc4ecf60f241ae4c787c22a21cb407b72a9fd6ea22120598e6146690f7d16355");
  auto absent = StateProof::Decode(dave);
  ASSERT_TRUE(absent.has_value());
  EXPECT_TRUE(VerifyStateProof(root, AsSpan("dave"), std::nullopt, *absent).has_value());
}

TEST(StateProof, DecodeRejectsMalformedInput) {
  // Unknown kind.
  EXPECT_FALSE(StateProof::Decode(*FromHex("030000")).has_value());
  // Too many siblings (257).
  EXPECT_FALSE(StateProof::Decode(*FromHex("010101")).has_value());
  // Nonzero padding bit in the bitmap: 1 sibling, bitmap 0x40 (bit for sibling 1 of 1).
  EXPECT_FALSE(StateProof::Decode(*FromHex("01000140")).has_value());
  // An explicit all-zero sibling must have been compressed.
  EXPECT_FALSE(StateProof::Decode(*FromHex(std::string("01000180").append(64, '0'))).has_value());
  // Value length beyond the limit (varint 2^21).
  EXPECT_FALSE(StateProof::Decode(*FromHex("0080808001")).has_value());
  // The smallest valid proof: the empty tree.
  auto empty = StateProof::Decode(*FromHex("010000"));
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(VerifyStateProof(Hash32{}, AsSpan("k"), std::nullopt, *empty).has_value());
}

TEST(StateProof, DecodingRandomBytesNeverCrashes) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Bytes bytes(rng() % 200);
    for (uint8_t& b : bytes)
      b = static_cast<uint8_t>(rng());
    if (!bytes.empty()) bytes[0] %= 4;
    auto decoded = StateProof::Decode(bytes);
    if (decoded) {
      EXPECT_EQ(decoded->Encode(), bytes);  // canonical: one encoding per proof
      (void)VerifyStateProof(Hash32{}, AsSpan("k"), std::nullopt, *decoded);
    }
  }
}

TEST(StateProof, NonCollapsedPathIsRejected) {
  // A lone leaf one level below an empty sibling: the real tree would hold it one level higher.
  const Hash32 key_hash = StateKeyHash(AsSpan("k"));
  const Hash32 leaf = StateLeafHash(key_hash, StateValueHash(AsSpan("v")));
  StateProof proof;
  proof.kind = StateProof::Kind::kInclusion;
  proof.value = ToBytes("v");
  proof.siblings = {Hash32{}};
  const Hash32 root =
      key_hash.Bit(0) ? StateInnerHash(Hash32{}, leaf) : StateInnerHash(leaf, Hash32{});
  EXPECT_FALSE(VerifyStateProof(root, AsSpan("k"), AsSpan("v"), proof).has_value());
  proof.siblings.clear();
  EXPECT_TRUE(VerifyStateProof(leaf, AsSpan("k"), AsSpan("v"), proof).has_value());
}

}  // namespace
}  // namespace cl::ledger
