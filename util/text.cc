#include "util/text.h"

#include <cstdio>

namespace cl {

std::optional<char32_t> DecodeUtf8(std::string_view text, size_t& pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return static_cast<char32_t>(text[pos++]);
  size_t length = 0;
  char32_t c = 0;
  char32_t min = 0;
  if ((lead & 0xe0) == 0xc0) {
    length = 2, c = lead & 0x1f, min = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, c = lead & 0x0f, min = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, c = lead & 0x07, min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (pos + length > text.size()) return std::nullopt;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xc0) != 0x80) return std::nullopt;
    c = (c << 6) | (byte(pos + i) & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return std::nullopt;
  pos += length;
  return c;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    if (!DecodeUtf8(text, pos)) return false;
  }
  return true;
}

std::string EscapeText(std::string_view text) {
  std::string out;
  char buf[16];
  const auto u = [&](unsigned unit) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", unit);
    out += buf;
  };
  for (size_t pos = 0; pos < text.size();) {
    const unsigned char b = static_cast<unsigned char>(text[pos]);
    if (b >= 0x20 && b < 0x7f) {
      if (b == '"' || b == '\\') out += '\\';
      out += static_cast<char>(b);
      ++pos;
      continue;
    }
    const std::optional<char32_t> c = DecodeUtf8(text, pos);
    if (!c) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", b);
      out += buf;
      ++pos;
    } else if (*c > 0xffff) {
      const unsigned v = static_cast<unsigned>(*c) - 0x10000;
      u(0xd800 + (v >> 10));
      u(0xdc00 + (v & 0x3ff));
    } else {
      u(static_cast<unsigned>(*c));
    }
  }
  return out;
}

}  // namespace cl
