#include "crypto/ecdh.h"

#include <secp256k1.h>
#include <secp256k1_ecdh.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "util/assert.h"

namespace cl::crypto {
namespace {

const secp256k1_context* Context() {
  // ECDH needs no precomputed signing tables; a plain context is read-only after creation.
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    LEDGER_ASSERT(c != nullptr);
    return c;
  }();
  return ctx;
}

// libsecp256k1 hands the shared point's affine coordinates to this function; we keep x only.
int CopyX(unsigned char* output, const unsigned char* x32, const unsigned char* /*y32*/,
          void* /*data*/) {
  std::memcpy(output, x32, 32);
  return 1;
}

// SEQUENCE { SEQUENCE { OID 1.2.840.10045.2.1, OID 1.3.132.0.10 }, BIT STRING (0 unused bits) point
// } The only DER encodings for a 65- and a 33-byte point; only the outer lengths differ.
constexpr std::array<uint8_t, 23> kSpkiUncompressedPrefix = {
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00};
constexpr std::array<uint8_t, 23> kSpkiCompressedPrefix = {
    0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
    0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x22, 0x00};

}  // namespace

Result<Hash32> EcdhRawX(const PrivateKey& private_key, ByteSpan peer_sec1_point) {
  const bool compressed = peer_sec1_point.size() == kCompressedPointBytes &&
                          (peer_sec1_point[0] == 0x02 || peer_sec1_point[0] == 0x03);
  const bool uncompressed =
      peer_sec1_point.size() == kUncompressedPointBytes && peer_sec1_point[0] == 0x04;
  if (!compressed && !uncompressed)
    return MakeError(ErrorCode::kInvalidArgument, "ecdh: public key is not a SEC1 point encoding");
  secp256k1_pubkey point;
  if (secp256k1_ec_pubkey_parse(Context(), &point, peer_sec1_point.data(),
                                peer_sec1_point.size()) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "ecdh: public key is not on secp256k1");
  Hash32 shared;
  if (secp256k1_ecdh(Context(), shared.data(), &point, private_key.secret().data(), CopyX,
                     nullptr) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "ecdh: shared point rejected");
  return shared;
}

Result<Bytes> ParseSecp256k1Spki(ByteSpan der) {
  auto matches = [&](const std::array<uint8_t, 23>& prefix, size_t point_bytes) {
    return der.size() == prefix.size() + point_bytes &&
           std::equal(prefix.begin(), prefix.end(), der.begin());
  };
  if (matches(kSpkiUncompressedPrefix, kUncompressedPointBytes) ||
      matches(kSpkiCompressedPrefix, kCompressedPointBytes))
    return Bytes(der.begin() + 23, der.end());
  return MakeError(ErrorCode::kInvalidArgument,
                   "spki: not the DER encoding of a named-curve secp256k1 public key");
}

}  // namespace cl::crypto
