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
// Written for bench/cluster.sh; the processes, transactions and block watcher are the load client
// it shares with bench/overload.cc (bench/load_client.h).
//
// Thread safety: the main thread owns the processes; client threads only read the pre-signed
// transactions and write their own slots; the watcher's maps are guarded by a mutex.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/load_client.h"
#include "crypto/keys.h"
#include "tools/rpc_client.h"
#include "util/status.h"

namespace cl::bench {
namespace {

constexpr size_t kMaxHttpResponseBytes = 64u << 20;
constexpr size_t kGetTxChunk = 200;  // get_tx calls per JSON-RPC batch (server limit 256)

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
  if (auto s = net.Launch(kValidators, opt.ledgerd, opt.keep); !s) {
    std::cerr << "cluster_load: " << s.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  std::vector<Member>& members = net.members();
  const std::string& chain = net.chain_id();
  BlockWatcher watcher(NewConnectionPerCall(members[0].rpc));
  watcher.Start();

  // Wallets spread over the banks; wallet 2k pays wallet 2k+1 and back, always at one bank.
  const size_t wallets = std::max<size_t>(2, opt.wallets & ~size_t{1});
  auto opened = OpenWallets(net, wallets, opt.batch, watcher);
  if (!opened) {
    std::cerr << "cluster_load: " << opened.error().message << "\n";
    net.set_keep(true);
    return 1;
  }
  const std::vector<Wallet>& w = *opened;

  std::cerr << "signing " << opt.txs << " transfers\n";
  std::vector<SignedTx> txs = SignTransfers(chain, w, opt.txs, 0);

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
  cl::bench::Args args(argc, argv, cl::bench::Usage);
  while (args.Next()) {
    const std::string& a = args.flag();
    if (a == "--ledgerd") {
      opt.ledgerd = args.Value();
    } else if (a == "--txs") {
      opt.txs = std::stoul(args.Value());
    } else if (a == "--batch") {
      opt.batch = std::stoul(args.Value());
    } else if (a == "--clients") {
      opt.clients = std::stoul(args.Value());
    } else if (a == "--wallets") {
      opt.wallets = std::stoul(args.Value());
    } else if (a == "--rate") {
      opt.rate = std::stod(args.Value());
    } else if (a == "--verify-sigs") {
      opt.verify_sigs = std::stoul(args.Value());
    } else if (a == "--commit-timeout-s") {
      opt.commit_timeout_s = static_cast<uint32_t>(std::stoul(args.Value()));
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
