// The RPC server over real loopback sockets: HTTP requests, limits, bearer tokens, WebSocket
// subscriptions. The server binds port 0, so parallel test runs never collide.
#include "node/rpc_server.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace cl::node {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class RpcServerTest : public ::testing::Test {
 protected:
  void StartServer(RpcServerConfig config = {}) {
    dispatcher_.Register(
        "echo",
        RpcMethod{[](const json::value& p, RpcCallContext&) -> RpcResult { return p; }, false});
    dispatcher_.Register("write", RpcMethod{[](const json::value&, RpcCallContext&) -> RpcResult {
                                              return json::value("ok");
                                            },
                                            true});
    RegisterSubscriptionMethods(
        dispatcher_, [](const json::value& params) -> std::expected<std::string, RpcError> {
          const json::object* obj = params.if_object();
          if (!obj || !obj->contains("topic") || !obj->at("topic").is_string())
            return std::unexpected(RpcError{kRpcInvalidParams, "topic must be a string", nullptr});
          return std::string(obj->at("topic").get_string());
        });
    config.port = 0;
    server_ = std::make_unique<RpcServer>(config, dispatcher_);
    ASSERT_TRUE(server_->Start().has_value());
  }

  http::response<http::string_body> Post(const std::string& body, const std::string& token = "") {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::string_body> req{http::verb::post, "/", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  }

  RpcDispatcher dispatcher_;
  std::unique_ptr<RpcServer> server_;
};

TEST_F(RpcServerTest, AnswersHttpPost) {
  StartServer();
  auto res = Post(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":"y"}})");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(json::parse(res.body()).at("result").at("x"), "y");
}

TEST_F(RpcServerTest, MalformedBodyGetsErrorAndServerKeepsServing) {
  StartServer();
  auto bad = Post("{not json");
  EXPECT_EQ(json::parse(bad.body()).at("error").at("code").as_int64(), kRpcParseError);
  auto good = Post(R"({"jsonrpc":"2.0","id":2,"method":"echo"})");
  EXPECT_EQ(json::parse(good.body()).at("id").as_int64(), 2);
}

TEST_F(RpcServerTest, HugeBodyIsRefusedWithLimitError) {
  RpcServerConfig config;
  config.max_body_bytes = 1024;
  StartServer(config);
  auto res = Post(std::string(4096, ' ') + "{}");
  EXPECT_EQ(res.result(), http::status::payload_too_large);
  EXPECT_EQ(json::parse(res.body()).at("error").at("code").as_int64(), kRpcLimitExceeded);
  auto good = Post(R"({"jsonrpc":"2.0","id":3,"method":"echo"})");
  EXPECT_EQ(good.result(), http::status::ok);
}

TEST_F(RpcServerTest, WriteMethodsNeedBearerTokenWhenConfigured) {
  RpcServerConfig config;
  config.bearer_tokens = {"s3cret"};
  StartServer(config);
  const std::string call = R"({"jsonrpc":"2.0","id":1,"method":"write"})";
  EXPECT_EQ(json::parse(Post(call).body()).at("error").at("code").as_int64(), kRpcUnauthorized);
  EXPECT_EQ(json::parse(Post(call, "wrong").body()).at("error").at("code").as_int64(),
            kRpcUnauthorized);
  EXPECT_EQ(json::parse(Post(call, "s3cret").body()).at("result"), "ok");
  // Reads need no token.
  EXPECT_TRUE(json::parse(Post(R"({"jsonrpc":"2.0","id":1,"method":"echo"})").body())
                  .as_object()
                  .contains("result"));
}

TEST_F(RpcServerTest, ConnectionsBeyondLimitAreClosed) {
  RpcServerConfig config;
  config.max_connections = 2;
  StartServer(config);
  net::io_context ioc;
  std::vector<std::unique_ptr<tcp::socket>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<tcp::socket>(ioc));
    held.back()->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  }
  for (int i = 0; i < 100 && server_->connection_count() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(server_->connection_count(), 2u);
  tcp::socket extra(ioc);
  extra.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  char byte;
  beast::error_code ec;
  extra.read_some(net::buffer(&byte, 1), ec);  // the server closes it
  EXPECT_TRUE(ec);
  held.clear();
  for (int i = 0; i < 200 && server_->connection_count() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(server_->connection_count(), 0u);
}

TEST_F(RpcServerTest, WebSocketSubscriptionReceivesPublishedNotifications) {
  StartServer();
  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  ws.handshake("127.0.0.1", "/");
  ws.write(net::buffer(
      std::string(R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"blocks"}})")));
  beast::flat_buffer buffer;
  ws.read(buffer);
  auto reply = json::parse(beast::buffers_to_string(buffer.data()));
  buffer.consume(buffer.size());
  uint64_t id = reply.at("result").at("subscription").to_number<uint64_t>();
  server_->Publish("other", json::value(1));
  server_->Publish("blocks", json::object{{"height", 5}});
  ws.read(buffer);
  auto note = json::parse(beast::buffers_to_string(buffer.data()));
  EXPECT_EQ(note.at("method"), "subscription");
  EXPECT_EQ(note.at("params").at("subscription").to_number<uint64_t>(), id);
  EXPECT_EQ(note.at("params").at("result").at("height").as_int64(), 5);
  ws.close(websocket::close_code::normal);
}

TEST_F(RpcServerTest, SubscribeOverHttpIsRefused) {
  StartServer();
  auto res = Post(R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"blocks"}})");
  EXPECT_EQ(json::parse(res.body()).at("error").at("code").as_int64(), kRpcInvalidRequest);
}

TEST_F(RpcServerTest, BindFailureIsAClearError) {
  StartServer();
  RpcServerConfig config;
  config.port = server_->port();  // already taken
  RpcServer second(config, dispatcher_);
  auto status = second.Start();
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().message.find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace cl::node

namespace cl::node {
namespace {

TEST_F(RpcServerTest, HasSubscribersMatchesTopicPrefixes) {
  StartServer();
  EXPECT_FALSE(server_->HasSubscribers("account:"));
  net::io_context ioc;
  websocket::stream<tcp::socket> ws(ioc);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server_->port()));
  ws.handshake("127.0.0.1", "/");
  ws.write(net::buffer(std::string(
      R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"account:ab"}})")));
  beast::flat_buffer buffer;
  ws.read(buffer);
  EXPECT_TRUE(server_->HasSubscribers("account:"));
  EXPECT_FALSE(server_->HasSubscribers("tx:"));
  ws.close(websocket::close_code::normal);
}

}  // namespace
}  // namespace cl::node
