// Consensus message codec: signing and checking envelopes, the validator set, and the third-party
// verification of commit and execution certificates (docs/consensus.md). Everything here checks
// input from peers and returns an Error for anything malformed; nothing here asserts on peer input.
//
// Thread safety: free functions are thread-safe; a ValidatorSet is immutable after construction.
// A SignatureVerifier implementation states its own thread safety.
#pragma once

#include <functional>
#include <optional>

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

// Largest validator set the replica accepts (bounds every per-replica table, and with
// kMaxWindowSeqs the largest NEW_VIEW: see MaxNewViewBytes below).
inline constexpr uint32_t kMaxValidators = 64;

// The ordered validator set of one epoch; replica i is validators[i]. n = 3f+1 is not required:
// f = (n-1)/3 and a quorum is ceil((n+f+1)/2) (util/quorum.h), so any two quorums share f+1
// replicas, at least one of them correct. That is 2f+1 only when n = 3f+1; 2f+1 for n = 6 is 3,
// and {0,1,2} and {3,4,5} would be disjoint quorums.
//
// A set belongs to one epoch (docs/consensus.md "Epochs"): every vote and execution vote names the
// epoch of the set that signs it, and a certificate verified under this set must name its epoch.
class ValidatorSet {
 public:
  explicit ValidatorSet(std::vector<crypto::PublicKey> keys, uint64_t epoch = 0);
  uint32_t size() const { return static_cast<uint32_t>(keys_.size()); }
  uint64_t epoch() const { return epoch_; }
  uint32_t f() const { return FaultsTolerated(size()); }
  uint32_t quorum() const { return QuorumSize(size()); }
  const crypto::PublicKey& key(uint32_t i) const { return keys_[i]; }
  bool contains(uint32_t i) const { return i < size(); }

 private:
  std::vector<crypto::PublicKey> keys_;
  uint64_t epoch_ = 0;
};

// A validator-set change scheduled by an executed block: the new set's hash (the RFC 6962 root of
// its keys, as block headers carry it) and the first height it certifies.
struct EpochChange {
  Hash32 next_set_hash;
  uint64_t activation_height = 0;
  bool operator==(const EpochChange&) const = default;
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

// Makes a replica's own signatures. The default signs with its private key (ECDSA, RFC 6979); the
// simulator plugs in a cheap deterministic scheme, checked by its matching SignatureVerifier with
// the same accept/reject semantics (only the key's holder can make a signature that verifies).
class Signer {
 public:
  virtual ~Signer() = default;
  virtual crypto::Signature Sign(const Hash32& digest) = 0;
};
// ECDSA with a private key that outlives it. Stateless apart from the key; thread-safe.
class KeySigner final : public Signer {
 public:
  explicit KeySigner(const crypto::PrivateKey& key) : key_(key) {}
  crypto::Signature Sign(const Hash32& digest) override { return key_.Sign(digest); }

 private:
  const crypto::PrivateKey& key_;
};

// H(0x37 || payload): what votes and certificates name a block by, unless the application supplies
// its own digest (ReplicaConfig::payload_digest; the node names blocks by their header hash).
Hash32 PayloadDigest(ByteSpan payload);
// An application's block digest. It must be collision resistant over the payloads the application
// accepts: two different valid payloads must never share a digest.
using PayloadDigestFn = std::function<Hash32(ByteSpan payload)>;

crypto::Domain TagFor(pb::MessageType type);

// Serialization helpers (deterministic for the same fields; bodies are compared as bytes).
// `epoch` 0 is omitted, so epoch 0's bodies are the bytes they were before epochs existed.
std::string EncodeVoteBody(uint64_t view, uint64_t seq, const Hash32& digest, uint64_t epoch = 0);
std::string EncodeExecutionVoteBody(uint64_t height, const Hash32& block_digest,
                                    const Hash32& state_root, const Hash32& result_root,
                                    uint64_t epoch = 0,
                                    const std::optional<EpochChange>& scheduled = std::nullopt);

struct VoteFields {
  uint64_t view = 0;
  uint64_t seq = 0;
  Hash32 digest;
  uint64_t epoch = 0;
};
Result<VoteFields> DecodeVoteBody(const std::string& body);

struct ExecutionVoteFields {
  uint64_t height = 0;
  Hash32 block_digest;
  Hash32 state_root;
  Hash32 result_root;
  uint64_t epoch = 0;
  std::optional<EpochChange> scheduled;  // activation_height > height when present
};
Result<ExecutionVoteFields> DecodeExecutionVoteBody(const std::string& body);

// The epoch an envelope names for routing (field 6; 0 when absent), read without parsing the
// rest: a driver that runs the replicas of two epochs hands each its own. nullopt for bytes that
// are not a well-formed protobuf message at the top level.
std::optional<uint64_t> PeekEnvelopeEpoch(std::string_view bytes);

// Signs body with tag(type) and chain id into an envelope from `sender`.
pb::Envelope SignEnvelope(pb::MessageType type, uint32_t sender, std::string body,
                          const crypto::PrivateKey& key, const std::string& chain_id);
pb::Envelope SignEnvelope(pb::MessageType type, uint32_t sender, std::string body, Signer& signer,
                          const std::string& chain_id);

// Checks the sender index, signature length and signature of an envelope.
Status VerifyEnvelope(const ValidatorSet& validators, const std::string& chain_id,
                      const pb::Envelope& env, SignatureVerifier& verifier);

// A commit certificate proves that block (seq, digest) is committed: a quorum of distinct
// validators sent a COMMIT for the same (view, seq, digest). Returns the vote fields it certifies.
// The certificates and proofs below must name the set's epoch.
Result<VoteFields> VerifyCommitCertificate(const ValidatorSet& validators,
                                           const std::string& chain_id,
                                           const pb::CommitCertificate& cert,
                                           SignatureVerifier& verifier = DefaultVerifier());

// An execution certificate proves that executing the block `block_digest` at `height` gave
// `state_root` and `result_root`: a quorum of distinct validators signed the same execution vote.
Result<ExecutionVoteFields> VerifyExecutionCertificate(
    const ValidatorSet& validators, const std::string& chain_id,
    const pb::ExecutionCertificate& cert, SignatureVerifier& verifier = DefaultVerifier());

// A prepared proof for (view, seq, digest): a pre-prepare from the primary of its view, without
// its payload (the digest names the block; proofs on the wire never carry blocks), and quorum - 1
// prepares from distinct non-primary validators (the pre-prepare counts as the primary's prepare,
// so the proof names a quorum).
Result<VoteFields> VerifyPreparedProof(const ValidatorSet& validators, const std::string& chain_id,
                                       const pb::PreparedProof& proof, SignatureVerifier& verifier);

// ---- Message sizes (docs/consensus.md, "Message sizes") ---------------------------------------
// Every message a replica produces must fit one p2p frame, or it is never delivered. The p2p layer
// carries at most p2p::kMaxMessageBytes (16 MiB - 21) per message, and the node wraps a consensus
// envelope in a NodeMessage; node/node.cc static_asserts that kMaxConsensusMessageBytes plus that
// wrapping fits (consensus does not depend on p2p). Blocks travel only in PRE_PREPARE,
// PAYLOAD_REPLY and STATE_REPLY, one or more whole blocks per message; VIEW_CHANGE and NEW_VIEW
// name blocks by digest, so their size depends on n and the window only, never on block sizes.
inline constexpr uint64_t kMaxConsensusMessageBytes = (uint64_t{16} << 20) - (uint64_t{64} << 10);
// Everything in a PRE_PREPARE, PAYLOAD_REPLY or a STATE_REPLY's first block besides the payload
// itself (fields, signatures, two certificates of kMaxValidators signers) fits in this.
inline constexpr uint64_t kMaxBlockOverheadBytes = uint64_t{64} << 10;
// The largest block payload: ReplicaConfig::max_block_bytes may not exceed it.
inline constexpr uint64_t kMaxPayloadBytes = kMaxConsensusMessageBytes - kMaxBlockOverheadBytes;

namespace wire_size {
// Upper bounds of protobuf encodings, field by field (a varint is at most 10 bytes).
constexpr uint64_t VarintBytes(uint64_t v) {
  return v < 0x80 ? 1 : 1 + VarintBytes(v >> 7);
}
constexpr uint64_t Field(uint64_t body) {
  return 1 + VarintBytes(body) + body;
}  // tag, len, body
constexpr uint64_t kVarintField = 1 + 10;
constexpr uint64_t kSigner = Field(kVarintField + Field(64));
constexpr uint64_t kVoteBody = 3 * kVarintField + Field(32);
constexpr uint64_t kExecutionVoteBody = 3 * kVarintField + 4 * Field(32);
// An envelope whose body is `body` bytes and which carries `payload` payload bytes.
constexpr uint64_t Envelope(uint64_t body, uint64_t payload = 0) {
  return 3 * kVarintField + Field(body) + Field(64) + (payload ? Field(payload) : 0);
}
constexpr uint64_t Certificate(uint64_t body, uint32_t signers) {
  return Field(body) + signers * kSigner;
}
// Prepared proofs carry no payload (a VIEW_CHANGE names blocks by digest).
constexpr uint64_t PreparedProof(uint32_t n) {
  return Field(Envelope(kVoteBody)) + Field(kVoteBody) + n * kSigner;
}
constexpr uint64_t ViewChangeBody(uint32_t n, uint64_t window) {
  return 3 * kVarintField + Field(Certificate(kExecutionVoteBody, n)) +
         window * Field(PreparedProof(n));
}
}  // namespace wire_size

// The largest VIEW_CHANGE envelope for n validators and a window: up to `window` prepared proofs,
// each (and the stable certificate) with up to n signatures.
constexpr uint64_t MaxViewChangeBytes(uint32_t n, uint64_t window) {
  return wire_size::Envelope(wire_size::ViewChangeBody(n, window));
}
// The largest NEW_VIEW envelope: a quorum of VIEW_CHANGE envelopes (what a primary sends and all a
// replica accepts) and `window` re-proposals, which carry no payload.
constexpr uint64_t MaxNewViewBytes(uint32_t n, uint64_t window) {
  return wire_size::Envelope(2 * wire_size::kVarintField +
                             QuorumSize(n) * wire_size::Field(MaxViewChangeBytes(n, window)) +
                             window * wire_size::Field(wire_size::Envelope(wire_size::kVoteBody)));
}
// The largest PRE_PREPARE (also PAYLOAD_REPLY, which wraps one) for a payload limit.
constexpr uint64_t MaxPrePrepareBytes(uint64_t max_payload_bytes) {
  return wire_size::Envelope(
      wire_size::Field(wire_size::Envelope(wire_size::kVoteBody, max_payload_bytes)));
}
// The largest STATE_REPLY holding one block: its payload, height and two certificates.
constexpr uint64_t MaxOneBlockStateReplyBytes(uint32_t n, uint64_t max_payload_bytes) {
  return wire_size::Envelope(
      wire_size::Field(wire_size::kVarintField + wire_size::Field(max_payload_bytes) +
                       wire_size::Field(wire_size::Certificate(wire_size::kVoteBody, n)) +
                       wire_size::Field(wire_size::Certificate(wire_size::kExecutionVoteBody, n))));
}

// A block of the largest size fits each message that carries one.
static_assert(MaxPrePrepareBytes(kMaxPayloadBytes) <= kMaxConsensusMessageBytes);
static_assert(MaxOneBlockStateReplyBytes(kMaxValidators, kMaxPayloadBytes) <=
              kMaxConsensusMessageBytes);

inline uint32_t PrimaryOf(uint64_t view, uint32_t n) {
  return static_cast<uint32_t>(view % n);
}

}  // namespace cl::consensus
