#include "util/hex.h"

#include <gtest/gtest.h>

namespace cl {
namespace {

TEST(Hex, RoundTripsEveryByte) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i)
    all[i] = static_cast<uint8_t>(i);
  std::string hex = ToHex(all);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  auto back = FromHex(hex);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Hex, AcceptsUpperCaseAndPrefix) {
  auto b = FromHex("0xABcd");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(*b, (Bytes{0xab, 0xcd}));
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(FromHex("abc").has_value());
  EXPECT_FALSE(FromHex("zz").has_value());
  EXPECT_EQ(FromHex("g0").error().code, ErrorCode::kInvalidArgument);
}

TEST(Hex, Hash32NeedsExactly32Bytes) {
  EXPECT_FALSE(Hash32FromHex("00").has_value());
  EXPECT_TRUE(Hash32FromHex(std::string(64, 'a')).has_value());
}

}  // namespace
}  // namespace cl
