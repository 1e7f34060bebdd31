// HKDF with HMAC-SHA256 (RFC 5869) through Crypto++. The p2p handshake derives its per-direction
// session keys with it.
//
// Thread safety: stateless, safe from several threads.
#pragma once

#include <cstddef>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

// RFC 5869 limit: 255 blocks of the hash's 32-byte output.
inline constexpr size_t kHkdfSha256MaxOutputBytes = 255 * 32;

// okm = HKDF-Expand(HKDF-Extract(salt, ikm), info, output_bytes). An empty salt means HashLen zero
// bytes, as in the RFC. output_bytes above kHkdfSha256MaxOutputBytes is an error.
Result<Bytes> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t output_bytes);

}  // namespace cl::crypto
