// Byte strings, fixed-size hashes, and the fixed-width big-endian and varint encodings used by
// every format that is hashed or signed. Encodings here reach disk and the wire: do not change
// them.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cl {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

// A 32-byte digest (SHA-256 output, Merkle roots, key hashes). Zero-initialised.
struct Hash32 {
  std::array<uint8_t, 32> bytes{};

  static constexpr size_t kSize = 32;
  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  static constexpr size_t size() { return kSize; }
  ByteSpan span() const { return ByteSpan(bytes.data(), bytes.size()); }
  bool IsZero() const;
  // Bit i, counting from the most significant bit of byte 0 (the tree's path order).
  bool Bit(size_t i) const { return (bytes[i / 8] >> (7 - i % 8)) & 1; }
  std::string ToHex() const;
  static std::optional<Hash32> FromSpan(ByteSpan in);

  auto operator<=>(const Hash32&) const = default;
  bool operator==(const Hash32&) const = default;
};

struct Hash32Hasher {
  size_t operator()(const Hash32& h) const;
};

inline ByteSpan AsSpan(std::string_view s) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsStringView(ByteSpan s) {
  return std::string_view(reinterpret_cast<const char*>(s.data()), s.size());
}
inline Bytes ToBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}
inline std::string ToString(ByteSpan s) {
  return std::string(AsStringView(s));
}

void Append(Bytes& out, ByteSpan in);
void AppendU8(Bytes& out, uint8_t v);
void AppendU16BE(Bytes& out, uint16_t v);
void AppendU32BE(Bytes& out, uint32_t v);
void AppendU64BE(Bytes& out, uint64_t v);
// Unsigned LEB128, at most 10 bytes.
void AppendVarint(Bytes& out, uint64_t v);
// Varint length, then the bytes.
void AppendLengthPrefixed(Bytes& out, ByteSpan in);

uint16_t LoadU16BE(const uint8_t* p);
uint32_t LoadU32BE(const uint8_t* p);
uint64_t LoadU64BE(const uint8_t* p);

// Reads from a byte span front to back; every read checks bounds and returns nullopt past the end
// (the reader then stays failed). For parsing untrusted input.
class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : in_(in) {}
  std::optional<uint8_t> U8();
  std::optional<uint16_t> U16BE();
  std::optional<uint32_t> U32BE();
  std::optional<uint64_t> U64BE();
  std::optional<uint64_t> Varint();  // rejects non-minimal and over-long encodings
  std::optional<ByteSpan> Take(size_t n);
  std::optional<Hash32> TakeHash();
  // A varint length (at most max_bytes) then that many bytes.
  std::optional<ByteSpan> LengthPrefixed(size_t max_bytes);
  size_t remaining() const { return failed_ ? 0 : in_.size() - pos_; }
  bool done() const { return !failed_ && pos_ == in_.size(); }
  bool failed() const { return failed_; }

 private:
  ByteSpan in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Overwrites memory in a way the compiler may not elide (for secrets).
void SecureWipe(void* p, size_t n);

}  // namespace cl
