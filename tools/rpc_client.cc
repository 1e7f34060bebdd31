#include "tools/rpc_client.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace cl::tools {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Result<RpcEndpoint> ParseRpcUrl(std::string_view url) {
  if (url.starts_with("http://")) url.remove_prefix(7);
  while (url.ends_with("/"))
    url.remove_suffix(1);
  size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return MakeError(ErrorCode::kInvalidArgument,
                     "rpc address must be http://host:port, got '" + std::string(url) + "'");
  unsigned port = 0;
  std::string_view port_text = url.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return MakeError(ErrorCode::kInvalidArgument,
                     "rpc address must be http://host:port, got '" + std::string(url) + "'");
  RpcEndpoint e;
  e.host = std::string(url.substr(0, colon));
  e.port = static_cast<uint16_t>(port);
  return e;
}

Result<json::value> RpcCall(const RpcEndpoint& endpoint, std::string_view method,
                            const json::value& params, uint32_t timeout_ms) {
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec) return MakeError(ErrorCode::kUnavailable, "cannot resolve " + where);
    // The stream's expiry bounds the whole call, and Beast enforces it only on asynchronous
    // operations: each step is started asynchronously and the context run until it completes or
    // the expiry closes the socket (a node stopped by SIGSTOP otherwise held a call until resumed).
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    auto run = [&ioc] {
      ioc.run();
      ioc.restart();
    };
    stream.async_connect(results, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec)
      return MakeError(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message());
    json::object request{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, endpoint.host);
    req.set(http::field::content_type, "application/json");
    if (!endpoint.bearer_token.empty())
      req.set(http::field::authorization, "Bearer " + endpoint.bearer_token);
    req.body() = json::serialize(request);
    req.prepare_payload();
    http::async_write(stream, req, [&ec](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec)
      return MakeError(ErrorCode::kUnavailable, "cannot send to " + where + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    http::async_read(stream, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec)
      return MakeError(ErrorCode::kUnavailable, "no answer from " + where + ": " + ec.message());
    json::value response = json::parse(parser.get().body(), ec);
    if (ec || !response.is_object())
      return MakeError(ErrorCode::kUnavailable, where + " answered with something not JSON");
    const json::object& obj = response.as_object();
    if (const json::value* error = obj.if_contains("error")) {
      std::string message = "rpc error";
      if (error->is_object()) {
        const json::object& e = error->as_object();
        if (e.contains("code")) message += " " + json::serialize(e.at("code"));
        if (e.contains("message") && e.at("message").is_string())
          message += ": " + std::string(e.at("message").get_string());
      }
      return MakeError(ErrorCode::kFailedPrecondition, message);
    }
    if (!obj.contains("result"))
      return MakeError(ErrorCode::kUnavailable, where + " answered without a result");
    return obj.at("result");
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kUnavailable, where + ": " + e.what());
  }
}

}  // namespace cl::tools
