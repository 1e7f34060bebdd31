// A small synchronous JSON-RPC 2.0 client over HTTP/1.1 for ledgerctl, scripts and tests.
// Thread safety: one call at a time per client object.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "util/status.h"

namespace cl::tools {

namespace json = boost::json;

inline constexpr uint32_t kRpcClientTimeoutMs = 30'000;

struct RpcEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 8545;
  std::string bearer_token;  // sent as "Authorization: Bearer ..." when non-empty
};

// "http://host:port" or "host:port".
Result<RpcEndpoint> ParseRpcUrl(std::string_view url);

// A JSON-RPC error response keeps its code and message: Error{kFailedPrecondition,
// "rpc error <code>: <message>"}; transport problems are kUnavailable.
Result<json::value> RpcCall(const RpcEndpoint& endpoint, std::string_view method,
                            const json::value& params, uint32_t timeout_ms = kRpcClientTimeoutMs);

}  // namespace cl::tools
