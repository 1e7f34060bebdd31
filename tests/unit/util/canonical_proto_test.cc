#include "util/canonical_proto.h"

#include <string>

#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include "util/quorum.h"

namespace cl {
namespace {

namespace gp = google::protobuf;

// A message with a nested repeated message, from protobuf's own descriptor types.
gp::DescriptorProto Sample() {
  gp::DescriptorProto msg;
  msg.set_name("Account");
  auto* field = msg.add_field();
  field->set_name("id");
  field->set_number(1);
  return msg;
}

TEST(CanonicalProto, AcceptsTheDeterministicEncoding) {
  gp::DescriptorProto parsed;
  EXPECT_TRUE(ParseCanonical(parsed, CanonicalEncoding(Sample()), "sample").has_value());
  EXPECT_EQ(parsed.field(0).number(), 1);
}

TEST(CanonicalProto, RefusesAnUnknownFieldAtTheTop) {
  std::string bytes = CanonicalEncoding(Sample());
  bytes += std::string("\xc8\x01\x01", 3);  // field 25, varint 1: unknown to DescriptorProto
  gp::DescriptorProto parsed;
  auto status = ParseCanonical(parsed, bytes, "sample");
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().message.find("unknown field"), std::string::npos);
}

TEST(CanonicalProto, RefusesAnUnknownFieldInsideANestedMessage) {
  gp::DescriptorProto msg = Sample();
  gp::FieldDescriptorProto inner = msg.field(0);
  std::string inner_bytes = CanonicalEncoding(inner) + std::string("\xf8\x01\x07", 3);  // field 31
  msg.clear_field();
  std::string bytes = CanonicalEncoding(msg);
  bytes += '\x12';  // field 2, length-delimited
  bytes += static_cast<char>(inner_bytes.size());
  bytes += inner_bytes;
  gp::DescriptorProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));  // protobuf itself accepts it
  EXPECT_FALSE(ParseCanonical(parsed, bytes, "sample").has_value());
}

TEST(CanonicalProto, RefusesFieldsOutOfOrderAndDuplicatedScalars) {
  gp::FieldDescriptorProto field;
  field.set_name("x");
  field.set_number(3);
  const std::string name = CanonicalEncoding(field).substr(0, 3);  // field 1 "x"
  const std::string number = CanonicalEncoding(field).substr(3);   // field 3 varint
  gp::FieldDescriptorProto parsed;
  EXPECT_TRUE(ParseCanonical(parsed, name + number, "f").has_value());
  EXPECT_FALSE(ParseCanonical(parsed, number + name, "f").has_value());
  EXPECT_FALSE(ParseCanonical(parsed, name + number + number, "f").has_value());
}

TEST(CanonicalProto, RefusesANonMinimalVarint) {
  gp::FieldDescriptorProto parsed;
  EXPECT_TRUE(ParseCanonical(parsed, std::string("\x18\x03", 2), "f").has_value());
  EXPECT_FALSE(ParseCanonical(parsed, std::string("\x18\x83\x00", 3), "f").has_value());
}

TEST(CanonicalProto, RefusesGarbage) {
  gp::DescriptorProto parsed;
  EXPECT_FALSE(ParseCanonical(parsed,
                              std::string("\x0a\x05"
                                          "ab",
                                          4),
                              "f")
                   .has_value());
}

TEST(Quorum, AnyTwoQuorumsShareFPlusOneReplicas) {
  for (uint32_t n = 1; n <= 256; ++n) {
    const uint32_t f = FaultsTolerated(n);
    const uint32_t q = QuorumSize(n);
    EXPECT_LE(q, n - f) << "n=" << n << ": a quorum must be reachable with f replicas silent";
    EXPECT_GE(2 * q, n + f + 1) << "n=" << n << ": two quorums must share f+1 replicas";
    if (n % 3 == 1) {
      EXPECT_EQ(q, 2 * f + 1) << "n=" << n;
    }
  }
}

}  // namespace
}  // namespace cl
