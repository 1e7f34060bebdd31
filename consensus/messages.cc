#include "consensus/messages.h"

#include <set>

#include "crypto/sha256.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::consensus {
namespace {

class PlainVerifier final : public SignatureVerifier {
 public:
  bool Verify(const crypto::PublicKey& key, const Hash32& digest,
              const crypto::Signature& sig) override {
    return crypto::Verify(key, digest, sig);
  }
};

Result<Hash32> HashField(const std::string& s, const char* what) {
  auto h = Hash32::FromSpan(AsSpan(s));
  if (!h) return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " is not 32 bytes");
  return *h;
}

// A message parsed by a lenient caller may hold fields this version does not know (a signer whose
// tag byte was flipped becomes one): such a message is not the one that was signed.
Status RefuseUnknownFields(const google::protobuf::Message& msg, const char* what) {
  if (HasUnknownFields(msg)) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " has an unknown field");
  }
  return OkStatus();
}

Status CheckChainId(const std::string& chain_id) {
  if (chain_id.empty() || chain_id.size() > crypto::kChainIdMaxBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "chain id must be 1..64 bytes");
  }
  return OkStatus();
}

// `needed` distinct validators signed `body` under `tag`; every listed signer must verify.
Status VerifyQuorum(const ValidatorSet& validators, const std::string& chain_id, crypto::Domain tag,
                    const std::string& body,
                    const google::protobuf::RepeatedPtrField<pb::Signer>& signers, uint32_t needed,
                    SignatureVerifier& verifier) {
  LEDGER_TRY(CheckChainId(chain_id));
  if (signers.size() > static_cast<int>(validators.size())) {
    return MakeError(ErrorCode::kInvalidArgument, "more signers than validators");
  }
  Hash32 digest = crypto::SignedDigest(tag, chain_id, AsSpan(body));
  std::set<uint32_t> seen;
  for (const pb::Signer& s : signers) {
    if (!validators.contains(s.replica())) {
      return MakeError(ErrorCode::kInvalidArgument, "signer is not a validator");
    }
    if (!seen.insert(s.replica()).second) {
      return MakeError(ErrorCode::kInvalidArgument, "duplicate signer");
    }
    auto sig = crypto::Signature::FromSpan(AsSpan(s.signature()));
    if (!sig) return MakeError(ErrorCode::kInvalidArgument, "bad signature length");
    if (!verifier.Verify(validators.key(s.replica()), digest, *sig)) {
      return MakeError(ErrorCode::kUnauthenticated, "signature does not verify");
    }
  }
  if (seen.size() < needed) {
    return MakeError(ErrorCode::kFailedPrecondition, "not enough signers for a quorum");
  }
  return OkStatus();
}

}  // namespace

ValidatorSet::ValidatorSet(std::vector<crypto::PublicKey> keys, uint64_t epoch)
    : keys_(std::move(keys)), epoch_(epoch) {
  LEDGER_ASSERT(!keys_.empty() && keys_.size() <= kMaxValidators);
}

SignatureVerifier& DefaultVerifier() {
  static PlainVerifier verifier;
  return verifier;
}

Hash32 PayloadDigest(ByteSpan payload) {
  return crypto::TaggedHash(crypto::Domain::kConsensusPayload, payload);
}

crypto::Domain TagFor(pb::MessageType type) {
  switch (type) {
    case pb::PRE_PREPARE:
      return crypto::Domain::kPrePrepare;
    case pb::PREPARE:
      return crypto::Domain::kPrepare;
    case pb::COMMIT:
      return crypto::Domain::kCommit;
    case pb::EXECUTION_VOTE:
      return crypto::Domain::kExecutionVote;
    case pb::VIEW_CHANGE:
      return crypto::Domain::kViewChange;
    case pb::NEW_VIEW:
      return crypto::Domain::kNewView;
    default:
      return crypto::Domain::kStateTransfer;
  }
}

std::string EncodeVoteBody(uint64_t view, uint64_t seq, const Hash32& digest, uint64_t epoch) {
  pb::VoteBody b;
  b.set_view(view);
  b.set_seq(seq);
  b.set_digest(std::string(AsStringView(digest.span())));
  b.set_epoch(epoch);
  return b.SerializeAsString();
}

std::string EncodeExecutionVoteBody(uint64_t height, const Hash32& block_digest,
                                    const Hash32& state_root, const Hash32& result_root,
                                    uint64_t epoch, const std::optional<EpochChange>& scheduled) {
  pb::ExecutionVoteBody b;
  b.set_height(height);
  b.set_block_digest(std::string(AsStringView(block_digest.span())));
  b.set_state_root(std::string(AsStringView(state_root.span())));
  b.set_result_root(std::string(AsStringView(result_root.span())));
  b.set_epoch(epoch);
  if (scheduled) {
    LEDGER_ASSERT(scheduled->activation_height > height);
    b.set_next_set_hash(std::string(AsStringView(scheduled->next_set_hash.span())));
    b.set_next_activation_height(scheduled->activation_height);
  }
  return b.SerializeAsString();
}

Result<VoteFields> DecodeVoteBody(const std::string& body) {
  pb::VoteBody b;
  LEDGER_TRY(ParseCanonical(b, body, "vote body"));
  VoteFields v;
  v.view = b.view();
  v.seq = b.seq();
  auto d = HashField(b.digest(), "vote digest");
  if (!d) return std::unexpected(d.error());
  v.digest = *d;
  v.epoch = b.epoch();
  if (v.seq == 0) return MakeError(ErrorCode::kInvalidArgument, "sequence number 0");
  return v;
}

Result<ExecutionVoteFields> DecodeExecutionVoteBody(const std::string& body) {
  pb::ExecutionVoteBody b;
  LEDGER_TRY(ParseCanonical(b, body, "execution vote body"));
  ExecutionVoteFields v;
  v.height = b.height();
  if (v.height == 0) return MakeError(ErrorCode::kInvalidArgument, "height 0");
  auto d = HashField(b.block_digest(), "block digest");
  auto s = HashField(b.state_root(), "state root");
  auto r = HashField(b.result_root(), "result root");
  if (!d || !s || !r) return MakeError(ErrorCode::kInvalidArgument, "bad execution vote hash");
  v.block_digest = *d;
  v.state_root = *s;
  v.result_root = *r;
  v.epoch = b.epoch();
  if (!b.next_set_hash().empty()) {
    auto next = HashField(b.next_set_hash(), "next set hash");
    if (!next) return std::unexpected(next.error());
    if (b.next_activation_height() <= v.height)
      return MakeError(ErrorCode::kInvalidArgument, "next set activates at or before its block");
    v.scheduled = EpochChange{*next, b.next_activation_height()};
  } else if (b.next_activation_height() != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "activation height without a next set");
  }
  return v;
}

namespace {
bool ReadVarint(std::string_view in, size_t* pos, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    v |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}
}  // namespace

std::optional<uint64_t> PeekEnvelopeEpoch(std::string_view bytes) {
  constexpr uint64_t kEpochField = 6;
  uint64_t epoch = 0;
  size_t pos = 0;
  while (pos < bytes.size()) {
    uint64_t key = 0;
    if (!ReadVarint(bytes, &pos, &key)) return std::nullopt;
    const uint64_t field = key >> 3, wire = key & 7;
    if (wire == 0) {
      uint64_t v = 0;
      if (!ReadVarint(bytes, &pos, &v)) return std::nullopt;
      if (field == kEpochField) epoch = v;
    } else if (wire == 2) {
      uint64_t len = 0;
      if (!ReadVarint(bytes, &pos, &len) || len > bytes.size() - pos) return std::nullopt;
      pos += len;
    } else {
      return std::nullopt;  // an envelope has varint and length-delimited fields only
    }
  }
  return epoch;
}

pb::Envelope SignEnvelope(pb::MessageType type, uint32_t sender, std::string body,
                          const crypto::PrivateKey& key, const std::string& chain_id) {
  KeySigner signer(key);
  return SignEnvelope(type, sender, std::move(body), signer, chain_id);
}

pb::Envelope SignEnvelope(pb::MessageType type, uint32_t sender, std::string body, Signer& signer,
                          const std::string& chain_id) {
  pb::Envelope env;
  env.set_type(type);
  env.set_sender(sender);
  crypto::Signature sig = signer.Sign(crypto::SignedDigest(TagFor(type), chain_id, AsSpan(body)));
  env.set_body(std::move(body));
  env.set_signature(std::string(AsStringView(sig.span())));
  return env;
}

Status VerifyEnvelope(const ValidatorSet& validators, const std::string& chain_id,
                      const pb::Envelope& env, SignatureVerifier& verifier) {
  LEDGER_TRY(CheckChainId(chain_id));
  LEDGER_TRY(RefuseUnknownFields(env, "envelope"));
  if (!validators.contains(env.sender())) {
    return MakeError(ErrorCode::kInvalidArgument, "sender is not a validator");
  }
  if (env.type() == pb::MESSAGE_TYPE_UNSPECIFIED || !pb::MessageType_IsValid(env.type())) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown message type");
  }
  auto sig = crypto::Signature::FromSpan(AsSpan(env.signature()));
  if (!sig) return MakeError(ErrorCode::kInvalidArgument, "bad signature length");
  Hash32 digest = crypto::SignedDigest(TagFor(env.type()), chain_id, AsSpan(env.body()));
  if (!verifier.Verify(validators.key(env.sender()), digest, *sig)) {
    return MakeError(ErrorCode::kUnauthenticated, "envelope signature does not verify");
  }
  return OkStatus();
}

Result<VoteFields> VerifyCommitCertificate(const ValidatorSet& validators,
                                           const std::string& chain_id,
                                           const pb::CommitCertificate& cert,
                                           SignatureVerifier& verifier) {
  LEDGER_TRY(RefuseUnknownFields(cert, "commit certificate"));
  auto fields = DecodeVoteBody(cert.body());
  if (!fields) return fields;
  if (fields->epoch != validators.epoch())
    return MakeError(ErrorCode::kInvalidArgument, "commit certificate of another epoch");
  LEDGER_TRY(VerifyQuorum(validators, chain_id, crypto::Domain::kCommit, cert.body(),
                          cert.signers(), validators.quorum(), verifier));
  return fields;
}

Result<ExecutionVoteFields> VerifyExecutionCertificate(const ValidatorSet& validators,
                                                       const std::string& chain_id,
                                                       const pb::ExecutionCertificate& cert,
                                                       SignatureVerifier& verifier) {
  LEDGER_TRY(RefuseUnknownFields(cert, "execution certificate"));
  auto fields = DecodeExecutionVoteBody(cert.body());
  if (!fields) return fields;
  if (fields->epoch != validators.epoch())
    return MakeError(ErrorCode::kInvalidArgument, "execution certificate of another epoch");
  LEDGER_TRY(VerifyQuorum(validators, chain_id, crypto::Domain::kExecutionVote, cert.body(),
                          cert.signers(), validators.quorum(), verifier));
  return fields;
}

Result<VoteFields> VerifyPreparedProof(const ValidatorSet& validators, const std::string& chain_id,
                                       const pb::PreparedProof& proof,
                                       SignatureVerifier& verifier) {
  LEDGER_TRY(RefuseUnknownFields(proof, "prepared proof"));
  const pb::Envelope& pp = proof.pre_prepare();
  if (pp.type() != pb::PRE_PREPARE) {
    return MakeError(ErrorCode::kInvalidArgument, "prepared proof without a pre-prepare");
  }
  auto fields = DecodeVoteBody(pp.body());
  if (!fields) return fields;
  auto prep = DecodeVoteBody(proof.prepare_body());
  if (!prep) return prep;
  if (fields->epoch != validators.epoch())
    return MakeError(ErrorCode::kInvalidArgument, "prepared proof of another epoch");
  if (prep->view != fields->view || prep->seq != fields->seq || prep->digest != fields->digest ||
      prep->epoch != fields->epoch) {
    return MakeError(ErrorCode::kInvalidArgument, "prepares do not match the pre-prepare");
  }
  if (pp.sender() != PrimaryOf(fields->view, validators.size())) {
    return MakeError(ErrorCode::kInvalidArgument, "pre-prepare not from the view's primary");
  }
  if (!pp.payload().empty()) {
    // Blocks travel by digest in view changes, so that a VIEW_CHANGE and a NEW_VIEW stay small
    // whatever the block size (docs/consensus.md, "Message sizes").
    return MakeError(ErrorCode::kInvalidArgument, "prepared proof carries a payload");
  }
  LEDGER_TRY(VerifyEnvelope(validators, chain_id, pp, verifier));
  for (const pb::Signer& s : proof.prepares()) {
    if (s.replica() == pp.sender()) {
      return MakeError(ErrorCode::kInvalidArgument, "the primary's prepare does not count");
    }
  }
  LEDGER_TRY(VerifyQuorum(validators, chain_id, crypto::Domain::kPrepare, proof.prepare_body(),
                          proof.prepares(), validators.quorum() - 1, verifier));
  return fields;
}

}  // namespace cl::consensus
