#include "crypto/sha256.h"

#include <cryptopp/sha.h>

#include <cstring>

#include "util/assert.h"

namespace cl::crypto {

struct Sha256::Impl {
  CryptoPP::SHA256 sha;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;

Sha256& Sha256::Update(ByteSpan data) {
  impl_->sha.Update(data.data(), data.size());
  return *this;
}

Sha256& Sha256::Update(uint8_t byte) {
  impl_->sha.Update(&byte, 1);
  return *this;
}

Hash32 Sha256::Final() {
  Hash32 out;
  impl_->sha.Final(out.data());
  return out;
}

Hash32 Sha256Of(ByteSpan data) {
  CryptoPP::SHA256 sha;
  Hash32 out;
  sha.CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

namespace {

// Short inputs (the state tree's 65-byte inner and leaf hashes above all) are copied with their tag
// into one buffer and hashed in a single call: measured about 20 % faster than three Updates.
constexpr size_t kShortInputMaxBytes = 127;

Hash32 HashShort(uint8_t tag, ByteSpan a, ByteSpan b) {
  LEDGER_ASSERT(a.size() + b.size() <= kShortInputMaxBytes);
  uint8_t buffer[1 + kShortInputMaxBytes];
  buffer[0] = tag;
  if (!a.empty()) std::memcpy(buffer + 1, a.data(), a.size());
  if (!b.empty()) std::memcpy(buffer + 1 + a.size(), b.data(), b.size());
  Hash32 out;
  CryptoPP::SHA256().CalculateDigest(out.data(), buffer, 1 + a.size() + b.size());
  return out;
}

}  // namespace

Hash32 TaggedHash(Domain tag, ByteSpan data) {
  const uint8_t t = static_cast<uint8_t>(tag);
  if (data.size() <= kShortInputMaxBytes) return HashShort(t, data, {});
  CryptoPP::SHA256 sha;
  sha.Update(&t, 1);
  sha.Update(data.data(), data.size());
  Hash32 out;
  sha.Final(out.data());
  return out;
}

Hash32 TaggedHash(Domain tag, ByteSpan a, ByteSpan b) {
  const uint8_t t = static_cast<uint8_t>(tag);
  if (a.size() + b.size() <= kShortInputMaxBytes) return HashShort(t, a, b);
  CryptoPP::SHA256 sha;
  sha.Update(&t, 1);
  sha.Update(a.data(), a.size());
  sha.Update(b.data(), b.size());
  Hash32 out;
  sha.Final(out.data());
  return out;
}

Hash32 SignedDigest(Domain tag, std::string_view chain_id, ByteSpan body) {
  LEDGER_ASSERT(!chain_id.empty() && chain_id.size() <= kChainIdMaxBytes);
  CryptoPP::SHA256 sha;
  const uint8_t header[2] = {static_cast<uint8_t>(tag), static_cast<uint8_t>(chain_id.size())};
  sha.Update(header, 2);
  sha.Update(reinterpret_cast<const uint8_t*>(chain_id.data()), chain_id.size());
  sha.Update(body.data(), body.size());
  Hash32 out;
  sha.Final(out.data());
  return out;
}

}  // namespace cl::crypto
