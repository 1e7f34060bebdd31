// Strict DER encoding of ECDSA signatures (SEQUENCE { INTEGER r, INTEGER s }), for interoperating
// with tools and test vectors that use it (Bitcoin, X.509, Wycheproof). The ledger itself signs and
// stores only the 64-byte compact form of crypto/keys.h; this is a converter at the boundary.
//
// "Strict" is Bitcoin's BIP 66 rule plus a range check: exactly one encoding is accepted for each
// signature, so DER cannot be used to make a second, different-looking copy of a signature.
//   - definite short-form lengths only (every valid signature is shorter than 128 bytes), and each
//     length must match its content exactly; nothing may follow the SEQUENCE
//   - each INTEGER is minimal: no leading 0x00 unless the next byte has its top bit set
//   - no negative INTEGER (top bit of the first content byte clear)
//   - r and s are in [1, n-1], n the secp256k1 group order
// Low-S is NOT checked here: crypto::Verify rejects high-S, so a parsed high-S signature fails
// there.
//
// Thread safety: pure functions, safe from any thread.
#pragma once

#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

// Longest strict DER signature: 2 (SEQUENCE header) + 2 * (2 + 33) (INTEGER header + 0x00 + 32
// bytes).
inline constexpr size_t kMaxDerSignatureBytes = 72;

// Parses a strict DER signature into the compact 64-byte r || s form. Any deviation from the rules
// above is kInvalidArgument with a message naming the rule.
Result<Signature> ParseDerSignature(ByteSpan der);

// The strict DER encoding of a compact signature (minimal integers). The inverse of
// ParseDerSignature for every signature whose r and s are in [1, n-1].
Bytes EncodeDerSignature(const Signature& sig);

}  // namespace cl::crypto
