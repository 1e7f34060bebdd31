// The node's p2p transport (DESIGN decision 11): Boost.Asio TCP, one authenticated encrypted
// Session (p2p/session.h) per peer pair, reconnect with capped exponential backoff, keepalive and
// idle timeout, and bounded per-peer send queues where consensus traffic goes before gossip.
//
//   - One session per pair: both sides may dial; when two sessions with one peer are established,
//     both ends keep the one dialed by the lower node key (equal dialers: the newer one), so the
//     choice needs no coordination. A node with the higher key waits reconnect_initial_ms more
//     before it dials, so the two rarely race at all.
//   - A message is queued (bounded by bytes and count per priority) and sealed when it is written,
//     so queued messages survive a reconnect. At a limit, Send drops the new message and counts it:
//     a slow peer costs at most the limits below, never unbounded memory.
//   - Handlers run on the transport's own thread, one at a time; they must not block for long and
//     must not call Stop(). No handler runs after Stop() returns.
//
// Thread safety: Send, Broadcast, AddPeer, Counters and OpenConnections are safe from any thread.
// Start and Stop from one owning thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crypto/keys.h"
#include "p2p/membership.h"
#include "p2p/session.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::p2p {

// Send queues: consensus messages are written before any gossip message.
enum class Priority : uint8_t { kConsensus = 0, kGossip = 1 };
inline constexpr size_t kPriorityCount = 2;

struct TransportOptions {
  std::string chain_id;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0: the OS picks one; Start() returns it
  uint32_t connect_timeout_ms = 3000;
  uint32_t handshake_timeout_ms = 5000;   // accept-to-Auth-verified, else closed
  uint32_t keepalive_interval_ms = 1000;  // a keepalive frame after this long without sending
  uint32_t idle_timeout_ms = 5000;        // closed after this long without receiving a frame
  uint32_t reconnect_initial_ms = 100;    // first retry delay; doubles per failure
  uint32_t reconnect_max_ms = 10000;      // cap of the retry delay
  size_t queue_max_bytes[kPriorityCount] = {size_t{64} << 20, size_t{16} << 20};  // per peer
  size_t queue_max_messages[kPriorityCount] = {100000, 100000};                   // per peer
  size_t write_batch_max_bytes = size_t{256} << 10;  // frames gathered into one socket write
  size_t max_pending_handshakes = 64;  // unauthenticated inbound connections; more are refused
  // Unauthenticated inbound connections from one IP address; more from it are refused, so one host
  // cannot take every pending slot from the members that are trying to connect.
  size_t max_pending_handshakes_per_address = 4;
};

struct PeerCounters {
  uint64_t bytes_sent = 0;  // wire bytes, handshake and framing included
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;  // application messages sealed into frames
  uint64_t messages_received = 0;
  uint64_t messages_dropped = 0;  // refused by Send at a queue limit
  uint64_t reconnects = 0;        // sessions established after the first
  size_t queued_messages = 0;     // waiting now, all priorities
  bool connected = false;
};

struct TransportHandlers {
  std::function<void(const crypto::PublicKey& peer, ByteSpan message)> on_message;
  std::function<void(const crypto::PublicKey& peer)> on_peer_up;
  std::function<void(const crypto::PublicKey& peer)> on_peer_down;
  // Every closed connection, authenticated or not, with the reason that is also logged.
  std::function<void(const std::optional<crypto::PublicKey>& peer, const std::string& reason)>
      on_connection_closed;
};

class Transport {
 public:
  Transport(TransportOptions options, Identity identity,
            std::shared_ptr<const Membership> membership, TransportHandlers handlers);
  ~Transport();  // Stop()s
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Listens and starts the transport's thread. Returns the listening port.
  Result<uint16_t> Start();
  // Closes every connection and joins the thread. Queued messages are discarded.
  void Stop();

  // Keeps a session with this peer, dialing host:port (and redialing with backoff) whenever there
  // is none.
  void AddPeer(const crypto::PublicKey& peer, std::string host, uint16_t port);

  // Queues a message (at most kMaxMessageBytes) for a member peer. False if it was dropped: queue
  // limit reached (counted), not a member, or too large.
  bool Send(const crypto::PublicKey& peer, Priority priority, Bytes message);
  // Send to every known peer (added, or seen connected); returns how many accepted it.
  size_t Broadcast(Priority priority, ByteSpan message);

  std::optional<PeerCounters> Counters(const crypto::PublicKey& peer) const;
  // Open TCP connections (authenticated or not), for tests and metrics.
  size_t OpenConnections() const;

 private:
  friend class Connection;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cl::p2p
