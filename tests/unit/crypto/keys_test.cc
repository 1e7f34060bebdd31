#include "crypto/keys.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

TEST(Keys, SignThenVerify) {
  PrivateKey key = PrivateKey::Generate();
  PublicKey pub = key.GetPublicKey();
  Hash32 digest = Sha256Of(AsSpan("payment"));
  Signature sig = key.Sign(digest);
  EXPECT_TRUE(Verify(pub, digest, sig));
  Hash32 other = Sha256Of(AsSpan("payment2"));
  EXPECT_FALSE(Verify(pub, other, sig));
  EXPECT_FALSE(Verify(PrivateKey::Generate().GetPublicKey(), digest, sig));
}

TEST(Keys, SigningIsDeterministic) {
  PrivateKey key = PrivateKey::Generate();
  Hash32 digest = Sha256Of(AsSpan("x"));
  EXPECT_EQ(key.Sign(digest), key.Sign(digest));
}

TEST(Keys, HighSIsRejected) {
  PrivateKey key = PrivateKey::Generate();
  Hash32 digest = Sha256Of(AsSpan("malleable"));
  Signature sig = key.Sign(digest);
  // s' = n - s: the same signature in its high-S form.
  static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                         0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                         0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  Signature high = sig;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = kOrder[i] - sig.bytes[32 + i] - borrow;
    borrow = v < 0;
    high.bytes[32 + i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
  EXPECT_FALSE(Verify(key.GetPublicKey(), digest, high));
  // IsHighS tells the refused form apart, so an error can name the low-S rule.
  EXPECT_TRUE(IsHighS(high));
  EXPECT_FALSE(IsHighS(sig));
  Signature out_of_range = sig;
  out_of_range.bytes.fill(0xff);  // r, s >= n: not a signature at all, so not high-S either
  EXPECT_FALSE(IsHighS(out_of_range));
}

TEST(Keys, PublicKeyParsingIsStrict) {
  PublicKey pub = PrivateKey::Generate().GetPublicKey();
  EXPECT_TRUE(PublicKey::Parse(pub.span()).has_value());
  Bytes uncompressed(65, 0x04);
  EXPECT_FALSE(PublicKey::Parse(uncompressed).has_value());
  Bytes bad = Bytes(pub.bytes.begin(), pub.bytes.end());
  bad[0] = 0x05;
  EXPECT_FALSE(PublicKey::Parse(bad).has_value());
  Bytes not_on_curve(33, 0xff);
  not_on_curve[0] = 0x02;
  EXPECT_FALSE(PublicKey::Parse(not_on_curve).has_value());
}

TEST(Keys, PrivateKeyRangeIsChecked) {
  EXPECT_FALSE(PrivateKey::FromBytes(Bytes(32, 0)).has_value());
  EXPECT_FALSE(PrivateKey::FromBytes(Bytes(32, 0xff)).has_value());
  EXPECT_FALSE(PrivateKey::FromBytes(Bytes(31, 1)).has_value());
  EXPECT_TRUE(PrivateKey::FromBytes(Bytes(32, 1)).has_value());
}

TEST(Keys, AddressIsTaggedHashOfCompressedKey) {
  // Secret key 1: public key is the generator G.
  auto key = PrivateKey::FromBytes(*FromHex(std::string(62, '0') + "01"));
  ASSERT_TRUE(key.has_value());
  PublicKey pub = key->GetPublicKey();
  EXPECT_EQ(pub.ToHex(), "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
  Hash32 h = TaggedHash(Domain::kAddress, pub.span());
  EXPECT_EQ(pub.ToAddress().ToHex(), h.ToHex().substr(0, 40));
  auto parsed = Address::FromHex(pub.ToAddress().ToHex());
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, pub.ToAddress());
}

TEST(Keys, EcdhAgreesBothWays) {
  PrivateKey a = PrivateKey::Generate();
  PrivateKey b = PrivateKey::Generate();
  auto ab = a.Ecdh(b.GetPublicKey());
  auto ba = b.Ecdh(a.GetPublicKey());
  ASSERT_TRUE(ab.has_value());
  ASSERT_TRUE(ba.has_value());
  EXPECT_EQ(*ab, *ba);
}

}  // namespace
}  // namespace cl::crypto
