#include "crypto/hkdf.h"

#include <cryptopp/hkdf.h>
#include <cryptopp/sha.h>

namespace cl::crypto {

Result<Bytes> HkdfSha256(ByteSpan ikm, ByteSpan salt, ByteSpan info, size_t output_bytes) {
  if (output_bytes > kHkdfSha256MaxOutputBytes)
    return MakeError(ErrorCode::kInvalidArgument, "hkdf: output longer than 255 * 32 bytes");
  Bytes okm(output_bytes);
  if (output_bytes == 0) return okm;
  // Crypto++ treats a null salt as "no salt" (HashLen zeros); an empty span may carry a null
  // pointer, which gives the same RFC result, because HMAC pads a short key with zeros.
  static const uint8_t kEmpty = 0;
  CryptoPP::HKDF<CryptoPP::SHA256> hkdf;
  try {
    hkdf.DeriveKey(okm.data(), okm.size(), ikm.empty() ? &kEmpty : ikm.data(), ikm.size(),
                   salt.empty() ? &kEmpty : salt.data(), salt.size(),
                   info.empty() ? &kEmpty : info.data(), info.size());
  } catch (const CryptoPP::Exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("hkdf: ") + e.what());
  }
  return okm;
}

}  // namespace cl::crypto
