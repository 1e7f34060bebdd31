// Text from outside (a member descriptor, a genesis file, a peers file, an RPC client) that a
// command shows to a person: UTF-8 decoding, and escaping so that such text can neither drive the
// terminal (ESC sequences, carriage returns, newlines that fake a second line) nor hide a
// character (a zero-width space, a right-to-left override).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cl {

// Decodes the code point at text[pos] and advances pos past it; nullopt (pos unchanged) for a byte
// that does not start a well-formed UTF-8 sequence (overlong forms, surrogates and values past
// U+10FFFF are not well-formed).
std::optional<char32_t> DecodeUtf8(std::string_view text, size_t& pos);

bool IsValidUtf8(std::string_view text);

// `text` with every byte outside printable ASCII (0x20..0x7e) escaped, and '"' and '\' too: a
// well-formed UTF-8 character as \uXXXX (a surrogate pair past U+FFFF, as JSON writes it), any
// other byte as \xNN. The result is printable ASCII, so what a terminal shows is exactly what is
// there; for valid UTF-8 input, "\"" + EscapeText(text) + "\"" is a JSON string of the same text.
std::string EscapeText(std::string_view text);

}  // namespace cl
