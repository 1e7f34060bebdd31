#include "util/canonical_proto.h"

#include <cstring>
#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace cl {

namespace {
namespace gp = google::protobuf;
}  // namespace

bool HasUnknownFields(const gp::Message& msg) {
  const gp::Reflection* reflection = msg.GetReflection();
  if (!reflection->GetUnknownFields(msg).empty()) return true;
  std::vector<const gp::FieldDescriptor*> fields;
  reflection->ListFields(msg, &fields);
  for (const gp::FieldDescriptor* field : fields) {
    if (field->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      const int count = reflection->FieldSize(msg, field);
      for (int i = 0; i < count; ++i)
        if (HasUnknownFields(reflection->GetRepeatedMessage(msg, field, i))) return true;
    } else if (HasUnknownFields(reflection->GetMessage(msg, field))) {
      return true;
    }
  }
  return false;
}

std::string CanonicalEncoding(const gp::Message& msg) {
  std::string out;
  {
    gp::io::StringOutputStream stream(&out);
    gp::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    msg.SerializeToCodedStream(&coded);
  }
  return out;
}

Status ParseCanonical(gp::Message& msg, std::string_view bytes, std::string_view what) {
  auto fail = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(what) + ": " + std::string(why));
  };
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return fail("too large to parse");
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return fail("does not parse");
  if (HasUnknownFields(msg)) return fail("has an unknown field");
  const std::string again = CanonicalEncoding(msg);
  // Empty input may have a null data(): memcmp must not see it, even for 0 bytes (undefined
  // behaviour; an empty transaction hex in submit_txs reached it).
  if (again.size() != bytes.size() ||
      (!bytes.empty() && std::memcmp(again.data(), bytes.data(), bytes.size()) != 0))
    return fail("is not in canonical encoding");
  return {};
}

Status ParseCanonical(gp::Message& msg, ByteSpan bytes, std::string_view what) {
  return ParseCanonical(
      msg, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), what);
}

}  // namespace cl
