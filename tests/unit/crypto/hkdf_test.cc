// Runs every case of Wycheproof's hkdf_sha256_test.json through HkdfSha256.
#include "crypto/hkdf.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <string>

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

TEST(HkdfWycheproof, EveryCaseMatchesExpectedResult) {
  auto root = LoadVectors("hkdf_sha256_test.json");
  const auto& doc = root.as_object();
  size_t run = 0, invalid = 0;
  for (const auto& group : doc.at("testGroups").as_array()) {
    for (const auto& tv : group.at("tests").as_array()) {
      const auto& t = tv.as_object();
      const auto id = t.at("tcId").as_int64();
      auto okm = HkdfSha256(Hex(t.at("ikm")), Hex(t.at("salt")), Hex(t.at("info")),
                            static_cast<size_t>(t.at("size").as_int64()));
      ++run;
      if (t.at("result").as_string() == "valid") {
        ASSERT_TRUE(okm.has_value()) << "tcId " << id;
        EXPECT_EQ(ToHex(*okm), std::string(t.at("okm").as_string())) << "tcId " << id;
      } else {
        ASSERT_EQ(t.at("result").as_string(), "invalid");
        ++invalid;
        EXPECT_FALSE(okm.has_value()) << "tcId " << id;
      }
    }
  }
  EXPECT_EQ(run, static_cast<size_t>(doc.at("numberOfTests").as_int64()));  // nothing skipped
  EXPECT_EQ(invalid, 3u);                                                   // SizeTooLarge
}

TEST(Hkdf, MatchesRfc5869Case3WithEmptySaltAndInfo) {
  auto okm = HkdfSha256(Bytes(22, 0x0b), {}, {}, 42);
  ASSERT_TRUE(okm.has_value());
  EXPECT_EQ(ToHex(*okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(Hkdf, RefusesOutputBeyondRfcLimit) {
  EXPECT_TRUE(HkdfSha256(Bytes(32, 1), {}, {}, kHkdfSha256MaxOutputBytes).has_value());
  EXPECT_FALSE(HkdfSha256(Bytes(32, 1), {}, {}, kHkdfSha256MaxOutputBytes + 1).has_value());
}

}  // namespace
}  // namespace cl::crypto
