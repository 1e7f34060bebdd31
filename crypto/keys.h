// secp256k1 keys, addresses and ECDSA signatures (DESIGN decision 1), through libsecp256k1.
//
//   public key: 33-byte SEC1 compressed point (0x02/0x03 || x)
//   signature:  64-byte compact r || s (big-endian), low-S only: a signature whose s > n/2 is
//               rejected by Verify, so no signature is malleable
//   nonces:     RFC 6979 (deterministic), so signing needs no randomness
//   address:    first 20 bytes of SHA-256(0x10 || compressed public key)
//
// Thread safety: all functions and const methods are safe from several threads (libsecp256k1's
// context is used read-only after one-time initialisation).
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "util/bytes.h"
#include "util/status.h"

namespace cl::crypto {

inline constexpr size_t kPrivateKeyBytes = 32;
inline constexpr size_t kPublicKeyBytes = 33;
inline constexpr size_t kSignatureBytes = 64;
inline constexpr size_t kAddressBytes = 20;

struct Address {
  std::array<uint8_t, kAddressBytes> bytes{};

  ByteSpan span() const { return ByteSpan(bytes.data(), bytes.size()); }
  std::string ToHex() const;  // 40 lower-case hex digits
  static Result<Address> FromHex(std::string_view hex);
  static Result<Address> FromSpan(ByteSpan in);
  auto operator<=>(const Address&) const = default;
  bool operator==(const Address&) const = default;
};

struct PublicKey {
  std::array<uint8_t, kPublicKeyBytes> bytes{};

  // Accepts only a 33-byte compressed encoding of a point on the curve.
  static Result<PublicKey> Parse(ByteSpan in);
  static Result<PublicKey> FromHex(std::string_view hex);
  ByteSpan span() const { return ByteSpan(bytes.data(), bytes.size()); }
  std::string ToHex() const;
  Address ToAddress() const;
  auto operator<=>(const PublicKey&) const = default;
  bool operator==(const PublicKey&) const = default;
};

struct Signature {
  std::array<uint8_t, kSignatureBytes> bytes{};

  // Checks length only; range and low-S are checked by Verify.
  static Result<Signature> FromSpan(ByteSpan in);
  ByteSpan span() const { return ByteSpan(bytes.data(), bytes.size()); }
  std::string ToHex() const;
  auto operator<=>(const Signature&) const = default;
  bool operator==(const Signature&) const = default;
};

// A secret key. Wiped from memory when destroyed; never printed or logged.
class PrivateKey {
 public:
  // A fresh key from the operating system's randomness (getrandom).
  static PrivateKey Generate();
  // Accepts 32 bytes encoding a scalar in [1, n-1].
  static Result<PrivateKey> FromBytes(ByteSpan in);

  PrivateKey(const PrivateKey& other) = default;
  PrivateKey& operator=(const PrivateKey& other) = default;
  ~PrivateKey();

  PublicKey GetPublicKey() const;
  // ECDSA over a 32-byte digest with an RFC 6979 nonce; the result is always low-S.
  Signature Sign(const Hash32& digest) const;
  // ECDH shared secret: SHA-256(compressed shared point), libsecp256k1's default.
  Result<Hash32> Ecdh(const PublicKey& peer) const;
  ByteSpan secret() const { return ByteSpan(secret_.data(), secret_.size()); }

 private:
  PrivateKey() = default;
  std::array<uint8_t, kPrivateKeyBytes> secret_{};
};

// True only for a valid low-S signature of digest by key.
bool Verify(const PublicKey& key, const Hash32& digest, const Signature& sig);

// True when sig has r and s in range and s > n/2: the high-S form that Verify refuses whether or
// not (r, n - s) would verify. Lets an error name the low-S rule instead of "does not verify".
bool IsHighS(const Signature& sig);

// Fills out with bytes from the operating system's randomness; aborts if the OS refuses (there is
// no safe way to continue without randomness).
void RandomBytes(uint8_t* out, size_t n);

}  // namespace cl::crypto
