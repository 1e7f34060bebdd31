// The JSON-RPC server: JSON-RPC 2.0 over HTTP/1.1 (POST /) and over WebSocket (upgrade on the same
// port), on Boost.Beast. Requests go to an RpcDispatcher; WebSocket sessions can subscribe to
// topics and receive notifications published by the node.
//
// Limits (named below) bound the body size, the connections, the subscriptions per session and the
// bytes queued for a slow WebSocket reader (per session and for all sessions together). A WebSocket
// session reads its next request only once the previous response has been written, so a client that
// sends requests without reading the answers holds at most one response in the node; notifications
// that would queue past the byte bound close the session (a reader that cannot keep up must not
// grow the node's memory).
//
// An oversize HTTP body is answered 413 and the rest of the body is read and discarded (up to
// kOversizeDrainFactor times the body limit) before the connection is closed, so a client that
// sends its whole body before reading receives the answer instead of a reset.
//
// Thread safety: Start/Stop from one thread; Publish and connection_count from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/error_code.hpp>

#include "node/rpc_dispatch.h"
#include "util/status.h"

namespace cl::node {

inline constexpr size_t kDefaultMaxBodyBytes = 8u << 20;
inline constexpr size_t kDefaultMaxConnections = 256;
// Connections from one remote IP address (loopback included), so that one client cannot hold all
// of max_connections; past it a connection from that address is accepted and closed at once, like
// one past max_connections. Per address, not per network: an IPv6 client with a whole prefix, or
// many clients behind one NAT address, count as many or as one.
inline constexpr size_t kDefaultMaxConnectionsPerAddress = 64;
inline constexpr size_t kMaxHeaderBytes = 16u << 10;
inline constexpr size_t kMaxSubscriptionsPerSession = 64;
inline constexpr size_t kMaxQueuedNotificationsPerSession = 4096;
// Bytes of responses and notifications queued for one WebSocket session; past it the session is
// closed ("slow reader"). One response larger than this is still sent when nothing else is queued.
inline constexpr size_t kDefaultMaxQueuedBytesPerSession = 16u << 20;
// Bytes queued for all WebSocket sessions together: without it the bound was max_connections
// times the per-session one (4 GiB with the defaults). A message that would go past it closes the
// session it is for as a slow reader when that session already has something queued and holds more
// than its share (this total / max_connections: 256 KiB with the defaults), so a reader that keeps
// up is not closed for the others' backlog. The total exceeds the bound by at most one share plus
// one message per session (128 MiB plus one message per session with the defaults).
inline constexpr size_t kDefaultMaxQueuedBytesTotal = 64u << 20;
// How long a session closed as a slow reader may take to finish its pending write and close
// handshake before its socket is closed outright.
inline constexpr uint32_t kSlowReaderCloseGraceMs = 2'000;
// A WebSocket write that makes no progress for this long means the client stopped reading: the
// session is closed.
inline constexpr uint32_t kDefaultWriteStallTimeoutMs = 30'000;
// After a 413, at most this many times max_body_bytes are read and discarded (the rest of the
// oversize body) so the client can read the answer; a client sending more is cut off.
inline constexpr size_t kOversizeDrainFactor = 2;
// How long an HTTP connection may take to send one whole request and read its answer (a
// keep-alive connection waiting for its next request counts): past it the node closes it.
inline constexpr uint32_t kDefaultIdleTimeoutMs = 60'000;
// When accepting fails for want of descriptors or memory, the server waits this long before
// accepting again (the refused connection stays queued in the kernel's backlog meanwhile).
inline constexpr uint32_t kAcceptRetryDelayMs = 100;

// What the accept loop does once an accept has completed with `ec`: stop when the acceptor is
// closed (Stop) or the accept was cancelled; accept again at once after a connection or after an
// error accept(2) calls transient (the peer reset the connection, a signal); otherwise (out of
// descriptors or memory, or an unexpected error) wait kAcceptRetryDelayMs first, since accepting
// again at once would fail again at once and spin an io thread.
enum class AcceptNext { kStop, kAcceptNow, kAcceptAfterDelay };
AcceptNext NextAccept(const boost::system::error_code& ec, bool acceptor_open);

struct RpcServerConfig {
  std::string address = "127.0.0.1";  // loopback unless configured otherwise
  uint16_t port = 0;                  // 0: the OS picks a free port (see RpcServer::port)
  size_t threads = 2;
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  size_t max_connections = kDefaultMaxConnections;
  size_t max_connections_per_address = kDefaultMaxConnectionsPerAddress;
  uint32_t idle_timeout_ms = kDefaultIdleTimeoutMs;
  size_t max_queued_bytes_per_session = kDefaultMaxQueuedBytesPerSession;
  size_t max_queued_bytes_total = kDefaultMaxQueuedBytesTotal;
  uint32_t write_stall_timeout_ms = kDefaultWriteStallTimeoutMs;
  // When non-empty, methods registered as write need "Authorization: Bearer <token>" with one of
  // these tokens (on the HTTP request or on the WebSocket upgrade request).
  std::vector<std::string> bearer_tokens;
};

class RpcServer {
 public:
  RpcServer(RpcServerConfig config, const RpcDispatcher& dispatcher);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Binds and starts serving; an address that cannot be bound is an error naming it.
  Status Start();
  // Stops accepting (the listening socket is closed, on the acceptor's strand, before it returns),
  // closes every session, joins the threads. Idempotent. Not from an io thread of this server.
  void Stop();
  uint16_t port() const;
  size_t connection_count() const;
  // Bytes queued for WebSocket sessions (responses and notifications not yet written), all
  // sessions together. For tests and metrics.
  size_t queued_bytes() const;

  // Sends {"jsonrpc":"2.0","method":"subscription","params":{"subscription":ID,"topic":T,
  // "result":payload}} to every WebSocket session subscribed to topic.
  void Publish(const std::string& topic, const json::value& payload);
  // Whether any WebSocket session subscribes to a topic starting with prefix.
  bool HasSubscribers(std::string_view prefix) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Maps "subscribe" params to a canonical topic string, or an error for the caller.
using TopicResolver = std::function<std::expected<std::string, RpcError>(const json::value&)>;

// The current state of a topic, sent to a new subscriber at once (e.g. a transaction's status),
// nothing for topics that only announce events, or the error to answer when that state cannot be
// read (then the subscription is not kept: a client told "subscribed" without the state would wait
// for a notification that may already have gone out).
using TopicSnapshot =
    std::function<std::expected<std::optional<json::value>, RpcError>(const std::string& topic)>;

// Registers "subscribe" (WebSocket only; returns {"subscription": id, "topic": topic}, plus
// "current" when the topic has a snapshot, which is then also sent as the first notification; the
// snapshot's error, with no subscription kept, when it fails) and "unsubscribe"
// ({"subscription": id}; returns true/false).
void RegisterSubscriptionMethods(RpcDispatcher& dispatcher, TopicResolver resolve,
                                 TopicSnapshot snapshot = nullptr);

// Whether `presented` equals one of `tokens`, in time that does not depend on where they differ
// (both sides are hashed with SHA-256 and the digests compared with a constant-time loop), so a
// client cannot learn a token byte by byte from response times.
bool BearerTokenMatches(std::string_view presented, const std::vector<std::string>& tokens);

}  // namespace cl::node
