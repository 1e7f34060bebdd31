#include "node/rpc_server.h"

#include <spdlog/spdlog.h>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "crypto/sha256.h"
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
  // Connections by remote address, for max_connections_per_address (one over a limit counts until
  // it is closed, in the accept handler that took it): at most max_connections + 1 entries.
  std::mutex by_address_mu;
  std::map<net::ip::address, size_t> connections_by_address;
  std::atomic<size_t> queued_bytes{0};  // all WebSocket sessions
  SubscriptionHub hub;
};

// Holds one of the server's connection slots, and one of its remote address's, for the life of a
// session. Taken for every accepted connection; one over either limit is closed at once.
class ConnectionSlot {
 public:
  ConnectionSlot(ServerState* state, const net::ip::address& address)
      : state_(state), address_(address) {
    total_ = state_->connections.fetch_add(1) + 1;
    std::lock_guard lock(state_->by_address_mu);
    from_address_ = ++state_->connections_by_address[address_];
  }
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)),
        address_(other.address_),
        total_(other.total_),
        from_address_(other.from_address_) {}
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (state_ == nullptr) return;
    state_->connections.fetch_sub(1);
    std::lock_guard lock(state_->by_address_mu);
    auto it = state_->connections_by_address.find(address_);
    LEDGER_ASSERT(it != state_->connections_by_address.end() && it->second > 0);
    if (--it->second == 0) state_->connections_by_address.erase(it);
  }

  // Whether taking this slot went past max_connections or max_connections_per_address.
  bool OverLimit() const {
    return total_ > state_->config.max_connections ||
           from_address_ > state_->config.max_connections_per_address;
  }

 private:
  ServerState* state_;
  net::ip::address address_;
  size_t total_ = 0;         // connections when this one was accepted, itself included
  size_t from_address_ = 0;  // the same, from its address
};

bool Authorized(const ServerState& state, const http::request<http::string_body>& req) {
  if (state.config.bearer_tokens.empty()) return true;
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return false;
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kPrefix = "Bearer ";
  if (!value.starts_with(kPrefix)) return false;
  value.remove_prefix(kPrefix.size());
  return BearerTokenMatches(value, state.config.bearer_tokens);
}

std::string NotificationText(uint64_t id, const std::string& topic, json::value result) {
  json::object params;
  params["subscription"] = id;
  params["topic"] = topic;
  params["result"] = std::move(result);
  json::object message;
  message["jsonrpc"] = "2.0";
  message["method"] = "subscription";
  message["params"] = std::move(params);
  return json::serialize(message);
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(tcp::socket&& socket, ServerState* state, ConnectionSlot slot)
      : ws_(std::move(socket)),
        close_timer_(ws_.get_executor()),
        state_(state),
        slot_(std::move(slot)) {}

  ~WsSession() {
    state_->queued_bytes.fetch_sub(queued_bytes_);
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

  // From any thread: queue a notification for this session.
  void Deliver(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->Send(std::move(text), /*is_response=*/false);
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) return;
    DoRead();
  }

  void DoRead() {
    read_paused_ = false;
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec) return;  // closed, timed out, or over the message limit: the session ends
    if (closing_) return;
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    RpcCallContext context;
    context.authorized_for_writes = authorized_;
    context.over_websocket = true;
    context.subscribe = [this](const std::string& topic) { return Subscribe(topic); };
    context.unsubscribe = [this](uint64_t id) { return Unsubscribe(id); };
    context.notify = [this](uint64_t id, const std::string& topic, json::value result) {
      // Posted, so it is queued after the response to the subscribe request.
      Deliver(NotificationText(id, topic, std::move(result)));
    };
    std::string response = state_->dispatcher->HandleText(text, context);
    if (!response.empty()) Send(std::move(response), /*is_response=*/true);
    // The next request is read only once this response is written: a client that never reads
    // cannot make the node hold more than one response.
    if (ReadingAllowed())
      DoRead();
    else
      read_paused_ = true;
  }

  bool ReadingAllowed() const {
    return !closing_ && responses_queued_ == 0 &&
           queued_bytes_ <= state_->config.max_queued_bytes_per_session / 2;
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

  void Send(std::string text, bool is_response) {
    if (closing_) return;
    const size_t limit = state_->config.max_queued_bytes_per_session;
    // One message larger than the bound is still sent when nothing else waits (a large response);
    // anything that would queue past the bound means the reader cannot keep up.
    // The same for all sessions together: past the total, a session is closed when it holds more
    // than its share of the total (total / max_connections, the message being written included).
    // A reader that keeps up holds a few small messages and is never closed for what others hold.
    const size_t share =
        state_->config.max_queued_bytes_total / std::max<size_t>(1, state_->config.max_connections);
    const bool over_total =
        state_->queued_bytes.load() + text.size() > state_->config.max_queued_bytes_total &&
        queued_bytes_ + text.size() > share;
    if (!queue_.empty() && (queued_bytes_ + text.size() > limit || over_total ||
                            queue_.size() >= kMaxQueuedNotificationsPerSession)) {
      CloseSlowReader();
      return;
    }
    queued_bytes_ += text.size();
    state_->queued_bytes.fetch_add(text.size());
    if (is_response) ++responses_queued_;
    queue_.push_back({std::move(text), is_response});
    if (!writing_) DoWrite();
  }

  // Drops what is queued but not being written, sends a close frame with the reason once the
  // pending write (if any) finishes, and closes the socket outright if that does not happen within
  // kSlowReaderCloseGraceMs (a client that never reads never lets the write finish).
  void CloseSlowReader() {
    closing_ = true;
    while (queue_.size() > (writing_ ? 1u : 0u)) {
      Unqueue(queue_.back());
      queue_.pop_back();
    }
    close_timer_.expires_after(std::chrono::milliseconds(kSlowReaderCloseGraceMs));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
    if (!writing_) StartClose();
  }

  void StartClose() {
    // The reason names the per-session bound also when the total one was reached (the client's
    // remedy is the same: read faster); close reasons are limited to 123 bytes.
    const std::string reason = "slow reader: more than " +
                               std::to_string(state_->config.max_queued_bytes_per_session) +
                               " bytes queued";
    ws_.async_close(websocket::close_reason(websocket::close_code::policy_error, reason),
                    [self = shared_from_this()](beast::error_code) {
                      beast::error_code ignored;
                      self->close_timer_.cancel();
                      beast::get_lowest_layer(self->ws_).socket().close(ignored);
                    });
  }

  struct Queued {
    std::string text;
    bool is_response = false;
  };

  void Unqueue(const Queued& q) {
    queued_bytes_ -= q.text.size();
    state_->queued_bytes.fetch_sub(q.text.size());
    if (q.is_response) --responses_queued_;
  }

  void DoWrite() {
    writing_ = true;
    // A client that never reads never lets this write finish: close the session then.
    close_timer_.expires_after(std::chrono::milliseconds(state_->config.write_stall_timeout_ms));
    close_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closing_) return;
      self->closing_ = true;
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);
    });
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front().text),
                    beast::bind_front_handler(&WsSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    writing_ = false;
    if (!closing_) close_timer_.cancel();
    if (!queue_.empty()) {
      Unqueue(queue_.front());
      queue_.pop_front();
    }
    if (ec) return;
    if (closing_) {
      StartClose();
      return;
    }
    if (!queue_.empty()) {
      DoWrite();
      return;
    }
    if (read_paused_ && ReadingAllowed()) DoRead();
  }

  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer close_timer_;
  beast::flat_buffer buffer_;
  ServerState* state_;
  ConnectionSlot slot_;
  bool authorized_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool read_paused_ = false;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  size_t responses_queued_ = 0;
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
      // The client may still be sending the body and read only once it is done: the rest of the
      // body is read and discarded after the answer (OnWrite), so the answer is not lost to a
      // reset.
      drain_after_reply_ = true;
      Reply(http::status::payload_too_large, json::serialize(MakeErrorResponse(nullptr, error)),
            /*keep_alive=*/false, 11);
      return;
    }
    if (ec == http::error::header_limit) {
      // Answered like an oversize body, so the client learns why instead of seeing a reset.
      RpcError error{kRpcLimitExceeded,
                     "headers exceed " + std::to_string(kMaxHeaderBytes) + " bytes", nullptr};
      drain_after_reply_ = true;
      Reply(http::status::request_header_fields_too_large,
            json::serialize(MakeErrorResponse(nullptr, error)), /*keep_alive=*/false, 11);
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
      if (drain_after_reply_) {
        drain_left_ = kOversizeDrainFactor * state_->config.max_body_bytes;
        // What the parser buffered already counts against the bound.
        drain_left_ -= std::min(drain_left_, buffer_.size());
        buffer_.consume(buffer_.size());
        DoDrain();
      }
      return;
    }
    DoRead();
  }

  // Reads and discards until the client closes, the bound is reached or the idle timeout passes;
  // closing a socket with unread bytes would send a reset that can destroy the answer.
  void DoDrain() {
    stream_.expires_after(std::chrono::milliseconds(state_->config.idle_timeout_ms));
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&HttpSession::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, size_t bytes) {
    if (ec) return;                    // end of stream (the client is done) or timeout: close
    if (bytes >= drain_left_) return;  // the client sends far more than announced: cut off
    drain_left_ -= bytes;
    DoDrain();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  ServerState* state_;
  ConnectionSlot slot_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<void> response_;
  bool drain_after_reply_ = false;
  size_t drain_left_ = 0;
  std::array<char, 64 * 1024> drain_buffer_{};
};

}  // namespace

AcceptNext NextAccept(const beast::error_code& ec, bool acceptor_open) {
  if (!acceptor_open || ec == net::error::operation_aborted) return AcceptNext::kStop;
  if (!ec || ec == net::error::connection_aborted || ec == net::error::interrupted ||
      ec == net::error::try_again || ec == net::error::would_block ||
      ec == beast::errc::protocol_error)
    return AcceptNext::kAcceptNow;
  return AcceptNext::kAcceptAfterDelay;
}

struct RpcServer::Impl {
  ServerState state;
  net::io_context ioc;
  // The acceptor, its retry timer and accept_starved are used only on this strand (their
  // handlers run on it, and Stop closes the acceptor on it): with several io threads, a close from
  // elsewhere raced the accept handler that starts the next accept.
  net::strand<net::io_context::executor_type> accept_strand = net::make_strand(ioc);
  tcp::acceptor acceptor{accept_strand};
  net::steady_timer accept_retry{accept_strand};
  bool accept_starved = false;  // logged once per run of failures
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;

  void DoAccept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      // An accept that completed just before Stop closed the acceptor (on this strand) must not
      // start another: it would fail at once with a bad descriptor, and again, until the context
      // stopped.
      const AcceptNext next = NextAccept(ec, acceptor.is_open());
      if (next == AcceptNext::kStop) return;
      if (next == AcceptNext::kAcceptAfterDelay) {
        // Out of descriptors, or any other error that would recur at once: retrying at once spun
        // an RPC thread at 100% CPU for as long as the condition lasted (the node's commits
        // competed with it). Wait, then retry.
        if (!accept_starved)
          spdlog::warn("rpc: cannot accept connections: {}; retrying every {} ms", ec.message(),
                       kAcceptRetryDelayMs);
        accept_starved = true;
        accept_retry.expires_after(std::chrono::milliseconds(kAcceptRetryDelayMs));
        accept_retry.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor.is_open()) DoAccept();
        });
        return;
      }
      if (ec) {  // transient: this connection only
        DoAccept();
        return;
      }
      if (accept_starved) {
        spdlog::info("rpc: accepting connections again");
        accept_starved = false;
      }
      beast::error_code endpoint_ec;
      const tcp::endpoint remote = socket.remote_endpoint(endpoint_ec);
      if (endpoint_ec) {  // already reset by the client: nothing to serve
        beast::error_code ignored;
        socket.close(ignored);
        DoAccept();
        return;
      }
      ConnectionSlot slot(&state, remote.address());
      if (slot.OverLimit()) {
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
  // Closed on the acceptor's strand, and waited for: posted to the context and followed at once by
  // stop(), the close raced an accept handler on another io thread, or never ran and left the port
  // listening after Stop returned. The io threads run until stop(), so the handler runs.
  std::promise<void> closed;
  net::dispatch(impl_->accept_strand, [this, &closed] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->accept_retry.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
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

size_t RpcServer::queued_bytes() const {
  return impl_->state.queued_bytes.load();
}

bool BearerTokenMatches(std::string_view presented, const std::vector<std::string>& tokens) {
  // Equal-length digests, compared without an early exit, and every token is compared: the time
  // taken depends neither on how much of a token matches nor on which token matched.
  const Hash32 presented_digest = crypto::Sha256Of(AsSpan(presented));
  bool any = false;
  for (const std::string& token : tokens) {
    const Hash32 token_digest = crypto::Sha256Of(AsSpan(token));
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < presented_digest.bytes.size(); ++i)
      diff = diff | (presented_digest.bytes[i] ^ token_digest.bytes[i]);
    any = any | (diff == 0);
  }
  return any;
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
  for (auto& [id, session] : targets)
    session->Deliver(NotificationText(id, topic, payload));
}

bool RpcServer::HasSubscribers(std::string_view prefix) const {
  std::lock_guard lock(impl_->state.hub.mu);
  auto it = impl_->state.hub.by_topic.lower_bound(std::string(prefix));
  return it != impl_->state.hub.by_topic.end() && it->first.starts_with(prefix);
}

void RegisterSubscriptionMethods(RpcDispatcher& dispatcher, TopicResolver resolve,
                                 TopicSnapshot snapshot) {
  dispatcher.Register(
      "subscribe",
      RpcMethod{
          [resolve, snapshot](const json::value& params, RpcCallContext& context) -> RpcResult {
            if (!context.over_websocket || !context.subscribe)
              return RpcFail(kRpcInvalidRequest, "subscribe needs a WebSocket connection");
            auto topic = resolve(params);
            if (!topic) return std::unexpected(topic.error());
            auto id = context.subscribe(*topic);
            if (!id) return std::unexpected(id.error());
            json::object out;
            out["subscription"] = *id;
            out["topic"] = *topic;
            // Read after the subscription exists, so a change between the two is not
            // missed (it may be notified twice).
            if (snapshot) {
              auto current = snapshot(*topic);
              if (!current) {
                if (context.unsubscribe) context.unsubscribe(*id);
                return std::unexpected(current.error());
              }
              if (current->has_value()) {
                out["current"] = **current;
                if (context.notify) context.notify(*id, *topic, std::move(**current));
              }
            }
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
