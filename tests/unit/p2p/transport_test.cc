// The transport over real sockets on loopback. Every endpoint binds port 0 and reads the port it
// got, so parallel runs never collide; every wait has a deadline.
#include "p2p/transport.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace cl::p2p {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;  // upper bound for any event the tests wait for
constexpr std::string_view kChain = "loopback-chain";

crypto::PrivateKey KeyFrom(uint8_t seed) {
  Bytes raw(32, 0x33);
  raw[31] = seed;
  return *crypto::PrivateKey::FromBytes(raw);
}

TransportOptions FastOptions(std::string chain = std::string(kChain)) {
  TransportOptions o;
  o.chain_id = std::move(chain);
  o.handshake_timeout_ms = 1000;
  o.keepalive_interval_ms = 100;
  o.idle_timeout_ms = 600;
  o.reconnect_initial_ms = 20;
  o.reconnect_max_ms = 200;
  return o;
}

// A transport plus everything its handlers saw, with waits that give up after kWait.
class Endpoint {
 public:
  Endpoint(crypto::PrivateKey key, std::shared_ptr<StaticMembership> members,
           TransportOptions options = FastOptions(), std::optional<Identity> identity = {})
      : key_(std::move(key)), members_(std::move(members)) {
    TransportHandlers h;
    h.on_message = [this](const crypto::PublicKey& peer, ByteSpan m) {
      std::lock_guard lock(mu_);
      received_[peer].emplace_back(m.begin(), m.end());
      cv_.notify_all();
    };
    h.on_peer_up = [this](const crypto::PublicKey& peer) {
      std::lock_guard lock(mu_);
      up_.insert(peer);
      ++up_events_;
      cv_.notify_all();
    };
    h.on_peer_down = [this](const crypto::PublicKey& peer) {
      std::lock_guard lock(mu_);
      up_.erase(peer);
      ++down_events_;
      cv_.notify_all();
    };
    h.on_connection_closed = [this](const std::optional<crypto::PublicKey>&,
                                    const std::string& reason) {
      std::lock_guard lock(mu_);
      closed_reasons_.push_back(reason);
      cv_.notify_all();
    };
    transport_ = std::make_unique<Transport>(std::move(options),
                                             identity ? *identity : Identity::FromPrivateKey(key_),
                                             members_, std::move(h));
    auto port = transport_->Start();
    EXPECT_TRUE(port.has_value()) << port.error().ToString();
    port_ = port.value_or(0);
  }

  // The transport goes first: its thread calls the handlers, which use the members below.
  ~Endpoint() { transport_.reset(); }

  Transport& transport() { return *transport_; }
  uint16_t port() const { return port_; }
  crypto::PublicKey key() const { return key_.GetPublicKey(); }
  void Stop() { transport_.reset(); }

  template <class Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return pred(); });
  }
  bool WaitUp(const crypto::PublicKey& peer) {
    return WaitFor([&] { return up_.contains(peer); });
  }
  bool WaitDown(const crypto::PublicKey& peer) {
    return WaitFor([&] { return !up_.contains(peer); });
  }
  bool WaitReceived(const crypto::PublicKey& peer, size_t n) {
    return WaitFor([&] { return received_[peer].size() >= n; });
  }
  // Waits for a close whose reason contains the text.
  bool WaitClosedWith(std::string_view text) {
    return WaitFor([&] {
      for (const auto& r : closed_reasons_)
        if (r.find(text) != std::string::npos) return true;
      return false;
    });
  }
  std::vector<Bytes> Received(const crypto::PublicKey& peer) {
    std::lock_guard lock(mu_);
    return received_[peer];
  }
  int up_events() {
    std::lock_guard lock(mu_);
    return up_events_;
  }
  bool IsUp(const crypto::PublicKey& peer) {
    std::lock_guard lock(mu_);
    return up_.contains(peer);
  }

 private:
  crypto::PrivateKey key_;
  std::shared_ptr<StaticMembership> members_;
  std::unique_ptr<Transport> transport_;
  uint16_t port_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<crypto::PublicKey, std::vector<Bytes>> received_;
  std::set<crypto::PublicKey> up_;
  int up_events_ = 0, down_events_ = 0;
  std::vector<std::string> closed_reasons_;
};

Bytes Numbered(size_t from, size_t seq) {
  Bytes m = ToBytes("from " + std::to_string(from) + " seq " + std::to_string(seq) + " ");
  m.resize(m.size() + seq % 300, static_cast<uint8_t>(seq));
  return m;
}

TEST(Transport, FourEndpointsExchangeMessagesBothWaysInOrder) {
  constexpr size_t kNodes = 4, kMessages = 300;
  std::vector<crypto::PrivateKey> keys;
  auto members = std::make_shared<StaticMembership>();
  for (uint8_t i = 0; i < kNodes; ++i) {
    keys.push_back(KeyFrom(i + 1));
    members->Add(keys.back().GetPublicKey());
  }
  std::vector<std::unique_ptr<Endpoint>> nodes;
  for (size_t i = 0; i < kNodes; ++i)
    nodes.push_back(std::make_unique<Endpoint>(keys[i], members));
  // Everyone dials everyone: every pair has two simultaneous dials to resolve.
  for (size_t i = 0; i < kNodes; ++i)
    for (size_t j = 0; j < kNodes; ++j)
      if (i != j) nodes[i]->transport().AddPeer(nodes[j]->key(), "127.0.0.1", nodes[j]->port());
  for (size_t i = 0; i < kNodes; ++i)
    for (size_t j = 0; j < kNodes; ++j)
      if (i != j) {
        ASSERT_TRUE(nodes[i]->WaitUp(nodes[j]->key())) << i << " -> " << j;
      }
  // One session per pair: each node ends with exactly kNodes - 1 connections.
  for (auto& n : nodes)
    ASSERT_TRUE(n->WaitFor([&] { return n->transport().OpenConnections() == kNodes - 1; }));

  for (size_t seq = 0; seq < kMessages; ++seq)
    for (size_t i = 0; i < kNodes; ++i)
      for (size_t j = 0; j < kNodes; ++j)
        if (i != j) {
          ASSERT_TRUE(
              nodes[i]->transport().Send(nodes[j]->key(), Priority::kConsensus, Numbered(i, seq)));
        }
  for (size_t j = 0; j < kNodes; ++j) {
    for (size_t i = 0; i < kNodes; ++i) {
      if (i == j) continue;
      ASSERT_TRUE(nodes[j]->WaitReceived(nodes[i]->key(), kMessages)) << i << " -> " << j;
      auto got = nodes[j]->Received(nodes[i]->key());
      ASSERT_EQ(got.size(), kMessages);
      for (size_t seq = 0; seq < kMessages; ++seq)
        ASSERT_EQ(got[seq], Numbered(i, seq)) << i << " -> " << j << " seq " << seq;
      auto c = nodes[i]->transport().Counters(nodes[j]->key());
      ASSERT_TRUE(c.has_value());
      EXPECT_EQ(c->messages_dropped, 0u);
      EXPECT_TRUE(c->connected);
    }
  }
  auto c = nodes[1]->transport().Counters(nodes[0]->key());
  EXPECT_GE(c->messages_received, kMessages);
  EXPECT_GT(c->bytes_received, kMessages * 10);
}

// A connection from a node the listener must refuse, plus the reason the listener logs.
// refused_at_hello: the dialer never sees the listener's Auth either.
void ExpectRefused(Endpoint& listener, Endpoint& dialer, std::string_view reason,
                   bool refused_at_hello) {
  dialer.transport().AddPeer(listener.key(), "127.0.0.1", listener.port());
  ASSERT_TRUE(listener.WaitClosedWith(reason));
  dialer.transport().Send(listener.key(), Priority::kConsensus, ToBytes("let me in"));
  std::this_thread::sleep_for(300ms);  // several redials with FastOptions' backoff
  EXPECT_EQ(listener.up_events(), 0);
  EXPECT_TRUE(listener.Received(dialer.key()).empty());
  if (refused_at_hello) {
    EXPECT_EQ(dialer.up_events(), 0);
  }
}

TEST(Transport, RefusesPeerWithUnknownKey) {
  auto listener_members = std::make_shared<StaticMembership>();
  auto outsider_members = std::make_shared<StaticMembership>();
  Endpoint listener(KeyFrom(1), listener_members);
  Endpoint outsider(KeyFrom(9), outsider_members);
  listener_members->Add(listener.key());
  outsider_members->Add(listener.key());
  outsider_members->Add(outsider.key());
  ExpectRefused(listener, outsider, "not a member", true);
}

TEST(Transport, RefusesPeerWithWrongChainId) {
  auto members = std::make_shared<StaticMembership>();
  Endpoint listener(KeyFrom(1), members);
  Endpoint other(KeyFrom(2), members, FastOptions("another-chain"));
  members->Add(listener.key());
  members->Add(other.key());
  ExpectRefused(listener, other, "wrong chain id", true);
}

TEST(Transport, RefusesPeerWithBadTranscriptSignature) {
  auto members = std::make_shared<StaticMembership>();
  const auto member = KeyFrom(2), impostor = KeyFrom(7);
  Endpoint listener(KeyFrom(1), members);
  // Claims member's key, signs with its own.
  Identity forged{member.GetPublicKey(), [impostor](const Hash32& d) { return impostor.Sign(d); }};
  Endpoint fake(impostor, members, FastOptions(), forged);
  members->Add(listener.key());
  members->Add(member.GetPublicKey());
  ExpectRefused(listener, fake, "bad transcript signature", false);
}

// A hand-driven peer: a blocking socket plus the pure Session, to send what a real transport never
// would.
class RawPeer {
 public:
  RawPeer(uint16_t port, const crypto::PrivateKey& key, const Membership& members)
      : socket_(io_),
        session_(Role::kInitiator, Identity::FromPrivateKey(key), std::string(kChain), &members,
                 crypto::PrivateKey::Generate()) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void Write(ByteSpan bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  // Reads with a deadline; empty on timeout, nullopt on EOF/error.
  std::optional<Bytes> Read(std::chrono::milliseconds timeout) {
    Bytes buf(65536);
    std::optional<Bytes> result = Bytes{};
    bool done = false;
    socket_.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& ec, size_t n) {
      done = true;
      if (ec) {
        result.reset();
      } else {
        buf.resize(n);
        result = buf;
      }
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return Bytes{};
    }
    return result;
  }
  bool Handshake() {
    Write(session_.Start());
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!session_.established() && std::chrono::steady_clock::now() < deadline) {
      auto got = Read(100ms);
      if (!got) return false;
      Bytes out;
      if (!session_.Receive(*got, sink_, out)) return false;
      if (!out.empty()) Write(out);
    }
    return session_.established();
  }
  // True once the other side has closed the connection.
  bool WaitClosed() {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline)
      if (!Read(50ms)) return true;
    return false;
  }
  Session& session() { return session_; }

 private:
  struct Sink : SessionSink {
    Status OnEstablished(const crypto::PublicKey&) override { return OkStatus(); }
    void OnMessage(ByteSpan) override {}
  } sink_;
  asio::io_context io_;
  tcp::socket socket_;
  Session session_;
};

struct RawFixture : ::testing::Test {
  RawFixture()
      : members(std::make_shared<StaticMembership>()),
        raw_key(KeyFrom(5)),
        listener(KeyFrom(1), members) {
    members->Add(listener.key());
    members->Add(raw_key.GetPublicKey());
  }
  // After the failure, the listener still serves a well-behaved member.
  void ExpectListenerStillServes() {
    RawPeer good(listener.port(), raw_key, *members);
    ASSERT_TRUE(good.Handshake());
    Bytes frame;
    ASSERT_TRUE(good.session().SealMessage(ToBytes("still alive"), frame));
    good.Write(frame);
    EXPECT_TRUE(listener.WaitReceived(raw_key.GetPublicKey(), 1));
  }
  std::shared_ptr<StaticMembership> members;
  crypto::PrivateKey raw_key;
  Endpoint listener;
};

TEST_F(RawFixture, TamperedCiphertextClosesWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  ASSERT_TRUE(raw.Handshake());
  Bytes frame;
  ASSERT_TRUE(raw.session().SealMessage(ToBytes("transfer 100"), frame));
  frame[kFrameHeaderBytes + 3] ^= 0x80;
  raw.Write(frame);
  EXPECT_TRUE(listener.WaitClosedWith("authentication failed"));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_TRUE(listener.Received(raw_key.GetPublicKey()).empty());
  ExpectListenerStillServes();
}

TEST_F(RawFixture, ReplayedFrameClosesWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  ASSERT_TRUE(raw.Handshake());
  Bytes frame;
  ASSERT_TRUE(raw.session().SealMessage(ToBytes("once only"), frame));
  raw.Write(frame);
  raw.Write(frame);
  EXPECT_TRUE(listener.WaitClosedWith("replayed"));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_EQ(listener.Received(raw_key.GetPublicKey()).size(), 1u);
}

TEST_F(RawFixture, ReorderedFramesCloseWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  ASSERT_TRUE(raw.Handshake());
  Bytes first, second;
  ASSERT_TRUE(raw.session().SealMessage(ToBytes("first"), first));
  ASSERT_TRUE(raw.session().SealMessage(ToBytes("second"), second));
  raw.Write(second);
  raw.Write(first);
  EXPECT_TRUE(listener.WaitClosedWith("authentication failed"));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_TRUE(listener.Received(raw_key.GetPublicKey()).empty());
}

TEST_F(RawFixture, OversizeLengthClosesWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  ASSERT_TRUE(raw.Handshake());
  Bytes header;
  AppendU32BE(header, 0xfffffff0u);
  raw.Write(header);
  EXPECT_TRUE(listener.WaitClosedWith("outside 16.."));
  EXPECT_TRUE(raw.WaitClosed());
  ExpectListenerStillServes();
}

TEST_F(RawFixture, GarbageBeforeHandshakeClosesWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  raw.Write(AsSpan("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(listener.WaitClosedWith("hello frame length"));
  EXPECT_TRUE(raw.WaitClosed());
  ExpectListenerStillServes();
}

TEST_F(RawFixture, GarbageDuringHandshakeClosesWithReason) {
  RawPeer raw(listener.port(), raw_key, *members);
  raw.Write(raw.session().Start());  // a valid Hello ...
  Bytes junk = {0, 0, 0, 48};
  junk.resize(52, 0x5c);  // ... then junk where Auth belongs
  raw.Write(junk);
  EXPECT_TRUE(listener.WaitClosedWith("authentication failed"));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_EQ(listener.up_events(), 0);
}

// Issue 14, defect 16: one address cannot hold every pending-handshake slot.
TEST_F(RawFixture, PendingHandshakesPerAddressAreLimited) {
  const size_t limit = FastOptions().max_pending_handshakes_per_address;
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (size_t i = 0; i < limit; ++i)
    silent.push_back(std::make_unique<RawPeer>(listener.port(), raw_key, *members));
  const auto start = std::chrono::steady_clock::now();
  RawPeer extra(listener.port(), raw_key, *members);
  EXPECT_TRUE(extra.WaitClosed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms)  // handshake timeout: 1000 ms
      << "closed by the handshake timeout, not refused at accept";
  EXPECT_TRUE(silent[0]->Read(50ms).has_value()) << "an earlier pending connection was closed";
  EXPECT_LE(listener.transport().OpenConnections(), limit);
}

// Issue 14, defect 16: a Hello naming a member's key does not let a 16 MiB frame be buffered.
TEST_F(RawFixture, LargeFrameBeforeAuthClosesAtTheHeader) {
  RawPeer raw(listener.port(), raw_key, *members);
  raw.Write(raw.session().Start());
  Bytes header;
  AppendU32BE(header, static_cast<uint32_t>(kMaxFrameBytes));
  raw.Write(header);
  EXPECT_TRUE(listener.WaitClosedWith("p2p frame before Auth"));
  EXPECT_TRUE(raw.WaitClosed());
  EXPECT_EQ(listener.up_events(), 0);
}

TEST_F(RawFixture, HalfOpenBeforeHandshakeTimesOut) {
  RawPeer raw(listener.port(), raw_key, *members);  // connects, never speaks
  EXPECT_TRUE(listener.WaitClosedWith("handshake timeout"));
  EXPECT_TRUE(raw.WaitClosed());
}

TEST_F(RawFixture, HalfOpenAfterHandshakeTimesOut) {
  RawPeer raw(listener.port(), raw_key, *members);
  ASSERT_TRUE(raw.Handshake());  // then silent: no frames, no keepalives
  ASSERT_TRUE(listener.WaitUp(raw_key.GetPublicKey()));
  EXPECT_TRUE(listener.WaitClosedWith("idle timeout"));
  EXPECT_TRUE(listener.WaitDown(raw_key.GetPublicKey()));
}

TEST(Transport, KeepalivesHoldAnIdleSessionOpen) {
  auto members = std::make_shared<StaticMembership>();
  Endpoint a(KeyFrom(1), members), b(KeyFrom(2), members);
  members->Add(a.key());
  members->Add(b.key());
  a.transport().AddPeer(b.key(), "127.0.0.1", b.port());
  ASSERT_TRUE(a.WaitUp(b.key()));
  std::this_thread::sleep_for(1500ms);  // 2.5 idle timeouts with no application traffic
  EXPECT_TRUE(a.IsUp(b.key()));
  EXPECT_EQ(a.up_events(), 1);
}

TEST(Transport, RestartedPeerIsReconnectedAndTrafficResumes) {
  auto members = std::make_shared<StaticMembership>();
  const auto key_b = KeyFrom(2);
  Endpoint a(KeyFrom(1), members);
  auto b = std::make_unique<Endpoint>(key_b, members);
  members->Add(a.key());
  members->Add(b->key());
  const uint16_t port_b = b->port();
  a.transport().AddPeer(b->key(), "127.0.0.1", port_b);
  ASSERT_TRUE(a.WaitUp(b->key()));
  ASSERT_TRUE(a.transport().Send(b->key(), Priority::kConsensus, ToBytes("before")));
  ASSERT_TRUE(b->WaitReceived(a.key(), 1));

  b.reset();  // the process goes away
  ASSERT_TRUE(a.WaitDown(key_b.GetPublicKey()));
  TransportOptions same_port = FastOptions();
  same_port.listen_port = port_b;
  b = std::make_unique<Endpoint>(key_b, members, same_port);  // restarted, does not dial
  ASSERT_EQ(b->port(), port_b);
  ASSERT_TRUE(a.WaitUp(b->key()));
  ASSERT_TRUE(a.transport().Send(b->key(), Priority::kConsensus, ToBytes("after")));
  ASSERT_TRUE(b->transport().Send(a.key(), Priority::kConsensus, ToBytes("back")));
  ASSERT_TRUE(b->WaitReceived(a.key(), 1));
  ASSERT_TRUE(a.WaitReceived(b->key(), 1));
  EXPECT_EQ(b->Received(a.key())[0], ToBytes("after"));
  EXPECT_EQ(a.Received(b->key())[0], ToBytes("back"));
  EXPECT_EQ(a.transport().Counters(b->key())->reconnects, 1u);
}

TEST(Transport, QueuesAreBoundedDropsCountedAndConsensusGoesFirst) {
  auto members = std::make_shared<StaticMembership>();
  TransportOptions small = FastOptions();
  small.queue_max_messages[static_cast<size_t>(Priority::kGossip)] = 50;
  small.queue_max_bytes[static_cast<size_t>(Priority::kConsensus)] = 100 * 1000;
  Endpoint a(KeyFrom(1), members, small), b(KeyFrom(2), members);
  members->Add(a.key());
  members->Add(b.key());
  // b is not connected yet: everything waits in a's queues.
  size_t gossip_ok = 0, consensus_ok = 0;
  for (int i = 0; i < 80; ++i)
    gossip_ok += a.transport().Send(b.key(), Priority::kGossip, ToBytes("gossip"));
  for (int i = 0; i < 150; ++i)
    consensus_ok += a.transport().Send(b.key(), Priority::kConsensus, Bytes(1000, 'c'));
  EXPECT_EQ(gossip_ok, 50u);
  EXPECT_EQ(consensus_ok, 100u);
  auto c = a.transport().Counters(b.key());
  EXPECT_EQ(c->messages_dropped, 30u + 50u);
  EXPECT_EQ(c->queued_messages, 150u);
  // Once connected, the queued consensus messages arrive before any gossip.
  a.transport().AddPeer(b.key(), "127.0.0.1", b.port());
  ASSERT_TRUE(b.WaitReceived(a.key(), 150));
  auto got = b.Received(a.key());
  for (size_t i = 0; i < 100; ++i)
    ASSERT_EQ(got[i].size(), 1000u) << i;
  for (size_t i = 100; i < 150; ++i)
    ASSERT_EQ(got[i], ToBytes("gossip")) << i;
}

TEST(Transport, RemovedMemberIsDisconnected) {
  auto members = std::make_shared<StaticMembership>();
  Endpoint a(KeyFrom(1), members), b(KeyFrom(2), members);
  members->Add(a.key());
  members->Add(b.key());
  a.transport().AddPeer(b.key(), "127.0.0.1", b.port());
  ASSERT_TRUE(a.WaitUp(b.key()));
  members->Remove(b.key());
  EXPECT_TRUE(a.WaitClosedWith("no longer a member"));
  EXPECT_TRUE(a.WaitDown(b.key()));
}

TEST(Transport, BroadcastReachesEveryPeer) {
  auto members = std::make_shared<StaticMembership>();
  Endpoint a(KeyFrom(1), members), b(KeyFrom(2), members), c(KeyFrom(3), members);
  for (auto* e : {&a, &b, &c})
    members->Add(e->key());
  a.transport().AddPeer(b.key(), "127.0.0.1", b.port());
  a.transport().AddPeer(c.key(), "127.0.0.1", c.port());
  ASSERT_TRUE(a.WaitUp(b.key()) && a.WaitUp(c.key()));
  EXPECT_EQ(a.transport().Broadcast(Priority::kGossip, AsSpan("to all")), 2u);
  ASSERT_TRUE(b.WaitReceived(a.key(), 1));
  ASSERT_TRUE(c.WaitReceived(a.key(), 1));
  EXPECT_EQ(c.Received(a.key())[0], ToBytes("to all"));
}

}  // namespace
}  // namespace cl::p2p
