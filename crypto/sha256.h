// SHA-256 through Crypto++ (which uses the CPU's SHA extensions where present), and the tagged-hash
// helpers every format uses. Stateless functions are thread-safe; a Sha256 object is not.
#pragma once

#include <memory>
#include <string_view>

#include "crypto/domain.h"
#include "util/bytes.h"

namespace cl::crypto {

// Maximum chain id length in bytes; chain ids are framed by a one-byte length in signed digests.
inline constexpr size_t kChainIdMaxBytes = 64;

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& Update(ByteSpan data);
  Sha256& Update(uint8_t byte);
  // Returns the digest and resets the object for reuse.
  Hash32 Final();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Plain SHA-256 of the bytes (no tag). For hash-locks and external formats only.
Hash32 Sha256Of(ByteSpan data);

// H(tag || data).
Hash32 TaggedHash(Domain tag, ByteSpan data);
// H(tag || a || b), e.g. Merkle inner nodes.
Hash32 TaggedHash(Domain tag, ByteSpan a, ByteSpan b);

// The digest that signatures cover (DESIGN decision 3):
//   H(tag || u8(len(chain_id)) || chain_id || body)
// chain_id must be 1..kChainIdMaxBytes bytes (asserted: validate chain ids where they enter).
Hash32 SignedDigest(Domain tag, std::string_view chain_id, ByteSpan body);

}  // namespace cl::crypto
