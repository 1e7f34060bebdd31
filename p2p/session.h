// One p2p session's handshake and frame codec, with no sockets, threads or clocks: bytes in, events
// and bytes out. p2p/transport.h drives it over TCP; tests and the fuzzer drive it directly.
// docs/protocol.md ("P2P sessions") specifies the bytes; the constants marked "wire" reach the
// wire: do not change them without a new kProtocolVersion.
//
//   Hello frame (clear):  u32be(len) || Hello protobuf           len in 1..kMaxHelloBytes
//   sealed frame:         u32be(len) || AES-256-GCM(key_dir, nonce = 0^4 || u64be(counter),
//                                                   aad = the 4 length bytes, Envelope protobuf)
//                                                              len in 16..kMaxFrameBytes
//                                                              (16..kMaxAuthFrameBytes before Auth)
//   The first sealed frame each way carries Auth (the transcript signature); nothing else is
//   accepted before it verifies, so a non-member or impostor never gets an application message in.
//
// Thread safety: none; a Session belongs to one connection and is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/aead.h"
#include "crypto/keys.h"
#include "p2p/membership.h"
#include "p2p/p2p.pb.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::p2p {

inline constexpr uint32_t kProtocolVersion = 1;             // wire
inline constexpr size_t kFrameHeaderBytes = 4;              // wire: u32 big-endian length
inline constexpr size_t kMaxHelloBytes = 512;               // wire: largest Hello frame body
inline constexpr size_t kMaxFrameBytes = size_t{16} << 20;  // wire: largest sealed frame body
// wire: largest sealed frame body accepted before the peer's Auth verifies. Auth is the only frame
// allowed then (Envelope{auth{64-byte signature}} = 68 bytes + the 16-byte tag = 84), so a peer
// that has only named a member's key in its Hello can make us buffer at most this much, not a whole
// frame.
inline constexpr size_t kMaxAuthFrameBytes = 128;
inline constexpr size_t kMaxEnvelopeOverheadBytes = 1 + 4;  // field tag + varint length
// Largest application message Seal accepts: fits one frame with its envelope and tag.
inline constexpr size_t kMaxMessageBytes =
    kMaxFrameBytes - crypto::kAeadTagBytes - kMaxEnvelopeOverheadBytes;
// HKDF info string for the session keys (wire).
inline constexpr std::string_view kKeyDerivationInfo = "consortium-ledger p2p v1 session keys";

// The dialer is the initiator. Roles order the transcript and pick each direction's key.
enum class Role : uint8_t { kInitiator = 1, kResponder = 2 };  // wire: signed as one byte

// A node identity: its public key and a way to sign with it (in-process key, HSM or KMS).
struct Identity {
  crypto::PublicKey public_key;
  std::function<crypto::Signature(const Hash32& digest)> sign;

  static Identity FromPrivateKey(const crypto::PrivateKey& key);
};

// What a session reports while it consumes bytes.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  // The peer proved its key. An error closes the session with that reason (e.g. a duplicate).
  virtual Status OnEstablished(const crypto::PublicKey& peer) = 0;
  // An application message; the bytes are valid only during the call.
  virtual void OnMessage(ByteSpan message) = 0;
  virtual void OnKeepalive() {}
};

// The transcript digest each role signs (exposed for tests and docs):
//   SignedDigest(kHandshakeTranscript, chain_id, u8(role) || transcript_hash)
Hash32 AuthDigest(std::string_view chain_id, Role role, const Hash32& transcript_hash);

class Session {
 public:
  // ephemeral: a fresh key per connection (crypto::PrivateKey::Generate()); a parameter so that
  // tests and the fuzzer are deterministic. chain_id: 1..crypto::kChainIdMaxBytes bytes.
  Session(Role role, Identity identity, std::string chain_id, const Membership* membership,
          crypto::PrivateKey ephemeral);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The Hello frame to send first. Call once.
  Bytes Start();

  // Consumes received bytes (any split). Complete frames are handled in order: sink events, and
  // bytes that must be sent (the Auth frame) appended to to_send. An error means "close the
  // connection"; its message is the reason to log. After an error every call returns it again.
  Status Receive(ByteSpan data, SessionSink& sink, Bytes& to_send);

  // Appends one sealed frame carrying the message (at most kMaxMessageBytes). Only when
  // established().
  Status SealMessage(ByteSpan message, Bytes& out);
  Status SealKeepalive(Bytes& out);

  bool established() const { return state_ == State::kEstablished; }
  Role role() const { return role_; }
  // Known once the peer's Hello is accepted (before its Auth verifies).
  const std::optional<crypto::PublicKey>& peer_key() const { return peer_key_; }
  // Set after the Hello exchange; both sides compute the same value.
  const Hash32& transcript_hash() const { return transcript_hash_; }

 private:
  enum class State { kCreated, kAwaitHello, kAwaitAuth, kEstablished, kFailed };

  Status HandleFrame(ByteSpan header, ByteSpan body, SessionSink& sink, Bytes& to_send);
  Status HandleHello(ByteSpan body, Bytes& to_send);
  Status HandleSealed(ByteSpan header, ByteSpan body, SessionSink& sink);
  Status SealEnvelope(const pb::Envelope& envelope, Bytes& out);
  // Seals out[start + kFrameHeaderBytes, end) in place and writes the header.
  Status SealInPlace(Bytes& out, size_t start, size_t plaintext_bytes);
  Status Fail(Error error);

  const Role role_;
  const Identity identity_;
  const std::string chain_id_;
  const Membership* const membership_;
  std::optional<crypto::PrivateKey> ephemeral_;  // reset once used, which wipes it

  State state_ = State::kCreated;
  std::optional<Error> error_;
  Bytes my_hello_;
  std::optional<crypto::PublicKey> peer_key_;
  Hash32 transcript_hash_;
  std::unique_ptr<crypto::AesGcm256> send_cipher_, recv_cipher_;
  uint64_t send_counter_ = 0, recv_counter_ = 0;
  Bytes inbuf_;      // an incomplete frame carried over between Receive calls
  Bytes plaintext_;  // scratch for opened frames, reused
  pb::Envelope rx_envelope_;
};

}  // namespace cl::p2p
