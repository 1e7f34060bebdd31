#include "crypto/keys.h"

#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "crypto/domain.h"
#include "crypto/sha256.h"
#include "util/assert.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

// One context for the process, created on first use and randomised against side channels. After
// creation it is only read, which libsecp256k1 documents as thread-safe.
const secp256k1_context* Context() {
  static const secp256k1_context* ctx = [] {
    secp256k1_context* c =
        secp256k1_context_create(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY);
    LEDGER_ASSERT(c != nullptr);
    uint8_t seed[32];
    RandomBytes(seed, sizeof(seed));
    LEDGER_ASSERT(secp256k1_context_randomize(c, seed) == 1);
    SecureWipe(seed, sizeof(seed));
    return c;
  }();
  return ctx;
}

// Decompressing a public key (a square root in the field) costs about a sixth of a signature
// check, and the same keys recur: a wallet signs many transactions, and a node parses each
// transaction's keys at admission, at verification and in every block that carries it. So valid
// points are remembered, keyed by their 33 bytes. Bounded: a shard that reaches
// kPointCacheShardEntries is emptied. Invalid keys are never cached. Thread-safe.
constexpr size_t kPointCacheShards = 16;
constexpr size_t kPointCacheShardEntries = 4096;  // 65,536 keys in all, about 8 MB

struct CompressedKeyHasher {
  size_t operator()(const std::array<uint8_t, kPublicKeyBytes>& key) const {
    uint64_t h;  // the x coordinate is uniformly distributed: its bytes are a good hash
    std::memcpy(&h, key.data() + 1, sizeof h);
    return static_cast<size_t>(h ^ key[0]);
  }
};

class PointCache {
 public:
  // Parses (or finds) the compressed key; false when it is not a point on the curve.
  bool Parse(const uint8_t* bytes, secp256k1_pubkey* out) {
    std::array<uint8_t, kPublicKeyBytes> key;
    std::memcpy(key.data(), bytes, kPublicKeyBytes);
    Shard& shard = shards_[bytes[kPublicKeyBytes - 1] % kPointCacheShards];
    {
      std::lock_guard lock(shard.mutex);
      if (auto it = shard.points.find(key); it != shard.points.end()) {
        *out = it->second;
        return true;
      }
    }
    if (secp256k1_ec_pubkey_parse(Context(), out, bytes, kPublicKeyBytes) != 1) return false;
    std::lock_guard lock(shard.mutex);
    if (shard.points.size() >= kPointCacheShardEntries) shard.points.clear();
    shard.points.emplace(key, *out);
    return true;
  }

 private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::array<uint8_t, kPublicKeyBytes>, secp256k1_pubkey, CompressedKeyHasher>
        points;
  };
  std::array<Shard, kPointCacheShards> shards_;
};

bool ParsePoint(const uint8_t* compressed, secp256k1_pubkey* out) {
  static PointCache cache;
  return cache.Parse(compressed, out);
}

}  // namespace

void RandomBytes(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      LEDGER_ASSERT_MSG(false, "getrandom failed");
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

std::string Address::ToHex() const {
  return cl::ToHex(span());
}

Result<Address> Address::FromSpan(ByteSpan in) {
  if (in.size() != kAddressBytes)
    return MakeError(ErrorCode::kInvalidArgument, "address must be 20 bytes");
  Address a;
  std::memcpy(a.bytes.data(), in.data(), kAddressBytes);
  return a;
}

Result<Address> Address::FromHex(std::string_view hex) {
  auto bytes = cl::FromHex(hex);
  if (!bytes) return std::unexpected(bytes.error());
  return FromSpan(*bytes);
}

Result<PublicKey> PublicKey::Parse(ByteSpan in) {
  if (in.size() != kPublicKeyBytes || (in[0] != 0x02 && in[0] != 0x03))
    return MakeError(ErrorCode::kInvalidArgument, "public key must be 33-byte compressed");
  secp256k1_pubkey parsed;
  if (!ParsePoint(in.data(), &parsed))
    return MakeError(ErrorCode::kInvalidArgument, "public key is not a point on secp256k1");
  PublicKey key;
  std::memcpy(key.bytes.data(), in.data(), kPublicKeyBytes);
  return key;
}

Result<PublicKey> PublicKey::FromHex(std::string_view hex) {
  auto bytes = cl::FromHex(hex);
  if (!bytes) return std::unexpected(bytes.error());
  return Parse(*bytes);
}

std::string PublicKey::ToHex() const {
  return cl::ToHex(span());
}

Address PublicKey::ToAddress() const {
  Hash32 h = TaggedHash(Domain::kAddress, span());
  Address a;
  std::memcpy(a.bytes.data(), h.data(), kAddressBytes);
  return a;
}

Result<Signature> Signature::FromSpan(ByteSpan in) {
  if (in.size() != kSignatureBytes)
    return MakeError(ErrorCode::kInvalidArgument, "signature must be 64 bytes");
  Signature s;
  std::memcpy(s.bytes.data(), in.data(), kSignatureBytes);
  return s;
}

std::string Signature::ToHex() const {
  return cl::ToHex(span());
}

PrivateKey PrivateKey::Generate() {
  PrivateKey key;
  do {
    RandomBytes(key.secret_.data(), key.secret_.size());
  } while (secp256k1_ec_seckey_verify(Context(), key.secret_.data()) != 1);
  return key;
}

Result<PrivateKey> PrivateKey::FromBytes(ByteSpan in) {
  if (in.size() != kPrivateKeyBytes)
    return MakeError(ErrorCode::kInvalidArgument, "private key must be 32 bytes");
  if (secp256k1_ec_seckey_verify(Context(), in.data()) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "private key is out of range");
  PrivateKey key;
  std::memcpy(key.secret_.data(), in.data(), kPrivateKeyBytes);
  return key;
}

PrivateKey::~PrivateKey() {
  SecureWipe(secret_.data(), secret_.size());
}

PublicKey PrivateKey::GetPublicKey() const {
  secp256k1_pubkey pub;
  LEDGER_ASSERT(secp256k1_ec_pubkey_create(Context(), &pub, secret_.data()) == 1);
  PublicKey out;
  size_t len = out.bytes.size();
  secp256k1_ec_pubkey_serialize(Context(), out.bytes.data(), &len, &pub, SECP256K1_EC_COMPRESSED);
  LEDGER_ASSERT(len == kPublicKeyBytes);
  return out;
}

Signature PrivateKey::Sign(const Hash32& digest) const {
  secp256k1_ecdsa_signature sig;
  // nullptr nonce function = RFC 6979; libsecp256k1 always produces low-S.
  LEDGER_ASSERT(
      secp256k1_ecdsa_sign(Context(), &sig, digest.data(), secret_.data(), nullptr, nullptr) == 1);
  Signature out;
  secp256k1_ecdsa_signature_serialize_compact(Context(), out.bytes.data(), &sig);
  return out;
}

Result<Hash32> PrivateKey::Ecdh(const PublicKey& peer) const {
  secp256k1_pubkey pub;
  if (secp256k1_ec_pubkey_parse(Context(), &pub, peer.bytes.data(), peer.bytes.size()) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "peer public key is not on the curve");
  Hash32 out;
  if (secp256k1_ecdh(Context(), out.data(), &pub, secret_.data(), nullptr, nullptr) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "ECDH failed");
  return out;
}

bool Verify(const PublicKey& key, const Hash32& digest, const Signature& sig) {
  secp256k1_pubkey pub;
  if (!ParsePoint(key.bytes.data(), &pub)) return false;
  secp256k1_ecdsa_signature parsed;
  // Rejects r or s >= n.
  if (secp256k1_ecdsa_signature_parse_compact(Context(), &parsed, sig.bytes.data()) != 1)
    return false;
  // Rejects high-S (non-normalised) signatures, and r or s of zero.
  return secp256k1_ecdsa_verify(Context(), &parsed, digest.data(), &pub) == 1;
}

bool IsHighS(const Signature& sig) {
  secp256k1_ecdsa_signature parsed;
  if (secp256k1_ecdsa_signature_parse_compact(Context(), &parsed, sig.bytes.data()) != 1)
    return false;
  // Returns 1 when the input was not already normalised (s > n/2); no output wanted.
  return secp256k1_ecdsa_signature_normalize(Context(), nullptr, &parsed) == 1;
}

}  // namespace cl::crypto
