// JSON-RPC 2.0 request dispatch, independent of transport: the HTTP and WebSocket server
// (node/rpc_server.h) hands it request text and sends back what it returns. Handles single
// requests, batches (at most kMaxBatchRequests), notifications (no "id": no response), and the
// standard error codes; application error codes are listed in docs/rpc.md and below.
//
// Thread safety: Register before serving; after that HandleText is safe from several threads as
// long as the handlers are.
#pragma once

#include <boost/json.hpp>
#include <expected>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace cl::node {

namespace json = boost::json;

// Error codes. The standard JSON-RPC 2.0 codes, then this project's application codes. They appear
// in clients' code: do not renumber.
enum RpcErrorCode : int {
  kRpcParseError = -32700,
  kRpcInvalidRequest = -32600,
  kRpcMethodNotFound = -32601,
  kRpcInvalidParams = -32602,
  kRpcInternalError = -32603,
  kRpcUnauthorized = -32001,   // write method without a valid bearer token
  kRpcLimitExceeded = -32002,  // a batch, body, connection or subscription limit
  kRpcNotFound = -32003,       // the requested object does not exist
  kRpcMempoolFull = -32010,    // the node cannot take more transactions now; retry later
  kRpcTxRejected = -32011,     // the transaction is invalid (reason in message and data)
  kRpcUnavailable = -32020,    // the node cannot answer now (e.g. still catching up)
};

// Limits of the dispatch layer. At a limit the request gets a kRpcLimitExceeded error.
inline constexpr size_t kMaxBatchRequests = 256;
inline constexpr size_t kMaxMethodNameBytes = 64;
inline constexpr size_t kMaxJsonDepth = 32;

struct RpcError {
  int code = kRpcInternalError;
  std::string message;
  json::value data;  // null when absent
};

using RpcResult = std::expected<json::value, RpcError>;

inline std::unexpected<RpcError> RpcFail(int code, std::string message,
                                         json::value data = nullptr) {
  return std::unexpected(RpcError{code, std::move(message), std::move(data)});
}

// What a handler knows about the caller.
struct RpcCallContext {
  bool authorized_for_writes = false;  // presented a configured bearer token (or none configured)
  bool over_websocket = false;
  // For "subscribe" over WebSocket: registers the canonical topic, returns the subscription id.
  std::function<std::expected<uint64_t, RpcError>(const std::string& topic)> subscribe;
  std::function<bool(uint64_t subscription_id)> unsubscribe;
  // Sends one notification to this session's subscription (after the current response).
  std::function<void(uint64_t subscription_id, const std::string& topic, json::value result)>
      notify;
};

using RpcHandler = std::function<RpcResult(const json::value& params, RpcCallContext& context)>;

struct RpcMethod {
  RpcHandler handler;
  bool write = false;  // needs authorized_for_writes
};

class RpcDispatcher {
 public:
  void Register(std::string name, RpcMethod method);
  bool HasMethod(std::string_view name) const;

  // Handles one request body (a request object or a batch array). Returns the response text, or an
  // empty string when nothing is to be sent back (only notifications).
  std::string HandleText(std::string_view body, RpcCallContext& context) const;

  // One parsed request object; returns the response object, or null for a notification.
  json::value HandleOne(const json::value& request, RpcCallContext& context) const;

 private:
  std::map<std::string, RpcMethod, std::less<>> methods_;
};

json::object MakeErrorResponse(const json::value& id, const RpcError& error);

// Helpers for handlers that read params by name, with a kRpcInvalidParams error naming the field.
std::expected<const json::object*, RpcError> ParamsObject(const json::value& params);
std::expected<std::string_view, RpcError> RequireString(const json::object& params,
                                                        std::string_view field);
std::expected<uint64_t, RpcError> RequireUint(const json::object& params, std::string_view field);
// A decimal string (amounts are never JSON numbers): digits only, no sign, fits in uint64.
std::expected<uint64_t, RpcError> ParseDecimalU64(std::string_view text, std::string_view field);

}  // namespace cl::node
