#include "genesis/member_name.h"

#include <cstdio>

#include "ledger/transaction.h"
#include "util/text.h"

namespace cl::genesis {
namespace {

// Characters that show nothing, or change how the characters around them are shown.
bool Invisible(char32_t c) {
  return c == 0x00ad ||                   // soft hyphen
         c == 0x034f ||                   // combining grapheme joiner
         c == 0x061c ||                   // Arabic letter mark
         c == 0x115f || c == 0x1160 ||    // Hangul fillers
         c == 0x17b4 || c == 0x17b5 ||    // Khmer inherent vowels
         c == 0x180e ||                   // Mongolian vowel separator
         (c >= 0x200b && c <= 0x200f) ||  // zero-width space..right-to-left mark
         (c >= 0x202a && c <= 0x202e) ||  // bidirectional embeddings and overrides
         (c >= 0x2060 && c <= 0x206f) ||  // word joiner, invisible operators, isolates
         c == 0x3164 || c == 0xffa0 ||    // Hangul fillers
         (c >= 0xfe00 && c <= 0xfe0f) ||  // variation selectors
         c == 0xfeff ||                   // zero-width no-break space (BOM)
         (c >= 0xfff9 && c <= 0xfffb) ||  // interlinear annotation
         (c >= 0xe0000 && c <= 0xe0fff);  // tags, variation selectors supplement
}

// Spaces other than U+0020: they look like one but compare differently.
bool OtherSpace(char32_t c) {
  return c == 0x00a0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
         c == 0x202f || c == 0x205f || c == 0x3000;
}

bool Control(char32_t c) {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

}  // namespace

Status CheckMemberName(std::string_view name) {
  if (name.empty() || name.size() > ledger::kMaxMemberNameBytes)
    return MakeError(ErrorCode::kInvalidArgument, "must be 1..64 bytes");
  // Descriptors and genesis are JSON, whose strings are UTF-8: anything else cannot be read back.
  if (!IsValidUtf8(name)) return MakeError(ErrorCode::kInvalidArgument, "must be valid UTF-8");
  for (size_t pos = 0; pos < name.size();) {
    const char32_t c = *DecodeUtf8(name, pos);
    if (Control(c))
      return MakeError(ErrorCode::kInvalidArgument, "must not contain control characters");
    if (Invisible(c)) {
      char code[16];
      std::snprintf(code, sizeof(code), "U+%04X", static_cast<unsigned>(c));
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("must not contain the invisible character ") + code);
    }
    if (OtherSpace(c))
      return MakeError(ErrorCode::kInvalidArgument, "must use only the ASCII space between words");
  }
  if (name.front() == ' ' || name.back() == ' ')
    return MakeError(ErrorCode::kInvalidArgument, "must not begin or end with a space");
  return OkStatus();
}

std::string MemberNameKey(std::string_view name) {
  std::string key;
  for (char c : name) {
    if (c == ' ' && !key.empty() && key.back() == ' ') continue;
    key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return key;
}

}  // namespace cl::genesis
