// cluster_load: the cluster throughput figure (docs/performance.md "Cluster throughput").
//
// Starts a local consortium of 4 validators (tools::InitLocalnet in a fresh temporary directory,
// ports chosen by the OS), opens and funds wallets from the banks' issuer accounts, pre-signs
// simple transfers, submits them in submit_txs batches round-robin to every validator from a few
// client threads, and records for every transaction the time its batch was sent and the time this
// client learned of the block that contains it (a watcher thread polls `status` on validator 0 and
// fetches every new height with get_block). Prints one JSON object on stdout; progress goes to
// stderr. Every ledgerd it starts is killed on exit (PR_SET_PDEATHSIG covers a killed client too).
//
// Written for bench/cluster.sh; the process and transaction code follows
// tests/integration/harness.cc (copied, not shared, so the benchmark does not depend on
// GoogleTest).
//
// Thread safety: the main thread owns the processes; client threads only read the pre-signed
// transactions and write their own slots; the watcher's maps are guarded by a mutex.
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
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "ledger/transaction.h"
#include "tools/localnet.h"
#include "tools/rpc_client.h"
#include "util/hex.h"
#include "util/status.h"

namespace cl::bench {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bounds of every wait.
constexpr uint32_t kRpcTimeoutMs = 30'000;           // one RPC call (a submit batch under load)
constexpr uint32_t kStartTimeoutMs = 30'000;         // every node answers status, peers connected
constexpr uint32_t kSetupCommitTimeoutMs = 120'000;  // the wallet-opening transactions commit
constexpr uint32_t kStopTimeoutMs = 10'000;          // SIGTERM to exit, then SIGKILL
constexpr uint32_t kWatchIntervalMs = 10;            // the block watcher's status poll period
constexpr uint32_t kPollIntervalMs = 50;             // other waits
constexpr size_t kMaxHttpResponseBytes = 64u << 20;
constexpr size_t kGetTxChunk = 200;        // get_tx calls per JSON-RPC batch (server limit 256)
constexpr size_t kWalletsPerSetupTx = 32;  // create_account + issue = 2 ops each; limit 64 ops
constexpr uint64_t kFundEach = 1'000'000;  // minor units issued to every wallet
constexpr uint64_t kValidUntilHeight = 1'000'000'000;

struct Options {
  std::string ledgerd;
  size_t txs = 20'000;
  size_t batch = 200;
  size_t clients = 4;
  size_t wallets = 2'000;
  double rate = 0;  // offered transfers/s; 0 = as fast as the clients go
  size_t verify_sigs = 2'000;
  uint32_t commit_timeout_s = 120;  // after the last submission
  bool keep = false;
};

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- Raw JSON-RPC batches (tools::RpcCall sends one call per request)
// -----------------------------

Result<std::string> HttpPost(const tools::RpcEndpoint& endpoint, const std::string& body,
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
    return MakeError(ErrorCode::kUnavailable, "cannot connect to " + where);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string request = "POST / HTTP/1.1\r\nHost: " + endpoint.host +
                        "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                        "Content-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body;
  std::string in;
  size_t sent = 0;
  bool eof = false;
  auto complete = [&]() -> bool {
    size_t header_end = in.find("\r\n\r\n");
    if (header_end == std::string::npos) return false;
    std::string headers = in.substr(0, header_end);
    std::transform(headers.begin(), headers.end(), headers.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    size_t cl = headers.find("content-length:");
    if (cl == std::string::npos) return eof;
    return in.size() >= header_end + 4 + std::strtoull(headers.c_str() + cl + 15, nullptr, 10);
  };
  while (!eof && !complete()) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return MakeError(ErrorCode::kUnavailable, "no response from " + where);
    pollfd p{fd, static_cast<short>(POLLIN | (sent < request.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR)
      return MakeError(ErrorCode::kIoError, "poll");
    if (p.revents & POLLOUT) {
      ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        in.append(buf, static_cast<size_t>(n));
        if (in.size() > kMaxHttpResponseBytes)
          return MakeError(ErrorCode::kResourceExhausted, "response too large from " + where);
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        eof = true;
      }
    }
  }
  size_t header_end = in.find("\r\n\r\n");
  if (header_end == std::string::npos)
    return MakeError(ErrorCode::kUnavailable, "no HTTP response from " + where);
  return in.substr(header_end + 4);
}

// One JSON-RPC batch of `method`; the results (or error objects) ordered as `params`.
Result<std::vector<json::value>> BatchCall(const tools::RpcEndpoint& endpoint,
                                           std::string_view method,
                                           const std::vector<json::value>& params) {
  json::array batch;
  for (size_t k = 0; k < params.size(); ++k)
    batch.push_back(
        json::object{{"jsonrpc", "2.0"}, {"id", k}, {"method", method}, {"params", params[k]}});
  auto body = HttpPost(endpoint, json::serialize(batch), kRpcTimeoutMs);
  if (!body) return std::unexpected(body.error());
  boost::system::error_code ec;
  json::value v = json::parse(*body, ec);
  if (ec || !v.is_array() || v.as_array().size() != params.size())
    return MakeError(ErrorCode::kInternal, "bad batch response: " + body->substr(0, 200));
  std::vector<json::value> out(params.size());
  for (json::value& r : v.as_array()) {
    uint64_t k = r.at("id").to_number<uint64_t>();
    if (k >= out.size()) return MakeError(ErrorCode::kInternal, "batch id out of range");
    const json::value* result = r.as_object().if_contains("result");
    out[k] = result ? *result : r;
  }
  return out;
}

// --- Processes -----------------------------------------------------------------------------------

struct Member {
  uint32_t member_id = 0;
  std::string name;
  fs::path home;
  tools::RpcEndpoint rpc;
  crypto::PrivateKey governance = crypto::PrivateKey::Generate();
  pid_t pid = -1;
};

// Owns the temporary directory and the node processes; the destructor kills and reaps every
// process and removes the directory (unless kept).
class Consortium {
 public:
  Consortium() = default;
  Consortium(const Consortium&) = delete;
  Consortium& operator=(const Consortium&) = delete;
  ~Consortium() {
    Stop();
    if (dir_.empty()) return;
    if (keep_) {
      std::cerr << "kept " << dir_.string() << "\n";
    } else {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  Status Create(size_t validators, bool keep) {
    keep_ = keep;
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ledger-bench-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      return MakeError(ErrorCode::kIoError, "mkdtemp " + pattern + ": " + std::strerror(errno));
    dir_ = buf.data();
    tools::LocalnetOptions lo;
    lo.dir = dir_;
    lo.validators = static_cast<uint32_t>(validators);
    lo.observers = 0;
    LEDGER_TRY(tools::InitLocalnet(lo));
    chain_id_ = lo.chain_id;
    try {
      json::value localnet = json::parse(ReadFile(dir_ / "localnet.json"));
      json::value governance = json::parse(ReadFile(dir_ / "governance-keys.json"));
      for (const json::value& v : localnet.at("members").as_array()) {
        Member m;
        m.member_id = static_cast<uint32_t>(v.at("member_id").to_number<uint64_t>());
        m.name = json::value_to<std::string>(v.at("name"));
        m.home = json::value_to<std::string>(v.at("home"));
        auto rpc = tools::ParseRpcUrl(json::value_to<std::string>(v.at("rpc")));
        if (!rpc) return std::unexpected(rpc.error());
        m.rpc = *rpc;
        bool found = false;
        for (const json::value& g : governance.at("members").as_array()) {
          if (g.at("member_id").to_number<uint64_t>() != m.member_id) continue;
          auto secret = FromHex(json::value_to<std::string>(g.at("governance_secret")));
          if (!secret) return std::unexpected(secret.error());
          auto key = crypto::PrivateKey::FromBytes(*secret);
          if (!key) return std::unexpected(key.error());
          m.governance = *key;
          found = true;
        }
        if (!found) return MakeError(ErrorCode::kNotFound, "no governance key for " + m.name);
        members_.push_back(std::move(m));
      }
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kInvalidArgument, std::string("localnet files: ") + e.what());
    }
    return OkStatus();
  }

  Status StartAll(const std::string& ledgerd) {
    for (Member& m : members_) {
      const std::string home = m.home.string();
      const std::string log = (dir_ / (tools::MemberSlug(m.name) + ".log")).string();
      std::vector<char*> argv{const_cast<char*>(ledgerd.c_str()), const_cast<char*>("--home"),
                              const_cast<char*>(home.c_str()), nullptr};
      const pid_t parent = ::getpid();
      pid_t pid = ::fork();
      if (pid < 0) return MakeError(ErrorCode::kIoError, "fork");
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with this client, even on SIGKILL
        if (::getppid() != parent) ::_exit(127);
        int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out < 0 || in < 0) ::_exit(126);
        ::dup2(in, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::close_range(3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      m.pid = pid;
    }
    const auto start = Clock::now();
    for (Member& m : members_) {
      while (true) {
        int status = 0;
        if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
          m.pid = -1;
          return MakeError(ErrorCode::kUnavailable,
                           m.name + " exited at startup; see its log in " + dir_.string());
        }
        auto s = tools::RpcCall(m.rpc, "status", json::object{}, 1'000);
        if (s && s->at("peers_connected").to_number<int64_t>() + 1 >=
                     static_cast<int64_t>(members_.size()))
          break;
        if (MsBetween(start, Clock::now()) > kStartTimeoutMs)
          return MakeError(ErrorCode::kUnavailable, m.name + " not up with all peers within " +
                                                        std::to_string(kStartTimeoutMs) + " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
      }
    }
    return OkStatus();
  }

  void Stop() {
    for (Member& m : members_)
      if (m.pid > 0) ::kill(m.pid, SIGTERM);
    const auto start = Clock::now();
    for (Member& m : members_) {
      if (m.pid <= 0) continue;
      int status = 0;
      while (::waitpid(m.pid, &status, WNOHANG) == 0) {
        if (MsBetween(start, Clock::now()) > kStopTimeoutMs) {
          ::kill(m.pid, SIGKILL);
          ::waitpid(m.pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
      }
      m.pid = -1;
    }
  }

  // CPU seconds (user + system) used so far by member i, from /proc/<pid>/stat.
  double CpuSeconds(size_t i) const {
    if (members_[i].pid <= 0) return 0;
    std::string stat = ReadFile("/proc/" + std::to_string(members_[i].pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int k = 3; k <= 15 && in >> field; ++k) {
      if (k == 14) utime = std::strtod(field.c_str(), nullptr);
      if (k == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  // Keeps the directory (node logs) on exit, e.g. after a failure.
  void set_keep(bool keep) { keep_ = keep; }
  std::vector<Member>& members() { return members_; }
  const std::string& chain_id() const { return chain_id_; }

 private:
  fs::path dir_;
  bool keep_ = false;
  std::string chain_id_;
  std::vector<Member> members_;
};

// --- Transactions --------------------------------------------------------------------------------

struct Wallet {
  Bytes id;
  crypto::PrivateKey key;
  uint32_t custodian = 0;
};

struct SignedTx {
  std::string hex;
  std::string tx_id;
};

Bytes NewId() {
  Bytes id(ledger::kIdBytes);
  do {
    crypto::RandomBytes(id.data(), id.size());
    id[0] &= 0x7f;  // never the issuer pattern ff00..
  } while (std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; }));
  return id;
}

Bytes IssuerAccount(uint32_t member_id) {
  Bytes id(ledger::kIdBytes, 0);
  id[0] = 0xff;
  id[15] = static_cast<uint8_t>(member_id);
  return id;
}

ledger::pb::Operation TransferOp(const Bytes& debit, const Bytes& credit, uint64_t amount) {
  ledger::pb::Operation op;
  auto* t = op.mutable_transfer();
  t->set_id(ToString(NewId()));
  t->set_debit_account(ToString(debit));
  t->set_credit_account(ToString(credit));
  t->set_amount(amount);
  return op;
}

SignedTx Sign(const std::string& chain_id, const std::vector<ledger::pb::Operation>& ops,
              const crypto::PrivateKey& key) {
  ledger::pb::TxBody body;
  body.set_chain_id(chain_id);
  body.set_valid_until_height(kValidUntilHeight);
  uint64_t nonce = 0;
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  body.set_nonce(nonce);
  for (const auto& op : ops)
    *body.add_operations() = op;
  std::vector<crypto::PrivateKey> keys{key};
  Bytes envelope = ledger::SignTransaction(body, keys);
  auto parsed = ledger::ParseTransaction(envelope, chain_id);
  if (!parsed) {
    std::cerr << "cluster_load: cannot parse own transaction: " << parsed.error().message << "\n";
    std::exit(2);
  }
  return SignedTx{ToHex(envelope), parsed->tx_id.ToHex()};
}

// Opens `wallets` at their custodian and issues kFundEach to each, signed by the custodian's
// governance key (custodian approval for create_account, controller of the issuer account).
SignedTx OpenAndFund(const std::string& chain_id, const std::vector<const Wallet*>& wallets,
                     const crypto::PrivateKey& governance) {
  std::vector<ledger::pb::Operation> ops;
  for (const Wallet* w : wallets) {
    ledger::pb::Operation op;
    auto* c = op.mutable_create_account();
    c->set_id(ToString(w->id));
    c->set_asset("USD." + std::to_string(w->custodian));
    c->set_custodian(w->custodian);
    c->mutable_controller()->set_threshold(1);
    c->mutable_controller()->add_keys(ToString(w->key.GetPublicKey().span()));
    ops.push_back(std::move(op));
    ops.push_back(TransferOp(IssuerAccount(w->custodian), w->id, kFundEach));
  }
  return Sign(chain_id, ops, governance);
}

// --- Block watcher -------------------------------------------------------------------------------

struct BlockSeen {
  uint64_t height = 0;
  uint64_t timestamp_ms = 0;  // the proposer's header time
  size_t tx_count = 0;
  Clock::time_point seen;  // when this client learned of it
};

// Polls `status` on one node and fetches every new block; remembers when each tx id was seen.
class BlockWatcher {
 public:
  explicit BlockWatcher(tools::RpcEndpoint endpoint) : endpoint_(std::move(endpoint)) {}
  ~BlockWatcher() { StopThread(); }

  void Start() {
    auto s = tools::RpcCall(endpoint_, "status", json::object{}, kRpcTimeoutMs);
    next_ = s ? s->at("height").to_number<uint64_t>() + 1 : 1;
    thread_ = std::thread([this] { Run(); });
  }
  void StopThread() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::optional<Clock::time_point> SeenAt(const std::string& tx_id) {
    std::lock_guard lock(mu_);
    auto it = seen_.find(tx_id);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
  }
  size_t CountSeen(const std::vector<SignedTx>& txs) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const SignedTx& t : txs)
      n += seen_.contains(t.tx_id);
    return n;
  }
  std::vector<BlockSeen> Blocks() {
    std::lock_guard lock(mu_);
    return blocks_;
  }
  std::string last_error() {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  void Run() {
    while (!stop_) {
      auto s = tools::RpcCall(endpoint_, "status", json::object{}, kRpcTimeoutMs);
      if (!s) {
        std::lock_guard lock(mu_);
        last_error_ = s.error().message;
      } else {
        const uint64_t height = s->at("height").to_number<uint64_t>();
        for (; next_ <= height && !stop_; ++next_) {
          auto b = tools::RpcCall(endpoint_, "get_block", json::object{{"height", next_}},
                                  kRpcTimeoutMs);
          const auto now = Clock::now();
          if (!b) {
            std::lock_guard lock(mu_);
            last_error_ = b.error().message;
            break;  // retry this height
          }
          BlockSeen block{next_, 0, 0, now};
          std::lock_guard lock(mu_);
          if (const json::value* t = b->as_object().if_contains("timestamp_ms"))
            block.timestamp_ms = t->to_number<uint64_t>();
          if (const json::value* ids = b->as_object().if_contains("tx_ids")) {
            block.tx_count = ids->as_array().size();
            for (const json::value& id : ids->as_array())
              seen_.emplace(json::value_to<std::string>(id), now);
          }
          blocks_.push_back(block);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kWatchIntervalMs));
    }
  }

  tools::RpcEndpoint endpoint_;
  uint64_t next_ = 1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> seen_;
  std::vector<BlockSeen> blocks_;
  std::string last_error_;
};

// --- Measurements --------------------------------------------------------------------------------

// Single-thread crypto::Verify rate over `count` distinct signatures.
double VerifyPerSecond(size_t count) {
  std::vector<crypto::PublicKey> keys;
  std::vector<Hash32> digests(count);
  std::vector<crypto::Signature> sigs;
  constexpr size_t kKeys = 16;
  std::vector<crypto::PrivateKey> priv;
  for (size_t k = 0; k < kKeys; ++k)
    priv.push_back(crypto::PrivateKey::Generate());
  for (size_t k = 0; k < count; ++k) {
    crypto::RandomBytes(digests[k].bytes.data(), digests[k].bytes.size());
    sigs.push_back(priv[k % kKeys].Sign(digests[k]));
    keys.push_back(priv[k % kKeys].GetPublicKey());
  }
  const auto start = Clock::now();
  size_t ok = 0;
  for (size_t k = 0; k < count; ++k)
    ok += crypto::Verify(keys[k], digests[k], sigs[k]);
  const double seconds = MsBetween(start, Clock::now()) / 1000.0;
  if (ok != count) std::cerr << "cluster_load: " << count - ok << " signatures failed to verify\n";
  return static_cast<double>(count) / seconds;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  return "unknown";
}

json::array LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return json::array{a, b, c};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

double Round1(double x) {
  return std::round(x * 10) / 10;
}

// Submits `txs` (setup) to one node in batches and waits until the watcher has seen them all.
Status SubmitAndWait(const tools::RpcEndpoint& endpoint, const std::vector<SignedTx>& txs,
                     size_t batch, BlockWatcher& watcher) {
  for (size_t off = 0; off < txs.size(); off += batch) {
    json::array hex;
    for (size_t k = off; k < std::min(txs.size(), off + batch); ++k)
      hex.push_back(json::value(txs[k].hex));
    auto r = tools::RpcCall(endpoint, "submit_txs", json::object{{"txs", hex}}, kRpcTimeoutMs);
    if (!r) return std::unexpected(r.error());
    for (const json::value& res : r->at("results").as_array()) {
      auto status = res.at("status").as_string();
      if (status != "admitted" && status != "duplicate")
        return MakeError(ErrorCode::kInternal, "setup tx not admitted: " + json::serialize(res));
    }
  }
  const auto start = Clock::now();
  while (watcher.CountSeen(txs) < txs.size()) {
    if (MsBetween(start, Clock::now()) > kSetupCommitTimeoutMs)
      return MakeError(ErrorCode::kUnavailable,
                       "setup transactions not committed within " +
                           std::to_string(kSetupCommitTimeoutMs) + " ms (" +
                           std::to_string(watcher.CountSeen(txs)) + "/" +
                           std::to_string(txs.size()) + "; " + watcher.last_error() + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  return OkStatus();
}

int Usage() {
  std::cerr << "usage: cluster_load --ledgerd PATH [--txs N] [--batch N] [--clients N]\n"
               "                    [--wallets N] [--rate TX_PER_S] [--verify-sigs N]\n"
               "                    [--commit-timeout-s N] [--keep]\n";
  return 2;
}

int Run(const Options& opt) {
  constexpr size_t kValidators = 4;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  json::array load_before = LoadAverage();

  std::cerr << "measuring single-core signature verification (" << opt.verify_sigs << " sigs)\n";
  const double verify_per_s = VerifyPerSecond(opt.verify_sigs);
  const double verify_bound = verify_per_s * cores / kValidators;

  Consortium net;
  if (auto s = net.Create(kValidators, opt.keep); !s) {
    std::cerr << "cluster_load: " << s.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  std::cerr << "starting " << kValidators << " validators\n";
  if (auto s = net.StartAll(opt.ledgerd); !s) {
    std::cerr << "cluster_load: " << s.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  std::vector<Member>& members = net.members();
  const std::string& chain = net.chain_id();
  BlockWatcher watcher(members[0].rpc);
  watcher.Start();

  // Wallets spread over the banks; wallet 2k pays wallet 2k+1 and back, always at one bank.
  const size_t wallets = std::max<size_t>(2, opt.wallets & ~size_t{1});
  std::vector<Wallet> w;
  for (size_t k = 0; k < wallets; ++k)
    w.push_back(Wallet{NewId(), crypto::PrivateKey::Generate(),
                       members[(k / 2) % members.size()].member_id});
  std::vector<SignedTx> setup;
  for (const Member& m : members) {
    std::vector<const Wallet*> group;
    for (const Wallet& x : w) {
      if (x.custodian != m.member_id) continue;
      group.push_back(&x);
      if (group.size() == kWalletsPerSetupTx) {
        setup.push_back(OpenAndFund(chain, group, m.governance));
        group.clear();
      }
    }
    if (!group.empty()) setup.push_back(OpenAndFund(chain, group, m.governance));
  }
  std::cerr << "opening " << wallets << " wallets in " << setup.size() << " transactions\n";
  if (auto s = SubmitAndWait(members[0].rpc, setup, opt.batch, watcher); !s) {
    std::cerr << "cluster_load: " << s.error().message << "\n";
    net.set_keep(true);
    return 1;
  }

  std::cerr << "signing " << opt.txs << " transfers\n";
  std::vector<SignedTx> txs(opt.txs);
  {
    std::vector<std::thread> signers;
    for (unsigned t = 0; t < cores; ++t)
      signers.emplace_back([&, t] {
        for (size_t k = t; k < txs.size(); k += cores) {
          const Wallet& from = w[k % wallets];
          const Wallet& to = w[(k % wallets) ^ 1];
          txs[k] = Sign(chain, {TransferOp(from.id, to.id, 1)}, from.key);
        }
      });
    for (auto& t : signers)
      t.join();
  }

  std::vector<double> cpu_before;
  for (size_t i = 0; i < members.size(); ++i)
    cpu_before.push_back(net.CpuSeconds(i));
  const size_t batches = (txs.size() + opt.batch - 1) / opt.batch;
  std::vector<Clock::time_point> sent_at(batches);
  std::vector<char> admitted(txs.size(), 0);
  std::atomic<size_t> next_batch{0};
  std::atomic<size_t> rejected{0}, full{0}, failed_calls{0};
  std::mutex reason_mu;
  std::map<std::string, size_t> reasons;
  std::cerr << "submitting " << txs.size() << " transfers in " << batches << " batches of "
            << opt.batch << " from " << opt.clients << " clients\n";
  const auto load_start = Clock::now();
  {
    std::vector<std::thread> clients;
    for (size_t c = 0; c < opt.clients; ++c)
      clients.emplace_back([&] {
        for (size_t b = next_batch++; b < batches; b = next_batch++) {
          if (opt.rate > 0)
            std::this_thread::sleep_until(
                load_start + std::chrono::microseconds(static_cast<int64_t>(
                                 1e6 * static_cast<double>(b * opt.batch) / opt.rate)));
          json::array hex;
          const size_t end = std::min(txs.size(), (b + 1) * opt.batch);
          for (size_t k = b * opt.batch; k < end; ++k)
            hex.push_back(json::value(txs[k].hex));
          sent_at[b] = Clock::now();
          auto r = tools::RpcCall(members[b % members.size()].rpc, "submit_txs",
                                  json::object{{"txs", std::move(hex)}}, kRpcTimeoutMs);
          if (!r) {
            failed_calls++;
            std::lock_guard lock(reason_mu);
            reasons["call failed: " + r.error().message]++;
            continue;
          }
          const json::array& results = r->at("results").as_array();
          for (size_t k = 0; k < results.size(); ++k) {
            auto status = results[k].at("status").as_string();
            if (status == "admitted" || status == "duplicate") {
              admitted[b * opt.batch + k] = 1;
            } else {
              (status == "mempool_full" ? full : rejected)++;
              std::lock_guard lock(reason_mu);
              const json::value* why = results[k].as_object().if_contains("reason");
              reasons[std::string(status) + (why ? ": " + json::serialize(*why) : "")]++;
            }
          }
        }
      });
    for (auto& t : clients)
      t.join();
  }
  const auto submit_end = Clock::now();
  const size_t n_admitted = static_cast<size_t>(std::count(admitted.begin(), admitted.end(), 1));
  std::cerr << "submitted in " << MsBetween(load_start, submit_end) << " ms; " << n_admitted
            << " admitted; waiting for commits\n";

  // Wait (bounded) until every admitted transaction is in a block.
  size_t committed = 0;
  Clock::time_point last_commit = load_start;
  std::vector<double> latencies;
  while (true) {
    committed = 0;
    for (size_t k = 0; k < txs.size(); ++k)
      if (admitted[k] && watcher.SeenAt(txs[k].tx_id)) committed++;
    if (committed >= n_admitted) break;
    if (MsBetween(submit_end, Clock::now()) > opt.commit_timeout_s * 1000.0) {
      std::cerr << "cluster_load: timed out with " << committed << "/" << n_admitted
                << " committed\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
  }
  std::vector<double> cpu_after;
  for (size_t i = 0; i < members.size(); ++i)
    cpu_after.push_back(net.CpuSeconds(i));
  const double load_wall_s = MsBetween(load_start, Clock::now()) / 1000.0;
  watcher.StopThread();
  for (size_t k = 0; k < txs.size(); ++k) {
    if (!admitted[k]) continue;
    auto seen = watcher.SeenAt(txs[k].tx_id);
    if (!seen) continue;
    latencies.push_back(MsBetween(sent_at[k / opt.batch], *seen));
    last_commit = std::max(last_commit, *seen);
  }

  // Receipts: a transaction in a block may still have failed execution.
  size_t receipt_ok = 0, receipt_failed = 0;
  std::map<std::string, size_t> receipt_status;
  std::vector<json::value> params;
  auto flush = [&] {
    if (params.empty()) return;
    auto r = BatchCall(members[0].rpc, "get_tx", params);
    params.clear();
    if (!r) {
      std::cerr << "cluster_load: get_tx: " << r.error().message << "\n";
      return;
    }
    for (const json::value& v : *r) {
      const json::value* rec = v.is_object() ? v.as_object().if_contains("receipt") : nullptr;
      std::string s = rec ? json::value_to<std::string>(rec->at("status")) : "no receipt";
      receipt_status[s]++;
      (s == "committed" ? receipt_ok : receipt_failed)++;
    }
  };
  for (size_t k = 0; k < txs.size(); ++k) {
    if (!admitted[k] || !watcher.SeenAt(txs[k].tx_id)) continue;
    params.push_back(json::object{{"tx_id", txs[k].tx_id}});
    if (params.size() == kGetTxChunk) flush();
  }
  flush();

  // Blocks during the load.
  std::vector<BlockSeen> blocks;
  for (const BlockSeen& b : watcher.Blocks())
    if (b.seen >= load_start && b.tx_count > 0) blocks.push_back(b);
  size_t max_txs = 0, sum_txs = 0;
  for (const BlockSeen& b : blocks) {
    max_txs = std::max(max_txs, b.tx_count);
    sum_txs += b.tx_count;
  }
  double mean_interval_ms = 0;
  if (blocks.size() > 1)
    mean_interval_ms =
        static_cast<double>(blocks.back().timestamp_ms - blocks.front().timestamp_ms) /
        static_cast<double>(blocks.size() - 1);

  const double span_s = MsBetween(load_start, last_commit) / 1000.0;
  const double tps = span_s > 0 ? static_cast<double>(receipt_ok) / span_s : 0;
  json::array node_cpu;
  for (size_t i = 0; i < members.size(); ++i)
    node_cpu.push_back(Round1(100.0 * (cpu_after[i] - cpu_before[i]) / load_wall_s));
  json::object reason_counts;
  for (const auto& [k, v] : reasons)
    reason_counts[k] = v;
  json::object receipt_counts;
  for (const auto& [k, v] : receipt_status)
    receipt_counts[k] = v;

  json::object out{
      {"committed_tps", Round1(tps)},
      {"latency_p50_ms", Round1(Percentile(latencies, 0.50))},
      {"latency_p99_ms", Round1(Percentile(latencies, 0.99))},
      {"latency_max_ms", Round1(Percentile(latencies, 1.0))},
      {"verify_bound_tps", Round1(verify_bound)},
      {"single_core_verify_per_s", Round1(verify_per_s)},
      {"bound_ratio", std::round(1000 * (verify_bound > 0 ? tps / verify_bound : 0)) / 1000},
      {"txs_submitted", txs.size()},
      {"txs_admitted", n_admitted},
      {"txs_committed", receipt_ok},
      {"txs_committed_failed_receipt", receipt_failed},
      {"txs_rejected", rejected.load() + full.load()},
      {"txs_mempool_full", full.load()},
      {"submit_calls_failed", failed_calls.load()},
      {"rejection_reasons", reason_counts},
      {"receipt_statuses", receipt_counts},
      {"submit_s", Round1(MsBetween(load_start, submit_end) / 1000.0)},
      {"commit_span_s", Round1(span_s)},
      {"blocks",
       json::object{{"count", blocks.size()},
                    {"mean_txs", blocks.empty() ? 0.0
                                                : Round1(static_cast<double>(sum_txs) /
                                                         static_cast<double>(blocks.size()))},
                    {"max_txs", max_txs},
                    {"mean_interval_ms", Round1(mean_interval_ms)}}},
      {"node_cpu_percent", node_cpu},
      {"machine", json::object{{"cpu_model", CpuModel()}, {"cores", cores}}},
      {"load_average_before", load_before},
      {"load_average_after", LoadAverage()},
      {"params", json::object{{"validators", kValidators},
                              {"txs", opt.txs},
                              {"batch", opt.batch},
                              {"clients", opt.clients},
                              {"wallets", wallets},
                              {"rate", opt.rate}}},
      {"commit_time", "client poll of status+get_block on validator 0 every 10 ms"},
  };
  std::cout << json::serialize(out) << std::endl;
  if (committed != n_admitted) net.set_keep(true);  // the node logs explain why
  return committed == n_admitted ? 0 : 1;
}

}  // namespace
}  // namespace cl::bench

int main(int argc, char** argv) {
  cl::bench::Options opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(cl::bench::Usage());
      }
      return argv[++i];
    };
    if (a == "--ledgerd") {
      opt.ledgerd = value();
    } else if (a == "--txs") {
      opt.txs = std::stoul(value());
    } else if (a == "--batch") {
      opt.batch = std::stoul(value());
    } else if (a == "--clients") {
      opt.clients = std::stoul(value());
    } else if (a == "--wallets") {
      opt.wallets = std::stoul(value());
    } else if (a == "--rate") {
      opt.rate = std::stod(value());
    } else if (a == "--verify-sigs") {
      opt.verify_sigs = std::stoul(value());
    } else if (a == "--commit-timeout-s") {
      opt.commit_timeout_s = static_cast<uint32_t>(std::stoul(value()));
    } else if (a == "--keep") {
      opt.keep = true;
    } else {
      return cl::bench::Usage();
    }
  }
  if (opt.ledgerd.empty() || opt.batch == 0 || opt.clients == 0 || opt.txs == 0)
    return cl::bench::Usage();
  return cl::bench::Run(opt);
}
