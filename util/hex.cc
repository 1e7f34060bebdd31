#include "util/hex.h"

namespace cl {
namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string ToHex(ByteSpan in) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(in.size() * 2, '0');
  for (size_t i = 0; i < in.size(); ++i) {
    out[2 * i] = kDigits[in[i] >> 4];
    out[2 * i + 1] = kDigits[in[i] & 0xf];
  }
  return out;
}

Result<Bytes> FromHex(std::string_view hex) {
  if (hex.starts_with("0x") || hex.starts_with("0X")) hex.remove_prefix(2);
  if (hex.size() % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "hex has odd length");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return MakeError(ErrorCode::kInvalidArgument, "non-hex character");
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

Result<Hash32> Hash32FromHex(std::string_view hex) {
  auto bytes = FromHex(hex);
  if (!bytes) return std::unexpected(bytes.error());
  auto h = Hash32::FromSpan(*bytes);
  if (!h) return MakeError(ErrorCode::kInvalidArgument, "expected 32 bytes of hex");
  return *h;
}

}  // namespace cl
