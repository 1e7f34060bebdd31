// Raw client connections to a node's RPC port, for load and overload runs: a kept-alive JSON-RPC
// client (a node at its connection limit refuses new connections, not the ones it serves), and
// the pieces of misbehaving clients (connections that stay idle, send slowly or never read;
// WebSocket subscribers that stop reading).
//
// Thread safety: the free functions are safe from any thread; a KeepAliveClient has one owner
// thread.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/rpc_client.h"
#include "util/status.h"

namespace cl::test_support {

// A non-blocking TCP connection to endpoint (an IPv4 host), or -1. rcvbuf_bytes > 0 shrinks the
// receive buffer before connecting, so the window is small from the start (a reader that never
// reads fills it soon).
int ConnectTcp(const tools::RpcEndpoint& endpoint, int rcvbuf_bytes = 0);

// Whether the connection is no longer established (the peer closed or reset it), from the
// kernel's TCP state: works even when unread data hides the end of stream.
bool TcpPeerClosed(int fd);

// Sends all of `data` on a non-blocking socket; false on error or after timeout_ms.
bool SendAll(int fd, std::string_view data, uint32_t timeout_ms);

// Reads until done(received) or the timeout; false on timeout, close or error.
bool ReadUntil(int fd, std::string& received, const std::function<bool(const std::string&)>& done,
               uint32_t timeout_ms);

// JSON-RPC over one HTTP/1.1 keep-alive connection, reconnecting after a failure. Not thread-safe:
// one owner thread.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(tools::RpcEndpoint endpoint) : endpoint_(std::move(endpoint)) {}
  ~KeepAliveClient() { Disconnect(); }
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;

  // Connects now (before an overload) if not connected.
  bool EnsureConnected();

  // The whole response object; an error when the call did not get one (connection refused,
  // closed, timed out). Error text starts with "connection:" for those.
  Result<boost::json::value> CallRaw(std::string_view method, const boost::json::value& params,
                                     uint32_t timeout_ms);

  // The result, or an error (a JSON-RPC error keeps its message), like tools::RpcCall.
  Result<boost::json::value> Call(std::string_view method, const boost::json::value& params,
                                  uint32_t timeout_ms);

  size_t connects() const { return connects_; }

 private:
  void Disconnect();

  tools::RpcEndpoint endpoint_;
  int fd_ = -1;
  std::string buffer_;
  size_t connects_ = 0;
};

// A masked client text frame (RFC 6455 section 5.2).
std::string WsTextFrame(const std::string& payload);

// A WebSocket session subscribed to "blocks" and to `accounts` (hex ids), which reads the upgrade
// answer and the subscribe answers and then never reads again (its receive buffer shrunk to
// rcvbuf_bytes, so the node's writes to it stall early). Returns the socket, or -1.
int SubscribeAndStopReading(const tools::RpcEndpoint& endpoint,
                            const std::vector<std::string>& accounts, int rcvbuf_bytes,
                            uint32_t timeout_ms);

}  // namespace cl::test_support
