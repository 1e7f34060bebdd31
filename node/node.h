// The node: one process of the consortium. It joins the parts — p2p transport, the PBFT replica
// (validators only), the mempool, the ledger (LedgerApp) and the JSON-RPC server — around one
// driver thread that owns the replica and the ledger's writes.
//
//   transport thread  --(consensus, gossip, sync messages)-->  driver queue
//   RPC threads       --(submit: Mempool::Admit, then gossip; reads: LedgerApp)
//   driver thread     : feeds the replica (messages, ticks, proposals), carries out its effects,
//                       executes committed blocks (one synced batch each), reports execution roots,
//                       stores execution certificates, answers and sends sync requests, hands
//                       transaction gossip to the gossip worker and re-sends pending transactions
//                       to the current primary.
//   gossip worker     : admits peers' transaction gossip (signature checks in the parallel
//                       verifier), bounded per peer; a peer that sends a bad signature is ignored
//                       for kGossipPenaltyMs.
//
// Roles come from genesis: a member with the validator role runs the replica; any other member with
// a node key is an observer, which fetches certified blocks from validators, verifies their commit
// and execution certificates, executes them itself and stops if its result differs from the
// certified one. Every node accepts submissions and forwards them to the validators.
//
// Thread safety: Start/Stop/Wait from the owning thread; the query and submit methods from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "consensus/replica.h"
#include "crypto/parallel_verifier.h"
#include "genesis/genesis.h"
#include "ledger/leveldb_store.h"
#include "node/config.h"
#include "node/consensus_store.h"
#include "node/driver_queue.h"
#include "node/ledger_app.h"
#include "node/mempool.h"
#include "node/observer_sync.h"
#include "node/rpc_server.h"
#include "node/tx_resolver.h"
#include "p2p/membership.h"
#include "p2p/transport.h"

namespace cl::node {

// Limits of the driver.
// Inbound p2p messages waiting for the driver (DriverQueue): a message that would pass either
// limit is dropped and counted. The count alone allowed 65,536 messages of up to
// p2p::kMaxMessageBytes (16 MiB) each, a terabyte; the bytes bound what peers can make us hold.
inline constexpr size_t kMaxDriverQueue = 65'536;
inline constexpr uint64_t kMaxDriverQueueBytes = uint64_t{64} << 20;
static_assert(kMaxDriverQueueBytes >= p2p::kMaxMessageBytes, "one largest message always fits");
inline constexpr uint32_t kSyncBlocksPerRequest = 16;
inline constexpr size_t kMaxSyncReplyBytes = 12u << 20;
inline constexpr uint64_t kSyncRetryMs = 1'000;      // re-ask when a reply does not come
inline constexpr uint64_t kBusyBlockIntervalMs = 2;  // while transactions wait
// Blocks the primary keeps in consensus at once: it proposes height h + 1 while h is still being
// agreed on and executed, so the replicas' execution of one block overlaps the voting on the next.
inline constexpr uint64_t kMaxBlocksInFlight = 3;
// The state tree's LevelDB, under node.data_dir. Reaches disk: do not change.
inline constexpr std::string_view kStateStoreDir = "state";
inline constexpr uint64_t kPruneEveryBlocks = 64;    // how often old state versions are dropped
inline constexpr size_t kMaxVerifiedCache = 20'000;  // proposal txs verified, not pooled

// Transaction gossip (node.cc). Gossip is admitted on its own worker thread, never on the driver,
// so a flood of transactions to verify cannot delay consensus.
// Gossip bytes from one peer waiting for the gossip worker; more are dropped (the sender sends
// pending transactions again, kRegossipIntervalMs).
inline constexpr size_t kMaxQueuedGossipBytesPerPeer = 32u << 20;
// A peer that gossips a transaction whose signature does not verify is faulty (honest nodes
// forward only what they admitted): its gossip is ignored for this long.
inline constexpr uint64_t kGossipPenaltyMs = 60'000;
// Pooled transactions not committed after kRegossipMinAgeMs are sent again: to the current
// primary by a validator (at once after a view change, and every kRegossipIntervalMs), to every
// validator by an observer. At most kMaxRegossipTxs / kMaxRegossipBytes per round, oldest first.
inline constexpr uint64_t kRegossipIntervalMs = 2'000;
inline constexpr uint64_t kRegossipMinAgeMs = 2'000;
inline constexpr size_t kMaxRegossipTxs = 4'096;
inline constexpr size_t kMaxRegossipBytes = 4u << 20;
// A transaction pooled this long is logged, once, when it is the oldest one sent again.
inline constexpr uint64_t kStalePendingWarnMs = 60'000;

enum class Role { kValidator, kObserver };

struct NodeStatus {
  std::string member;
  Role role = Role::kObserver;
  uint64_t height = 0;
  Hash32 last_block_digest;
  uint64_t last_block_time_ms = 0;
  Hash32 state_root;
  // The view in which the last block committed (from its commit certificate; 0 at genesis) and
  // that view's primary. Meaningful on observers too.
  uint64_t committed_view = 0;
  uint32_t committed_primary = 0;
  // This replica's own view and its primary (validators only; may be ahead of committed_view
  // while a view change is under way).
  uint64_t replica_view = 0;
  uint32_t replica_primary = 0;
  bool in_view_change = false;
  size_t mempool_txs = 0;
  uint64_t oldest_pending_ms = 0;  // age of the oldest pooled transaction
  size_t peers_connected = 0;
  uint64_t consensus_drops = 0;
  uint64_t gossip_invalid_signature_batches = 0;  // gossip batches refused for bad signatures
  bool halted = false;
};

namespace pb {
class TxBatch;
}

class Node {
 public:
  // Checks the config against genesis (member, key, peers) and opens the data directory.
  static Result<std::unique_ptr<Node>> Open(NodeConfig config, genesis::Genesis genesis,
                                            crypto::PrivateKey key);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Starts p2p, RPC and the driver.
  Status Start();
  // Stops everything; idempotent. Committed state is on disk already.
  void Stop();
  // Blocks until Stop() is called or the node stops on a fatal error (returned).
  Status Wait();

  // Admits transactions and forwards those admitted to the validators.
  std::vector<AdmitResult> Submit(std::span<const ByteSpan> envelopes);

  // The node's status; a read of its databases that fails (the state root, the last block's
  // commit certificate) is the error, never a zero or default value.
  Result<NodeStatus> GetStatus() const;
  // Whether the node stopped on a fatal error (reads nothing).
  bool halted() const;
  const LedgerApp& ledger() const { return *app_; }
  const Mempool& mempool() const { return *mempool_; }
  Role role() const;
  uint64_t epoch() const;  // the epoch this node runs (a validator) or follows (an observer)
  uint16_t p2p_port() const { return p2p_port_; }
  uint16_t rpc_port() const { return rpc_ ? rpc_->port() : 0; }
  RpcServer* rpc_server() { return rpc_.get(); }
  const NodeConfig& config() const { return config_; }

  // Called on the driver thread after each committed block (for subscriptions).
  void AddCommitListener(std::function<void(const CommitResult&)> listener);

 private:
  class App;  // consensus::Application over LedgerApp
  Node(NodeConfig config, genesis::Genesis genesis, crypto::PrivateKey key);
  Status Init();

  Result<std::vector<consensus::ExecutedTip>> RestoreExecutionState();
  Result<consensus::ExecutedTip> ReadExecutedTip(uint64_t height);  // from the execution record
  void DriverLoop();
  void HandleMessage(const InboundMessage& message, uint64_t now_ms);
  void ApplyEffects(consensus::Effects effects);
  void ExecuteDelivered();
  void MaybePropose(uint64_t now_ms);
  void MaybeSync(uint64_t now_ms);
  void HandleSyncRequest(const crypto::PublicKey& from, uint64_t from_height, uint32_t max_blocks);
  void HandleSyncReply(const crypto::PublicKey& from, const std::string& reply);
  void AfterCommit(const CommitResult& result);
  void Fatal(std::string reason);

  Result<std::vector<ledger::VerifiedTx>> Resolve(const ledger::DecodedBlock& block);
  void SendToValidators(p2p::Priority priority, const std::string& message);
  // Sends to one validator; a refused send is logged when a run of them starts and ends.
  void SendToValidator(size_t index, const crypto::PublicKey& key, p2p::Priority priority,
                       const std::string& message);

  // Epochs (docs/consensus.md "Epochs"). The driver thread owns role_, validator_index_,
  // validator_keys_ and epoch_; other threads read the snapshot view_ (mu_).
  struct EpochView {
    uint64_t epoch = 0;
    Role role = Role::kObserver;
    uint32_t index = 0;
    std::vector<crypto::PublicKey> keys;
  };
  std::shared_ptr<const EpochView> View() const;
  // Makes `epoch` with `keys` the node's (validator if its key is among them, else observer).
  void SetEpoch(uint64_t epoch, std::vector<crypto::PublicKey> keys);
  // Makes the replica of epoch_ (with its own consensus store); `restart`: from what this node
  // executed and persisted before it stopped.
  Status StartReplica(uint64_t now, bool restart);
  Status RestoreRetiredReplica(uint64_t now);
  // A finished epoch's replica retires and the next epoch's starts (or the node follows it as an
  // observer); an observer whose next height is in a later epoch takes that epoch.
  void MaybeSwitchEpoch(uint64_t now);
  void ApplyRetiredEffects(consensus::Effects effects);
  void StoreExecutionCertificates(const std::vector<consensus::pb::ExecutionCertificate>& certs);
  // p2p admits the members of the latest state (MemberKeys), and the configured peers are dialed
  // under their current keys: after a block changed members (a key rotated, a member removed).
  void RefreshMembership();
  void LogCatchUp(uint64_t tip);
  // An observer's catch-up (LogCatchUp), driver thread only.
  struct CatchUp {
    bool active = false;
    uint64_t started_ms = 0;
    uint64_t start_height = 0;
    uint64_t logged_ms = 0;
    uint64_t txs = 0;  // transactions committed from sync replies since it started
  };
  CatchUp catch_up_;
  // Transaction gossip from peers, admitted on the gossip worker thread.
  void QueueGossip(const crypto::PublicKey& from, pb::TxBatch batch, uint64_t now_ms);
  void GossipLoop();
  void AdmitGossip(const crypto::PublicKey& from, const pb::TxBatch& batch);
  void MaybeRegossip(uint64_t now_ms);
  void LogReplicaChanges(const consensus::ReplicaStatus& status);
  uint64_t MonotonicMs() const;
  uint64_t WallMs() const;

  const NodeConfig config_;
  const genesis::Genesis genesis_;
  const crypto::PrivateKey key_;
  Role role_ = Role::kObserver;
  uint32_t validator_index_ = 0;
  std::vector<crypto::PublicKey> validator_keys_;
  uint64_t epoch_ = 0;
  std::shared_ptr<const EpochView> view_;  // mu_
  // The previous epoch's replica, kept after its epoch ended: it answers the state requests and
  // hears the votes of validators still finishing that epoch (driver thread only).
  struct RetiredReplica {
    uint64_t epoch = 0;
    std::vector<crypto::PublicKey> keys;
    uint32_t index = 0;
    std::unique_ptr<ConsensusStore> store;
    std::unique_ptr<consensus::Replica> replica;
    uint64_t next_tick_ms = 0;
  };
  std::unique_ptr<RetiredReplica> retired_;
  std::shared_ptr<p2p::StaticMembership> membership_;
  std::set<crypto::PublicKey> dialed_;  // peer keys given to the transport (driver thread)

  std::unique_ptr<ledger::LevelDbStore> store_;
  // The state tree's own LevelDB (data_dir/state; ledger_app.h says why it is separate).
  std::unique_ptr<ledger::LevelDbStore> state_store_;
  std::unique_ptr<LedgerApp> app_;
  std::unique_ptr<crypto::ParallelVerifier> verifier_;
  std::unique_ptr<Mempool> mempool_;
  std::unique_ptr<ConsensusStore> consensus_store_;
  std::unique_ptr<App> consensus_app_;
  std::unique_ptr<consensus::Replica> replica_;  // validators only
  std::unique_ptr<p2p::Transport> transport_;
  std::unique_ptr<RpcDispatcher> dispatcher_;
  std::unique_ptr<RpcServer> rpc_;
  uint16_t p2p_port_ = 0;

  // Driver state (driver thread only).
  std::deque<consensus::CommittedBlock> delivered_;
  bool executing_ = false;
  // Transactions of proposals this node verified that are not in its mempool (node/tx_resolver.h).
  VerifiedEnvelopeCache verified_cache_;
  uint64_t next_tick_ms_ = 0;
  uint64_t last_block_ms_ = 0;  // monotonic time of the last commit or proposal
  // This node's own proposals that have not committed yet, by height (all of the current view).
  struct InFlightBlock {
    uint64_t view = 0;
    Hash32 digest;
    uint64_t timestamp_ms = 0;
    uint64_t proposed_at_ms = 0;  // monotonic
    std::vector<Hash32> tx_ids;
  };
  std::map<uint64_t, InFlightBlock> in_flight_;
  uint64_t sync_requested_at_ms_ = 0;
  uint64_t sync_requested_height_ = 0;
  // The one sync request outstanding; a reply must answer it (node/observer_sync.h).
  std::optional<SyncRequestSent> sync_request_;
  size_t sync_peer_cursor_ = 0;
  // Consensus traffic refused on the way in or out (issue 14, defects 11 and 12).
  uint64_t consensus_from_non_validator_ = 0;  // a member that is not a validator sent consensus
  uint64_t consensus_send_failures_ = 0;       // p2p refused a consensus message (queue full, ...)
  std::vector<bool> consensus_send_failing_;   // per validator: logged once until a send succeeds
  void SendConsensus(uint32_t to, const std::string& bytes);
  std::vector<std::function<void(const CommitResult&)>> listeners_;
  uint64_t last_regossip_ms_ = 0;
  uint64_t regossip_view_ = 0;
  Hash32 warned_stale_tx_;  // the last transaction logged as waiting past kStalePendingWarnMs  //
                            // the view whose primary was last sent the stale transactions
  consensus::ReplicaStatus logged_status_;  // the replica state last logged

  // Gossip worker (gossip_mu_).
  struct QueuedGossip {
    crypto::PublicKey from;
    std::shared_ptr<pb::TxBatch> batch;
    size_t bytes = 0;
  };
  std::mutex gossip_mu_;
  std::condition_variable gossip_cv_;
  std::deque<QueuedGossip> gossip_queue_;
  std::map<crypto::PublicKey, size_t> gossip_queued_bytes_per_peer_;
  std::map<crypto::PublicKey, uint64_t> gossip_ignored_until_ms_;
  bool gossip_stopping_ = false;
  std::thread gossip_worker_;
  // Validators whose last send was refused (mu_), so a failing forward is logged once.
  std::vector<bool> send_failing_;

  // Shared with other threads.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  DriverQueue inbound_{kMaxDriverQueue, kMaxDriverQueueBytes};
  bool wake_ = false;
  bool stopping_ = false;
  std::optional<Error> fatal_;
  std::atomic<uint64_t> inbound_dropped_{0};
  std::atomic<uint64_t> sync_replies_dropped_{0};  // unsolicited, unasked-for or not verifying
  std::atomic<size_t> peers_connected_{0};
  std::atomic<uint64_t> gossip_invalid_signature_batches_{0};
  consensus::ReplicaStatus replica_status_;  // copy for GetStatus
  std::thread driver_;
  bool started_ = false;
};

}  // namespace cl::node
