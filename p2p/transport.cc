#include "p2p/transport.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "util/assert.h"

namespace cl::p2p {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr size_t kReadChunkBytes = size_t{256} << 10;  // one read_some per connection at a time
constexpr uint32_t kMinTickMs = 5;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string Short(const crypto::PublicKey& key) {
  return key.ToHex().substr(0, 16);
}

}  // namespace

class Connection;

// Per-peer state. Fields under "mu_" are guarded by Transport::Impl::mu_; the rest belong to the
// transport thread.
struct PeerState {
  explicit PeerState(const crypto::PublicKey& k) : key(k) {}
  const crypto::PublicKey key;
  // mu_:
  std::deque<Bytes> queue[kPriorityCount];
  size_t queued_bytes[kPriorityCount] = {0, 0};
  PeerCounters counters;
  bool kick_pending = false;  // a Pump is scheduled or a write is running and will drain
  // transport thread:
  std::optional<std::pair<std::string, uint16_t>> address;
  std::shared_ptr<Connection> active;
  bool dialing = false;
  bool dial_scheduled = false;
  bool ever_up = false;
  uint32_t backoff_ms = 0;
  std::unique_ptr<asio::steady_timer> redial_timer;
};

struct Transport::Impl {
  Impl(TransportOptions o, Identity id, std::shared_ptr<const Membership> m, TransportHandlers h)
      : options(std::move(o)),
        identity(std::move(id)),
        membership(std::move(m)),
        handlers(std::move(h)),
        acceptor(io) {}

  std::shared_ptr<PeerState> PeerLocked(const crypto::PublicKey& key);  // mu_ held
  void Accept();
  void ScheduleDial(const std::shared_ptr<PeerState>& peer);
  void Dial(const std::shared_ptr<PeerState>& peer);
  Status OnEstablished(const std::shared_ptr<Connection>& conn, const crypto::PublicKey& key);
  void OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason);
  uint32_t TickMs() const {
    uint32_t t = std::min({options.keepalive_interval_ms, options.idle_timeout_ms,
                           options.handshake_timeout_ms}) /
                 4;
    return std::max(t, kMinTickMs);
  }

  // io must outlive every socket and timer below: declared first, destroyed last.
  asio::io_context io;
  const TransportOptions options;
  const Identity identity;
  const std::shared_ptr<const Membership> membership;
  const TransportHandlers handlers;
  tcp::acceptor acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  bool running = false;                               // owner thread
  bool stopping = false;                              // transport thread
  std::set<std::shared_ptr<Connection>> connections;  // transport thread
  std::atomic<size_t> open_connections{0};
  size_t pending_handshakes = 0;                           // transport thread
  std::map<asio::ip::address, size_t> pending_by_address;  // transport thread; entries > 0 only
  void ReleasePending(Connection& conn);

  mutable std::mutex mu_;
  std::map<crypto::PublicKey, std::shared_ptr<PeerState>> peers;  // mu_; entries never removed
};

// One TCP connection and its Session. Lives on the transport thread only.
class Connection : public std::enable_shared_from_this<Connection>, public SessionSink {
 public:
  Connection(Transport::Impl& t, tcp::socket socket, Role role, std::shared_ptr<PeerState> dialed)
      : t_(t),
        socket_(std::move(socket)),
        session_(role, t.identity, t.options.chain_id, t.membership.get(),
                 crypto::PrivateKey::Generate()),
        timer_(t.io) {
    dialed_ = std::move(dialed);
  }

  void Start() {
    t_.open_connections.fetch_add(1);
    boost::system::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    start_ms_ = last_rx_ms_ = last_tx_ms_ = NowMs();
    read_buf_.resize(kReadChunkBytes);
    pending_raw_ = session_.Start();
    Pump();
    Read();
    Tick();
  }

  void Close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    auto self = shared_from_this();
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    timer_.cancel();
    t_.open_connections.fetch_sub(1);
    t_.OnClosed(self, reason);
  }

  // Writes handshake bytes, then queued messages (consensus first), batched into one write.
  void Pump() {
    if (closed_ || writing_) return;
    write_buf_.clear();
    write_buf_.swap(pending_raw_);
    size_t sealed = 0;
    if (active_) {
      batch_.clear();
      {
        std::lock_guard lock(t_.mu_);
        size_t bytes = 0;
        for (size_t p = 0; p < kPriorityCount; ++p) {
          auto& q = peer_->queue[p];
          while (!q.empty() &&
                 (batch_.empty() || bytes + q.front().size() <= t_.options.write_batch_max_bytes)) {
            bytes += q.front().size();
            peer_->queued_bytes[p] -= q.front().size();
            batch_.push_back(std::move(q.front()));
            q.pop_front();
          }
        }
        // Nothing left means the next Send must schedule a Pump; otherwise our write's completion
        // will come back here.
        peer_->kick_pending = !batch_.empty();
        peer_->counters.messages_sent += batch_.size();
      }
      for (const Bytes& m : batch_) {
        if (auto st = session_.SealMessage(m, write_buf_); !st) return Close(st.error().ToString());
        ++sealed;
      }
      if (sealed == 0 && keepalive_due_) {
        if (auto st = session_.SealKeepalive(write_buf_); !st) return Close(st.error().ToString());
      }
      keepalive_due_ = false;
    }
    if (write_buf_.empty()) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(write_buf_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                        self->writing_ = false;
                        if (self->closed_) return;
                        if (ec) return self->Close("write failed: " + ec.message());
                        self->last_tx_ms_ = NowMs();
                        self->AddCounters(n, 0, 0);
                        self->Pump();
                      });
  }

  Status OnEstablished(const crypto::PublicKey& key) override {
    return t_.OnEstablished(shared_from_this(), key);
  }
  void OnMessage(ByteSpan message) override {
    ++received_messages_;
    if (t_.handlers.on_message && !t_.stopping) t_.handlers.on_message(peer_->key, message);
  }

  Role role() const { return session_.role(); }
  bool established() const { return session_.established(); }
  const std::optional<crypto::PublicKey>& peer_key() const { return session_.peer_key(); }

  bool active_ = false;                // the peer's one session
  std::shared_ptr<PeerState> peer_;    // set when established
  std::shared_ptr<PeerState> dialed_;  // outbound: the peer we dialed
  bool counted_pending_ = false;       // inbound, counted in pending_handshakes
  asio::ip::address pending_address_;  // inbound: counted in pending_by_address under this

 private:
  void Read() {
    socket_.async_read_some(asio::buffer(read_buf_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) {
      return Close(ec == asio::error::eof ? "peer closed the connection"
                                          : "read failed: " + ec.message());
    }
    last_rx_ms_ = NowMs();
    received_messages_ = 0;
    // The Auth frame goes straight into pending_raw_, which Pump writes before any message it
    // seals, so frames leave in counter order even when Auth and establishment share one read.
    auto st = session_.Receive(ByteSpan(read_buf_.data(), n), *this, pending_raw_);
    if (closed_) return;  // closed from a handler (e.g. replaced as a duplicate)
    AddCounters(0, n, received_messages_);
    if (!st) return Close(st.error().ToString());
    if (!pending_raw_.empty()) Pump();
    Read();
  }

  void AddCounters(uint64_t sent, uint64_t received, uint64_t messages) {
    if (!peer_) return;
    std::lock_guard lock(t_.mu_);
    peer_->counters.bytes_sent += sent;
    peer_->counters.bytes_received += received;
    peer_->counters.messages_received += messages;
  }

  void Tick() {
    timer_.expires_after(std::chrono::milliseconds(t_.TickMs()));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      self->OnTick();
    });
  }

  void OnTick() {
    const uint64_t now = NowMs();
    const auto& o = t_.options;
    if (!session_.established()) {
      if (now - start_ms_ >= o.handshake_timeout_ms)
        return Close("handshake timeout after " + std::to_string(o.handshake_timeout_ms) + " ms");
    } else if (now - last_rx_ms_ >= o.idle_timeout_ms) {
      return Close("idle timeout: nothing received for " + std::to_string(o.idle_timeout_ms) +
                   " ms (half-open connection?)");
    } else if (!t_.membership->IsMember(*session_.peer_key())) {
      return Close("peer is no longer a member");
    } else if (now - last_tx_ms_ >= o.keepalive_interval_ms && !writing_) {
      keepalive_due_ = true;
      Pump();
    }
    Tick();
  }

  Transport::Impl& t_;
  tcp::socket socket_;
  Session session_;
  asio::steady_timer timer_;
  Bytes read_buf_, write_buf_, pending_raw_;
  std::vector<Bytes> batch_;
  bool writing_ = false, closed_ = false, keepalive_due_ = false;
  uint64_t start_ms_ = 0, last_rx_ms_ = 0, last_tx_ms_ = 0, received_messages_ = 0;
};

std::shared_ptr<PeerState> Transport::Impl::PeerLocked(const crypto::PublicKey& key) {
  auto [it, inserted] = peers.try_emplace(key);
  if (inserted) it->second = std::make_shared<PeerState>(key);
  return it->second;
}

void Transport::Impl::Accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (stopping || !acceptor.is_open()) return;
    if (!ec) {
      boost::system::error_code addr_ec;
      const asio::ip::address from = socket.remote_endpoint(addr_ec).address();
      size_t& from_pending = pending_by_address[from];
      if (addr_ec || pending_handshakes >= options.max_pending_handshakes ||
          from_pending >= options.max_pending_handshakes_per_address) {
        spdlog::warn(
            "p2p: refused inbound connection from {}: {} handshakes pending, {} from it "
            "(limits {}, {})",
            addr_ec ? std::string("?") : from.to_string(), pending_handshakes, from_pending,
            options.max_pending_handshakes, options.max_pending_handshakes_per_address);
        if (from_pending == 0) pending_by_address.erase(from);
        boost::system::error_code ignored;
        socket.close(ignored);
      } else {
        auto conn =
            std::make_shared<Connection>(*this, std::move(socket), Role::kResponder, nullptr);
        conn->counted_pending_ = true;
        conn->pending_address_ = from;
        ++pending_handshakes;
        ++from_pending;
        connections.insert(conn);
        conn->Start();
      }
    } else {
      spdlog::warn("p2p: accept failed: {}", ec.message());
    }
    Accept();
  });
}

void Transport::Impl::ScheduleDial(const std::shared_ptr<PeerState>& peer) {
  if (stopping || !peer->address || peer->active || peer->dialing || peer->dial_scheduled) return;
  peer->dial_scheduled = true;
  // The higher key gives the lower key's dial a head start, so simultaneous dials are rare.
  uint32_t delay = peer->backoff_ms;
  if (peer->key < identity.public_key) delay += options.reconnect_initial_ms;
  peer->backoff_ms = std::min(options.reconnect_max_ms,
                              std::max(options.reconnect_initial_ms, peer->backoff_ms * 2));
  if (!peer->redial_timer) peer->redial_timer = std::make_unique<asio::steady_timer>(io);
  peer->redial_timer->expires_after(std::chrono::milliseconds(delay));
  peer->redial_timer->async_wait([this, peer](const boost::system::error_code& ec) {
    peer->dial_scheduled = false;
    if (ec || stopping) return;
    Dial(peer);
  });
}

void Transport::Impl::Dial(const std::shared_ptr<PeerState>& peer) {
  if (stopping || peer->active || peer->dialing) return;
  peer->dialing = true;
  auto socket = std::make_shared<tcp::socket>(io);
  auto deadline = std::make_shared<asio::steady_timer>(io);
  auto fail = [this, peer](const std::string& why) {
    peer->dialing = false;
    spdlog::info("p2p: dial {} failed: {}", Short(peer->key), why);
    if (!stopping && handlers.on_connection_closed) handlers.on_connection_closed(peer->key, why);
    ScheduleDial(peer);
  };
  boost::system::error_code ec;
  auto address = asio::ip::make_address(peer->address->first, ec);
  if (ec) return fail("bad address " + peer->address->first);
  deadline->expires_after(std::chrono::milliseconds(options.connect_timeout_ms));
  deadline->async_wait([socket](const boost::system::error_code& e) {
    if (!e) {
      boost::system::error_code ignored;
      socket->close(ignored);  // the pending connect completes with an error
    }
  });
  socket->async_connect(tcp::endpoint(address, peer->address->second),
                        [this, peer, socket, deadline, fail](const boost::system::error_code& e) {
                          deadline->cancel();
                          if (stopping) return;
                          if (e || !socket->is_open())
                            return fail(e ? e.message() : "connect timeout");
                          auto conn = std::make_shared<Connection>(*this, std::move(*socket),
                                                                   Role::kInitiator, peer);
                          connections.insert(conn);
                          conn->Start();
                        });
}

Status Transport::Impl::OnEstablished(const std::shared_ptr<Connection>& conn,
                                      const crypto::PublicKey& key) {
  ReleasePending(*conn);
  std::shared_ptr<PeerState> peer;
  {
    std::lock_guard lock(mu_);
    peer = PeerLocked(key);
  }
  if (conn->dialed_ && conn->dialed_ != peer) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "dialed " + Short(conn->dialed_->key) + " but reached " + Short(key));
  }
  if (peer->active) {
    // Keep the session dialed by the lower key; between two dialed by the same side, the newer.
    auto dialer = [&](const Connection& c) {
      return c.role() == Role::kInitiator ? identity.public_key : key;
    };
    if (dialer(*peer->active) < dialer(*conn))
      return MakeError(ErrorCode::kAlreadyExists,
                       "duplicate session: keeping the one dialed by the lower key");
    auto old = peer->active;
    old->active_ = false;
    peer->active = conn;
    conn->peer_ = peer;
    conn->active_ = true;
    old->Close("duplicate session: replaced by the one dialed by the lower key");
  } else {
    peer->active = conn;
    conn->peer_ = peer;
    conn->active_ = true;
    {
      std::lock_guard lock(mu_);
      peer->counters.connected = true;
      if (peer->ever_up) ++peer->counters.reconnects;
    }
    peer->ever_up = true;
    spdlog::info("p2p: session up with {}", Short(key));
    if (handlers.on_peer_up && !stopping) handlers.on_peer_up(key);
  }
  if (conn->dialed_) peer->dialing = false;
  peer->backoff_ms = 0;
  conn->Pump();
  return OkStatus();
}

void Transport::Impl::ReleasePending(Connection& conn) {
  if (!conn.counted_pending_) return;
  conn.counted_pending_ = false;
  --pending_handshakes;
  auto it = pending_by_address.find(conn.pending_address_);
  LEDGER_ASSERT(it != pending_by_address.end() && it->second > 0);
  if (--it->second == 0) pending_by_address.erase(it);
}

void Transport::Impl::OnClosed(const std::shared_ptr<Connection>& conn, const std::string& reason) {
  ReleasePending(*conn);
  connections.erase(conn);
  const auto& key = conn->peer_key();
  spdlog::info("p2p: closed connection{}{}: {}", key ? " with " : "", key ? Short(*key) : "",
               reason);
  if (stopping) return;
  if (handlers.on_connection_closed) handlers.on_connection_closed(key, reason);
  if (conn->active_) {
    conn->active_ = false;
    auto peer = conn->peer_;
    peer->active.reset();
    {
      std::lock_guard lock(mu_);
      peer->counters.connected = false;
      peer->kick_pending = false;
    }
    if (handlers.on_peer_down) handlers.on_peer_down(peer->key);
    ScheduleDial(peer);
  }
  if (conn->dialed_ && !conn->active_) {
    conn->dialed_->dialing = false;
    ScheduleDial(conn->dialed_);
  }
}

Transport::Transport(TransportOptions options, Identity identity,
                     std::shared_ptr<const Membership> membership, TransportHandlers handlers)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(identity), std::move(membership),
                                   std::move(handlers))) {
  LEDGER_ASSERT(impl_->membership != nullptr);
}

Transport::~Transport() {
  Stop();
}

Result<uint16_t> Transport::Start() {
  LEDGER_ASSERT(!impl_->running);
  auto& a = impl_->acceptor;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl_->options.listen_host, ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, "p2p: bad listen address");
  tcp::endpoint endpoint(address, impl_->options.listen_port);
  if (a.open(endpoint.protocol(), ec); ec)
    return MakeError(ErrorCode::kIoError, "p2p: socket: " + ec.message());
  a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (a.bind(endpoint, ec); ec)
    return MakeError(ErrorCode::kIoError, "p2p: bind " + impl_->options.listen_host + ":" +
                                              std::to_string(impl_->options.listen_port) + ": " +
                                              ec.message());
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec)
    return MakeError(ErrorCode::kIoError, "p2p: listen: " + ec.message());
  const uint16_t port = a.local_endpoint().port();
  impl_->Accept();
  impl_->work.emplace(impl_->io.get_executor());
  impl_->running = true;
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
  return port;
}

void Transport::Stop() {
  if (!impl_->running) return;
  impl_->running = false;
  asio::post(impl_->io, [impl = impl_.get()] {
    impl->stopping = true;
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    auto connections = impl->connections;
    for (const auto& c : connections)
      c->Close("transport stopping");
    std::lock_guard lock(impl->mu_);  // Send may add peers meanwhile
    for (auto& [key, peer] : impl->peers)
      if (peer->redial_timer) peer->redial_timer->cancel();
    impl->io.stop();  // handlers still pending are destroyed with io, never run
  });
  impl_->thread.join();
  std::lock_guard lock(impl_->mu_);
  for (auto& [key, peer] : impl_->peers)
    peer->active.reset();
}

void Transport::AddPeer(const crypto::PublicKey& key, std::string host, uint16_t port) {
  std::shared_ptr<PeerState> peer;
  {
    std::lock_guard lock(impl_->mu_);
    peer = impl_->PeerLocked(key);
  }
  asio::post(impl_->io, [impl = impl_.get(), peer, host = std::move(host), port] {
    peer->address = std::make_pair(host, port);
    impl->ScheduleDial(peer);
  });
}

bool Transport::Send(const crypto::PublicKey& key, Priority priority, Bytes message) {
  if (message.size() > kMaxMessageBytes) return false;
  const auto p = static_cast<size_t>(priority);
  std::shared_ptr<PeerState> peer;
  {
    std::lock_guard lock(impl_->mu_);
    auto it = impl_->peers.find(key);
    if (it == impl_->peers.end()) {
      if (!impl_->membership->IsMember(key)) return false;
      peer = impl_->PeerLocked(key);
    } else {
      peer = it->second;
    }
    if (peer->queue[p].size() >= impl_->options.queue_max_messages[p] ||
        peer->queued_bytes[p] + message.size() > impl_->options.queue_max_bytes[p]) {
      ++peer->counters.messages_dropped;
      return false;
    }
    peer->queued_bytes[p] += message.size();
    peer->queue[p].push_back(std::move(message));
    if (peer->kick_pending) return true;
    peer->kick_pending = true;
  }
  asio::post(impl_->io, [peer] {
    if (peer->active) peer->active->Pump();
  });
  return true;
}

size_t Transport::Broadcast(Priority priority, ByteSpan message) {
  std::vector<crypto::PublicKey> keys;
  {
    std::lock_guard lock(impl_->mu_);
    for (const auto& [key, peer] : impl_->peers)
      keys.push_back(key);
  }
  size_t accepted = 0;
  for (const auto& key : keys)
    accepted += Send(key, priority, Bytes(message.begin(), message.end()));
  return accepted;
}

std::optional<PeerCounters> Transport::Counters(const crypto::PublicKey& key) const {
  std::lock_guard lock(impl_->mu_);
  auto it = impl_->peers.find(key);
  if (it == impl_->peers.end()) return std::nullopt;
  PeerCounters c = it->second->counters;
  c.queued_messages = it->second->queue[0].size() + it->second->queue[1].size();
  return c;
}

size_t Transport::OpenConnections() const {
  return impl_->open_connections.load();
}

}  // namespace cl::p2p
