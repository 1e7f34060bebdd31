#include "crypto/der.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

Bytes H(std::string_view hex) {
  return FromHex(hex).value();
}

// r = 1, s = 1: the smallest signature.
constexpr std::string_view kMinimal = "3006020101020101";
// n - 1, with the 0x00 pad its top bit requires.
constexpr std::string_view kOrderMinus1 =
    "00fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";

TEST(Der, ParsesMinimalSignature) {
  auto sig = ParseDerSignature(H(kMinimal));
  ASSERT_TRUE(sig.has_value()) << sig.error().ToString();
  Bytes expected(64, 0);
  expected[31] = 1;
  expected[63] = 1;
  EXPECT_EQ(Bytes(sig->bytes.begin(), sig->bytes.end()), expected);
}

TEST(Der, RoundTripsSignaturesFromSigning) {
  for (int i = 0; i < 64; ++i) {
    PrivateKey key = PrivateKey::Generate();
    Hash32 digest = Sha256Of(AsSpan(std::to_string(i)));
    Signature sig = key.Sign(digest);
    Bytes der = EncodeDerSignature(sig);
    EXPECT_LE(der.size(), kMaxDerSignatureBytes);
    auto parsed = ParseDerSignature(der);
    ASSERT_TRUE(parsed.has_value()) << ToHex(der);
    EXPECT_EQ(*parsed, sig);
  }
}

TEST(Der, AcceptsLargestScalarWithPadByte) {
  std::string hex = "3046022100" + std::string(kOrderMinus1.substr(2)) + "022100" +
                    std::string(kOrderMinus1.substr(2));
  auto sig = ParseDerSignature(H(hex));
  ASSERT_TRUE(sig.has_value()) << sig.error().ToString();
  EXPECT_EQ(ToHex(EncodeDerSignature(*sig)), hex);
}

TEST(Der, RejectsNonStrictEncodings) {
  const char* bad[] = {
      "",    // empty
      "30",  // no length
      "3006020101020101"
      "00",                  // trailing byte
      "3007020101020101",    // SEQUENCE length too long
      "3005020101020101",    // SEQUENCE length too short
      "308106020101020101",  // long-form SEQUENCE length
      "3106020101020101",    // wrong outer tag
      "3006030101020101",    // r is not an INTEGER
      "300702020001020101",  // r with superfluous leading zero
      "3006020181020101",    // r negative
      "3006020100020101",    // r = 0
      "3006020101020100",    // s = 0
      "30050201010200",      // s of length zero
      "3007020101028101"
      "01",                // long-form INTEGER length
      "3006020101020201",  // s truncated
      "300402010102",      // s header truncated
  };
  for (const char* hex : bad) {
    EXPECT_FALSE(ParseDerSignature(H(hex)).has_value()) << hex;
  }
}

TEST(Der, RejectsScalarsOutOfRange) {
  // r = n.
  std::string n = "00fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
  EXPECT_FALSE(ParseDerSignature(H("3026022100" + n.substr(2) + "020101")).has_value());
  // r with 33 significant bytes.
  EXPECT_FALSE(ParseDerSignature(H("3026022101" + std::string(64, '0') + "020101")).has_value());
}

TEST(Der, RejectsInputLongerThanTheMaximum) {
  Bytes long_input(kMaxDerSignatureBytes + 1, 0);
  EXPECT_FALSE(ParseDerSignature(long_input).has_value());
}

}  // namespace
}  // namespace cl::crypto
