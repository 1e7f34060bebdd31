#include "crypto/aead.h"

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>

#include "util/assert.h"

namespace cl::crypto {
namespace {

// Crypto++ dereferences its input pointers even for zero lengths in places; give it a valid one.
const uint8_t* NonNull(ByteSpan s) {
  static const uint8_t kEmpty = 0;
  return s.empty() ? &kEmpty : s.data();
}

Status CheckSizes(ByteSpan key, ByteSpan iv, size_t tag_bytes) {
  if (key.size() != 16 && key.size() != 24 && key.size() != 32)
    return MakeError(ErrorCode::kInvalidArgument, "aes-gcm: key must be 16, 24 or 32 bytes");
  // Only 96-bit IVs: for other lengths GCM derives the counter from GHASH(IV), and Crypto++ 8.7
  // carries that counter past 32 bits where GCM wraps it (Wycheproof CounterWrap cases 79, 82,
  // 159, 162, 242, 245 come out wrong), so refusing is the only safe answer.
  if (iv.size() != kAeadNonceBytes)
    return MakeError(ErrorCode::kInvalidArgument, "aes-gcm: IV must be 12 bytes");
  if (tag_bytes == 0 || tag_bytes > kAeadTagBytes)
    return MakeError(ErrorCode::kInvalidArgument, "aes-gcm: tag must be 1..16 bytes");
  return OkStatus();
}

}  // namespace

struct AesGcm256::Impl {
  CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
  CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
};

AesGcm256::AesGcm256(const AeadKey& key) : impl_(std::make_unique<Impl>()) {
  // Crypto++ wants an IV with the key; every Seal/Open passes its own nonce, which replaces it.
  const AeadNonce placeholder{};
  impl_->enc.SetKeyWithIV(key.data(), key.size(), placeholder.data(), placeholder.size());
  impl_->dec.SetKeyWithIV(key.data(), key.size(), placeholder.data(), placeholder.size());
}

AesGcm256::~AesGcm256() = default;

void AesGcm256::Seal(const AeadNonce& nonce, ByteSpan aad, ByteSpan plaintext, uint8_t* out) {
  impl_->enc.EncryptAndAuthenticate(out, out + plaintext.size(), kAeadTagBytes, nonce.data(),
                                    nonce.size(), NonNull(aad), aad.size(), NonNull(plaintext),
                                    plaintext.size());
}

bool AesGcm256::Open(const AeadNonce& nonce, ByteSpan aad, ByteSpan sealed, uint8_t* out) {
  if (sealed.size() < kAeadTagBytes) return false;
  const size_t body = sealed.size() - kAeadTagBytes;
  return impl_->dec.DecryptAndVerify(out, sealed.data() + body, kAeadTagBytes, nonce.data(),
                                     nonce.size(), NonNull(aad), aad.size(), NonNull(sealed), body);
}

Result<Bytes> AesGcmSealAnySize(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext,
                                size_t tag_bytes) {
  LEDGER_TRY(CheckSizes(key, iv, tag_bytes));
  Bytes out(plaintext.size() + tag_bytes);
  try {
    CryptoPP::GCM<CryptoPP::AES>::Encryption enc;
    enc.SetKeyWithIV(key.data(), key.size(), iv.data(), iv.size());
    enc.EncryptAndAuthenticate(out.data(), out.data() + plaintext.size(), tag_bytes, iv.data(),
                               static_cast<int>(iv.size()), NonNull(aad), aad.size(),
                               NonNull(plaintext), plaintext.size());
  } catch (const CryptoPP::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("aes-gcm: ") + e.what());
  }
  return out;
}

Result<Bytes> AesGcmOpenAnySize(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                                ByteSpan tag) {
  LEDGER_TRY(CheckSizes(key, iv, tag.size()));
  Bytes out(ciphertext.size());
  uint8_t scratch = 0;  // Crypto++ wants a writable pointer even for an empty plaintext
  bool ok = false;
  try {
    CryptoPP::GCM<CryptoPP::AES>::Decryption dec;
    dec.SetKeyWithIV(key.data(), key.size(), iv.data(), iv.size());
    ok = dec.DecryptAndVerify(out.empty() ? &scratch : out.data(), tag.data(), tag.size(),
                              iv.data(), static_cast<int>(iv.size()), NonNull(aad), aad.size(),
                              NonNull(ciphertext), ciphertext.size());
  } catch (const CryptoPP::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("aes-gcm: ") + e.what());
  }
  if (!ok) return MakeError(ErrorCode::kUnauthenticated, "aes-gcm: tag does not verify");
  return out;
}

}  // namespace cl::crypto
