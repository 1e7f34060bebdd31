#include "util/bytes.h"

#include <cstring>

#include "util/hex.h"

namespace cl {

bool Hash32::IsZero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

std::string Hash32::ToHex() const {
  return cl::ToHex(span());
}

std::optional<Hash32> Hash32::FromSpan(ByteSpan in) {
  if (in.size() != kSize) return std::nullopt;
  Hash32 h;
  std::memcpy(h.bytes.data(), in.data(), kSize);
  return h;
}

size_t Hash32Hasher::operator()(const Hash32& h) const {
  size_t v;
  std::memcpy(&v, h.bytes.data(), sizeof(v));
  return v;
}

void Append(Bytes& out, ByteSpan in) {
  out.insert(out.end(), in.begin(), in.end());
}
void AppendU8(Bytes& out, uint8_t v) {
  out.push_back(v);
}
void AppendU16BE(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void AppendU32BE(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(v >> shift));
}
void AppendU64BE(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>(v >> shift));
}
void AppendVarint(Bytes& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
void AppendLengthPrefixed(Bytes& out, ByteSpan in) {
  AppendVarint(out, in.size());
  Append(out, in);
}

uint16_t LoadU16BE(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t LoadU32BE(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t LoadU64BE(const uint8_t* p) {
  return (uint64_t{LoadU32BE(p)} << 32) | LoadU32BE(p + 4);
}

std::optional<ByteSpan> ByteReader::Take(size_t n) {
  if (failed_ || in_.size() - pos_ < n) {
    failed_ = true;
    return std::nullopt;
  }
  ByteSpan out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}
std::optional<uint8_t> ByteReader::U8() {
  auto s = Take(1);
  if (!s) return std::nullopt;
  return (*s)[0];
}
std::optional<uint16_t> ByteReader::U16BE() {
  auto s = Take(2);
  if (!s) return std::nullopt;
  return LoadU16BE(s->data());
}
std::optional<uint32_t> ByteReader::U32BE() {
  auto s = Take(4);
  if (!s) return std::nullopt;
  return LoadU32BE(s->data());
}
std::optional<uint64_t> ByteReader::U64BE() {
  auto s = Take(8);
  if (!s) return std::nullopt;
  return LoadU64BE(s->data());
}
std::optional<uint64_t> ByteReader::Varint() {
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    auto b = U8();
    if (!b) return std::nullopt;
    if (i == 9 && *b > 1) break;  // more than 64 bits
    v |= uint64_t{*b & 0x7fu} << (7 * i);
    if ((*b & 0x80) == 0) {
      if (i > 0 && *b == 0) break;  // non-minimal
      return v;
    }
  }
  failed_ = true;
  return std::nullopt;
}
std::optional<Hash32> ByteReader::TakeHash() {
  auto s = Take(Hash32::kSize);
  if (!s) return std::nullopt;
  return Hash32::FromSpan(*s);
}
std::optional<ByteSpan> ByteReader::LengthPrefixed(size_t max_bytes) {
  auto n = Varint();
  if (!n) return std::nullopt;
  if (*n > max_bytes) {
    failed_ = true;
    return std::nullopt;
  }
  return Take(static_cast<size_t>(*n));
}

void SecureWipe(void* p, size_t n) {
  volatile uint8_t* v = static_cast<volatile uint8_t*>(p);
  while (n--)
    *v++ = 0;
}

}  // namespace cl
