#include "util/bytes.h"

#include <gtest/gtest.h>

namespace cl {
namespace {

TEST(Bytes, BigEndianRoundTrip) {
  Bytes b;
  AppendU16BE(b, 0x0102);
  AppendU32BE(b, 0x03040506);
  AppendU64BE(b, 0x0708090a0b0c0d0eull);
  EXPECT_EQ(b.size(), 14u);
  ByteReader r(b);
  EXPECT_EQ(r.U16BE(), 0x0102);
  EXPECT_EQ(r.U32BE(), 0x03040506u);
  EXPECT_EQ(r.U64BE(), 0x0708090a0b0c0d0eull);
  EXPECT_TRUE(r.done());
}

TEST(Bytes, VarintRoundTripAtBoundaries) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 16383ull, 16384ull, ~0ull}) {
    Bytes b;
    AppendVarint(b, v);
    ByteReader r(b);
    EXPECT_EQ(r.Varint(), v);
    EXPECT_TRUE(r.done());
  }
}

TEST(Bytes, VarintRejectsNonMinimalAndOverlong) {
  Bytes non_minimal = {0x80, 0x00};
  EXPECT_FALSE(ByteReader(non_minimal).Varint().has_value());
  Bytes overlong(11, 0xff);
  EXPECT_FALSE(ByteReader(overlong).Varint().has_value());
  Bytes too_big = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  EXPECT_FALSE(ByteReader(too_big).Varint().has_value());
}

TEST(Bytes, ReaderFailsPastEndAndStaysFailed) {
  Bytes b = {1, 2, 3};
  ByteReader r(b);
  EXPECT_FALSE(r.U32BE().has_value());
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.U8().has_value());
}

TEST(Bytes, LengthPrefixedHonoursMaximum) {
  Bytes b;
  AppendLengthPrefixed(b, Bytes(10, 7));
  EXPECT_FALSE(ByteReader(b).LengthPrefixed(9).has_value());
  auto s = ByteReader(b).LengthPrefixed(10);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->size(), 10u);
}

TEST(Bytes, HashBitOrderIsMostSignificantFirst) {
  Hash32 h;
  h.bytes[0] = 0x80;
  h.bytes[1] = 0x01;
  EXPECT_TRUE(h.Bit(0));
  EXPECT_FALSE(h.Bit(1));
  EXPECT_TRUE(h.Bit(15));
}

}  // namespace
}  // namespace cl
