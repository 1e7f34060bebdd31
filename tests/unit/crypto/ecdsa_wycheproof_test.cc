// Runs every case of the Wycheproof ECDSA secp256k1/SHA-256 vectors through crypto::Verify.
//
// Policy for Wycheproof's three results:
//   valid      -> must verify, except high-S signatures in the files that do not demand low-S
//                 (P1363 and plain DER): our low-S rule rejects them; they are counted, the count
//                 is pinned below, and each is checked to verify once s is replaced by n - s
//   invalid    -> must be rejected
//   acceptable -> must be rejected. "Acceptable" marks encodings a lenient verifier may take (BER
//                 quirks, odd key encodings); the ledger accepts one encoding per signature only.
//                 None of the three files here has any such case today; the count is
//                 pinned so that a vector update that adds some is noticed and reviewed.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "crypto/der.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

namespace json = boost::json;

json::value LoadVectors(const std::string& name) {
  std::string path = std::string(LEDGER_VECTORS_DIR) + "/wycheproof/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  json::error_code ec;
  json::value v = json::parse(buffer.str(), ec);
  EXPECT_FALSE(ec) << path << ": " << ec.message();
  return v;
}

Bytes Hex(const json::value& v) {
  auto bytes = FromHex(std::string_view(v.as_string()));
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(Bytes{});
}

// Wycheproof gives a coordinate as a big-endian integer that may carry a leading 0x00 (it is the
// ASN.1 INTEGER content) or fewer than 32 bytes; returns it as exactly 32 bytes.
Bytes Coordinate(const json::value& v) {
  Bytes raw = Hex(v);
  size_t skip = 0;
  while (raw.size() - skip > 32 && raw[skip] == 0)
    ++skip;
  EXPECT_LE(raw.size() - skip, 32u);
  Bytes out(32 - (raw.size() - skip), 0);
  out.insert(out.end(), raw.begin() + static_cast<ptrdiff_t>(skip), raw.end());
  return out;
}

// The 33-byte compressed form of the group's uncompressed key (wx, wy): 02/03 by the parity of y.
Result<PublicKey> CompressedKey(const json::object& key) {
  Bytes x = Coordinate(key.at("wx"));
  Bytes y = Coordinate(key.at("wy"));
  Bytes compressed = {static_cast<uint8_t>((y.back() & 1) ? 0x03 : 0x02)};
  Append(compressed, x);
  return PublicKey::Parse(compressed);
}

// s > n/2 by the bytes alone (also true for s >= n, unlike crypto::IsHighS).
bool SAboveHalfOrder(const Signature& sig) {
  // n / 2, big-endian: s > n/2 is high.
  static constexpr uint8_t kHalfOrder[32] = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
                                             0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};
  return std::memcmp(sig.bytes.data() + 32, kHalfOrder, 32) > 0;
}

// (r, n - s): the other member of the malleable pair.
Signature NegateS(const Signature& sig) {
  static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                         0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                         0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  Signature out = sig;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = kOrder[i] - sig.bytes[32 + i] - borrow;
    borrow = v < 0;
    out.bytes[32 + i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
  return out;
}

struct Counts {
  size_t run = 0;
  size_t valid = 0;
  size_t invalid = 0;
  size_t acceptable = 0;
  size_t high_s_valid_rejected = 0;  // Wycheproof "valid", rejected by the low-S rule
  size_t wrong_length_rejected = 0;  // P1363 signatures that are not 64 bytes
};

enum class Encoding { kDer, kP1363 };
// Whether the file itself demands low-S (Bitcoin's variant does; plain ECDSA files do not, so their
// high-S "valid" cases are the ones our rule rejects).
enum class FileRule { kLowS, kAnyS };

Counts RunFile(const std::string& name, const char* expected_type, Encoding encoding,
               FileRule rule) {
  json::value root = LoadVectors(name);
  Counts counts;
  for (const json::value& group_value : root.at("testGroups").as_array()) {
    const json::object& group = group_value.as_object();
    EXPECT_EQ(group.at("type").as_string(), expected_type);
    EXPECT_EQ(group.at("sha").as_string(), "SHA-256");
    auto key = CompressedKey(group.at("publicKey").as_object());
    // Every group key in these files is a valid point; a failure here would skip its cases.
    EXPECT_TRUE(key.has_value()) << name << ": group key does not parse";
    for (const json::value& test_value : group.at("tests").as_array()) {
      const json::object& test = test_value.as_object();
      ++counts.run;
      const int64_t id = test.at("tcId").as_int64();
      const std::string result(test.at("result").as_string());
      Hash32 digest = Sha256Of(Hex(test.at("msg")));
      Bytes sig_bytes = Hex(test.at("sig"));

      Result<Signature> sig = encoding == Encoding::kDer ? ParseDerSignature(sig_bytes)
                                                         : Signature::FromSpan(sig_bytes);
      if (encoding == Encoding::kP1363 && sig_bytes.size() != kSignatureBytes) {
        EXPECT_FALSE(sig.has_value());
        ++counts.wrong_length_rejected;
      }
      const bool verified = key.has_value() && sig.has_value() && Verify(*key, digest, *sig);

      std::string context = name + " tcId " + std::to_string(id) + " (" +
                            std::string(test.at("comment").as_string()) + "), expected " + result;
      if (result == "valid") {
        ++counts.valid;
        if (rule == FileRule::kAnyS && sig.has_value() && SAboveHalfOrder(*sig)) {
          EXPECT_FALSE(verified) << context << ": high-S must be rejected";
          // The same signature in low-S form verifies, so the rejection is the low-S rule alone.
          EXPECT_TRUE(key.has_value() && Verify(*key, digest, NegateS(*sig))) << context;
          ++counts.high_s_valid_rejected;
        } else {
          EXPECT_TRUE(verified) << context;
        }
      } else if (result == "invalid") {
        ++counts.invalid;
        EXPECT_FALSE(verified) << context;
      } else {
        EXPECT_EQ(result, "acceptable") << context;
        ++counts.acceptable;
        EXPECT_FALSE(verified) << context << ": strict policy rejects acceptable cases";
      }
    }
  }
  EXPECT_EQ(counts.run, static_cast<size_t>(root.at("numberOfTests").as_int64()))
      << name << ": some cases were not run";
  return counts;
}

TEST(EcdsaWycheproof, BitcoinFileMatchesEveryCaseWithStrictDerAndLowS) {
  Counts c = RunFile("ecdsa_secp256k1_sha256_bitcoin_test.json", "EcdsaBitcoinVerify",
                     Encoding::kDer, FileRule::kLowS);
  EXPECT_EQ(c.run, 463u);
  EXPECT_EQ(c.valid, 162u);
  EXPECT_EQ(c.invalid, 301u);
  EXPECT_EQ(c.acceptable, 0u);
}

TEST(EcdsaWycheproof, P1363FileMatchesEveryCaseExceptHighSWhichIsRejected) {
  Counts c = RunFile("ecdsa_secp256k1_sha256_p1363_test.json", "EcdsaP1363Verify", Encoding::kP1363,
                     FileRule::kAnyS);
  EXPECT_EQ(c.run, 252u);
  EXPECT_EQ(c.valid, 167u);
  EXPECT_EQ(c.invalid, 85u);
  EXPECT_EQ(c.acceptable, 0u);
  // Counted by running the file and cross-checked by hand (s > n/2 among the 64-byte "valid"
  // signatures): 72 of the 167 valid cases are high-S, so 95 verify.
  EXPECT_EQ(c.high_s_valid_rejected, 72u);
  // Signatures of 0..63 or 65+ bytes (all "invalid" in the file): rejected before any curve math.
  EXPECT_EQ(c.wrong_length_rejected, 18u);
}

// Not required by the ledger, but a second, larger workout for the strict DER parser: plain ECDSA
// with DER signatures, where BER quirks are "invalid" and high-S signatures are "valid".
TEST(EcdsaWycheproof, PlainDerFileMatchesEveryCaseExceptHighSWhichIsRejected) {
  Counts c =
      RunFile("ecdsa_secp256k1_sha256_test.json", "EcdsaVerify", Encoding::kDer, FileRule::kAnyS);
  EXPECT_EQ(c.run, 476u);
  EXPECT_EQ(c.valid, 168u);
  EXPECT_EQ(c.invalid, 308u);
  EXPECT_EQ(c.acceptable, 0u);
  // Cross-checked by hand like the P1363 count: the same 72 high-S signatures, DER-encoded.
  EXPECT_EQ(c.high_s_valid_rejected, 72u);
}

}  // namespace
}  // namespace cl::crypto
