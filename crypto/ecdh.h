// Raw secp256k1 ECDH (the shared point's x-coordinate, as in SEC1 and Wycheproof) and a strict
// parser for DER SubjectPublicKeyInfo keys on secp256k1. The p2p handshake feeds the x-coordinate
// into HKDF-SHA256 (crypto/hkdf.h); PrivateKey::Ecdh in crypto/keys.h is a different, hashed
// variant.
//
// Thread safety: stateless functions, safe from several threads.
#pragma once

#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

inline constexpr size_t kEcdhSharedBytes = 32;
inline constexpr size_t kCompressedPointBytes = 33;    // 0x02/0x03 || x
inline constexpr size_t kUncompressedPointBytes = 65;  // 0x04 || x || y

// x-coordinate of private * peer, where peer is a SEC1 point: 33 bytes (0x02/0x03) or 65 bytes
// (0x04). Hybrid encodings (0x06/0x07), the point at infinity and points off the curve are refused.
Result<Hash32> EcdhRawX(const PrivateKey& private_key, ByteSpan peer_sec1_point);

// The SEC1 point inside a DER SubjectPublicKeyInfo whose algorithm is id-ecPublicKey with the named
// curve secp256k1. Strict: DER is unique for this structure, so anything but the exact encoding
// (explicit curve parameters, non-minimal lengths, trailing bytes, unused bits) is refused. The
// point itself is checked by EcdhRawX / PublicKey::Parse, not here.
Result<Bytes> ParseSecp256k1Spki(ByteSpan der);

}  // namespace cl::crypto
