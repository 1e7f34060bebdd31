#include "crypto/der.h"

#include <algorithm>
#include <cstring>

namespace cl::crypto {
namespace {

constexpr uint8_t kTagSequence = 0x30;
constexpr uint8_t kTagInteger = 0x02;
constexpr size_t kScalarBytes = 32;

// secp256k1 group order n, big-endian.
constexpr uint8_t kOrder[kScalarBytes] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

// Reads one strict INTEGER from reader into out (32 bytes, big-endian, left-padded with zeros).
Status ReadScalar(ByteReader& reader, const char* name, uint8_t* out) {
  auto tag = reader.U8();
  if (!tag || *tag != kTagInteger)
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": expected an INTEGER");
  auto len = reader.U8();
  if (!len) return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": truncated");
  // Long-form lengths (0x80 bit set) are never minimal for a length this small.
  if (*len == 0 || *len > kScalarBytes + 1)
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": bad INTEGER length");
  auto content = reader.Take(*len);
  if (!content) return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": truncated");
  ByteSpan v = *content;
  if (v[0] & 0x80)
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": negative INTEGER");
  if (v.size() > 1 && v[0] == 0x00 && (v[1] & 0x80) == 0)
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + ": INTEGER has superfluous leading zero");
  if (v[0] == 0x00 && v.size() > 1) v = v.subspan(1);
  if (v.size() > kScalarBytes)
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": larger than 256 bits");
  std::memset(out, 0, kScalarBytes);
  std::memcpy(out + kScalarBytes - v.size(), v.data(), v.size());
  bool zero = std::all_of(out, out + kScalarBytes, [](uint8_t b) { return b == 0; });
  if (zero || std::memcmp(out, kOrder, kScalarBytes) >= 0)
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + ": not in [1, n-1]");
  return OkStatus();
}

void AppendInteger(Bytes& out, const uint8_t* scalar) {
  size_t skip = 0;
  while (skip + 1 < kScalarBytes && scalar[skip] == 0)
    ++skip;
  bool pad = (scalar[skip] & 0x80) != 0;
  out.push_back(kTagInteger);
  out.push_back(static_cast<uint8_t>(kScalarBytes - skip + (pad ? 1 : 0)));
  if (pad) out.push_back(0x00);
  out.insert(out.end(), scalar + skip, scalar + kScalarBytes);
}

}  // namespace

Result<Signature> ParseDerSignature(ByteSpan der) {
  if (der.size() > kMaxDerSignatureBytes)
    return MakeError(ErrorCode::kInvalidArgument, "DER signature longer than 72 bytes");
  ByteReader reader(der);
  auto tag = reader.U8();
  if (!tag || *tag != kTagSequence)
    return MakeError(ErrorCode::kInvalidArgument, "DER signature: expected a SEQUENCE");
  auto len = reader.U8();
  // The size cap above keeps every valid length below 0x80, so long form is never minimal.
  if (!len || *len != reader.remaining())
    return MakeError(ErrorCode::kInvalidArgument,
                     "DER signature: SEQUENCE length does not match the input");
  Signature sig;
  LEDGER_TRY(ReadScalar(reader, "DER signature r", sig.bytes.data()));
  LEDGER_TRY(ReadScalar(reader, "DER signature s", sig.bytes.data() + kScalarBytes));
  if (!reader.done()) return MakeError(ErrorCode::kInvalidArgument, "DER signature: bytes after s");
  return sig;
}

Bytes EncodeDerSignature(const Signature& sig) {
  Bytes body;
  body.reserve(kMaxDerSignatureBytes);
  AppendInteger(body, sig.bytes.data());
  AppendInteger(body, sig.bytes.data() + kScalarBytes);
  Bytes out;
  out.reserve(body.size() + 2);
  out.push_back(kTagSequence);
  out.push_back(static_cast<uint8_t>(body.size()));
  Append(out, body);
  return out;
}

}  // namespace cl::crypto
