// The load client the cluster benchmarks share (bench/cluster_load.cc, bench/overload.cc): a local
// consortium of real ledgerd processes, funded wallets, signed transfers and a block watcher that
// records when this client learned of every committed transaction.
//
// Plain C++ (no GoogleTest), so the benchmarks stay ordinary programs; the integration tests have
// their own harness (tests/integration/harness.h), which asserts instead of returning errors.
//
// Thread safety: a Consortium is driven from the thread that created it (the death signal of its
// children follows that thread); the transaction functions are safe from any thread; a
// BlockWatcher's accessors may be called from any thread while its own thread runs.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "tests/support/localnet_members.h"
#include "tools/rpc_client.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::bench {

namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bounds of every wait.
inline constexpr uint32_t kRpcTimeoutMs = 30'000;    // one RPC call (a submit batch under load)
inline constexpr uint32_t kStartTimeoutMs = 30'000;  // every node answers status, peers connected
inline constexpr uint32_t kSetupCommitTimeoutMs = 120'000;  // the wallet-opening txs commit
inline constexpr uint32_t kStopTimeoutMs = 10'000;          // SIGTERM to exit, then SIGKILL
inline constexpr uint32_t kWatchIntervalMs = 10;  // the block watcher's status poll period
inline constexpr uint32_t kPollIntervalMs = 50;   // other waits
inline constexpr size_t kWalletsPerSetupTx = 32;  // create_account + issue = 2 ops each; limit 64
inline constexpr uint64_t kFundEach = 1'000'000;  // minor units issued to every wallet
inline constexpr uint64_t kValidUntilHeight = 1'000'000'000;

double MsBetween(Clock::time_point a, Clock::time_point b);

// --- Processes -----------------------------------------------------------------------------------

// A member as localnet.json lists it (name, home, rpc, governance key, ...) and its process.
struct Member : test_support::LocalnetMember {
  pid_t pid = -1;
};

// Owns the temporary directory and the node processes; the destructor kills and reaps every
// process and removes the directory (unless kept).
class Consortium {
 public:
  Consortium() = default;
  Consortium(const Consortium&) = delete;
  Consortium& operator=(const Consortium&) = delete;
  ~Consortium();

  // Writes a local consortium of `validators` into a new temporary directory.
  Status Create(size_t validators, bool keep);
  // Starts `ledgerd --home` for every member and waits until each answers status with every
  // other member connected (bounded by kStartTimeoutMs).
  Status StartAll(const std::string& ledgerd);
  // Create, then "starting N validators" on stderr, then StartAll.
  Status Launch(size_t validators, const std::string& ledgerd, bool keep);
  // SIGTERM to every member, SIGKILL after kStopTimeoutMs; reaps them all.
  void Stop();

  // CPU seconds (user + system) used so far by member i, from /proc/<pid>/stat.
  double CpuSeconds(size_t i) const;

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

Bytes NewId();  // random, never all zero, never the issuer pattern ff00..
Bytes IssuerAccount(uint32_t member_id);
ledger::pb::Operation TransferOp(const Bytes& debit, const Bytes& credit, uint64_t amount);
// Signs a body with these operations, valid until kValidUntilHeight. Exits the program (code 2)
// if it cannot parse its own transaction.
SignedTx Sign(const std::string& chain_id, const std::vector<ledger::pb::Operation>& ops,
              const crypto::PrivateKey& key);
// Opens `wallets` at their custodian and issues kFundEach to each, signed by the custodian's
// governance key (custodian approval for create_account, controller of the issuer account).
SignedTx OpenAndFund(const std::string& chain_id, const std::vector<const Wallet*>& wallets,
                     const crypto::PrivateKey& governance);
// `count` transfers of 1 unit, transfer k from wallet a = (k + offset) % w.size() to wallet a ^ 1,
// signed on every core.
std::vector<SignedTx> SignTransfers(const std::string& chain, const std::vector<Wallet>& w,
                                    size_t count, size_t offset);

// --- Block watcher -------------------------------------------------------------------------------

struct BlockSeen {
  uint64_t height = 0;
  uint64_t timestamp_ms = 0;  // the proposer's header time
  size_t tx_count = 0;
  Clock::time_point seen;  // when this client learned of it
};

// One JSON-RPC call: the result, or an error (as tools::RpcCall).
using RpcCaller = std::function<Result<json::value>(
    std::string_view method, const json::value& params, uint32_t timeout_ms)>;
// tools::RpcCall to `endpoint`: a new connection per call.
RpcCaller NewConnectionPerCall(tools::RpcEndpoint endpoint);

// Polls `status` on one node and fetches every new block; remembers when each tx id was seen.
class BlockWatcher {
 public:
  // `call` is used by the watcher thread only (and by Start before it).
  explicit BlockWatcher(RpcCaller call) : call_(std::move(call)) {}
  ~BlockWatcher() { StopThread(); }
  BlockWatcher(const BlockWatcher&) = delete;
  BlockWatcher& operator=(const BlockWatcher&) = delete;

  void Start();
  void StopThread();
  std::optional<Clock::time_point> SeenAt(const std::string& tx_id);
  size_t CountSeen(const std::vector<SignedTx>& txs);
  std::vector<BlockSeen> Blocks();
  std::string last_error();

 private:
  void Run();

  RpcCaller call_;
  uint64_t next_ = 1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> seen_;
  std::vector<BlockSeen> blocks_;
  std::string last_error_;
};

// --- Setup ---------------------------------------------------------------------------------------

// Submits `txs` (setup) to one node in batches and waits until the watcher has seen them all.
Status SubmitAndWait(const tools::RpcEndpoint& endpoint, const std::vector<SignedTx>& txs,
                     size_t batch, BlockWatcher& watcher);
// `count` wallets spread over the banks (wallet 2k and 2k+1 at the same bank), opened and funded
// through member 0 in submit batches of `batch`; waits until they are committed.
Result<std::vector<Wallet>> OpenWallets(Consortium& net, size_t count, size_t batch,
                                        BlockWatcher& watcher);

// --- Measurements --------------------------------------------------------------------------------

std::string CpuModel();
json::array LoadAverage();
double Percentile(std::vector<double> v, double p);
double Round1(double x);

// --- Command line --------------------------------------------------------------------------------

// Walks a command line of `--flag` and `--flag value` arguments:
//   Args args(argc, argv, Usage);
//   while (args.Next()) if (args.flag() == "--txs") opt.txs = std::stoul(args.Value()); ...
class Args {
 public:
  // `usage` prints the usage and returns the exit code for a bad command line.
  Args(int argc, char** argv, int (*usage)()) : argc_(argc), argv_(argv), usage_(usage) {}
  // Moves to the next argument; false after the last.
  bool Next();
  const std::string& flag() const { return flag_; }
  // The argument after the flag; without one, prints "<flag> needs a value" and exits with
  // usage().
  std::string Value();

 private:
  int argc_;
  char** argv_;
  int (*usage_)();
  int i_ = 0;
  std::string flag_;
};

}  // namespace cl::bench
