#include "tests/support/raw_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace cl::test_support {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

int ConnectTcp(const tools::RpcEndpoint& endpoint, int rcvbuf_bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf_bytes > 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof(rcvbuf_bytes));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(endpoint.port);
  if (::inet_pton(AF_INET, endpoint.host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool TcpPeerClosed(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return true;
  return info.tcpi_state != TCP_ESTABLISHED;
}

bool SendAll(int fd, std::string_view data, uint32_t timeout_ms) {
  const auto start = Clock::now();
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    if (MsBetween(start, Clock::now()) > timeout_ms) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
  return true;
}

bool ReadUntil(int fd, std::string& received, const std::function<bool(const std::string&)>& done,
               uint32_t timeout_ms) {
  const auto start = Clock::now();
  while (!done(received)) {
    const double left = timeout_ms - MsBetween(start, Clock::now());
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min(left, 100.0)) + 1);
    char buf[65536];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return false;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    if (n > 0) received.append(buf, static_cast<size_t>(n));
  }
  return true;
}

bool KeepAliveClient::EnsureConnected() {
  if (fd_ < 0) {
    fd_ = ConnectTcp(endpoint_);
    buffer_.clear();
    if (fd_ >= 0) ++connects_;
  }
  return fd_ >= 0;
}

Result<json::value> KeepAliveClient::CallRaw(std::string_view method, const json::value& params,
                                             uint32_t timeout_ms) {
  if (!EnsureConnected()) return MakeError(ErrorCode::kUnavailable, "connection: refused");
  const std::string body = json::serialize(
      json::object{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}});
  const std::string request =
      "POST / HTTP/1.1\r\nHost: " + endpoint_.host +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  if (!SendAll(fd_, request, timeout_ms)) {
    Disconnect();
    return MakeError(ErrorCode::kUnavailable, "connection: send failed");
  }
  size_t body_start = 0, length = 0;
  auto complete = [&](const std::string& in) {
    size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string headers = in.substr(0, end);
    std::transform(headers.begin(), headers.end(), headers.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t cl = headers.find("content-length:");
    if (cl == std::string::npos) return false;
    body_start = end + 4;
    length = std::strtoull(headers.c_str() + cl + 15, nullptr, 10);
    return in.size() >= body_start + length;
  };
  if (!ReadUntil(fd_, buffer_, complete, timeout_ms)) {
    Disconnect();
    return MakeError(ErrorCode::kUnavailable, "connection: closed or timed out");
  }
  boost::system::error_code ec;
  json::value v = json::parse(std::string_view(buffer_).substr(body_start, length), ec);
  buffer_.erase(0, body_start + length);
  if (ec || !v.is_object()) return MakeError(ErrorCode::kInternal, "response is not JSON");
  return v;
}

Result<json::value> KeepAliveClient::Call(std::string_view method, const json::value& params,
                                          uint32_t timeout_ms) {
  auto r = CallRaw(method, params, timeout_ms);
  if (!r) return r;
  if (const json::value* result = r->as_object().if_contains("result")) return *result;
  return MakeError(ErrorCode::kFailedPrecondition, json::serialize(*r));
}

void KeepAliveClient::Disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

std::string WsTextFrame(const std::string& payload) {
  std::string frame;
  frame.push_back(static_cast<char>(0x81));
  const uint8_t mask[4] = {0x5a, 0x13, 0xc4, 0x7e};
  if (payload.size() < 126) {
    frame.push_back(static_cast<char>(0x80 | payload.size()));
  } else if (payload.size() <= 0xffff) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(payload.size() >> 8));
    frame.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      frame.push_back(static_cast<char>((payload.size() >> shift) & 0xff));
  }
  frame.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return frame;
}

int SubscribeAndStopReading(const tools::RpcEndpoint& endpoint,
                            const std::vector<std::string>& accounts, int rcvbuf_bytes,
                            uint32_t timeout_ms) {
  int fd = ConnectTcp(endpoint, rcvbuf_bytes);
  if (fd < 0) return -1;
  const std::string upgrade = "GET / HTTP/1.1\r\nHost: " + endpoint.host +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
  std::string in;
  auto headers_done = [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; };
  json::array batch;
  batch.push_back(json::object{{"jsonrpc", "2.0"},
                               {"id", 0},
                               {"method", "subscribe"},
                               {"params", json::object{{"topic", "blocks"}}}});
  for (size_t k = 0; k < accounts.size(); ++k)
    batch.push_back(
        json::object{{"jsonrpc", "2.0"},
                     {"id", k + 1},
                     {"method", "subscribe"},
                     {"params", json::object{{"topic", "account"}, {"id", accounts[k]}}}});
  const std::string last_id = "\"id\":" + std::to_string(accounts.size());
  auto answered = [&](const std::string& s) { return s.find(last_id) != std::string::npos; };
  if (!SendAll(fd, upgrade, timeout_ms) || !ReadUntil(fd, in, headers_done, timeout_ms) ||
      in.find(" 101 ") == std::string::npos ||
      !SendAll(fd, WsTextFrame(json::serialize(batch)), timeout_ms) ||
      !ReadUntil(fd, in, answered, timeout_ms)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace cl::test_support
