#include "node/rpc_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "util/assert.h"

namespace cl::node {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class WsSession;

// Subscriptions of all WebSocket sessions, by topic.
struct SubscriptionHub {
  std::mutex mu;
  std::map<std::string, std::map<uint64_t, std::weak_ptr<WsSession>>> by_topic;
  std::map<uint64_t, std::string> topic_of;
  uint64_t next_id = 1;
};

struct ServerState {
  RpcServerConfig config;
  const RpcDispatcher* dispatcher = nullptr;
  std::atomic<size_t> connections{0};
  SubscriptionHub hub;
};

// Holds one of the server's connection slots for the life of a session.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(ServerState* state) : state_(state) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (state_ != nullptr) state_->connections.fetch_sub(1);
  }

 private:
  ServerState* state_;
};

bool Authorized(const ServerState& state, const http::request<http::string_body>& req) {
  if (state.config.bearer_tokens.empty()) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kPrefix = "Bearer ";
  if (!value.starts_with(kPrefix)) return false;
  value.remove_prefix(kPrefix.size());
  for (const std::string& token : state.config.bearer_tokens)
    if (value == token) return true;
  return false;
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, ServerState* state, ConnectionSlot slot)
      : ws_(std::move(socket)), state_(state), slot_(std::move(slot)) {}

  ~WsSession() {
    std::lock_guard lock(state_->hub.mu);
    for (uint64_t id : subscriptions_)
      RemoveLocked(id);
  }

  void Run(http::request<http::string_body> req) {
    authorized_ = Authorized(*state_, req);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(state_->config.max_body_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::OnAccept, shared_from_this()));
  }

  // From any thread: queue text for this session.
  void Deliver(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->Send(std::move(text));
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return;  // closed, timed out, or over the message limit: the session ends
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    RpcCallContext context;
    context.authorized_for_writes = authorized_;
    context.over_websocket = true;
    context.subscribe = [this](const std::string& topic) { return Subscribe(topic); };
    context.unsubscribe = [this](uint64_t id) { return Unsubscribe(id); };
    std::string response = state_->dispatcher->HandleText(text, context);
    if (!response.empty()) Send(std::move(response));
    DoRead();
  }

  std::expected<uint64_t, RpcError> Subscribe(const std::string& topic) {
    if (subscriptions_.size() >= kMaxSubscriptionsPerSession)
      return std::unexpected(RpcError{kRpcLimitExceeded, "too many subscriptions", nullptr});
    std::lock_guard lock(state_->hub.mu);
    uint64_t id = state_->hub.next_id++;
    state_->hub.by_topic[topic][id] = weak_from_this();
    state_->hub.topic_of[id] = topic;
    subscriptions_.push_back(id);
    return id;
  }

  bool Unsubscribe(uint64_t id) {
    auto it = std::find(subscriptions_.begin(), subscriptions_.end(), id);
    if (it == subscriptions_.end()) return false;
    subscriptions_.erase(it);
    std::lock_guard lock(state_->hub.mu);
    RemoveLocked(id);
    return true;
  }

  void RemoveLocked(uint64_t id) {
    auto t = state_->hub.topic_of.find(id);
    if (t == state_->hub.topic_of.end()) return;
    auto topic = state_->hub.by_topic.find(t->second);
    if (topic != state_->hub.by_topic.end()) {
      topic->second.erase(id);
      if (topic->second.empty()) state_->hub.by_topic.erase(topic);
    }
    state_->hub.topic_of.erase(t);
  }

  void Send(std::string text) {
    if (closing_) return;
    if (queue_.size() >= kMaxQueuedNotificationsPerSession) {
      // A reader this slow would grow memory without bound: close it.
      closing_ = true;
      queue_.clear();
      ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, "too slow"),
                      [self = shared_from_this()](beast::error_code) {});
      return;
    }
    queue_.push_back(std::move(text));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    beast::bind_front_handler(&WsSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (ec) return;
    if (!queue_.empty()) queue_.pop_front();
    if (!queue_.empty() && !closing_) DoWrite();
  }

  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  ServerState* state_;
  ConnectionSlot slot_;
  bool authorized_ = false;
  bool writing_ = false;
  bool closing_ = false;
  std::deque<std::string> queue_;
  std::vector<uint64_t> subscriptions_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, ServerState* state, ConnectionSlot slot)
      : stream_(std::move(socket)), state_(state), slot_(std::move(slot)) {}

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&HttpSession::DoRead, shared_from_this()));
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(state_->config.max_body_bytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(std::chrono::milliseconds(state_->config.idle_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::body_limit) {
      RpcError error{kRpcLimitExceeded,
                     "body exceeds " + std::to_string(state_->config.max_body_bytes) + " bytes",
                     nullptr};
      Reply(http::status::payload_too_large, json::serialize(MakeErrorResponse(nullptr, error)),
            /*keep_alive=*/false, 11);
      return;
    }
    if (ec) return;  // end of stream, timeout or a malformed request: close
    http::request<http::string_body>& req = parser_->get();
    if (websocket::is_upgrade(req)) {
      stream_.expires_never();
      std::make_shared<WsSession>(stream_.release_socket(), state_, std::move(slot_))
          ->Run(parser_->release());
      return;
    }
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    if (req.method() == http::verb::get && req.target() == "/health") {
      Reply(http::status::ok, "{\"ok\":true}", keep_alive, version);
      return;
    }
    if (req.target() != "/" && req.target() != "/rpc") {
      Reply(http::status::not_found, "{\"error\":\"not found\"}", keep_alive, version);
      return;
    }
    if (req.method() != http::verb::post) {
      Reply(http::status::method_not_allowed, "{\"error\":\"use POST\"}", keep_alive, version);
      return;
    }
    RpcCallContext context;
    context.authorized_for_writes = Authorized(*state_, req);
    std::string body = state_->dispatcher->HandleText(req.body(), context);
    if (body.empty()) {
      Reply(http::status::no_content, "", keep_alive, version);
      return;
    }
    Reply(http::status::ok, std::move(body), keep_alive, version);
  }

  void Reply(http::status status, std::string body, bool keep_alive, unsigned version) {
    auto res = std::make_shared<http::response<http::string_body>>(status, version);
    res->set(http::field::server, "ledgerd");
    res->set(http::field::content_type, "application/json");
    res->keep_alive(keep_alive);
    res->body() = std::move(body);
    res->prepare_payload();
    response_ = res;
    http::async_write(
        stream_, *res,
        beast::bind_front_handler(&HttpSession::OnWrite, shared_from_this(), keep_alive));
  }

  void OnWrite(bool keep_alive, beast::error_code ec, size_t) {
    response_.reset();
    if (ec) return;
    if (!keep_alive) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    DoRead();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  ServerState* state_;
  ConnectionSlot slot_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
};

}  // namespace

struct RpcServer::Impl {
  ServerState state;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;

  void DoAccept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted) return;
        DoAccept();
        return;
      }
      size_t now = state.connections.fetch_add(1) + 1;
      ConnectionSlot slot(&state);
      if (now > state.config.max_connections) {
        beast::error_code ignored;
        socket.close(ignored);  // the slot is released by its destructor
      } else {
        std::make_shared<HttpSession>(std::move(socket), &state, std::move(slot))->Run();
      }
      DoAccept();
    });
  }
};

RpcServer::RpcServer(RpcServerConfig config, const RpcDispatcher& dispatcher)
    : impl_(std::make_unique<Impl>()) {
  impl_->state.config = std::move(config);
  impl_->state.dispatcher = &dispatcher;
}

RpcServer::~RpcServer() {
  Stop();
}

Status RpcServer::Start() {
  LEDGER_ASSERT(!impl_->running);
  const RpcServerConfig& config = impl_->state.config;
  beast::error_code ec;
  auto address = net::ip::make_address(config.address, ec);
  if (ec)
    return MakeError(ErrorCode::kInvalidArgument,
                     "rpc address '" + config.address + "' is invalid");
  tcp::endpoint endpoint(address, config.port);
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return MakeError(ErrorCode::kUnavailable, "cannot listen for rpc on " + config.address + ":" +
                                                  std::to_string(config.port) + ": " +
                                                  ec.message());
  impl_->port = acceptor.local_endpoint().port();
  impl_->DoAccept();
  impl_->running = true;
  size_t threads = std::max<size_t>(1, config.threads);
  for (size_t i = 0; i < threads; ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return OkStatus();
}

void RpcServer::Stop() {
  if (!impl_->running) return;
  impl_->running = false;
  net::post(impl_->ioc, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads)
    t.join();
  impl_->threads.clear();
}

uint16_t RpcServer::port() const {
  return impl_->port;
}

size_t RpcServer::connection_count() const {
  return impl_->state.connections.load();
}

void RpcServer::Publish(const std::string& topic, const json::value& payload) {
  std::vector<std::pair<uint64_t, std::shared_ptr<WsSession>>> targets;
  {
    std::lock_guard lock(impl_->state.hub.mu);
    auto it = impl_->state.hub.by_topic.find(topic);
    if (it == impl_->state.hub.by_topic.end()) return;
    for (auto& [id, weak] : it->second)
      if (auto session = weak.lock()) targets.emplace_back(id, std::move(session));
  }
  for (auto& [id, session] : targets) {
    json::object params;
    params["subscription"] = id;
    params["topic"] = topic;
    params["result"] = payload;
    json::object message;
    message["jsonrpc"] = "2.0";
    message["method"] = "subscription";
    message["params"] = std::move(params);
    session->Deliver(json::serialize(message));
  }
}

bool RpcServer::HasSubscribers(std::string_view prefix) const {
  std::lock_guard lock(impl_->state.hub.mu);
  auto it = impl_->state.hub.by_topic.lower_bound(std::string(prefix));
  return it != impl_->state.hub.by_topic.end() && it->first.starts_with(prefix);
}

void RegisterSubscriptionMethods(RpcDispatcher& dispatcher, TopicResolver resolve) {
  dispatcher.Register(
      "subscribe",
      RpcMethod{[resolve](const json::value& params, RpcCallContext& context) -> RpcResult {
                  if (!context.over_websocket || !context.subscribe)
                    return RpcFail(kRpcInvalidRequest, "subscribe needs a WebSocket connection");
                  auto topic = resolve(params);
                  if (!topic) return std::unexpected(topic.error());
                  auto id = context.subscribe(*topic);
                  if (!id) return std::unexpected(id.error());
                  json::object out;
                  out["subscription"] = *id;
                  out["topic"] = *topic;
                  return out;
                },
                false});
  dispatcher.Register(
      "unsubscribe", RpcMethod{[](const json::value& params, RpcCallContext& context) -> RpcResult {
                                 if (!context.over_websocket || !context.unsubscribe)
                                   return RpcFail(kRpcInvalidRequest,
                                                  "unsubscribe needs a WebSocket connection");
                                 auto obj = ParamsObject(params);
                                 if (!obj) return std::unexpected(obj.error());
                                 auto id = RequireUint(**obj, "subscription");
                                 if (!id) return std::unexpected(id.error());
                                 return json::value(context.unsubscribe(*id));
                               },
                               false});
}

}  // namespace cl::node
