#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "ledger/transaction.h"
#include "tests/support/localnet_members.h"
#include "tests/support/process.h"
#include "tools/localnet.h"
#include "util/assert.h"
#include "util/hex.h"

#ifndef LEDGERD_PATH
#error "LEDGERD_PATH must name the ledgerd binary (tests/integration/CMakeLists.txt)"
#endif

namespace cl::integration {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t ElapsedMs(Clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// Time left before `deadline`, in ms for poll(); 0 when passed.
int RemainingMs(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

}  // namespace

::testing::AssertionResult WaitUntil(const std::function<bool()>& condition, uint32_t timeout_ms,
                                     const std::string& what) {
  const auto start = Clock::now();
  while (true) {
    if (condition()) return ::testing::AssertionSuccess();
    if (ElapsedMs(start) >= timeout_ms)
      return ::testing::AssertionFailure()
             << "timed out after " << timeout_ms << " ms waiting for: " << what;
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
}

// --- Cluster -------------------------------------------------------------------------------------

Result<std::unique_ptr<Cluster>> Cluster::CreateEmpty(std::string chain_id) {
  auto dir = test_support::MakeTempDir("ledger-it");
  if (!dir) return std::unexpected(dir.error());
  std::unique_ptr<Cluster> cluster(new Cluster());
  cluster->dir_ = *dir;
  cluster->chain_id_ = std::move(chain_id);
  return cluster;
}

Result<std::unique_ptr<Cluster>> Cluster::Create(ClusterOptions options) {
  auto created = CreateEmpty(options.chain_id);
  if (!created) return std::unexpected(created.error());
  std::unique_ptr<Cluster> cluster = std::move(*created);
  tools::LocalnetOptions lo;
  lo.dir = cluster->dir_;
  lo.chain_id = options.chain_id;
  lo.validators = options.validators;
  lo.observers = options.observers;
  LEDGER_TRY(tools::InitLocalnet(lo));

  auto members = test_support::ReadLocalnetMembers(cluster->dir_);
  if (!members) return std::unexpected(members.error());
  for (test_support::LocalnetMember& l : *members) {
    Member m;
    m.member_id = l.member_id;
    m.name = std::move(l.name);
    m.slug = tools::MemberSlug(m.name);
    m.home = std::move(l.home);
    m.validator = l.validator;
    m.rpc = std::move(l.rpc);
    m.p2p = std::move(l.p2p);
    m.governance = l.governance;
    cluster->members_.push_back(std::move(m));
  }
  return cluster;
}

Cluster::~Cluster() {
  for (size_t i = 0; i < members_.size(); ++i)
    Kill(i);
  const bool keep = ::testing::Test::HasFailure() || std::getenv("LEDGER_IT_KEEP") != nullptr;
  if (::testing::Test::HasFailure()) {
    for (size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].starts == 0) continue;
      std::cerr << "----- log tail of " << members_[i].name << " (" << LogPath(i).string()
                << ") -----\n"
                << LogTail(i) << "\n";
    }
  }
  if (keep) {
    std::cerr << "kept the consortium directory " << dir_.string() << "\n";
  } else {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::vector<size_t> Cluster::validators() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < members_.size(); ++i)
    if (members_[i].validator) out.push_back(i);
  return out;
}

std::vector<size_t> Cluster::observers() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < members_.size(); ++i)
    if (!members_[i].validator) out.push_back(i);
  return out;
}

size_t Cluster::AddMember(Member member) {
  member.pid = -1;
  members_.push_back(std::move(member));
  return members_.size() - 1;
}

fs::path Cluster::LogPath(size_t i) const {
  return dir_ / (members_.at(i).slug + ".log");
}

Status Cluster::Spawn(size_t i) {
  Member& m = members_.at(i);
  if (m.pid > 0) return MakeError(ErrorCode::kFailedPrecondition, m.name + " is already running");
  m.starts++;
  {
    std::ofstream log(LogPath(i), std::ios::app);
    log << "===== harness: start " << m.starts << " of " << m.name << " =====\n";
  }
  std::vector<std::string> argv{LEDGERD_PATH, "--home", m.home.string()};
#if LEDGER_IT_LINE_BUFFERED_LOGS
  // ledgerd logs to stdout; redirected to a file, stdio may buffer it, and a node killed with
  // SIGKILL would lose its last lines, the ones a failing test needs. stdbuf makes stdout
  // line-buffered. (Not in sanitizer builds: its LD_PRELOAD would come before the sanitizer
  // runtime.)
  const std::string stdbuf = "/usr/bin/stdbuf";
  if (::access(stdbuf.c_str(), X_OK) == 0) argv.insert(argv.begin(), {stdbuf, "-oL"});
#endif
  // The node dies with the thread that spawned it, even if the test binary is killed.
  pid_t pid = test_support::SpawnLogged(argv, LogPath(i));
  if (pid < 0) return MakeError(ErrorCode::kIoError, std::string("fork: ") + std::strerror(errno));
  m.pid = pid;
  return OkStatus();
}

Status Cluster::Start(size_t i) {
  LEDGER_TRY(Spawn(i));
  bool up = false;
  auto ok = WaitUntil(
      [&] {
        if (!Running(i)) return true;  // exited: stop waiting, report below
        up = GetStatus(i).has_value();
        return up;
      },
      kStartTimeoutMs, members_[i].name + " answers status");
  if (!up)
    return MakeError(ErrorCode::kUnavailable,
                     members_[i].name + " did not come up (" +
                         (ok ? std::string("process exited") : std::string(ok.message())) +
                         "); log tail:\n" + LogTail(i, 10));
  return OkStatus();
}

Status Cluster::StartAll() {
  for (size_t i = 0; i < members_.size(); ++i)
    LEDGER_TRY(Spawn(i));
  for (size_t i = 0; i < members_.size(); ++i) {
    bool up = false;
    auto ok = WaitUntil(
        [&] {
          if (!Running(i)) return true;
          up = GetStatus(i).has_value();
          return up;
        },
        kStartTimeoutMs, members_[i].name + " answers status");
    if (!up)
      return MakeError(ErrorCode::kUnavailable,
                       members_[i].name + " did not come up; log tail:\n" + LogTail(i, 10));
    (void)ok;
  }
  return OkStatus();
}

void Cluster::Kill(size_t i) {
  Member& m = members_.at(i);
  if (m.pid <= 0) return;
  int status = 0;
  if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {  // it died on its own: say how
    std::cerr << "harness: " << m.name << " had already exited: " << DescribeExit(status) << "\n";
    m.last_wait_status = status;
    m.pid = -1;
    return;
  }
  ::kill(m.pid, SIGKILL);
  while (::waitpid(m.pid, &status, 0) < 0 && errno == EINTR) {
  }
  m.last_wait_status = status;
  m.pid = -1;
}

Result<int> Cluster::Terminate(size_t i) {
  Member& m = members_.at(i);
  if (m.pid <= 0) return MakeError(ErrorCode::kFailedPrecondition, m.name + " is not running");
  ::kill(m.pid, SIGTERM);
  const auto start = Clock::now();
  while (ElapsedMs(start) < kStopTimeoutMs) {
    int status = 0;
    pid_t r = ::waitpid(m.pid, &status, WNOHANG);
    if (r == m.pid) {
      m.last_wait_status = status;
      m.pid = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  Kill(i);
  return MakeError(ErrorCode::kUnavailable, m.name + " did not exit within " +
                                                std::to_string(kStopTimeoutMs) +
                                                " ms of SIGTERM (killed)");
}

bool Cluster::Running(size_t i) {
  Member& m = members_.at(i);
  if (m.pid <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(m.pid, &status, WNOHANG);
  if (r == 0) return true;
  std::cerr << "harness: " << m.name << " exited: " << DescribeExit(status) << "\n";
  m.last_wait_status = status;
  m.pid = -1;
  return false;
}

Result<json::value> Cluster::Call(size_t i, std::string_view method, const json::value& params,
                                  uint32_t timeout_ms) const {
  json::value p = params.is_null() ? json::value(json::object{}) : params;
  return tools::RpcCall(members_.at(i).rpc, method, p, timeout_ms);
}

Result<json::object> Cluster::GetStatus(size_t i) const {
  auto v = Call(i, "status");
  if (!v) return std::unexpected(v.error());
  if (!v->is_object()) return MakeError(ErrorCode::kInternal, "status is not an object");
  return v->as_object();
}

Result<json::object> Cluster::Block(size_t i, uint64_t height) const {
  auto v = Call(i, "get_block", json::object{{"height", height}});
  if (!v) return std::unexpected(v.error());
  if (!v->is_object()) return MakeError(ErrorCode::kInternal, "get_block is not an object");
  return v->as_object();
}

std::string Cluster::LogTail(size_t i, size_t lines) const {
  std::ifstream in(LogPath(i));
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& l : tail)
    out += l + "\n";
  return out;
}

// --- Raw HTTP ------------------------------------------------------------------------------------

Result<HttpResponse> RawExchange(const tools::RpcEndpoint& endpoint, std::string_view request,
                                 uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = endpoint.host + ":" + std::to_string(endpoint.port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kIoError, "socket()");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(endpoint.port);
  if (::inet_pton(AF_INET, endpoint.host.c_str(), &addr.sin_addr) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "not an IPv4 address: " + endpoint.host);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return MakeError(ErrorCode::kUnavailable,
                     "cannot connect to " + where + ": " + std::strerror(errno));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::string in;
  size_t sent = 0;
  bool send_failed = false;
  bool eof = false;
  // Interleave writing and reading: a server may answer (e.g. 413) before the body is all sent.
  auto response_complete = [&]() -> bool {
    size_t header_end = in.find("\r\n\r\n");
    if (header_end == std::string::npos) return false;
    std::string headers = in.substr(0, header_end);
    std::transform(headers.begin(), headers.end(), headers.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t cl = headers.find("content-length:");
    if (cl == std::string::npos) return eof;
    size_t length = std::strtoull(headers.c_str() + cl + 15, nullptr, 10);
    return in.size() >= header_end + 4 + length;
  };
  while (!eof && !response_complete()) {
    int wait = RemainingMs(deadline);
    if (wait == 0)
      return MakeError(ErrorCode::kUnavailable, "no complete response from " + where + " within " +
                                                    std::to_string(timeout_ms) + " ms (got " +
                                                    std::to_string(in.size()) + " bytes)");
    pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() && !send_failed ? POLLOUT : 0)),
             0};
    if (::poll(&p, 1, wait) < 0 && errno != EINTR) return MakeError(ErrorCode::kIoError, "poll");
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        send_failed = true;  // the server closed; its answer may still be readable
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        if (in.size() > kMaxHttpResponseBytes)
          return MakeError(ErrorCode::kResourceExhausted, "response too large from " + where);
      } else if (n == 0) {
        eof = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        if (in.empty())
          return MakeError(
              ErrorCode::kUnavailable,
              "connection to " + where + " reset with no response: " + std::strerror(errno));
        eof = true;
      }
    }
  }
  size_t header_end = in.find("\r\n\r\n");
  if (!in.starts_with("HTTP/1.") || header_end == std::string::npos)
    return MakeError(ErrorCode::kUnavailable, "no HTTP response from " + where + " (" +
                                                  std::to_string(in.size()) +
                                                  " bytes before close)");
  HttpResponse out;
  out.status = std::atoi(in.c_str() + 9);
  out.body = in.substr(header_end + 4);
  return out;
}

Result<HttpResponse> RawPost(const tools::RpcEndpoint& endpoint, std::string_view body,
                             uint32_t timeout_ms) {
  std::string request = "POST / HTTP/1.1\r\nHost: " + endpoint.host +
                        "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n";
  request.append(body);
  return RawExchange(endpoint, request, timeout_ms);
}

Result<std::vector<json::value>> BatchCall(const tools::RpcEndpoint& endpoint,
                                           std::string_view method,
                                           const std::vector<json::value>& params,
                                           uint32_t timeout_ms) {
  if (params.empty()) return std::vector<json::value>{};
  json::array batch;
  for (size_t k = 0; k < params.size(); ++k)
    batch.push_back(
        json::object{{"jsonrpc", "2.0"}, {"id", k}, {"method", method}, {"params", params[k]}});
  auto response = RawPost(endpoint, json::serialize(batch), timeout_ms);
  if (!response) return std::unexpected(response.error());
  boost::system::error_code ec;
  json::value v = json::parse(response->body, ec);
  if (ec || !v.is_array() || v.as_array().size() != params.size())
    return MakeError(ErrorCode::kInternal, "bad batch response (HTTP " +
                                               std::to_string(response->status) +
                                               "): " + response->body.substr(0, 200));
  std::vector<json::value> out(params.size());
  for (json::value& r : v.as_array()) {
    const json::value* id = r.is_object() ? r.as_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_number())
      return MakeError(ErrorCode::kInternal, "batch response without id: " + json::serialize(r));
    uint64_t k = id->to_number<uint64_t>();
    if (k >= out.size()) return MakeError(ErrorCode::kInternal, "batch response id out of range");
    out[k] = std::move(r);
  }
  return out;
}

// --- Transactions --------------------------------------------------------------------------------

Bytes TxFactory::NewId() {
  Bytes id(ledger::kIdBytes);
  do {
    crypto::RandomBytes(id.data(), id.size());
    id[0] &= 0x7f;  // never the issuer pattern ff00..
  } while (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }));
  return id;
}

Bytes TxFactory::IssuerAccount(uint32_t member_id) {
  Bytes id(ledger::kIdBytes, 0);
  id[0] = 0xff;
  id[15] = static_cast<uint8_t>(member_id);
  return id;
}

Wallet TxFactory::NewWallet(uint32_t custodian) {
  return Wallet{NewId(), crypto::PrivateKey::Generate(), AssetOf(custodian), custodian};
}

ledger::pb::Operation TxFactory::CreateAccountOp(const Wallet& wallet) {
  ledger::pb::Operation op;
  auto* c = op.mutable_create_account();
  c->set_id(ToString(wallet.id));
  c->set_asset(wallet.asset);
  c->set_custodian(wallet.custodian);
  c->mutable_controller()->set_threshold(1);
  crypto::PublicKey pub = wallet.key.GetPublicKey();
  c->mutable_controller()->add_keys(ToString(pub.span()));
  return op;
}

ledger::pb::Operation TxFactory::TransferOp(const Bytes& id, const Bytes& debit,
                                            const Bytes& credit, uint64_t amount) {
  ledger::pb::Operation op;
  auto* t = op.mutable_transfer();
  t->set_id(ToString(id));
  t->set_debit_account(ToString(debit));
  t->set_credit_account(ToString(credit));
  t->set_amount(amount);
  return op;
}

SignedTx TxFactory::Sign(const std::vector<ledger::pb::Operation>& ops,
                         const std::vector<crypto::PrivateKey>& keys) const {
  // Far in the future: these tests never run long enough for their transactions to expire.
  constexpr uint64_t kValidUntilHeight = 1'000'000'000;
  ledger::pb::TxBody body;
  body.set_chain_id(chain_id_);
  body.set_valid_until_height(kValidUntilHeight);
  uint64_t nonce = 0;
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  body.set_nonce(nonce);
  for (const auto& op : ops)
    *body.add_operations() = op;
  SignedTx out;
  out.envelope = ledger::SignTransaction(body, keys);
  out.hex = ToHex(out.envelope);
  auto parsed = ledger::ParseTransaction(out.envelope, chain_id_);
  LEDGER_ASSERT(parsed.has_value());
  out.tx_id = parsed->tx_id.ToHex();
  return out;
}

SignedTx TxFactory::OpenAndFund(const std::vector<Wallet>& wallets,
                                const crypto::PrivateKey& governance, uint64_t issue_each) const {
  std::vector<ledger::pb::Operation> ops;
  for (const Wallet& w : wallets) {
    ops.push_back(CreateAccountOp(w));
    if (issue_each > 0)
      ops.push_back(TransferOp(NewId(), IssuerAccount(w.custodian), w.id, issue_each));
  }
  return Sign(ops, {governance});
}

SignedTx TxFactory::Pay(const Wallet& from, const Wallet& to, uint64_t amount) const {
  return Sign({TransferOp(NewId(), from.id, to.id, amount)}, {from.key});
}

// --- Cluster-level helpers -----------------------------------------------------------------------

Status Submit(const Cluster& cluster, size_t i, const SignedTx& tx) {
  auto r = cluster.Call(i, "submit_tx", json::object{{"tx", tx.hex}});
  if (!r) return std::unexpected(r.error());
  const json::value* status = r->is_object() ? r->as_object().if_contains("status") : nullptr;
  if (status == nullptr || !status->is_string() ||
      (status->as_string() != "admitted" && status->as_string() != "duplicate"))
    return MakeError(ErrorCode::kInternal, "submit_tx: " + json::serialize(*r));
  return OkStatus();
}

Result<std::vector<TxState>> GetTxs(const Cluster& cluster, size_t i,
                                    const std::vector<std::string>& tx_ids) {
  constexpr size_t kChunk = 200;  // under the server's batch limit
  std::vector<TxState> out;
  out.reserve(tx_ids.size());
  for (size_t offset = 0; offset < tx_ids.size(); offset += kChunk) {
    std::vector<json::value> params;
    for (size_t k = offset; k < std::min(tx_ids.size(), offset + kChunk); ++k)
      params.push_back(json::object{{"tx_id", tx_ids[k]}});
    auto responses = BatchCall(cluster.member(i).rpc, "get_tx", params);
    if (!responses) return std::unexpected(responses.error());
    for (const json::value& r : *responses) {
      const json::value* result = r.as_object().if_contains("result");
      if (result == nullptr || !result->is_object())
        return MakeError(ErrorCode::kInternal, "get_tx failed: " + json::serialize(r));
      const json::object& o = result->as_object();
      TxState s;
      s.status = json::value_to<std::string>(o.at("status"));
      if (const json::value* h = o.if_contains("height")) s.height = h->to_number<uint64_t>();
      if (const json::value* rec = o.if_contains("receipt"))
        s.receipt_status = json::value_to<std::string>(rec->at("status"));
      out.push_back(std::move(s));
    }
  }
  return out;
}

::testing::AssertionResult WaitCommitted(const Cluster& cluster, size_t i,
                                         const std::vector<std::string>& tx_ids,
                                         uint32_t timeout_ms) {
  std::string last;  // why the last poll was not done yet
  std::string bad;   // a final state that is not the expected one
  auto ok = WaitUntil(
      [&] {
        auto states = GetTxs(cluster, i, tx_ids);
        if (!states) {
          last = states.error().message;
          return false;
        }
        size_t committed = 0;
        last.clear();
        for (size_t k = 0; k < states->size(); ++k) {
          const TxState& s = (*states)[k];
          if (s.status == "committed" && s.receipt_status != "committed") {
            bad = "tx " + tx_ids[k] + " committed with receipt status " + s.receipt_status;
            return true;  // final: no point waiting
          }
          if (s.status == "committed") {
            committed++;
          } else if (last.empty()) {
            last = "tx " + tx_ids[k] + " is " + s.status;
          }
        }
        if (!last.empty()) last += "; " + std::to_string(committed) + " committed";
        return committed == tx_ids.size();
      },
      timeout_ms, std::to_string(tx_ids.size()) + " txs committed on " + cluster.member(i).name);
  if (!bad.empty()) return ::testing::AssertionFailure() << bad << " on " << cluster.member(i).name;
  if (!ok) return ok << " (" << last << ")";
  return ok;
}

uint64_t HeightOf(const Cluster& cluster, size_t i) {
  auto s = cluster.GetStatus(i);
  if (!s) return 0;
  return s->at("height").to_number<uint64_t>();
}

::testing::AssertionResult WaitHeight(const Cluster& cluster, const std::vector<size_t>& members,
                                      uint64_t height, uint32_t timeout_ms) {
  std::string lagging;
  auto ok = WaitUntil(
      [&] {
        for (size_t i : members) {
          uint64_t h = HeightOf(cluster, i);
          if (h < height) {
            lagging = cluster.member(i).name + " at height " + std::to_string(h);
            return false;
          }
        }
        return true;
      },
      timeout_ms, "height " + std::to_string(height) + " on every node");
  if (!ok) return ok << " (" << lagging << ")";
  return ok;
}

int64_t PeersOf(const Cluster& cluster, size_t i) {
  auto s = cluster.GetStatus(i);
  if (!s) return -1;
  return s->at("peers_connected").to_number<int64_t>();
}

::testing::AssertionResult WaitPeers(const Cluster& cluster, const std::vector<size_t>& members,
                                     int64_t peers, uint32_t timeout_ms) {
  std::string lagging;
  auto ok = WaitUntil(
      [&] {
        for (size_t i : members) {
          int64_t p = PeersOf(cluster, i);
          if (p < peers) {
            lagging = cluster.member(i).name + " has " + std::to_string(p) + " peers";
            return false;
          }
        }
        return true;
      },
      timeout_ms, std::to_string(peers) + " peers on every node");
  if (!ok) return ok << " (" << lagging << ")";
  return ok;
}

::testing::AssertionResult SameChain(const Cluster& cluster, const std::vector<size_t>& members,
                                     uint64_t from, uint64_t to) {
  if (members.empty()) return ::testing::AssertionSuccess();
  auto summaries = [&](size_t i) -> Result<std::vector<json::value>> {
    std::vector<json::value> params;
    for (uint64_t h = from; h <= to; ++h)
      params.push_back(json::object{{"height", h}});
    constexpr size_t kChunk = 200;
    std::vector<json::value> out;
    for (size_t offset = 0; offset < params.size(); offset += kChunk) {
      std::vector<json::value> part(
          params.begin() + static_cast<std::ptrdiff_t>(offset),
          params.begin() + static_cast<std::ptrdiff_t>(std::min(params.size(), offset + kChunk)));
      auto r = BatchCall(cluster.member(i).rpc, "get_block", part);
      if (!r) return std::unexpected(r.error());
      for (json::value& v : *r)
        out.push_back(std::move(v));
    }
    return out;
  };
  auto reference = summaries(members[0]);
  if (!reference)
    return ::testing::AssertionFailure()
           << cluster.member(members[0]).name << ": " << reference.error().message;
  for (size_t i : members) {
    auto mine = summaries(i);
    if (!mine)
      return ::testing::AssertionFailure()
             << cluster.member(i).name << ": " << mine.error().message;
    for (size_t k = 0; k < mine->size(); ++k) {
      const uint64_t h = from + k;
      const json::value* a = (*reference)[k].as_object().if_contains("result");
      const json::value* b = (*mine)[k].as_object().if_contains("result");
      if (a == nullptr || b == nullptr)
        return ::testing::AssertionFailure()
               << "get_block " << h << " failed: " << cluster.member(members[0]).name << " "
               << json::serialize((*reference)[k]) << " / " << cluster.member(i).name << " "
               << json::serialize((*mine)[k]);
      for (const char* field : {"digest", "state_root", "receipt_root"}) {
        const json::value* fa = a->as_object().if_contains(field);
        const json::value* fb = b->as_object().if_contains(field);
        if (fa == nullptr || fb == nullptr || *fa != *fb)
          return ::testing::AssertionFailure()
                 << "height " << h << " " << field
                 << " differs: " << cluster.member(members[0]).name << " "
                 << (fa ? json::serialize(*fa) : "(missing)") << ", " << cluster.member(i).name
                 << " " << (fb ? json::serialize(*fb) : "(missing)");
      }
    }
  }
  return ::testing::AssertionSuccess();
}

Result<std::string> Balance(const Cluster& cluster, size_t i, const Bytes& account,
                            uint64_t height) {
  auto r = cluster.Call(i, "get_account", json::object{{"id", ToHex(account)}, {"height", height}});
  if (!r) return std::unexpected(r.error());
  return json::value_to<std::string>(r->at("balance"));
}

// --- Payment load --------------------------------------------------------------------------------

::testing::AssertionResult OpenPayersAndPayees(const Cluster& cluster, const TxFactory& factory,
                                               const std::vector<size_t>& members, uint64_t funding,
                                               std::vector<Wallet>& payers,
                                               std::vector<Wallet>& payees,
                                               std::vector<std::string>& setup_ids) {
  for (size_t v : members) {
    const uint32_t bank = cluster.member(v).member_id;
    payers.push_back(TxFactory::NewWallet(bank));
    payees.push_back(TxFactory::NewWallet(bank));
    SignedTx open = factory.OpenAndFund({payers.back()}, cluster.member(v).governance, funding);
    SignedTx open_payee = factory.OpenAndFund({payees.back()}, cluster.member(v).governance, 0);
    for (const SignedTx* tx : {&open, &open_payee})
      if (auto s = Submit(cluster, v, *tx); !s)
        return ::testing::AssertionFailure()
               << "opening wallets on " << cluster.member(v).name << ": " << s.error().message;
    setup_ids.push_back(open.tx_id);
    setup_ids.push_back(open_payee.tx_id);
  }
  return ::testing::AssertionSuccess();
}

PaymentLoad::PaymentLoad(const Cluster& cluster, const TxFactory& factory,
                         std::vector<Wallet> payers, std::vector<Wallet> payees)
    : cluster_(cluster),
      factory_(factory),
      payers_(std::move(payers)),
      payees_(std::move(payees)),
      alive_(cluster.size()) {
  for (auto& a : alive_)
    a = true;
}

void PaymentLoad::Begin() {
  thread_ = std::thread([this] { Run(); });
}

void PaymentLoad::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<PaymentLoad::Sent> PaymentLoad::Admitted() const {
  std::lock_guard lock(mu_);
  return admitted_;
}

std::vector<std::string> PaymentLoad::AdmittedIds() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const Sent& s : admitted_)
    out.push_back(s.tx_id);
  return out;
}

std::vector<std::string> PaymentLoad::AdmittedByOthersThan(size_t node) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const Sent& s : admitted_)
    if (s.node != node) out.push_back(s.tx_id);
  return out;
}

void PaymentLoad::Run() {
  size_t node = 0, payer = 0;
  while (!stop_) {
    const size_t target = node++ % cluster_.size();
    if (!alive_[target]) continue;
    json::array txs;
    std::vector<Sent> batch;
    for (size_t k = 0; k < kBatch; ++k) {
      const size_t from = payer++ % payers_.size();
      SignedTx tx = factory_.Pay(payers_[from], payees_[from], 1);
      txs.push_back(json::value(tx.hex));
      batch.push_back({tx.tx_id, from, target});
    }
    auto r = cluster_.Call(target, "submit_txs", json::object{{"txs", std::move(txs)}});
    if (r) {
      const json::array& results = r->at("results").as_array();
      std::lock_guard lock(mu_);
      for (size_t k = 0; k < results.size() && k < batch.size(); ++k)
        if (results[k].at("status").as_string() == "admitted") admitted_.push_back(batch[k]);
    } else {
      errors_++;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPauseMs));
  }
}

AuditRun RunAudit(const fs::path& genesis, const fs::path& bundle, const std::string& flags) {
  std::string command = std::string(LEDGER_AUDIT_PATH) + " verify --genesis '" + genesis.string() +
                        "' '" + bundle.string() + "' " + flags + " 2>&1";
  AuditRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0)
    run.output.append(buffer, n);
  int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

Result<fs::path> FetchBundle(const Cluster& c, size_t i, const json::object& params,
                             const std::string& name) {
  auto reply = c.Call(i, "get_proof", params);
  if (!reply) return std::unexpected(reply.error());
  if (!reply->is_object() || !reply->as_object().contains("bundle"))
    return MakeError(ErrorCode::kInternal, "get_proof answered without a bundle");
  auto bytes = FromHex(reply->as_object().at("bundle").as_string());
  if (!bytes) return std::unexpected(bytes.error());
  fs::path path = c.dir() / name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes->data()),
            static_cast<std::streamsize>(bytes->size()));
  return path;
}

}  // namespace cl::integration
