// Runs every case of Wycheproof's ecdh_secp256k1_test.json through ParseSecp256k1Spki + EcdhRawX.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "crypto/ecdh.h"
#include "crypto/keys.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

boost::json::value LoadVectors(const std::string& name) {
  std::ifstream in(std::string(LEDGER_VECTORS_DIR) + "/wycheproof/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

Bytes Hex(const boost::json::value& v) {
  auto bytes = FromHex(std::string_view(v.as_string()));
  EXPECT_TRUE(bytes.has_value());
  return bytes.value_or(Bytes{});
}

// Wycheproof writes private keys as big-endian integers (sometimes with a leading 00, sometimes
// short); our keys are exactly 32 bytes.
Result<PrivateKey> PrivateFromInteger(Bytes raw) {
  while (!raw.empty() && raw.front() == 0)
    raw.erase(raw.begin());
  if (raw.size() > kPrivateKeyBytes) return MakeError(ErrorCode::kInvalidArgument, "too long");
  Bytes padded(kPrivateKeyBytes - raw.size(), 0);
  Append(padded, raw);
  return PrivateKey::FromBytes(padded);
}

Result<Hash32> RunCase(const boost::json::object& t) {
  auto point = ParseSecp256k1Spki(Hex(t.at("public")));
  if (!point) return std::unexpected(point.error());
  auto key = PrivateFromInteger(Hex(t.at("private")));
  if (!key) return std::unexpected(key.error());
  return EcdhRawX(*key, *point);
}

bool HasFlag(const boost::json::object& t, std::string_view flag) {
  for (const auto& f : t.at("flags").as_array())
    if (f.as_string() == flag) return true;
  return false;
}

// "acceptable" cases: our policy, asserted case by case.
//   CompressedPublic: accepted (a 33-byte point is a valid SEC1 encoding).
//   InvalidAsn (BER / malformed DER) and UnnamedCurve (explicit curve parameters): refused; the
//   parser accepts only the unique DER encoding with the named curve.
TEST(EcdhWycheproof, EveryCaseMatchesExpectedResult) {
  auto root = LoadVectors("ecdh_secp256k1_test.json");
  const auto& doc = root.as_object();
  size_t run = 0, valid = 0, invalid = 0, acceptable_accepted = 0, acceptable_refused = 0;
  for (const auto& group : doc.at("testGroups").as_array()) {
    EXPECT_EQ(group.at("curve").as_string(), "secp256k1");
    EXPECT_EQ(group.at("encoding").as_string(), "asn");
    for (const auto& tv : group.at("tests").as_array()) {
      const auto& t = tv.as_object();
      const auto id = t.at("tcId").as_int64();
      const std::string result(t.at("result").as_string());
      auto shared = RunCase(t);
      ++run;
      if (result == "valid") {
        ++valid;
        ASSERT_TRUE(shared.has_value()) << "tcId " << id << ": " << shared.error().ToString();
        EXPECT_EQ(shared->ToHex(), std::string(t.at("shared").as_string())) << "tcId " << id;
      } else if (result == "invalid") {
        ++invalid;
        EXPECT_FALSE(shared.has_value()) << "tcId " << id;
      } else {
        ASSERT_EQ(result, "acceptable");
        const bool should_accept = HasFlag(t, "CompressedPublic");
        EXPECT_TRUE(should_accept || HasFlag(t, "InvalidAsn") || HasFlag(t, "UnnamedCurve"))
            << "tcId " << id << " has an acceptable flag with no stated policy";
        EXPECT_EQ(shared.has_value(), should_accept) << "tcId " << id;
        if (shared) {
          ++acceptable_accepted;
          EXPECT_EQ(shared->ToHex(), std::string(t.at("shared").as_string())) << "tcId " << id;
        } else {
          ++acceptable_refused;
        }
      }
    }
  }
  EXPECT_EQ(run, static_cast<size_t>(doc.at("numberOfTests").as_int64()));  // nothing skipped
  EXPECT_EQ(valid, 473u);
  EXPECT_EQ(invalid, 49u);
  EXPECT_EQ(acceptable_accepted, 1u);
  EXPECT_EQ(acceptable_refused, 229u);
}

TEST(Ecdh, RawXIsSymmetricAndAcceptsBothPointEncodings) {
  auto a = PrivateKey::Generate();
  auto b = PrivateKey::Generate();
  auto ab = EcdhRawX(a, b.GetPublicKey().span());
  auto ba = EcdhRawX(b, a.GetPublicKey().span());
  ASSERT_TRUE(ab && ba);
  EXPECT_EQ(*ab, *ba);
}

TEST(Ecdh, RefusesHybridAndInfinityEncodings) {
  auto a = PrivateKey::Generate();
  Bytes point(kUncompressedPointBytes, 0);
  point[0] = 0x06;  // hybrid: libsecp256k1 would parse it, SEC1 peers must not send it
  EXPECT_FALSE(EcdhRawX(a, point).has_value());
  EXPECT_FALSE(EcdhRawX(a, Bytes{0x00}).has_value());
  EXPECT_FALSE(EcdhRawX(a, Bytes{}).has_value());
}

TEST(Ecdh, SpkiParserRefusesTrailingBytes) {
  auto der = FromHex(
      "3036301006072a8648ce3d020106052b8104000a03220002d8096af8a11e0b80037e1ee68246b5dcbb0aeb1cf"
      "1244fd767db80f3fa27da2b");
  ASSERT_TRUE(der.has_value());
  EXPECT_TRUE(ParseSecp256k1Spki(*der).has_value());
  der->push_back(0);
  EXPECT_FALSE(ParseSecp256k1Spki(*der).has_value());
}

}  // namespace
}  // namespace cl::crypto
