// Consensus message codec: signing and checking envelopes, the validator set, and the third-party
// verification of commit and execution certificates (docs/consensus.md). Everything here checks
// input from peers and returns an Error for anything malformed; nothing here asserts on peer input.
//
// Thread safety: free functions are thread-safe; a ValidatorSet is immutable after construction.
// A SignatureVerifier implementation states its own thread safety.
#pragma once

#include <functional>

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/consensus.pb.h"
#include "crypto/domain.h"
#include "crypto/keys.h"
#include "util/bytes.h"
#include "util/quorum.h"
#include "util/status.h"

namespace cl::consensus {

// Largest validator set the replica accepts (bounds every per-replica table).
inline constexpr uint32_t kMaxValidators = 256;

// The ordered validator set of one epoch; replica i is validators[i]. n = 3f+1 is not required:
// f = (n-1)/3 and a quorum is ceil((n+f+1)/2) (util/quorum.h), so any two quorums share f+1
// replicas, at least one of them correct. That is 2f+1 only when n = 3f+1; 2f+1 for n = 6 is 3,
// and {0,1,2} and {3,4,5} would be disjoint quorums.
class ValidatorSet {
 public:
  explicit ValidatorSet(std::vector<crypto::PublicKey> keys);
  uint32_t size() const { return static_cast<uint32_t>(keys_.size()); }
  uint32_t f() const { return FaultsTolerated(size()); }
  uint32_t quorum() const { return QuorumSize(size()); }
  const crypto::PublicKey& key(uint32_t i) const { return keys_[i]; }
  bool contains(uint32_t i) const { return i < size(); }

 private:
  std::vector<crypto::PublicKey> keys_;
};

// Checks signatures. The default calls crypto::Verify; the simulator shares a memoising one across
// all replicas of one process (a verification result is a pure function of its inputs).
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  virtual bool Verify(const crypto::PublicKey& key, const Hash32& digest,
                      const crypto::Signature& sig) = 0;
};
// Stateless; thread-safe.
SignatureVerifier& DefaultVerifier();

// H(0x37 || payload): what votes and certificates name a block by, unless the application supplies
// its own digest (ReplicaConfig::payload_digest; the node names blocks by their header hash).
Hash32 PayloadDigest(ByteSpan payload);
// An application's block digest. It must be collision resistant over the payloads the application
// accepts: two different valid payloads must never share a digest.
using PayloadDigestFn = std::function<Hash32(ByteSpan payload)>;

crypto::Domain TagFor(pb::MessageType type);

// Serialization helpers (deterministic for the same fields; bodies are compared as bytes).
std::string EncodeVoteBody(uint64_t view, uint64_t seq, const Hash32& digest);
std::string EncodeExecutionVoteBody(uint64_t height, const Hash32& block_digest,
                                    const Hash32& state_root, const Hash32& result_root);

struct VoteFields {
  uint64_t view = 0;
  uint64_t seq = 0;
  Hash32 digest;
};
Result<VoteFields> DecodeVoteBody(const std::string& body);

struct ExecutionVoteFields {
  uint64_t height = 0;
  Hash32 block_digest;
  Hash32 state_root;
  Hash32 result_root;
};
Result<ExecutionVoteFields> DecodeExecutionVoteBody(const std::string& body);

// Signs body with tag(type) and chain id into an envelope from `sender`.
pb::Envelope SignEnvelope(pb::MessageType type, uint32_t sender, std::string body,
                          const crypto::PrivateKey& key, const std::string& chain_id);

// Checks the sender index, signature length and signature of an envelope.
Status VerifyEnvelope(const ValidatorSet& validators, const std::string& chain_id,
                      const pb::Envelope& env, SignatureVerifier& verifier);

// A commit certificate proves that block (seq, digest) is committed: a quorum of distinct
// validators sent a COMMIT for the same (view, seq, digest). Returns the vote fields it certifies.
Result<VoteFields> VerifyCommitCertificate(const ValidatorSet& validators,
                                           const std::string& chain_id,
                                           const pb::CommitCertificate& cert,
                                           SignatureVerifier& verifier = DefaultVerifier());

// An execution certificate proves that executing the block `block_digest` at `height` gave
// `state_root` and `result_root`: a quorum of distinct validators signed the same execution vote.
Result<ExecutionVoteFields> VerifyExecutionCertificate(
    const ValidatorSet& validators, const std::string& chain_id,
    const pb::ExecutionCertificate& cert, SignatureVerifier& verifier = DefaultVerifier());

// A prepared proof for (view, seq, digest): a pre-prepare from the primary of its view with a
// payload matching its digest and quorum - 1 prepares from distinct non-primary validators (the
// pre-prepare counts as the primary's prepare, so the proof names a quorum).
Result<VoteFields> VerifyPreparedProof(const ValidatorSet& validators, const std::string& chain_id,
                                       const pb::PreparedProof& proof, SignatureVerifier& verifier,
                                       const PayloadDigestFn& digest = {});

inline uint32_t PrimaryOf(uint64_t view, uint32_t n) {
  return static_cast<uint32_t>(view % n);
}

}  // namespace cl::consensus
