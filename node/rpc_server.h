// The JSON-RPC server: JSON-RPC 2.0 over HTTP/1.1 (POST /) and over WebSocket (upgrade on the same
// port), on Boost.Beast. Requests go to an RpcDispatcher; WebSocket sessions can subscribe to
// topics and receive notifications published by the node.
//
// Limits (named below) bound the body size, the connections, the subscriptions per session and the
// notifications queued for a slow WebSocket reader (past that the session is closed, since a reader
// that cannot keep up must not grow the node's memory).
//
// Thread safety: Start/Stop from one thread; Publish and connection_count from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "node/rpc_dispatch.h"
#include "util/status.h"

namespace cl::node {

inline constexpr size_t kDefaultMaxBodyBytes = 8u << 20;
inline constexpr size_t kDefaultMaxConnections = 256;
inline constexpr size_t kMaxHeaderBytes = 16u << 10;
inline constexpr size_t kMaxSubscriptionsPerSession = 64;
inline constexpr size_t kMaxQueuedNotificationsPerSession = 4096;
inline constexpr uint32_t kDefaultIdleTimeoutMs = 60'000;

struct RpcServerConfig {
  std::string address = "127.0.0.1";  // loopback unless configured otherwise
  uint16_t port = 0;                  // 0: the OS picks a free port (see RpcServer::port)
  size_t threads = 2;
  size_t max_body_bytes = kDefaultMaxBodyBytes;
  size_t max_connections = kDefaultMaxConnections;
  uint32_t idle_timeout_ms = kDefaultIdleTimeoutMs;
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
  // Stops accepting, closes every session, joins the threads. Idempotent.
  void Stop();
  uint16_t port() const;
  size_t connection_count() const;

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

// Registers "subscribe" (WebSocket only; returns {"subscription": id, "topic": topic}) and
// "unsubscribe" ({"subscription": id}; returns true/false).
void RegisterSubscriptionMethods(RpcDispatcher& dispatcher, TopicResolver resolve);

}  // namespace cl::node
