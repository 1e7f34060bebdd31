// overload: the node under ten times its committed rate (docs/testing.md "Overload").
//
// Starts a local consortium of 4 validators (tools::InitLocalnet, default node configuration but
// rpc.max_connections_per_address raised to 256: every connection comes from one address),
// opens and funds wallets, and measures the committed rate under a saturating load (one submit_txs
// call in flight per validator). Then, for --duration-s, at once:
//   - submits signed transfers at --factor times that rate, spread over the validators;
//   - holds --idle-per-node idle TCP connections to every node's RPC port (reopened --reconnect-ms
//     after the node closes one), plus slow senders (a request one byte per second) and
//     non-readers (pipelined get_block requests whose answers are never read);
//   - keeps --subscribers-per-node WebSocket sessions per node, subscribed to blocks and to 63
//     wallet accounts each, that stopped reading after their subscribe answers;
//   - opens one new connection per second per node for `status` (a new client's view).
// It samples every node's VmRSS and VmHWM (/proc/PID/status) every second, and prints one JSON
// object on stdout: committed rate before and during (and the ratio), answers by kind (admitted,
// mempool_full, call errors by code), p50/p99 submit-to-commit latency of transactions accepted
// during the overload, what happened to the connections, RSS per node at start, middle and end, the
// peak (VmHWM) and whether RSS plateaued, and the machine. Progress goes to stderr.
//
// The clients it needs during the overload (submitters, the block watcher) use HTTP keep-alive
// connections opened before it, as a settlement system would: a node at its connection limit
// refuses new connections, not the ones it serves.
//
// Written for bench/overload.sh. The processes, transactions and block watcher are the load client
// it shares with bench/cluster_load.cc (bench/load_client.h), with the watcher on a kept-alive
// connection.
//
// Thread safety: the main thread owns the processes; each submitter thread owns its slice of the
// pre-signed pool and its connection; the flood thread owns every flood socket; the watcher's and
// the sampler's data are guarded by mutexes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_client.h"
#include "crypto/keys.h"
#include "tests/support/process.h"
#include "tests/support/raw_client.h"
#include "tools/rpc_client.h"
#include "util/hex.h"
#include "util/status.h"

namespace cl::bench {
namespace {

using test_support::ConnectTcp;
using test_support::KeepAliveClient;
using test_support::ProcOpenFds;
using test_support::ProcStatusKb;
using test_support::SubscribeAndStopReading;
using test_support::TcpPeerClosed;

// Overload specifics.
constexpr size_t kValidators = 4;
constexpr size_t kAccountTopicsPerSubscriber = 63;  // plus "blocks": the node's limit is 64
constexpr int kSmallRcvbufBytes = 4096;             // subscribers and non-readers
constexpr uint32_t kRefusedWithinMs = 1'000;        // a close this soon after connect = refused
constexpr uint32_t kFloodTickMs = 100;
constexpr uint32_t kSlowSenderByteMs = 1'000;  // a slow sender's pace
constexpr uint32_t kProbeTimeoutMs = 2'000;    // a new client's status call
constexpr uint32_t kDrainBudgetMs = 60'000;    // reading what subscribers never read, at the end
constexpr size_t kMaxDrainBytesPerSession = 32u << 20;
constexpr size_t kWarmupS = 3;  // not counted at the start of a measured window
// A transfer submitted after the overload waits behind the mempools' backlog (first in, first
// out): up to 100,000 transactions at the committed rate.
constexpr uint32_t kAfterCommitTimeoutMs = 300'000;

struct Options {
  std::string ledgerd;
  uint32_t normal_s = 30;
  uint32_t duration_s = 180;
  double factor = 10;
  size_t batch = 100;
  size_t submitters_per_node = 4;  // keep-alive connections submitting to each node
  size_t wallets = 2'000;
  size_t idle_per_node = 1'000;
  size_t slow_per_node = 10;
  size_t nonreaders_per_node = 10;
  size_t subscribers_per_node = 100;
  uint32_t reconnect_ms = 5'000;
  size_t max_pool = 600'000;
  bool keep = false;
};

// Every connection of this bench comes from 127.0.0.1, and it holds more than the node's default
// rpc.max_connections_per_address (64) on purpose (the subscribers alone are 100 per node): the
// per-address limit is raised to the whole rpc.max_connections (256, the default), so the flood
// measures the global limit, as from many clients. A flood from one address is refused past 64
// (RpcServerTest.ConnectionsFromOneAddressBeyondItsLimitAreClosed).
constexpr size_t kBenchMaxConnectionsPerAddress = 256;

Status RaisePerAddressLimit(const fs::path& config_file) {
  std::ifstream in(config_file);
  std::stringstream out;
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    if (line.starts_with("max_connections_per_address = ")) {
      line = "max_connections_per_address = " + std::to_string(kBenchMaxConnectionsPerAddress);
      found = true;
    }
    out << line << "\n";
  }
  if (!found)
    return MakeError(ErrorCode::kNotFound,
                     config_file.string() + ": no rpc.max_connections_per_address");
  std::ofstream(config_file) << out.str();
  return OkStatus();
}

// --- Overload ------------------------------------------------------------------------------------

// Every node's VmRSS, open descriptors and mempool size (`status` on a kept-alive connection,
// -1 when it does not answer) every second, from Start until Stop.
class RssSampler {
 public:
  struct Sample {
    double t_s;  // since Start
    std::vector<uint64_t> rss_kb;
    std::vector<uint64_t> fds;
    std::vector<int64_t> mempool_txs;
  };
  RssSampler(std::vector<pid_t> pids, const std::vector<tools::RpcEndpoint>& endpoints)
      : pids_(std::move(pids)) {
    for (const tools::RpcEndpoint& e : endpoints)
      clients_.push_back(std::make_unique<KeepAliveClient>(e));
  }
  ~RssSampler() { Stop(); }
  void Start() {
    start_ = Clock::now();
    thread_ = std::thread([this] {
      while (!stop_) {
        Sample s{MsBetween(start_, Clock::now()) / 1000.0, {}, {}, {}};
        for (size_t i = 0; i < pids_.size(); ++i) {
          s.rss_kb.push_back(ProcStatusKb(pids_[i], "VmRSS"));
          s.fds.push_back(ProcOpenFds(pids_[i]));
          auto st = clients_[i]->Call("status", json::object{}, 2'000);
          s.mempool_txs.push_back(st ? st->at("mempool_txs").to_number<int64_t>() : -1);
        }
        {
          std::lock_guard lock(mu_);
          samples_.push_back(std::move(s));
        }
        for (int k = 0; k < 20 && !stop_; ++k)
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double Now() const { return MsBetween(start_, Clock::now()) / 1000.0; }
  // The largest RSS of node i sampled in [from_s, to_s).
  uint64_t MaxIn(size_t i, double from_s, double to_s) {
    std::lock_guard lock(mu_);
    uint64_t m = 0;
    for (const Sample& s : samples_)
      if (s.t_s >= from_s && s.t_s < to_s) m = std::max(m, s.rss_kb[i]);
    return m;
  }
  // The last sample of node i at or before t_s.
  uint64_t At(size_t i, double t_s) {
    std::lock_guard lock(mu_);
    uint64_t v = 0;
    for (const Sample& s : samples_)
      if (s.t_s <= t_s) v = s.rss_kb[i];
    return v;
  }
  // The last sample at or before t_s.
  Sample SampleAt(double t_s) {
    std::lock_guard lock(mu_);
    Sample last{};
    for (const Sample& s : samples_)
      if (s.t_s <= t_s) last = s;
    return last;
  }
  // The largest mempool size and descriptor count of node i in [from_s, to_s).
  std::pair<int64_t, uint64_t> MaxMempoolAndFds(size_t i, double from_s, double to_s) {
    std::lock_guard lock(mu_);
    int64_t mempool = -1;
    uint64_t fds = 0;
    for (const Sample& s : samples_)
      if (s.t_s >= from_s && s.t_s < to_s) {
        mempool = std::max(mempool, s.mempool_txs[i]);
        fds = std::max(fds, s.fds[i]);
      }
    return {mempool, fds};
  }

 private:
  std::vector<pid_t> pids_;
  std::vector<std::unique_ptr<KeepAliveClient>> clients_;  // the sampler thread's
  Clock::time_point start_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Sample> samples_;
};

// Idle, slow-sending and non-reading connections to every node, held until Stop; a connection the
// node closes is counted and reopened reconnect_ms later.
class ConnectionFlood {
 public:
  enum Kind { kIdle = 0, kSlowSender = 1, kNonReader = 2 };
  static constexpr const char* kKindNames[] = {"idle", "slow_sender", "non_reader"};

  struct Counts {
    size_t opened = 0;
    size_t connect_failed = 0;        // connect() itself failed (backlog full, no ports)
    size_t refused_at_once = 0;       // closed within kRefusedWithinMs: over the connection limit
    size_t closed_later = 0;          // closed by the node after that (timeouts)
    std::vector<double> lifetimes_s;  // of closed_later
    size_t open_at_end = 0;
  };

  ConnectionFlood(std::vector<tools::RpcEndpoint> nodes, const Options& opt,
                  std::string nonreader_request)
      : nodes_(std::move(nodes)), opt_(opt), nonreader_request_(std::move(nonreader_request)) {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      // Slow ones first, so they are among the accepted (a slow client holds a slot it got).
      for (size_t k = 0; k < opt.slow_per_node; ++k)
        conns_.push_back(Conn{n, kSlowSender});
      for (size_t k = 0; k < opt.nonreaders_per_node; ++k)
        conns_.push_back(Conn{n, kNonReader});
    }
    for (size_t n = 0; n < nodes_.size(); ++n)
      for (size_t k = 0; k < opt.idle_per_node; ++k)
        conns_.push_back(Conn{n, kIdle});
  }
  ~ConnectionFlood() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (Conn& c : conns_) {
      if (c.fd < 0) continue;
      counts_[c.kind].open_at_end++;
      ::close(c.fd);
      c.fd = -1;
    }
  }
  const Counts& counts(Kind kind) const { return counts_[kind]; }

 private:
  struct Conn {
    size_t node;
    Kind kind;
    int fd = -1;
    Clock::time_point opened{};
    Clock::time_point reopen_at{};
    Clock::time_point next_byte{};
    size_t sent = 0;
  };

  void Run() {
    const std::string slow_request =
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 49\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}";
    while (!stop_) {
      const auto now = Clock::now();
      for (Conn& c : conns_) {
        if (stop_) break;
        Counts& k = counts_[c.kind];
        if (c.fd < 0) {
          if (now < c.reopen_at) continue;
          c.fd = ConnectTcp(nodes_[c.node], c.kind == kNonReader ? kSmallRcvbufBytes : 0);
          if (c.fd < 0) {
            k.connect_failed++;
            c.reopen_at = now + std::chrono::milliseconds(opt_.reconnect_ms);
            continue;
          }
          k.opened++;
          c.opened = now;
          c.next_byte = now;
          c.sent = 0;
          continue;
        }
        if (TcpPeerClosed(c.fd)) {
          const double ms = MsBetween(c.opened, now);
          if (ms <= kRefusedWithinMs) {
            k.refused_at_once++;
          } else {
            k.closed_later++;
            k.lifetimes_s.push_back(ms / 1000.0);
          }
          ::close(c.fd);
          c.fd = -1;
          c.reopen_at = now + std::chrono::milliseconds(opt_.reconnect_ms);
          continue;
        }
        if (c.kind == kSlowSender && now >= c.next_byte && c.sent < slow_request.size()) {
          if (::send(c.fd, slow_request.data() + c.sent, 1, MSG_NOSIGNAL) == 1) c.sent++;
          c.next_byte = now + std::chrono::milliseconds(kSlowSenderByteMs);
        } else if (c.kind == kNonReader) {
          // Pipelined requests, never a read; the node answers one at a time until its writes
          // stall on the full buffers. Partial sends are fine (the stream just continues).
          ::send(c.fd, nonreader_request_.data(), nonreader_request_.size(), MSG_NOSIGNAL);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kFloodTickMs));
    }
  }

  std::vector<tools::RpcEndpoint> nodes_;
  const Options& opt_;
  std::string nonreader_request_;
  std::vector<Conn> conns_;
  Counts counts_[3];
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What one submitter thread saw.
struct SubmitStats {
  std::map<std::string, size_t> statuses;     // per transaction: admitted, mempool_full, ...
  std::map<std::string, size_t> call_errors;  // per call that got no results
  size_t calls = 0;
  std::vector<std::pair<size_t, Clock::time_point>> admitted;  // pool index, sent at
  size_t pool_exhausted_calls = 0;
  void Merge(const SubmitStats& o) {
    for (const auto& [k, v] : o.statuses)
      statuses[k] += v;
    for (const auto& [k, v] : o.call_errors)
      call_errors[k] += v;
    calls += o.calls;
    admitted.insert(admitted.end(), o.admitted.begin(), o.admitted.end());
    pool_exhausted_calls += o.pool_exhausted_calls;
  }
};

// Submits from [begin, end) of the pool to one node until `until`, at rate_tps (0: one call after
// the other). Transactions answered mempool_full are offered again later (they were refused
// before any signature check, so they cost the node little and are still fresh).
class Submitter {
 public:
  Submitter(tools::RpcEndpoint endpoint, const std::vector<SignedTx>& pool, size_t begin,
            size_t end)
      : client_(std::move(endpoint)), pool_(pool), next_(begin), end_(end) {}

  bool Connect() { return client_.EnsureConnected(); }

  SubmitStats Run(Clock::time_point until, double rate_tps, size_t batch) {
    SubmitStats stats;
    const auto start = Clock::now();
    size_t offered = 0;
    while (Clock::now() < until) {
      if (rate_tps > 0) {
        const auto due = start + std::chrono::microseconds(static_cast<int64_t>(
                                     1e6 * static_cast<double>(offered) / rate_tps));
        if (due > until) break;
        std::this_thread::sleep_until(due);
      }
      std::vector<size_t> picked;
      while (picked.size() < batch && !retry_.empty()) {
        picked.push_back(retry_.front());
        retry_.pop_front();
      }
      while (picked.size() < batch && next_ < end_)
        picked.push_back(next_++);
      if (picked.empty()) {
        stats.pool_exhausted_calls++;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      offered += picked.size();
      json::array hex;
      for (size_t k : picked)
        hex.push_back(json::value(pool_[k].hex));
      const auto sent = Clock::now();
      stats.calls++;
      auto r = client_.CallRaw("submit_txs", json::object{{"txs", std::move(hex)}}, kRpcTimeoutMs);
      const json::value* result = r ? r->as_object().if_contains("result") : nullptr;
      if (result == nullptr) {
        std::string why =
            !r ? r.error().message : "rpc error " + json::serialize(r->at("error").at("code"));
        stats.call_errors[why]++;
        for (size_t k : picked)
          retry_.push_back(k);
        continue;
      }
      const json::array& results = result->at("results").as_array();
      for (size_t i = 0; i < results.size() && i < picked.size(); ++i) {
        std::string status = json::value_to<std::string>(results[i].at("status"));
        stats.statuses[status]++;
        if (status == "admitted") stats.admitted.emplace_back(picked[i], sent);
        if (status == "mempool_full") retry_.push_back(picked[i]);
      }
    }
    return stats;
  }

 private:
  KeepAliveClient client_;
  const std::vector<SignedTx>& pool_;
  size_t next_;
  size_t end_;
  std::deque<size_t> retry_;
};

// Runs one submitter per node until `until`; merged stats.
SubmitStats SubmitPhase(std::vector<std::unique_ptr<Submitter>>& submitters,
                        Clock::time_point until, double rate_tps, size_t batch) {
  std::vector<SubmitStats> per(submitters.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < submitters.size(); ++i)
    threads.emplace_back([&, i] {
      per[i] = submitters[i]->Run(until, rate_tps / static_cast<double>(submitters.size()), batch);
    });
  for (auto& t : threads)
    t.join();
  SubmitStats all;
  for (const SubmitStats& s : per)
    all.Merge(s);
  return all;
}

// Committed transactions per second in blocks the watcher saw in [from, to].
double CommittedTps(BlockWatcher& watcher, Clock::time_point from, Clock::time_point to) {
  size_t txs = 0;
  for (const BlockSeen& b : watcher.Blocks())
    if (b.seen >= from && b.seen <= to) txs += b.tx_count;
  const double s = MsBetween(from, to) / 1000.0;
  return s > 0 ? static_cast<double>(txs) / s : 0;
}

json::object CountsJson(const std::map<std::string, size_t>& m) {
  json::object out;
  for (const auto& [k, v] : m)
    out[k] = v;
  return out;
}

int Usage() {
  std::cerr << "usage: overload --ledgerd PATH [--normal-s N] [--duration-s N] [--factor X]\n"
               "                [--batch N] [--submitters-per-node N] [--wallets N] "
               "[--idle-per-node N] [--slow-per-node N]\n"
               "                [--nonreaders-per-node N] [--subscribers-per-node N]\n"
               "                [--reconnect-ms N] [--max-pool N] [--keep]\n";
  return 2;
}

void RaiseFileLimit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &r);
  std::cerr << "RLIMIT_NOFILE " << r.rlim_cur << "\n";
}

int Run(const Options& opt) {
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  json::array load_before = LoadAverage();
  RaiseFileLimit();
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  const size_t fds_needed = kValidators * (opt.idle_per_node + opt.slow_per_node +
                                           opt.nonreaders_per_node + opt.subscribers_per_node) +
                            256;
  if (files.rlim_cur < fds_needed) {
    std::cerr << "overload: needs " << fds_needed << " descriptors, RLIMIT_NOFILE is "
              << files.rlim_cur << "\n";
    return 1;
  }

  Consortium net;
  auto launched = [&]() -> Status {
    LEDGER_TRY(net.Create(kValidators, opt.keep));
    for (const Member& m : net.members())
      LEDGER_TRY(RaisePerAddressLimit(m.home / "config.toml"));
    std::cerr << "starting " << kValidators << " validators\n";
    return net.StartAll(opt.ledgerd);
  };
  if (auto s = launched(); !s) {
    std::cerr << "overload: " << s.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  std::vector<Member>& members = net.members();
  const std::string& chain = net.chain_id();
  std::vector<pid_t> pids;
  std::vector<tools::RpcEndpoint> endpoints;
  for (const Member& m : members) {
    pids.push_back(m.pid);
    endpoints.push_back(m.rpc);
  }
  RssSampler rss(pids, endpoints);
  rss.Start();
  // One kept-alive connection, so a node at its connection limit still answers the watcher.
  auto watch_client = std::make_shared<KeepAliveClient>(members[0].rpc);
  BlockWatcher watcher(
      [watch_client](std::string_view method, const json::value& params, uint32_t timeout_ms) {
        return watch_client->Call(method, params, timeout_ms);
      });
  watcher.Start();

  // Wallets spread over the banks; wallet 2k pays wallet 2k+1 and back, always at one bank.
  const size_t wallets = std::max<size_t>(2, opt.wallets & ~size_t{1});
  auto opened = OpenWallets(net, wallets, 100, watcher);
  if (!opened) {
    std::cerr << "overload: " << opened.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  const std::vector<Wallet>& w = *opened;

  // Normal load: saturating, one call in flight per node.
  const size_t normal_pool_size = static_cast<size_t>(opt.normal_s) * 3'000;
  std::cerr << "signing " << normal_pool_size << " transfers for the normal phase\n";
  std::vector<SignedTx> normal_pool = SignTransfers(chain, w, normal_pool_size, 0);
  std::vector<std::unique_ptr<Submitter>> normal_submitters;
  for (size_t i = 0; i < members.size(); ++i)
    normal_submitters.push_back(std::make_unique<Submitter>(
        members[i].rpc, normal_pool, i * normal_pool_size / members.size(),
        (i + 1) * normal_pool_size / members.size()));
  std::cerr << "normal load for " << opt.normal_s << " s\n";
  const double rss_normal_start_s = rss.Now();
  const auto normal_start = Clock::now();
  const auto normal_end = normal_start + std::chrono::seconds(opt.normal_s);
  SubmitStats normal = SubmitPhase(normal_submitters, normal_end, 0, opt.batch);
  const double normal_tps =
      CommittedTps(watcher, normal_start + std::chrono::seconds(kWarmupS), Clock::now());
  std::cerr << "normal committed rate " << normal_tps << " tx/s\n";
  if (normal_tps <= 0) {
    std::cerr << "overload: nothing committed under normal load\n";
    net.set_keep(true);
    return 1;
  }

  // The overload's pool: what commits at the normal rate over the run, plus every node's mempool.
  const double offered_tps = opt.factor * normal_tps;
  const size_t pool_size =
      std::min(opt.max_pool, static_cast<size_t>(normal_tps * opt.duration_s * 1.5) + 120'000);
  std::cerr << "signing " << pool_size << " transfers for the overload\n";
  std::vector<SignedTx> pool = SignTransfers(chain, w, pool_size, 1);

  // The block with the most transactions: the non-readers ask for it (a large answer).
  uint64_t big_height = 1;
  size_t big_txs = 0;
  for (const BlockSeen& b : watcher.Blocks())
    if (b.tx_count > big_txs) {
      big_txs = b.tx_count;
      big_height = b.height;
    }
  const std::string get_block_body =
      json::serialize(json::object{{"jsonrpc", "2.0"},
                                   {"id", 1},
                                   {"method", "get_block"},
                                   {"params", {{"height", big_height}}}});
  const std::string nonreader_request =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(get_block_body.size()) + "\r\n\r\n" + get_block_body;

  // Subscribers that stop reading, connected before the flood (they hold their slots).
  std::cerr << "connecting " << opt.subscribers_per_node << " non-reading subscribers per node\n";
  std::vector<int> subscribers;
  size_t subscribe_failed = 0;
  for (size_t n = 0; n < members.size(); ++n)
    for (size_t k = 0; k < opt.subscribers_per_node; ++k) {
      std::vector<std::string> accounts;
      for (size_t a = 0; a < kAccountTopicsPerSubscriber; ++a)
        accounts.push_back(ToHex(w[(k * kAccountTopicsPerSubscriber + a * 7 + n) % w.size()].id));
      int fd = SubscribeAndStopReading(members[n].rpc, accounts, kSmallRcvbufBytes, kRpcTimeoutMs);
      if (fd < 0)
        subscribe_failed++;
      else
        subscribers.push_back(fd);
    }

  std::vector<std::unique_ptr<Submitter>> submitters;
  const size_t n_submitters = members.size() * opt.submitters_per_node;
  for (size_t i = 0; i < n_submitters; ++i) {
    submitters.push_back(std::make_unique<Submitter>(members[i % members.size()].rpc, pool,
                                                     i * pool_size / n_submitters,
                                                     (i + 1) * pool_size / n_submitters));
    submitters.back()->Connect();
  }
  std::vector<double> cpu_before;
  for (size_t i = 0; i < members.size(); ++i)
    cpu_before.push_back(net.CpuSeconds(i));

  std::cerr << "overload for " << opt.duration_s << " s: " << offered_tps << " tx/s offered, "
            << opt.idle_per_node << " idle + " << opt.slow_per_node << " slow + "
            << opt.nonreaders_per_node << " non-reading connections per node\n";
  const double rss_overload_start_s = rss.Now();
  std::vector<uint64_t> rss_start_kb;
  for (size_t i = 0; i < members.size(); ++i)
    rss_start_kb.push_back(ProcStatusKb(pids[i], "VmRSS"));
  const auto overload_start = Clock::now();
  const auto overload_end = overload_start + std::chrono::seconds(opt.duration_s);
  ConnectionFlood flood(endpoints, opt, nonreader_request);
  flood.Start();
  // New clients: one status call per node per second on a new connection.
  std::atomic<size_t> probes_ok{0}, probes_failed{0};
  std::vector<double> probe_ms;
  std::thread prober([&] {
    while (Clock::now() < overload_end) {
      for (const Member& m : members) {
        const auto t = Clock::now();
        auto s = tools::RpcCall(m.rpc, "status", json::object{}, kProbeTimeoutMs);
        if (s) {
          probes_ok++;
          probe_ms.push_back(MsBetween(t, Clock::now()));
        } else {
          probes_failed++;
        }
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
  SubmitStats overload = SubmitPhase(submitters, overload_end, offered_tps, opt.batch);
  prober.join();
  const auto overload_stop = Clock::now();
  const double overload_tps =
      CommittedTps(watcher, overload_start + std::chrono::seconds(kWarmupS), overload_stop);
  const double rss_overload_end_s = rss.Now();
  std::vector<double> cpu_after;
  for (size_t i = 0; i < members.size(); ++i)
    cpu_after.push_back(net.CpuSeconds(i));
  flood.Stop();
  std::cerr << "overload over; committed " << overload_tps << " tx/s during it\n";

  // What the subscribers were sent and whether the node closed them: read it all now.
  size_t subscribers_closed = 0, subscribers_open = 0, subscribers_not_drained = 0;
  uint64_t subscriber_bytes = 0;
  const auto drain_start = Clock::now();
  for (int fd : subscribers) {
    if (MsBetween(drain_start, Clock::now()) >= kDrainBudgetMs) {
      subscribers_not_drained++;
      ::close(fd);
      continue;
    }
    size_t got = 0;
    bool closed = false;
    while (got < kMaxDrainBytesPerSession &&
           MsBetween(drain_start, Clock::now()) < kDrainBudgetMs) {
      char buf[65536];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n > 0) {
        got += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) continue;
        break;  // nothing more for now: the session is open
      }
      closed = true;  // end of stream or reset: the node closed it
      break;
    }
    subscriber_bytes += got;
    (closed || TcpPeerClosed(fd) ? subscribers_closed : subscribers_open)++;
    ::close(fd);
  }

  // Latency of transactions accepted during the overload (the watcher polls validator 0).
  std::cerr << "waiting up to 30 s for accepted transactions to be seen\n";
  std::this_thread::sleep_for(std::chrono::seconds(5));
  std::vector<double> latencies;
  size_t accepted_unseen = 0;
  for (const auto& [k, sent] : overload.admitted) {
    auto seen = watcher.SeenAt(pool[k].tx_id);
    if (seen)
      latencies.push_back(MsBetween(sent, *seen));
    else
      accepted_unseen++;
  }

  // After: a new client's status call, and one fresh transfer to commit (the mempools may still
  // hold the overload's backlog, so a mempool_full answer is retried).
  const auto after_start = Clock::now();
  auto after_status = tools::RpcCall(members[1].rpc, "status", json::object{}, kProbeTimeoutMs);
  const double after_status_ms = MsBetween(after_start, Clock::now());
  std::vector<SignedTx> after_tx = SignTransfers(chain, w, 1, 3);
  const auto after_submit = Clock::now();
  double after_commit_ms = -1;
  bool after_admitted = false;
  while (MsBetween(after_submit, Clock::now()) < kAfterCommitTimeoutMs) {
    if (!after_admitted) {
      auto r = tools::RpcCall(members[1].rpc, "submit_tx", json::object{{"tx", after_tx[0].hex}},
                              kProbeTimeoutMs);
      after_admitted = r.has_value();
    }
    if (after_admitted && watcher.SeenAt(after_tx[0].tx_id)) {
      after_commit_ms = MsBetween(after_submit, *watcher.SeenAt(after_tx[0].tx_id));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  watcher.StopThread();
  rss.Stop();

  // RSS per node: at the start and end of the overload, the peak (VmHWM), and the plateau test.
  const double span = rss_overload_end_s - rss_overload_start_s;
  json::array rss_nodes;
  bool all_plateaued = true;
  for (size_t i = 0; i < members.size(); ++i) {
    const uint64_t q2 =
        rss.MaxIn(i, rss_overload_start_s + span / 4, rss_overload_start_s + span / 2);
    const uint64_t q4 =
        rss.MaxIn(i, rss_overload_start_s + 3 * span / 4, rss_overload_end_s + 0.001);
    // Bounded: the last quarter's peak is within 10% (or 16 MiB) of the second quarter's.
    const bool plateaued = q4 <= std::max<uint64_t>(q2 + q2 / 10, q2 + 16 * 1024);
    all_plateaued = all_plateaued && plateaued;
    json::array series;  // the shape of the curve
    for (double t = rss_overload_start_s; t <= rss_overload_end_s + 0.001; t += 30)
      series.push_back(rss.At(i, t) / 1024);
    const auto [mempool_max, fds_max] =
        rss.MaxMempoolAndFds(i, rss_overload_start_s, rss_overload_end_s + 0.001);
    const RssSampler::Sample at_start = rss.SampleAt(rss_overload_start_s + 1.5);
    const RssSampler::Sample at_end = rss.SampleAt(rss_overload_end_s);
    rss_nodes.push_back(json::object{
        {"node", i},
        {"mempool_txs_max_during", mempool_max},
        {"mempool_txs_end", at_end.mempool_txs.empty() ? -1 : at_end.mempool_txs[i]},
        {"open_fds_start", at_start.fds.empty() ? 0 : at_start.fds[i]},
        {"open_fds_max_during", fds_max},
        {"open_fds_end", at_end.fds.empty() ? 0 : at_end.fds[i]},
        {"before_normal_kb", rss.At(i, rss_normal_start_s)},
        {"overload_start_kb", rss_start_kb[i]},
        {"overload_mid_kb", rss.At(i, rss_overload_start_s + span / 2)},
        {"overload_end_kb", rss.At(i, rss_overload_end_s)},
        {"max_second_quarter_kb", q2},
        {"max_last_quarter_kb", q4},
        {"after_kb", ProcStatusKb(pids[i], "VmRSS")},
        // VmRSS = anonymous memory (the heap, with the pages jemalloc keeps) + file pages mapped
        // (LevelDB reads its table files through mmap: page cache the kernel can reclaim).
        {"after_anon_kb", ProcStatusKb(pids[i], "RssAnon")},
        {"after_file_kb", ProcStatusKb(pids[i], "RssFile")},
        {"peak_hwm_kb", ProcStatusKb(pids[i], "VmHWM")},
        {"plateaued", plateaued},
        {"rss_every_30s_during_mb", series},
        {"cpu_percent_during", Round1(100.0 * (cpu_after[i] - cpu_before[i]) /
                                      (MsBetween(overload_start, overload_stop) / 1000.0))},
    });
  }

  json::object connections;
  for (int kind = 0; kind < 3; ++kind) {
    const auto& c = flood.counts(static_cast<ConnectionFlood::Kind>(kind));
    connections[ConnectionFlood::kKindNames[kind]] = json::object{
        {"opened", c.opened},
        {"connect_failed", c.connect_failed},
        {"refused_at_once", c.refused_at_once},
        {"closed_by_node_later", c.closed_later},
        {"lifetime_p50_s", Round1(Percentile(c.lifetimes_s, 0.5))},
        {"lifetime_max_s", Round1(Percentile(c.lifetimes_s, 1.0))},
        {"open_at_end", c.open_at_end},
    };
  }
  connections["new_client_status_probes"] =
      json::object{{"ok", probes_ok.load()},
                   {"failed", probes_failed.load()},
                   {"ok_p50_ms", Round1(Percentile(probe_ms, 0.5))}};
  connections["subscribers"] = json::object{
      {"per_node", opt.subscribers_per_node},
      {"subscribed", subscribers.size()},
      {"subscribe_failed", subscribe_failed},
      {"topics_each", kAccountTopicsPerSubscriber + 1},
      {"closed_by_node", subscribers_closed},
      {"still_open", subscribers_open},
      {"not_drained_within_budget", subscribers_not_drained},
      {"bytes_read_at_end", subscriber_bytes},
  };

  size_t overload_admitted = overload.admitted.size();
  json::object out{
      {"committed_tps_before", Round1(normal_tps)},
      {"committed_tps_during", Round1(overload_tps)},
      {"ratio_during_to_before", std::round(1000 * overload_tps / normal_tps) / 1000},
      {"offered_tps_during", Round1(offered_tps)},
      {"factor", opt.factor},
      {"accepted_latency_p50_ms", Round1(Percentile(latencies, 0.50))},
      {"accepted_latency_p99_ms", Round1(Percentile(latencies, 0.99))},
      {"accepted_during", overload_admitted},
      {"accepted_not_committed_5s_after", accepted_unseen},
      {"answers_during", CountsJson(overload.statuses)},
      {"call_errors_during", CountsJson(overload.call_errors)},
      {"submit_calls_during", overload.calls},
      {"pool_exhausted_calls", overload.pool_exhausted_calls},
      {"answers_before", CountsJson(normal.statuses)},
      {"connections", connections},
      {"rss", rss_nodes},
      {"rss_plateaued_all", all_plateaued},
      {"after", json::object{{"status_ok", after_status.has_value()},
                             {"status_ms", Round1(after_status_ms)},
                             {"transfer_commit_ms", Round1(after_commit_ms)}}},
      {"machine", json::object{{"cpu_model", CpuModel()}, {"cores", cores}}},
      {"load_average_before", load_before},
      {"load_average_after", LoadAverage()},
      {"params", json::object{{"validators", kValidators},
                              {"normal_s", opt.normal_s},
                              {"duration_s", opt.duration_s},
                              {"batch", opt.batch},
                              {"submitters_per_node", opt.submitters_per_node},
                              {"wallets", wallets},
                              {"idle_per_node", opt.idle_per_node},
                              {"slow_per_node", opt.slow_per_node},
                              {"nonreaders_per_node", opt.nonreaders_per_node},
                              {"subscribers_per_node", opt.subscribers_per_node},
                              {"reconnect_ms", opt.reconnect_ms},
                              {"pool", pool_size},
                              {"node_config", "defaults (docs/operations.md)"}}},
      {"commit_time", "client poll of status+get_block on validator 0 every 10 ms"},
  };
  std::cout << json::serialize(out) << std::endl;
  const bool ok = overload_tps > 0 && after_status.has_value();
  if (!ok) net.set_keep(true);
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace cl::bench

int main(int argc, char** argv) {
  cl::bench::Options opt;
  cl::bench::Args args(argc, argv, cl::bench::Usage);
  while (args.Next()) {
    const std::string& a = args.flag();
    if (a == "--ledgerd") {
      opt.ledgerd = args.Value();
    } else if (a == "--normal-s") {
      opt.normal_s = static_cast<uint32_t>(std::stoul(args.Value()));
    } else if (a == "--duration-s") {
      opt.duration_s = static_cast<uint32_t>(std::stoul(args.Value()));
    } else if (a == "--factor") {
      opt.factor = std::stod(args.Value());
    } else if (a == "--batch") {
      opt.batch = std::stoul(args.Value());
    } else if (a == "--submitters-per-node") {
      opt.submitters_per_node = std::stoul(args.Value());
    } else if (a == "--wallets") {
      opt.wallets = std::stoul(args.Value());
    } else if (a == "--idle-per-node") {
      opt.idle_per_node = std::stoul(args.Value());
    } else if (a == "--slow-per-node") {
      opt.slow_per_node = std::stoul(args.Value());
    } else if (a == "--nonreaders-per-node") {
      opt.nonreaders_per_node = std::stoul(args.Value());
    } else if (a == "--subscribers-per-node") {
      opt.subscribers_per_node = std::stoul(args.Value());
    } else if (a == "--reconnect-ms") {
      opt.reconnect_ms = static_cast<uint32_t>(std::stoul(args.Value()));
    } else if (a == "--max-pool") {
      opt.max_pool = std::stoul(args.Value());
    } else if (a == "--keep") {
      opt.keep = true;
    } else {
      return cl::bench::Usage();
    }
  }
  if (opt.ledgerd.empty() || opt.batch == 0 || opt.batch > 4096 || opt.submitters_per_node == 0 ||
      opt.duration_s < 8 || opt.normal_s <= cl::bench::kWarmupS ||
      opt.wallets < 2 * cl::bench::kAccountTopicsPerSubscriber)
    return cl::bench::Usage();
  return cl::bench::Run(opt);
}
