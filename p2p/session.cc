#include "p2p/session.h"

#include <cstring>
#include <limits>
#include <utility>

#include "crypto/ecdh.h"
#include "crypto/hkdf.h"
#include "crypto/sha256.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::p2p {
namespace {

crypto::AeadNonce NonceFor(uint64_t counter) {
  crypto::AeadNonce nonce{};  // 4 zero bytes || u64be(counter)
  for (int i = 0; i < 8; ++i)
    nonce[4 + i] = static_cast<uint8_t>(counter >> (56 - 8 * i));
  return nonce;
}

void PutU32BE(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

size_t VarintBytes(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::string Reason(std::string_view what) {
  return "p2p handshake: " + std::string(what);
}

}  // namespace

Identity Identity::FromPrivateKey(const crypto::PrivateKey& key) {
  return Identity{key.GetPublicKey(), [key](const Hash32& digest) { return key.Sign(digest); }};
}

Hash32 AuthDigest(std::string_view chain_id, Role role, const Hash32& transcript_hash) {
  Bytes body;
  AppendU8(body, static_cast<uint8_t>(role));
  Append(body, transcript_hash.span());
  return crypto::SignedDigest(crypto::Domain::kHandshakeTranscript, chain_id, body);
}

Session::Session(Role role, Identity identity, std::string chain_id, const Membership* membership,
                 crypto::PrivateKey ephemeral)
    : role_(role),
      identity_(std::move(identity)),
      chain_id_(std::move(chain_id)),
      membership_(membership),
      ephemeral_(std::move(ephemeral)) {
  LEDGER_ASSERT(membership_ != nullptr);
  LEDGER_ASSERT(!chain_id_.empty() && chain_id_.size() <= crypto::kChainIdMaxBytes);
  LEDGER_ASSERT(identity_.sign);
}

Session::~Session() = default;

Bytes Session::Start() {
  LEDGER_ASSERT(state_ == State::kCreated);
  pb::Hello hello;
  hello.set_version(kProtocolVersion);
  hello.set_chain_id(chain_id_);
  hello.set_node_key(ToString(identity_.public_key.span()));
  hello.set_ephemeral_key(ToString(ephemeral_->GetPublicKey().span()));
  my_hello_ = ToBytes(hello.SerializeAsString());
  LEDGER_ASSERT(my_hello_.size() <= kMaxHelloBytes);
  state_ = State::kAwaitHello;
  Bytes frame;
  AppendU32BE(frame, static_cast<uint32_t>(my_hello_.size()));
  Append(frame, my_hello_);
  return frame;
}

Status Session::Fail(Error error) {
  state_ = State::kFailed;
  error_ = error;
  inbuf_.clear();
  return std::unexpected(std::move(error));
}

Status Session::Receive(ByteSpan data, SessionSink& sink, Bytes& to_send) {
  if (state_ == State::kFailed) return std::unexpected(*error_);
  LEDGER_ASSERT(state_ != State::kCreated);  // Start() first
  ByteSpan in = data;
  if (!inbuf_.empty()) {
    Append(inbuf_, data);
    in = inbuf_;
  }
  size_t pos = 0;
  while (in.size() - pos >= kFrameHeaderBytes) {
    const uint32_t len = LoadU32BE(in.data() + pos);
    // The length is judged before its body is buffered, so a lying header costs nothing.
    if (state_ == State::kAwaitHello) {
      if (len == 0 || len > kMaxHelloBytes)
        return Fail({ErrorCode::kInvalidArgument,
                     Reason("hello frame length " + std::to_string(len) + " out of range")});
    } else {
      // Before the peer's Auth verifies, only the Auth frame may come: its size, not a whole frame.
      const size_t max_len = state_ == State::kAwaitAuth ? kMaxAuthFrameBytes : kMaxFrameBytes;
      if (len < crypto::kAeadTagBytes || len > max_len)
        return Fail(
            {ErrorCode::kResourceExhausted,
             std::string(state_ == State::kAwaitAuth ? "p2p frame before Auth" : "p2p frame") +
                 ": length " + std::to_string(len) + " outside 16.." + std::to_string(max_len)});
    }
    if (in.size() - pos - kFrameHeaderBytes < len) break;
    auto st = HandleFrame(in.subspan(pos, kFrameHeaderBytes),
                          in.subspan(pos + kFrameHeaderBytes, len), sink, to_send);
    if (!st) return Fail(st.error());
    pos += kFrameHeaderBytes + len;
  }
  if (in.data() == inbuf_.data()) {
    inbuf_.erase(inbuf_.begin(), inbuf_.begin() + static_cast<ptrdiff_t>(pos));
  } else {
    inbuf_.assign(in.begin() + static_cast<ptrdiff_t>(pos), in.end());
  }
  return OkStatus();
}

Status Session::HandleFrame(ByteSpan header, ByteSpan body, SessionSink& sink, Bytes& to_send) {
  if (state_ == State::kAwaitHello) return HandleHello(body, to_send);
  return HandleSealed(header, body, sink);
}

Status Session::HandleHello(ByteSpan body, Bytes& to_send) {
  // The Hello bytes enter the signed transcript: strictly one encoding, no unknown fields.
  pb::Hello hello;
  if (auto st = ParseCanonical(hello, body, "hello"); !st)
    return MakeError(ErrorCode::kInvalidArgument, Reason(st.error().message));
  if (hello.version() != kProtocolVersion)
    return MakeError(ErrorCode::kFailedPrecondition,
                     Reason("protocol version " + std::to_string(hello.version()) + " is not " +
                            std::to_string(kProtocolVersion)));
  if (hello.chain_id() != chain_id_)
    return MakeError(ErrorCode::kFailedPrecondition, Reason("wrong chain id"));
  auto node_key = crypto::PublicKey::Parse(AsSpan(hello.node_key()));
  if (!node_key) return MakeError(ErrorCode::kInvalidArgument, Reason("bad node key"));
  auto peer_ephemeral = crypto::PublicKey::Parse(AsSpan(hello.ephemeral_key()));
  if (!peer_ephemeral) return MakeError(ErrorCode::kInvalidArgument, Reason("bad ephemeral key"));
  if (*node_key == identity_.public_key)
    return MakeError(ErrorCode::kFailedPrecondition, Reason("connected to self"));
  if (!membership_->IsMember(*node_key))
    return MakeError(ErrorCode::kPermissionDenied,
                     Reason("node key " + node_key->ToHex() + " is not a member"));
  peer_key_ = *node_key;

  // Transcript: the two Hello bodies in role order, each with its length; hashed under the chain
  // id.
  const ByteSpan initiator_hello = role_ == Role::kInitiator ? ByteSpan(my_hello_) : body;
  const ByteSpan responder_hello = role_ == Role::kInitiator ? body : ByteSpan(my_hello_);
  Bytes transcript;
  AppendU32BE(transcript, static_cast<uint32_t>(initiator_hello.size()));
  Append(transcript, initiator_hello);
  AppendU32BE(transcript, static_cast<uint32_t>(responder_hello.size()));
  Append(transcript, responder_hello);
  transcript_hash_ =
      crypto::SignedDigest(crypto::Domain::kHandshakeTranscript, chain_id_, transcript);

  auto shared = crypto::EcdhRawX(*ephemeral_, peer_ephemeral->span());
  if (!shared) return MakeError(ErrorCode::kInvalidArgument, Reason("ecdh failed"));
  auto okm = crypto::HkdfSha256(shared->span(), transcript_hash_.span(), AsSpan(kKeyDerivationInfo),
                                2 * crypto::kAeadKeyBytes);
  LEDGER_ASSERT(okm.has_value());
  crypto::AeadKey initiator_to_responder, responder_to_initiator;
  std::memcpy(initiator_to_responder.data(), okm->data(), crypto::kAeadKeyBytes);
  std::memcpy(responder_to_initiator.data(), okm->data() + crypto::kAeadKeyBytes,
              crypto::kAeadKeyBytes);
  const bool initiator = role_ == Role::kInitiator;
  send_cipher_ = std::make_unique<crypto::AesGcm256>(initiator ? initiator_to_responder
                                                               : responder_to_initiator);
  recv_cipher_ = std::make_unique<crypto::AesGcm256>(initiator ? responder_to_initiator
                                                               : initiator_to_responder);
  SecureWipe(okm->data(), okm->size());
  SecureWipe(initiator_to_responder.data(), initiator_to_responder.size());
  SecureWipe(responder_to_initiator.data(), responder_to_initiator.size());
  ephemeral_.reset();  // forward secrecy: the ephemeral secret is wiped once used

  pb::Envelope auth;
  const auto sig = identity_.sign(AuthDigest(chain_id_, role_, transcript_hash_));
  auth.mutable_auth()->set_signature(ToString(sig.span()));
  state_ = State::kAwaitAuth;
  return SealEnvelope(auth, to_send);
}

Status Session::HandleSealed(ByteSpan header, ByteSpan body, SessionSink& sink) {
  plaintext_.resize(body.size() - crypto::kAeadTagBytes);
  if (!recv_cipher_->Open(NonceFor(recv_counter_), header, body, plaintext_.data()))
    return MakeError(ErrorCode::kUnauthenticated, "p2p frame: authentication failed at frame " +
                                                      std::to_string(recv_counter_) +
                                                      " (tampered, replayed or reordered)");
  if (recv_counter_ == std::numeric_limits<uint64_t>::max())
    return MakeError(ErrorCode::kResourceExhausted, "p2p frame: receive counter exhausted");
  ++recv_counter_;
  if (state_ == State::kEstablished) {
    // Fast path for the common frame, Envelope{message} alone (what SealMessage writes): field 2,
    // a varint length covering exactly the rest. Delivered without the copy protobuf would make;
    // anything else goes through the generated parser below.
    ByteReader r(plaintext_);
    if (r.U8() == uint8_t{0x12}) {
      auto len = r.Varint();
      if (len && *len == r.remaining()) {
        sink.OnMessage(*r.Take(*len));
        return OkStatus();
      }
    }
  }
  // Anything off the fast path (Auth, keepalive) is parsed strictly: one encoding, no unknown
  // field.
  if (auto st = ParseCanonical(rx_envelope_, ByteSpan(plaintext_), "p2p frame envelope"); !st)
    return MakeError(ErrorCode::kInvalidArgument, "p2p frame: " + st.error().message);
  if (state_ == State::kAwaitAuth) {
    if (!rx_envelope_.has_auth())
      return MakeError(ErrorCode::kUnauthenticated, Reason("first sealed frame is not Auth"));
    auto sig = crypto::Signature::FromSpan(AsSpan(rx_envelope_.auth().signature()));
    const Role peer_role = role_ == Role::kInitiator ? Role::kResponder : Role::kInitiator;
    if (!sig ||
        !crypto::Verify(*peer_key_, AuthDigest(chain_id_, peer_role, transcript_hash_), *sig))
      return MakeError(ErrorCode::kUnauthenticated, Reason("bad transcript signature"));
    state_ = State::kEstablished;
    return sink.OnEstablished(*peer_key_);
  }
  switch (rx_envelope_.body_case()) {
    case pb::Envelope::kMessage:
      sink.OnMessage(AsSpan(rx_envelope_.message()));
      return OkStatus();
    case pb::Envelope::kKeepalive:
      sink.OnKeepalive();
      return OkStatus();
    default:
      return MakeError(ErrorCode::kInvalidArgument, "p2p frame: unexpected envelope");
  }
}

Status Session::SealInPlace(Bytes& out, size_t start, size_t plaintext_bytes) {
  if (send_counter_ == std::numeric_limits<uint64_t>::max())
    return MakeError(ErrorCode::kResourceExhausted, "p2p frame: send counter exhausted");
  const size_t sealed_bytes = plaintext_bytes + crypto::kAeadTagBytes;
  LEDGER_ASSERT(sealed_bytes <= kMaxFrameBytes);
  out.resize(start + kFrameHeaderBytes + sealed_bytes);
  uint8_t* header = out.data() + start;
  PutU32BE(header, static_cast<uint32_t>(sealed_bytes));
  uint8_t* body = header + kFrameHeaderBytes;
  send_cipher_->Seal(NonceFor(send_counter_++), ByteSpan(header, kFrameHeaderBytes),
                     ByteSpan(body, plaintext_bytes), body);
  return OkStatus();
}

Status Session::SealEnvelope(const pb::Envelope& envelope, Bytes& out) {
  const size_t start = out.size();
  const size_t n = envelope.ByteSizeLong();
  out.resize(start + kFrameHeaderBytes + n + crypto::kAeadTagBytes);
  LEDGER_ASSERT(
      envelope.SerializeToArray(out.data() + start + kFrameHeaderBytes, static_cast<int>(n)));
  return SealInPlace(out, start, n);
}

Status Session::SealMessage(ByteSpan message, Bytes& out) {
  if (state_ != State::kEstablished)
    return MakeError(ErrorCode::kFailedPrecondition, "p2p: session not established");
  if (message.size() > kMaxMessageBytes)
    return MakeError(ErrorCode::kResourceExhausted, "p2p: message larger than kMaxMessageBytes");
  // Envelope{message} written directly in protobuf wire format (field 2, length-delimited), saving
  // a copy of the payload; session_test pins it against the generated serializer.
  const size_t start = out.size();
  const size_t plain = 1 + VarintBytes(message.size()) + message.size();
  out.reserve(start + kFrameHeaderBytes + plain + crypto::kAeadTagBytes);
  out.resize(start + kFrameHeaderBytes);
  AppendU8(out, 0x12);
  AppendVarint(out, message.size());
  Append(out, message);
  return SealInPlace(out, start, plain);
}

Status Session::SealKeepalive(Bytes& out) {
  if (state_ != State::kEstablished)
    return MakeError(ErrorCode::kFailedPrecondition, "p2p: session not established");
  pb::Envelope envelope;
  envelope.mutable_keepalive();
  return SealEnvelope(envelope, out);
}

}  // namespace cl::p2p
