// Test harness for the integration tests: a local consortium of real `ledgerd` processes on
// loopback, written by tools::InitLocalnet into a fresh temporary directory per test (random free
// ports below the kernel's ephemeral range, so parallel test runs rarely collide and outgoing
// connections never take them), plus JSON-RPC helpers (the tools client and a
// raw HTTP client for malformed input), bounded wait helpers and a transaction factory.
//
// Every process is started with PR_SET_PDEATHSIG, and the Cluster destructor kills (SIGKILL) and
// reaps every process it started, so no node outlives a test even when the test fails or the test
// binary is killed. On failure the destructor prints the tail of every node's log and keeps the
// directory; on success the directory is removed.
//
// Thread safety: a Cluster is driven from the test's main thread (Start/Kill/Restart must be called
// from the thread that created it, because the death signal follows the spawning thread); Call,
// RawPost and the TxFactory's const methods may be used from other threads.
#pragma once

#include <sys/types.h>

#include <gtest/gtest.h>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "ledger/ledger.pb.h"
#include "tools/rpc_client.h"
#include "util/bytes.h"
#include "util/status.h"

// Asserts that a Status or Result holds a value, printing the error otherwise.
#define IT_ASSERT_OK(expr)                                                              \
  do {                                                                                  \
    auto&& it_result_ = (expr);                                                         \
    ASSERT_TRUE(it_result_.has_value()) << #expr << ": " << it_result_.error().message; \
  } while (0)

namespace cl::integration {

namespace json = boost::json;
namespace fs = std::filesystem;

// Bounds of every wait, so a hung node fails a test instead of hanging it.
inline constexpr uint32_t kRpcTimeoutMs = 10'000;     // one RPC call
inline constexpr uint32_t kStartTimeoutMs = 15'000;   // a node answers `status` after spawn
inline constexpr uint32_t kCommitTimeoutMs = 30'000;  // submitted transactions commit
inline constexpr uint32_t kStopTimeoutMs = 10'000;    // SIGTERM to exit
inline constexpr uint32_t kPollIntervalMs = 50;       // between checks of a wait condition
inline constexpr size_t kLogTailLines = 40;           // printed per node on failure
inline constexpr size_t kMaxHttpResponseBytes = 64u << 20;

// Polls `condition` every kPollIntervalMs until it holds or `timeout_ms` passes. The failure
// message names `what` and the time waited.
::testing::AssertionResult WaitUntil(const std::function<bool()>& condition, uint32_t timeout_ms,
                                     const std::string& what);

// One member of the local consortium, as listed in DIR/localnet.json.
struct Member {
  uint32_t member_id = 0;
  std::string name;
  std::string slug;
  fs::path home;
  bool validator = false;
  tools::RpcEndpoint rpc;
  std::string p2p;  // host:port
  // Also controls the member's issuer account (banks). Replaced by the real key on load.
  crypto::PrivateKey governance = crypto::PrivateKey::Generate();
  pid_t pid = -1;  // -1 when not running
  int starts = 0;
  int last_wait_status = 0;  // waitpid status of the last exit the harness saw (0 before any)
};

struct ClusterOptions {
  uint32_t validators = 4;
  uint32_t observers = 1;
  std::string chain_id = "localnet";
};

class Cluster {
 public:
  // Writes a fresh local consortium into a new temporary directory. Nothing is started.
  static Result<std::unique_ptr<Cluster>> Create(ClusterOptions options);
  // A new temporary directory and no members: the test writes the homes itself (e.g. with
  // `ledgerctl node init`) and adds each with AddMember. Removed like Create's.
  static Result<std::unique_ptr<Cluster>> CreateEmpty(std::string chain_id);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  size_t size() const { return members_.size(); }
  const Member& member(size_t i) const { return members_.at(i); }
  Member& mutable_member(size_t i) { return members_.at(i); }
  const fs::path& dir() const { return dir_; }
  const std::string& chain_id() const { return chain_id_; }
  // Indices of the members with each role, in localnet.json order (validator index = member index).
  std::vector<size_t> validators() const;
  std::vector<size_t> observers() const;
  // Adds a process the harness manages like the others (e.g. an intruder with its own home);
  // returns its index.
  size_t AddMember(Member member);

  // Spawns `ledgerd --home` for member i (stdout and stderr appended to DIR/<slug>.log).
  Status Spawn(size_t i);
  // Spawns and waits until `status` answers.
  Status Start(size_t i);
  // Starts every member (all spawned first, then each waited for).
  Status StartAll();
  // SIGKILL and reap. No-op when not running.
  void Kill(size_t i);
  // SIGTERM and wait (bounded) for a clean exit; returns the exit status or an error.
  Result<int> Terminate(size_t i);
  // Whether the process is still alive (reaps it if it exited; its exit is logged to stderr).
  bool Running(size_t i);

  // JSON-RPC to member i through the tools client.
  Result<json::value> Call(size_t i, std::string_view method, const json::value& params = {},
                           uint32_t timeout_ms = kRpcTimeoutMs) const;
  Result<json::object> GetStatus(size_t i) const;
  // get_block(height) on member i: the block summary (digest, state_root, ...).
  Result<json::object> Block(size_t i, uint64_t height) const;
  // The last `lines` lines of member i's log.
  std::string LogTail(size_t i, size_t lines = kLogTailLines) const;
  fs::path LogPath(size_t i) const;

 private:
  Cluster() = default;
  fs::path dir_;
  std::string chain_id_;
  std::vector<Member> members_;
};

// --- Raw HTTP, for input no well-behaved client sends --------------------------------------------

struct HttpResponse {
  int status = 0;  // HTTP status code
  std::string body;
};
// Sends `request` bytes as-is (the caller writes the request line and headers) and reads the
// response until the server closes or one response is complete (Content-Length).
Result<HttpResponse> RawExchange(const tools::RpcEndpoint& endpoint, std::string_view request,
                                 uint32_t timeout_ms = kRpcTimeoutMs);
// POST / with `body` as the JSON-RPC payload (any text).
Result<HttpResponse> RawPost(const tools::RpcEndpoint& endpoint, std::string_view body,
                             uint32_t timeout_ms = kRpcTimeoutMs);
// One JSON-RPC batch of `method` calls, one per params entry; the responses ordered by id.
Result<std::vector<json::value>> BatchCall(const tools::RpcEndpoint& endpoint,
                                           std::string_view method,
                                           const std::vector<json::value>& params,
                                           uint32_t timeout_ms = kRpcTimeoutMs);

// --- Transactions --------------------------------------------------------------------------------

// A customer wallet: an account id and the key that controls it.
struct Wallet {
  Bytes id;  // 16 bytes
  crypto::PrivateKey key;
  std::string asset;
  uint32_t custodian = 0;
};

struct SignedTx {
  Bytes envelope;
  std::string hex;    // the envelope, for submit_tx
  std::string tx_id;  // hex
};

// Builds and signs transactions for one chain. Ids and nonces are random (unique across runs).
class TxFactory {
 public:
  explicit TxFactory(std::string chain_id) : chain_id_(std::move(chain_id)) {}

  static Bytes NewId();  // 16 random bytes, never all zero, never the issuer pattern ff00..
  // The issuer account of bank `member_id`: ff00..00<id>.
  static Bytes IssuerAccount(uint32_t member_id);
  static std::string AssetOf(uint32_t member_id) { return "USD." + std::to_string(member_id); }

  // A wallet at bank `custodian` in its deposit token, controlled by a fresh key (not yet created).
  static Wallet NewWallet(uint32_t custodian);

  static ledger::pb::Operation CreateAccountOp(const Wallet& wallet);
  static ledger::pb::Operation TransferOp(const Bytes& id, const Bytes& debit, const Bytes& credit,
                                          uint64_t amount);

  // Signs a body with these operations, valid for a long time.
  SignedTx Sign(const std::vector<ledger::pb::Operation>& ops,
                const std::vector<crypto::PrivateKey>& keys) const;

  // Creates `wallets` (all at the same custodian) and issues `issue_each` to each, signed by the
  // custodian's governance key (custodian approval and the issuer account's controller).
  SignedTx OpenAndFund(const std::vector<Wallet>& wallets, const crypto::PrivateKey& governance,
                       uint64_t issue_each) const;
  // A transfer from `from` to `to`, signed by `from`'s key.
  SignedTx Pay(const Wallet& from, const Wallet& to, uint64_t amount) const;

  const std::string& chain_id() const { return chain_id_; }

 private:
  std::string chain_id_;
};

// --- Cluster-level helpers -----------------------------------------------------------------------

// submit_tx on member i; OK when admitted or already known.
Status Submit(const Cluster& cluster, size_t i, const SignedTx& tx);
// get_tx on member i: "unknown", "pending", "committed" (and the receipt's status for
// committed ones in receipt_status).
struct TxState {
  std::string status;
  std::string receipt_status;
  uint64_t height = 0;
};
Result<std::vector<TxState>> GetTxs(const Cluster& cluster, size_t i,
                                    const std::vector<std::string>& tx_ids);
// Waits until every tx is committed with a committed receipt on member i.
::testing::AssertionResult WaitCommitted(const Cluster& cluster, size_t i,
                                         const std::vector<std::string>& tx_ids,
                                         uint32_t timeout_ms = kCommitTimeoutMs);
// The height member i reports, or 0 when it does not answer.
uint64_t HeightOf(const Cluster& cluster, size_t i);
// Waits until every listed member reports a height >= `height`.
::testing::AssertionResult WaitHeight(const Cluster& cluster, const std::vector<size_t>& members,
                                      uint64_t height, uint32_t timeout_ms = kCommitTimeoutMs);
// peers_connected reported by member i, or -1 when it does not answer.
int64_t PeersOf(const Cluster& cluster, size_t i);
// Waits until every listed member reports at least `peers` connected peers.
::testing::AssertionResult WaitPeers(const Cluster& cluster, const std::vector<size_t>& members,
                                     int64_t peers, uint32_t timeout_ms = kStartTimeoutMs);
// Compares get_block (digest and state root) for every height in [from, to] on every listed member
// against the first one's.
::testing::AssertionResult SameChain(const Cluster& cluster, const std::vector<size_t>& members,
                                     uint64_t from, uint64_t to);
// get_account(id) balance (a signed decimal string) on member i at `height`.
Result<std::string> Balance(const Cluster& cluster, size_t i, const Bytes& account,
                            uint64_t height);

// --- Proof bundles -------------------------------------------------------------------------------

// `ledger-audit verify --genesis GENESIS BUNDLE FLAGS`: its exit code and output.
struct AuditRun {
  int exit_code = -1;
  std::string output;
};
AuditRun RunAudit(const fs::path& genesis, const fs::path& bundle, const std::string& flags = "");
// get_proof on member i, written to a file in the cluster's directory; returns its path.
Result<fs::path> FetchBundle(const Cluster& c, size_t i, const json::object& params,
                             const std::string& name);

// --- Payment load --------------------------------------------------------------------------------

// One payer (funded with `funding`) and one payee (not funded) at the bank of each listed member,
// opened through that member; appended to payers and payees, their transaction ids to setup_ids.
// Does not wait for them to commit.
::testing::AssertionResult OpenPayersAndPayees(const Cluster& cluster, const TxFactory& factory,
                                               const std::vector<size_t>& members, uint64_t funding,
                                               std::vector<Wallet>& payers,
                                               std::vector<Wallet>& payees,
                                               std::vector<std::string>& setup_ids);

// Submits payments in small batches (kBatch, kPauseMs apart), round robin over the members marked
// alive, until stopped: payer k pays payee k one unit. Remembers every admitted transaction with
// its payer and the member that admitted it. Driven from the test's thread; Admitted and errors
// may be read while it runs.
class PaymentLoad {
 public:
  static constexpr size_t kBatch = 8;
  static constexpr uint32_t kPauseMs = 40;

  struct Sent {
    std::string tx_id;
    size_t payer;  // index into payers
    size_t node;   // the member that admitted it
  };

  PaymentLoad(const Cluster& cluster, const TxFactory& factory, std::vector<Wallet> payers,
              std::vector<Wallet> payees);
  ~PaymentLoad() { Stop(); }
  PaymentLoad(const PaymentLoad&) = delete;
  PaymentLoad& operator=(const PaymentLoad&) = delete;

  void Begin();
  void Stop();
  // A member not marked alive is skipped (e.g. while it is killed).
  void SetAlive(size_t i, bool alive) { alive_[i] = alive; }

  std::vector<Sent> Admitted() const;
  std::vector<std::string> AdmittedIds() const;
  // Those admitted by a member other than `node` (a node that stops loses its mempool: what it
  // admitted and had not yet forwarded is the client's to resubmit, docs/operations.md).
  std::vector<std::string> AdmittedByOthersThan(size_t node) const;
  // submit_txs calls that failed (e.g. the node was killed between the check and the call).
  size_t errors() const { return errors_; }

 private:
  void Run();

  const Cluster& cluster_;
  const TxFactory& factory_;
  const std::vector<Wallet> payers_, payees_;
  std::vector<std::atomic<bool>> alive_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> errors_{0};
  mutable std::mutex mu_;
  std::vector<Sent> admitted_;
  std::thread thread_;
};

}  // namespace cl::integration
