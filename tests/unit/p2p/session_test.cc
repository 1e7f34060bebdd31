// The handshake and frame codec without sockets: two Sessions wired back to back.
#include "p2p/session.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"

namespace cl::p2p {
namespace {

crypto::PrivateKey KeyFrom(uint8_t seed) {
  Bytes raw(32, 0);
  raw[31] = seed;
  raw[0] = 0x11;
  return *crypto::PrivateKey::FromBytes(raw);
}

struct Recorder : SessionSink {
  Status OnEstablished(const crypto::PublicKey& peer) override {
    ++established;
    peer_key = peer;
    return OkStatus();
  }
  void OnMessage(ByteSpan message) override {
    messages.emplace_back(message.begin(), message.end());
  }
  void OnKeepalive() override { ++keepalives; }
  int established = 0;
  int keepalives = 0;
  std::optional<crypto::PublicKey> peer_key;
  std::vector<Bytes> messages;
};

// A dialer a and a listener b, both members unless a test changes that.
struct Pair {
  explicit Pair(std::string chain_a = "test-chain", std::string chain_b = "test-chain")
      : key_a(KeyFrom(1)),
        key_b(KeyFrom(2)),
        members({key_a.GetPublicKey(), key_b.GetPublicKey()}),
        a(Role::kInitiator, Identity::FromPrivateKey(key_a), chain_a, &members, KeyFrom(11)),
        b(Role::kResponder, Identity::FromPrivateKey(key_b), chain_b, &members, KeyFrom(12)) {}

  // Exchanges bytes until neither side has anything to send or one side fails.
  Status Run(size_t chunk_bytes = SIZE_MAX) {
    if (!started) {
      a_to_b = a.Start();
      b_to_a = b.Start();
      started = true;
    }
    while (!a_to_b.empty() || !b_to_a.empty()) {
      Bytes to_b = std::move(a_to_b), to_a = std::move(b_to_a);
      a_to_b.clear();
      b_to_a.clear();
      for (size_t i = 0; i < to_b.size(); i += chunk_bytes) {
        ByteSpan piece(to_b.data() + i, std::min(chunk_bytes, to_b.size() - i));
        LEDGER_TRY(b.Receive(piece, rb, b_to_a));
      }
      for (size_t i = 0; i < to_a.size(); i += chunk_bytes) {
        ByteSpan piece(to_a.data() + i, std::min(chunk_bytes, to_a.size() - i));
        LEDGER_TRY(a.Receive(piece, ra, a_to_b));
      }
    }
    return OkStatus();
  }

  crypto::PrivateKey key_a, key_b;
  StaticMembership members;
  Session a, b;
  Recorder ra, rb;
  Bytes a_to_b, b_to_a;
  bool started = false;
};

TEST(Session, HandshakeEstablishesBothSidesWithTheSameTranscript) {
  Pair p;
  ASSERT_TRUE(p.Run());
  EXPECT_TRUE(p.a.established());
  EXPECT_TRUE(p.b.established());
  EXPECT_EQ(p.ra.established, 1);
  EXPECT_EQ(p.rb.established, 1);
  EXPECT_EQ(p.ra.peer_key, p.key_b.GetPublicKey());
  EXPECT_EQ(p.rb.peer_key, p.key_a.GetPublicKey());
  EXPECT_EQ(p.a.transcript_hash(), p.b.transcript_hash());
  EXPECT_FALSE(p.a.transcript_hash().IsZero());
}

TEST(Session, MessagesFlowBothWaysInOrderWhateverTheSplit) {
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, SIZE_MAX}) {
    Pair p;
    ASSERT_TRUE(p.Run(chunk));
    for (uint8_t i = 0; i < 20; ++i) {
      ASSERT_TRUE(p.a.SealMessage(Bytes(i * 13u, i), p.a_to_b));
      ASSERT_TRUE(p.b.SealMessage(Bytes(1, static_cast<uint8_t>(100 + i)), p.b_to_a));
    }
    ASSERT_TRUE(p.Run(chunk));
    ASSERT_EQ(p.rb.messages.size(), 20u);
    ASSERT_EQ(p.ra.messages.size(), 20u);
    for (uint8_t i = 0; i < 20; ++i) {
      EXPECT_EQ(p.rb.messages[i], Bytes(i * 13u, i));
      EXPECT_EQ(p.ra.messages[i], Bytes(1, static_cast<uint8_t>(100 + i)));
    }
  }
}

TEST(Session, HandMadeEnvelopeEncodingEqualsProtobufs) {
  // SealMessage writes Envelope{message} by hand; the peer parses it with protobuf. Pin that the
  // two agree for payload sizes around varint boundaries.
  for (size_t n : {size_t{0}, size_t{127}, size_t{128}, size_t{16383}, size_t{16384}}) {
    Pair p;
    ASSERT_TRUE(p.Run());
    Bytes payload(n, 0x5a);
    Bytes frame;
    ASSERT_TRUE(p.a.SealMessage(payload, frame));
    pb::Envelope env;
    env.set_message(ToString(payload));
    EXPECT_EQ(frame.size(), kFrameHeaderBytes + env.ByteSizeLong() + crypto::kAeadTagBytes);
    ASSERT_TRUE(p.b.Receive(frame, p.rb, p.b_to_a));
    ASSERT_EQ(p.rb.messages.size(), 1u);
    EXPECT_EQ(p.rb.messages[0], payload);
  }
}

TEST(Session, KeepaliveIsDeliveredAsKeepalive) {
  Pair p;
  ASSERT_TRUE(p.Run());
  ASSERT_TRUE(p.a.SealKeepalive(p.a_to_b));
  ASSERT_TRUE(p.Run());
  EXPECT_EQ(p.rb.keepalives, 1);
  EXPECT_TRUE(p.rb.messages.empty());
}

TEST(Session, RefusesUnknownKeyBeforeAuth) {
  Pair p;
  p.members.Remove(p.key_a.GetPublicKey());
  auto st = p.Run();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(st.error().message.find("not a member"), std::string::npos);
  EXPECT_EQ(p.rb.established, 0);
  EXPECT_FALSE(p.b.established());
}

TEST(Session, RefusesWrongChainId) {
  Pair p("chain-one", "chain-two");
  auto st = p.Run();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("wrong chain id"), std::string::npos);
  EXPECT_EQ(p.rb.established + p.ra.established, 0);
}

TEST(Session, RefusesBadTranscriptSignature) {
  // An impostor claims member b's key but can only sign with its own.
  Pair p;
  const auto impostor = KeyFrom(99);
  Identity forged{p.key_b.GetPublicKey(), [impostor](const Hash32& d) { return impostor.Sign(d); }};
  Session fake(Role::kResponder, forged, "test-chain", &p.members, KeyFrom(13));
  Bytes to_a = fake.Start(), to_fake, ignored;
  Bytes from_a = p.a.Start();
  Recorder rf;
  ASSERT_TRUE(fake.Receive(from_a, rf, to_a));  // the impostor learns nothing it could use
  auto st = p.a.Receive(to_a, p.ra, to_fake);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(st.error().message.find("bad transcript signature"), std::string::npos);
  EXPECT_EQ(p.ra.established, 0);
}

TEST(Session, ClosesOnTamperedCiphertext) {
  Pair p;
  ASSERT_TRUE(p.Run());
  Bytes frame;
  ASSERT_TRUE(p.a.SealMessage(ToBytes("pay 100"), frame));
  frame[kFrameHeaderBytes + 2] ^= 0x01;
  auto st = p.b.Receive(frame, p.rb, p.b_to_a);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(p.rb.messages.empty());
  // Sticky: nothing more is accepted on this session.
  EXPECT_FALSE(p.b.Receive({}, p.rb, p.b_to_a));
}

TEST(Session, ClosesOnReplayedFrame) {
  Pair p;
  ASSERT_TRUE(p.Run());
  Bytes frame;
  ASSERT_TRUE(p.a.SealMessage(ToBytes("once"), frame));
  ASSERT_TRUE(p.b.Receive(frame, p.rb, p.b_to_a));
  auto st = p.b.Receive(frame, p.rb, p.b_to_a);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("replayed"), std::string::npos);
  EXPECT_EQ(p.rb.messages.size(), 1u);
}

TEST(Session, ClosesOnReorderedFrames) {
  Pair p;
  ASSERT_TRUE(p.Run());
  Bytes first, second;
  ASSERT_TRUE(p.a.SealMessage(ToBytes("first"), first));
  ASSERT_TRUE(p.a.SealMessage(ToBytes("second"), second));
  EXPECT_FALSE(p.b.Receive(second, p.rb, p.b_to_a));
  EXPECT_TRUE(p.rb.messages.empty());
}

TEST(Session, ClosesOnOversizeLengthBeforeReadingTheBody) {
  Pair p;
  ASSERT_TRUE(p.Run());
  Bytes header;
  AppendU32BE(header, static_cast<uint32_t>(kMaxFrameBytes + 1));
  auto st = p.b.Receive(header, p.rb, p.b_to_a);  // only 4 bytes: judged on the header alone
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kResourceExhausted);
}

TEST(Session, ClosesOnGarbageBeforeHandshake) {
  Pair p;
  (void)p.b.Start();
  Bytes sink;
  auto st = p.b.Receive(AsSpan("GET / HTTP/1.1\r\n\r\n"), p.rb, sink);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("hello frame length"), std::string::npos);
  Pair q;
  (void)q.b.Start();
  Bytes junk = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};  // in range, not a Hello
  EXPECT_FALSE(q.b.Receive(junk, q.rb, sink));
  EXPECT_TRUE(sink.empty());
}

TEST(Session, ClosesOnGarbageDuringHandshake) {
  Pair p;
  Bytes hello = p.a.Start();
  (void)p.b.Start();
  Bytes reply;
  ASSERT_TRUE(p.b.Receive(hello, p.rb, reply));
  Bytes junk = {0, 0, 0, 40};
  junk.resize(44, 0xab);  // where Auth belongs
  auto st = p.b.Receive(junk, p.rb, reply);
  ASSERT_FALSE(st);
  EXPECT_EQ(p.rb.established, 0);
}

TEST(Session, RefusesConnectionToSelf) {
  const auto key = KeyFrom(1);
  StaticMembership members({key.GetPublicKey()});
  Session a(Role::kInitiator, Identity::FromPrivateKey(key), "c", &members, KeyFrom(11));
  Session b(Role::kResponder, Identity::FromPrivateKey(key), "c", &members, KeyFrom(12));
  Bytes hello = a.Start(), out;
  (void)b.Start();
  Recorder r;
  auto st = b.Receive(hello, r, out);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("self"), std::string::npos);
}

TEST(Session, SealRefusesBeforeEstablishedAndAboveMaximum) {
  Pair p;
  Bytes out;
  EXPECT_FALSE(p.a.SealMessage(ToBytes("early"), out));
  ASSERT_TRUE(p.Run());
  EXPECT_FALSE(p.a.SealMessage(Bytes(kMaxMessageBytes + 1), out));
  EXPECT_TRUE(out.empty());
}

TEST(Session, LargestMessageFitsTheLargestFrame) {
  Pair p;
  ASSERT_TRUE(p.Run());
  Bytes big(kMaxMessageBytes, 0x42);
  ASSERT_TRUE(p.a.SealMessage(big, p.a_to_b));
  EXPECT_LE(p.a_to_b.size(), kFrameHeaderBytes + kMaxFrameBytes);
  ASSERT_TRUE(p.Run());
  ASSERT_EQ(p.rb.messages.size(), 1u);
  EXPECT_EQ(p.rb.messages[0], big);
}

// Issue 14, defect 16: a peer whose Hello merely names a member's key must not make us buffer a
// whole 16 MiB frame before its Auth verifies; the frame header alone is judged against Auth's
// size.
TEST(Session, FrameBeforeAuthIsLimitedToTheAuthFrameSize) {
  Pair p;
  Bytes hello = p.a.Start();
  (void)p.b.Start();
  Bytes reply;
  ASSERT_TRUE(p.b.Receive(hello, p.rb, reply));  // b now awaits a's Auth
  Bytes header;
  AppendU32BE(header, static_cast<uint32_t>(kMaxAuthFrameBytes + 1));
  auto st = p.b.Receive(header, p.rb, reply);  // 4 bytes: refused before any body is buffered
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(st.error().message.find("before Auth"), std::string::npos) << st.error().message;
  EXPECT_EQ(p.rb.established, 0);
}

TEST(Session, TheRealAuthFrameFitsThePreAuthLimit) {
  Pair p;
  Bytes hello_a = p.a.Start();
  Bytes hello_b = p.b.Start();
  Bytes auth_from_b;
  ASSERT_TRUE(p.b.Receive(hello_a, p.rb, auth_from_b));
  ASSERT_GE(auth_from_b.size(), kFrameHeaderBytes);
  EXPECT_LE(auth_from_b.size() - kFrameHeaderBytes, kMaxAuthFrameBytes);
  Bytes auth_from_a;
  ASSERT_TRUE(p.a.Receive(hello_b, p.ra, auth_from_a));
  ASSERT_TRUE(p.a.Receive(auth_from_b, p.ra, auth_from_a));
  EXPECT_TRUE(p.a.established());
}

// Issue 14, defect 2: the Hello enters the signed transcript, so it is parsed strictly.
Bytes HelloFrame(const pb::Hello& hello, const std::string& extra = "") {
  std::string body = hello.SerializeAsString() + extra;
  Bytes frame;
  AppendU32BE(frame, static_cast<uint32_t>(body.size()));
  Append(frame, AsSpan(body));
  return frame;
}

TEST(Session, HelloWithAnUnknownFieldOrNonCanonicalEncodingIsRefused) {
  crypto::PrivateKey key_a = KeyFrom(1);
  pb::Hello hello;
  hello.set_version(kProtocolVersion);
  hello.set_chain_id("test-chain");
  hello.set_node_key(ToString(key_a.GetPublicKey().span()));
  hello.set_ephemeral_key(ToString(KeyFrom(11).GetPublicKey().span()));
  {
    Pair p;
    (void)p.b.Start();
    Bytes reply;
    ASSERT_TRUE(p.b.Receive(HelloFrame(hello), p.rb, reply));  // the control: canonical is fine
  }
  const std::string unknown_field("\x48\x01", 2);  // field 9, varint 1
  const std::string version_again("\x08\x01", 2);  // field 1 repeated: not canonical
  for (const std::string& extra : {unknown_field, version_again}) {
    Pair p;
    (void)p.b.Start();
    Bytes reply;
    auto st = p.b.Receive(HelloFrame(hello, extra), p.rb, reply);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument) << st.error().message;
  }
}

TEST(Session, AuthDigestBindsRoleAndChain) {
  Hash32 th;
  th.bytes[0] = 1;
  EXPECT_NE(AuthDigest("c", Role::kInitiator, th), AuthDigest("c", Role::kResponder, th));
  EXPECT_NE(AuthDigest("c", Role::kInitiator, th), AuthDigest("d", Role::kInitiator, th));
  Bytes body = {1};
  Append(body, th.span());
  EXPECT_EQ(AuthDigest("c", Role::kInitiator, th),
            crypto::SignedDigest(crypto::Domain::kHandshakeTranscript, "c", body));
}

}  // namespace
}  // namespace cl::p2p
