// AES-256-GCM (DESIGN decision 11) through Crypto++, which uses AES-NI and carry-less multiply
// where the CPU has them.
//
//   AesGcm256: the session cipher. Key fixed at construction (expanded once), 96-bit nonce,
//              128-bit tag appended to the ciphertext. Not thread-safe: one object per direction
//              per session, used by one thread at a time.
//   AesGcmSealAnySize / AesGcmOpenAnySize: any AES key size (16/24/32 bytes), 96-bit IV only (see
//              aead.cc for why other IV lengths are refused), tag of 1..16 bytes. Slow (expands the
//              key per call); for test vectors, not sessions.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;

using AeadKey = std::array<uint8_t, kAeadKeyBytes>;
using AeadNonce = std::array<uint8_t, kAeadNonceBytes>;

class AesGcm256 {
 public:
  explicit AesGcm256(const AeadKey& key);
  ~AesGcm256();
  AesGcm256(const AesGcm256&) = delete;
  AesGcm256& operator=(const AesGcm256&) = delete;

  // Writes plaintext.size() + kAeadTagBytes bytes to out (ciphertext || tag). out may equal
  // plaintext.data() (in place).
  void Seal(const AeadNonce& nonce, ByteSpan aad, ByteSpan plaintext, uint8_t* out);
  // Checks the tag and writes sealed.size() - kAeadTagBytes plaintext bytes to out (may equal
  // sealed.data()). Returns false, with out unspecified, if the input is shorter than a tag or the
  // tag does not verify.
  [[nodiscard]] bool Open(const AeadNonce& nonce, ByteSpan aad, ByteSpan sealed, uint8_t* out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ciphertext || tag (tag_bytes long).
Result<Bytes> AesGcmSealAnySize(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext,
                                size_t tag_bytes);
// Plaintext, or kUnauthenticated if the tag does not verify, or kInvalidArgument for sizes that
// we do not support (IV not 12 bytes, bad key length, tag length outside 1..16).
Result<Bytes> AesGcmOpenAnySize(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                                ByteSpan tag);

}  // namespace cl::crypto
