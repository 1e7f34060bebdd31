#include "node/node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "consensus/messages.h"
#include "ledger/block.h"
#include "node/node.pb.h"
#include "node/proof_rpc.h"
#include "node/rpc_methods.h"
#include "node/storage_failure.h"
#include "node/tx_resolver.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/hex.h"

namespace cl::node {
namespace {

std::string Serialize(const pb::NodeMessage& message) {
  return message.SerializeAsString();
}

std::string ShortKey(const crypto::PublicKey& key) {
  return key.ToHex().substr(0, 12);
}

// A consensus envelope travels as NodeMessage{consensus = 1}: a tag byte and a length varint of at
// most 4 bytes (the length is below 2^28). Every consensus message, blocks included, fits one p2p
// message, so none is ever dropped for its size (issue 14, defect 11).
constexpr uint64_t kNodeMessageOverheadBytes = 1 + 4;
static_assert(consensus::kMaxConsensusMessageBytes < (uint64_t{1} << 28));
static_assert(consensus::kMaxConsensusMessageBytes + kNodeMessageOverheadBytes <=
              p2p::kMaxMessageBytes);
// The ledger's largest block is a payload consensus can carry.
static_assert(ledger::kMaxBlockBytes <= consensus::kMaxPayloadBytes);
// A sync reply holds whole blocks up to kMaxSyncReplyBytes, and always its first: both fit a frame.
static_assert(kMaxSyncReplyBytes < consensus::kMaxConsensusMessageBytes);
static_assert(genesis::kMaxValidators <= consensus::kMaxValidators,
              "genesis must refuse a validator set consensus cannot run");

}  // namespace

// The consensus application: validation and delivery go to the ledger; delivered blocks are queued
// and executed by the driver right after the replica call returns (the replica must not be called
// back from inside).
class Node::App final : public consensus::Application {
 public:
  explicit App(Node* node) : node_(node) {}

  bool ValidatePayload(uint64_t height, ByteSpan payload) override {
    auto ok = node_->app_->CheckProposal(
        height, payload, node_->WallMs(),
        [this](const ledger::DecodedBlock& b) { return node_->Resolve(b); });
    if (!ok) spdlog::warn("proposal for height {} refused: {}", height, ok.error().message);
    return ok.has_value();
  }

  void DeliverBlock(const consensus::CommittedBlock& block) override {
    node_->delivered_.push_back(block);
  }

  std::optional<consensus::pb::CertifiedBlock> LoadBlock(uint64_t height) override {
    const ledger::BlockStore& blocks = node_->app_->blocks();
    auto payload = blocks.GetBlock(height);
    auto cert = blocks.GetCommitCertificate(height);
    if (!payload || !cert || !payload->has_value() || !cert->has_value()) return std::nullopt;
    consensus::pb::CertifiedBlock out;
    out.set_height(height);
    out.set_payload(ToString(**payload));
    if (!out.mutable_commit_cert()->ParseFromArray((*cert)->data(),
                                                   static_cast<int>((*cert)->size())))
      return std::nullopt;
    auto exec = blocks.GetExecutionCertificate(height);
    if (exec && exec->has_value())
      out.mutable_exec_cert()->ParseFromArray((*exec)->data(), static_cast<int>((*exec)->size()));
    return out;
  }

 private:
  Node* node_;
};

Node::Node(NodeConfig config, genesis::Genesis genesis, crypto::PrivateKey key)
    : config_(std::move(config)), genesis_(std::move(genesis)), key_(std::move(key)) {}

Node::~Node() {
  Stop();
}

Result<std::unique_ptr<Node>> Node::Open(NodeConfig config, genesis::Genesis genesis,
                                         crypto::PrivateKey key) {
  std::unique_ptr<Node> node(new Node(std::move(config), std::move(genesis), std::move(key)));
  LEDGER_TRY(node->Init());
  return node;
}

Status Node::Init() {
  const std::string file = config_.config_file.string();
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec)
    return MakeError(ErrorCode::kIoError,
                     config_.data_dir.string() + ": cannot create data directory: " + ec.message());
  ledger::LevelDbOptions options;
  options.env = config_.storage_env;
  options.name = "chain database";
  auto store = ledger::LevelDbStore::Open(config_.data_dir, options);
  if (!store) return std::unexpected(store.error());
  store_ = std::move(*store);
  // Inside the chain's directory, which LevelDB leaves alone (it touches only its own file names).
  const std::filesystem::path state_dir = config_.data_dir / kStateStoreDir;
  options.name = "state database";
  auto state_store = ledger::LevelDbStore::Open(state_dir, options);
  if (!state_store) return std::unexpected(state_store.error());
  state_store_ = std::move(*state_store);
  auto app = LedgerApp::Open(store_.get(), state_store_.get(), genesis_);
  if (!app)
    return MakeError(app.error().code, config_.data_dir.string() + ": " + app.error().message);
  app_ = std::move(*app);
  verifier_ = std::make_unique<crypto::ParallelVerifier>();
  MempoolConfig mempool_config{genesis_.chain_id, config_.mempool_max_txs, 256u << 20, {}};
  mempool_config.committed_height =
      [app = app_.get()](const Hash32& id) -> Result<std::optional<uint64_t>> {
    auto location = app->blocks().FindTx(id);
    if (!location) return std::unexpected(location.error());
    if (!location->has_value()) return std::optional<uint64_t>();
    return std::optional<uint64_t>((*location)->height());
  };
  mempool_ = std::make_unique<Mempool>(std::move(mempool_config), verifier_.get());
  // Who am I: the member named in the config must be a member of the latest state (genesis's, or
  // added since), not removed, and hold this node key: its current one, or the one a set in force
  // still has for it (a rotated key signs until its epoch ends).
  auto members = app_->Members();
  if (!members) return std::unexpected(members.error());
  const ledger::pb::MemberRecord* me = nullptr;
  for (const auto& m : *members)
    if (m.name() == config_.member) me = &m;
  if (me == nullptr)
    return MakeError(ErrorCode::kInvalidArgument,
                     file + ": node.member: '" + config_.member + "' is not a member");
  if (me->removed_height() != 0)
    return MakeError(ErrorCode::kInvalidArgument, file + ": node.member: '" + config_.member +
                                                      "' was removed at height " +
                                                      std::to_string(me->removed_height()));
  const crypto::PublicKey pub = key_.GetPublicKey();
  const std::string pub_bytes(pub.bytes.begin(), pub.bytes.end());
  bool mine = me->node_key() == pub_bytes;
  const ledger::pb::EpochRecord record = app_->epoch_record();
  for (const auto* set : {&record.current(), &record.next()})
    for (const auto& v : set->validators())
      mine = mine || (v.member() == me->id() && v.node_key() == pub_bytes);
  if (!mine)
    return MakeError(
        ErrorCode::kInvalidArgument,
        config_.key_file.string() + ": the key is not the node key of '" + config_.member + "'");
  for (size_t i = 0; i < config_.peers.size(); ++i) {
    bool known = false;
    for (const auto& m : *members)
      known = known || (m.name() == config_.peers[i].member && m.removed_height() == 0);
    if (!known)
      return MakeError(ErrorCode::kInvalidArgument, file + ": p2p.peers[" + std::to_string(i) +
                                                        "].member: '" + config_.peers[i].member +
                                                        "' is not a member");
  }
  // The epoch of the next height: its set says whether this node votes (docs/consensus.md).
  const uint64_t height = app_->height();
  uint64_t epoch = app_->EpochFor(height + 1);
  std::vector<crypto::PublicKey> keys = app_->ValidatorsFor(height + 1);
  // Stopped at an epoch's last height before its certificate was stored here: that epoch is
  // finished first (its replica signs its vote again, or takes the certificate its consensus
  // store kept, or fetches it), then the node moves on (review finding: it skipped to the next
  // epoch, and nobody restarted that way would ever certify the height).
  if (epoch > 0 && height > 0 && app_->EpochFor(height) == epoch - 1) {
    auto cert = app_->blocks().GetExecutionCertificate(height);
    if (!cert) return std::unexpected(cert.error());
    if (!cert->has_value()) {
      epoch -= 1;
      keys = app_->ValidatorsFor(height);
    }
  }
  SetEpoch(epoch, std::move(keys));
  return OkStatus();
}

std::shared_ptr<const Node::EpochView> Node::View() const {
  std::lock_guard lock(mu_);
  return view_;
}

Role Node::role() const {
  return View()->role;
}

uint64_t Node::epoch() const {
  return View()->epoch;
}

void Node::SetEpoch(uint64_t epoch, std::vector<crypto::PublicKey> keys) {
  const crypto::PublicKey pub = key_.GetPublicKey();
  epoch_ = epoch;
  role_ = Role::kObserver;
  validator_index_ = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == pub) {
      role_ = Role::kValidator;
      validator_index_ = static_cast<uint32_t>(i);
    }
  }
  validator_keys_ = std::move(keys);
  consensus_send_failing_.assign(validator_keys_.size(), false);
  auto view =
      std::make_shared<EpochView>(EpochView{epoch_, role_, validator_index_, validator_keys_});
  std::lock_guard lock(mu_);
  view_ = std::move(view);
  send_failing_.assign(validator_keys_.size(), false);
}

namespace {
// The height below `epoch`'s first: 0 for epoch 0.
uint64_t EpochBase(const ledger::pb::EpochRecord& record, uint64_t epoch) {
  if (record.has_next() && record.next().epoch() == epoch)
    return record.next().activation_height() - 1;
  if (record.current().epoch() == epoch) return record.current().activation_height() - 1;
  return 0;
}
}  // namespace

// The previous epoch's replica again after a restart, if this node was in that set: it serves the
// validators still finishing that epoch (blocks, and its vote for the epoch's last height).
Status Node::RestoreRetiredReplica(uint64_t now) {
  if (epoch_ == 0) return OkStatus();
  const uint64_t previous = epoch_ - 1;
  const uint64_t end = EpochBase(app_->epoch_record(), epoch_);
  if (end == 0 || end > app_->height()) return OkStatus();
  std::vector<crypto::PublicKey> keys = app_->ValidatorsFor(end);
  const crypto::PublicKey pub = key_.GetPublicKey();
  auto self = std::find(keys.begin(), keys.end(), pub);
  if (self == keys.end()) return OkStatus();
  uint64_t base = 0;
  if (previous > 0) {
    auto scheduled = app_->ScheduledEpoch(previous);
    if (!scheduled) return std::unexpected(scheduled.error());
    if (!scheduled->has_value()) return OkStatus();
    base = (*scheduled)->activation_height - 1;
  }
  auto tip = ReadExecutedTip(end);
  if (!tip) return std::unexpected(tip.error());
  auto retired = std::make_unique<RetiredReplica>();
  retired->epoch = previous;
  retired->keys = keys;
  retired->index = static_cast<uint32_t>(self - keys.begin());
  retired->store = std::make_unique<ConsensusStore>(store_.get(), previous);
  consensus::ReplicaConfig rc;
  rc.chain_id = genesis_.chain_id;
  rc.validators = std::move(keys);
  rc.self = retired->index;
  rc.key = key_;
  rc.epoch = previous;
  rc.base_height = base;
  rc.end_height = end;
  rc.max_block_bytes = genesis_.consensus.max_block_bytes;
  rc.view_timeout_ms = config_.consensus_view_timeout_ms;
  rc.propose_delay_ms = 4 * genesis_.consensus.block_interval_ms;
  rc.seed = retired->index + 1;
  rc.payload_digest = [app = app_.get()](ByteSpan payload) { return app->Digest(payload); };
  retired->replica =
      std::make_unique<consensus::Replica>(rc, consensus_app_.get(), retired->store.get(),
                                           std::vector<consensus::ExecutedTip>{*tip}, now);
  retired_ = std::move(retired);
  return OkStatus();
}

Status Node::StartReplica(uint64_t now, bool restart) {
  consensus_store_ = std::make_unique<ConsensusStore>(store_.get(), epoch_);
  consensus::ReplicaConfig rc;
  rc.chain_id = genesis_.chain_id;
  rc.validators = validator_keys_;
  rc.self = validator_index_;
  rc.key = key_;
  rc.epoch = epoch_;
  const ledger::pb::EpochRecord record = app_->epoch_record();
  rc.base_height = EpochBase(record, epoch_);
  // A change already executed ends this epoch (the replica otherwise learns it in OnExecuted).
  if (record.has_next() && record.next().epoch() == epoch_ + 1 &&
      record.next().changed_height() <= app_->height())
    rc.end_height = record.next().activation_height() - 1;
  rc.max_block_bytes = genesis_.consensus.max_block_bytes;
  rc.view_timeout_ms = config_.consensus_view_timeout_ms;
  // The node proposes a block at least every block_interval_ms; the replica's own empty
  // proposals are only a fallback.
  rc.propose_delay_ms = 4 * genesis_.consensus.block_interval_ms;
  rc.seed = validator_index_ + 1;
  rc.payload_digest = [app = app_.get()](ByteSpan payload) { return app->Digest(payload); };
  if (!restart) {
    replica_ = std::make_unique<consensus::Replica>(rc, consensus_app_.get(),
                                                    consensus_store_.get(), app_->height(), now);
    return OkStatus();
  }
  auto tips = RestoreExecutionState();
  if (!tips) return std::unexpected(tips.error());
  replica_ = std::make_unique<consensus::Replica>(rc, consensus_app_.get(), consensus_store_.get(),
                                                  *tips, now);
  return OkStatus();
}

void Node::MaybeSwitchEpoch(uint64_t now) {
  if (replica_) {
    const consensus::ReplicaStatus st = replica_->status();
    if (!st.epoch_finished) return;
    const uint64_t first = st.end_height + 1;
    auto retired = std::make_unique<RetiredReplica>();
    retired->epoch = epoch_;
    retired->keys = validator_keys_;
    retired->index = validator_index_;
    retired->store = std::move(consensus_store_);
    retired->replica = std::move(replica_);
    retired->next_tick_ms = next_tick_ms_;
    retired_ = std::move(retired);
    next_tick_ms_ = 0;
    in_flight_.clear();
    SetEpoch(app_->EpochFor(first), app_->ValidatorsFor(first));
  } else {
    const uint64_t next = app_->height() + 1;
    const uint64_t epoch = app_->EpochFor(next);
    if (epoch == epoch_) return;
    SetEpoch(epoch, app_->ValidatorsFor(next));
  }
  spdlog::info("epoch {} from height {}: {} validators; this node is {}", epoch_,
               EpochBase(app_->epoch_record(), epoch_) + 1, validator_keys_.size(),
               role_ == Role::kValidator ? "validator " + std::to_string(validator_index_)
                                         : std::string("an observer"));
  if (role_ != Role::kValidator) return;
  if (Status started = StartReplica(now, /*restart=*/false); !started) {
    Fatal("starting the replica of epoch " + std::to_string(epoch_) + ": " +
          started.error().message);
    return;
  }
  ApplyEffects(replica_->Start(now));
}

void Node::RefreshMembership() {
  auto keys = app_->MemberKeys();
  if (!keys) {
    if (IsStorageFailure(keys.error())) StopOnStorageFailure("reading the members", keys.error());
    Fatal("reading the members: " + keys.error().message);
    return;
  }
  membership_->Replace(*keys);
  // Each configured peer under its member's current node key (a rotated key: the new one too).
  auto members = app_->Members();
  if (!members) {
    Fatal("reading the members: " + members.error().message);
    return;
  }
  for (const PeerConfig& peer : config_.peers) {
    for (const auto& m : *members) {
      if (m.name() != peer.member || m.removed_height() != 0) continue;
      auto key = crypto::PublicKey::Parse(AsSpan(m.node_key()));
      if (!key || dialed_.contains(*key)) continue;
      dialed_.insert(*key);
      transport_->AddPeer(*key, peer.address.host, peer.address.port);
    }
  }
}

// Newly formed certificates (of either epoch's replica) go into the block store; one of a height
// not yet executed here is stored once this node executes it.
void Node::StoreExecutionCertificates(
    const std::vector<consensus::pb::ExecutionCertificate>& certs) {
  for (const consensus::pb::ExecutionCertificate& cert : certs) {
    auto fields = consensus::DecodeExecutionVoteBody(cert.body());
    if (!fields || fields->height > app_->height()) continue;
    auto status = app_->StoreExecutionCertificate(fields->height, AsSpan(cert.SerializeAsString()));
    if (!status && IsStorageFailure(status.error()))
      StopOnStorageFailure(
          "storing the execution certificate of block " + std::to_string(fields->height),
          status.error());
    if (!status) Fatal("cannot store an execution certificate: " + status.error().message);
  }
}

void Node::ApplyRetiredEffects(consensus::Effects effects) {
  RetiredReplica& r = *retired_;
  for (consensus::Outbound& out : effects.messages) {
    pb::NodeMessage message;
    message.set_consensus(std::move(out.bytes));
    const std::string bytes = Serialize(message);
    for (size_t i = 0; i < r.keys.size(); ++i) {
      if (i == r.index || (out.to != consensus::kBroadcast && out.to != i)) continue;
      if (!transport_->Send(r.keys[i], p2p::Priority::kConsensus, ToBytes(bytes)))
        ++consensus_send_failures_;
    }
  }
  if (effects.next_tick_ms) r.next_tick_ms = *effects.next_tick_ms;
  StoreExecutionCertificates(effects.execution_certs);
}

// At a validator's start: the consensus store's checkpoint goes into the block store if it is
// missing there (the replica writes it to the consensus store first, and a stop before the block
// store's write would lose it for good: the restarted replica treats that height as done), and
// what the application executed above the checkpoint without a stored certificate, for the replica
// to sign those execution votes again.
Result<std::vector<consensus::ExecutedTip>> Node::RestoreExecutionState() {
  // Read here, before the replica is made, so a failed read refuses the start (exit 2) like every
  // other startup refusal; the replica's Load gets what was read.
  auto loaded = consensus_store_->Read();
  if (!loaded)
    return MakeError(loaded.error().code, "reading consensus state: " + loaded.error().message);
  const std::string checkpoint = loaded->checkpoint;
  uint64_t checkpoint_height = 0;
  if (!checkpoint.empty()) {
    consensus::pb::ExecutionCertificate cert;
    auto fields = cert.ParseFromString(checkpoint)
                      ? consensus::DecodeExecutionVoteBody(cert.body())
                      : MakeError(ErrorCode::kCorruption, "unparsable checkpoint certificate");
    if (!fields)
      return MakeError(fields.error().code,
                       "chain database " + config_.data_dir.string() +
                           ": consensus checkpoint: " + fields.error().message);
    checkpoint_height = fields->height;
    if (fields->height <= app_->height()) {
      auto stored = app_->blocks().GetExecutionCertificate(fields->height);
      if (!stored) return std::unexpected(stored.error());
      if (!stored->has_value()) {
        // Stored only when it certifies what this node executed at that height (the replica
        // verified its signatures before it wrote it; a mismatch means a damaged database).
        auto executed = app_->blocks().GetExecuted(fields->height);
        if (!executed) return std::unexpected(executed.error());
        const bool matches = executed->has_value() &&
                             ToString(fields->block_digest.span()) == (*executed)->header_hash() &&
                             ToString(fields->state_root.span()) == (*executed)->state_root() &&
                             ToString(fields->result_root.span()) == (*executed)->receipt_root();
        if (!matches)
          return MakeError(ErrorCode::kCorruption,
                           "chain database " + config_.data_dir.string() +
                               ": the consensus checkpoint certificate of block " +
                               std::to_string(fields->height) +
                               " does not match the block's execution record");
        LEDGER_TRY(app_->StoreExecutionCertificate(fields->height, AsSpan(checkpoint)));
      }
    }
  }
  // The executed heights at or below the checkpoint whose certificate the block store lacks (the
  // replica owed them before the stop, or would have: it owes them again and fetches them from its
  // peers, signing nothing), the last kMaxOwedCertificates of them; then those above it (the
  // replica may never have sent their votes), and the executed height in any case: at most
  // kMaxOwedCertificates + 1, the highest. At most 2 * kMaxOwedCertificates + 1 in all.
  const uint64_t executed_height = app_->height();
  std::vector<consensus::ExecutedTip> tips;
  if (executed_height == 0) return tips;
  const uint64_t owed_top = std::min(checkpoint_height, executed_height);
  const uint64_t owed_from = owed_top > consensus::kMaxOwedCertificates
                                 ? owed_top - consensus::kMaxOwedCertificates + 1
                                 : 1;
  for (uint64_t height = owed_from; height <= owed_top; ++height) {
    auto stored = app_->blocks().GetExecutionCertificate(height);
    if (!stored) return std::unexpected(stored.error());
    if (stored->has_value()) continue;
    auto executed = app_->blocks().GetExecuted(height);
    if (!executed) return std::unexpected(executed.error());
    if (!executed->has_value()) continue;  // no record to compare a certificate with
    auto tip = ReadExecutedTip(height);
    if (!tip) return std::unexpected(tip.error());
    tips.push_back(*tip);
  }
  LEDGER_ASSERT(tips.size() <= consensus::kMaxOwedCertificates);
  if (!tips.empty() && tips.back().height == executed_height) return tips;  // checkpoint above it
  uint64_t from = checkpoint_height + 1;
  if (from > executed_height) {
    from = executed_height;  // the replica ignores a height at or below its checkpoint
  } else if (executed_height - from > consensus::kMaxOwedCertificates) {
    from = executed_height - consensus::kMaxOwedCertificates;
  }
  for (uint64_t height = from; height <= executed_height; ++height) {
    if (height < executed_height) {
      auto stored = app_->blocks().GetExecutionCertificate(height);
      if (!stored) return std::unexpected(stored.error());
      if (stored->has_value()) continue;
    }
    auto tip = ReadExecutedTip(height);
    if (!tip) return std::unexpected(tip.error());
    tips.push_back(*tip);
  }
  return tips;
}

Result<consensus::ExecutedTip> Node::ReadExecutedTip(uint64_t height) {
  consensus::ExecutedTip tip;
  tip.height = height;
  auto executed = app_->blocks().GetExecuted(tip.height);
  if (!executed) return std::unexpected(executed.error());
  if (!executed->has_value())
    return MakeError(ErrorCode::kCorruption, "chain database " + config_.data_dir.string() +
                                                 ": block " + std::to_string(tip.height) +
                                                 " has no execution record");
  auto digest = Hash32::FromSpan(AsSpan((*executed)->header_hash()));
  auto state_root = Hash32::FromSpan(AsSpan((*executed)->state_root()));
  auto receipt_root = Hash32::FromSpan(AsSpan((*executed)->receipt_root()));
  if (!digest || !state_root || !receipt_root)
    return MakeError(ErrorCode::kCorruption, "chain database " + config_.data_dir.string() +
                                                 ": the execution record of block " +
                                                 std::to_string(tip.height) + " is malformed");
  tip.digest = *digest;
  tip.state_root = *state_root;
  tip.result_root = *receipt_root;
  // The change the block scheduled, if any: the vote signed again must be the one signed before.
  for (uint64_t epoch = 1;; ++epoch) {
    auto set = app_->ScheduledEpoch(epoch);
    if (!set) return std::unexpected(set.error());
    if (!set->has_value() || (*set)->changed_height > height) break;
    if ((*set)->changed_height == height)
      tip.scheduled = consensus::EpochChange{(*set)->set_hash, (*set)->activation_height};
  }
  return tip;
}

uint64_t Node::MonotonicMs() const {
  return SystemClock().MonotonicMs();
}
uint64_t Node::WallMs() const {
  return SystemClock().NowUnixMs();
}

Status Node::Start() {
  LEDGER_ASSERT(!started_);
  const uint64_t now = MonotonicMs();
  if (genesis_.consensus.max_block_bytes > consensus::kMaxPayloadBytes)
    return MakeError(ErrorCode::kInvalidArgument,
                     "genesis: consensus.max_block_bytes " +
                         std::to_string(genesis_.consensus.max_block_bytes) +
                         " exceeds the largest block consensus can carry (" +
                         std::to_string(consensus::kMaxPayloadBytes) + " bytes)");
  // Also on an observer: it starts a replica when an epoch it is a validator of begins.
  consensus_app_ = std::make_unique<App>(this);
  if (role_ == Role::kValidator) {
    LEDGER_TRY(StartReplica(now, /*restart=*/true));
  }
  LEDGER_TRY(RestoreRetiredReplica(now));

  // p2p admits the members of the latest state (genesis's, and governance changes since).
  auto members = app_->MemberKeys();
  if (!members) return std::unexpected(members.error());
  membership_ = std::make_shared<p2p::StaticMembership>(std::move(*members));
  p2p::TransportOptions options;
  options.chain_id = genesis_.chain_id;
  options.listen_host = config_.p2p_listen.host;
  options.listen_port = config_.p2p_listen.port;
  p2p::TransportHandlers handlers;
  handlers.on_message = [this](const crypto::PublicKey& peer, ByteSpan message) {
    std::lock_guard lock(mu_);
    if (!inbound_.Push(peer, message)) {
      inbound_dropped_++;
      return;
    }
    cv_.notify_one();
  };
  handlers.on_peer_up = [this](const crypto::PublicKey& peer) {
    peers_connected_++;
    spdlog::info("peer up {}", ShortKey(peer));
  };
  handlers.on_peer_down = [this](const crypto::PublicKey& peer) {
    peers_connected_--;
    spdlog::info("peer down {}", ShortKey(peer));
  };
  handlers.on_connection_closed = [](const std::optional<crypto::PublicKey>& peer,
                                     const std::string& reason) {
    spdlog::debug("connection {} closed: {}", peer ? ShortKey(*peer) : "(unauthenticated)", reason);
  };
  transport_ = std::make_unique<p2p::Transport>(options, p2p::Identity::FromPrivateKey(key_),
                                                membership_, std::move(handlers));
  auto port = transport_->Start();
  if (!port)
    return MakeError(port.error().code,
                     config_.config_file.string() + ": p2p.listen: " + port.error().message);
  p2p_port_ = *port;
  RefreshMembership();

  dispatcher_ = std::make_unique<RpcDispatcher>();
  RegisterRpcMethods(*dispatcher_, *this);
  RegisterProofMethods(*dispatcher_, *this);
  RpcServerConfig rpc_config;
  rpc_config.address = config_.rpc_listen.host;
  rpc_config.port = config_.rpc_listen.port;
  rpc_config.max_body_bytes = config_.rpc_max_body_bytes;
  rpc_config.max_connections = config_.rpc_max_connections;
  rpc_config.max_connections_per_address = config_.rpc_max_connections_per_address;
  rpc_config.idle_timeout_ms = config_.rpc_idle_timeout_ms;
  rpc_config.bearer_tokens = config_.rpc_bearer_tokens;
  rpc_ = std::make_unique<RpcServer>(rpc_config, *dispatcher_);
  auto rpc_status = rpc_->Start();
  if (!rpc_status) {
    transport_->Stop();
    return MakeError(rpc_status.error().code,
                     config_.config_file.string() + ": rpc.listen: " + rpc_status.error().message);
  }
  AddCommitListener([this](const CommitResult& r) { PublishCommit(*rpc_, *this, r); });

  started_ = true;
  spdlog::info("{} started as {} at height {}; p2p {}:{}, rpc {}:{}", config_.member,
               role_ == Role::kValidator ? "validator " + std::to_string(validator_index_)
                                         : std::string("observer"),
               app_->height(), config_.p2p_listen.host, p2p_port_, config_.rpc_listen.host,
               rpc_->port());
  gossip_worker_ = std::thread([this] { GossipLoop(); });
  driver_ = std::thread([this] { DriverLoop(); });
  return OkStatus();
}

void Node::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !driver_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (driver_.joinable()) driver_.join();
  {
    std::lock_guard lock(gossip_mu_);
    gossip_stopping_ = true;
    gossip_cv_.notify_all();
  }
  if (gossip_worker_.joinable()) gossip_worker_.join();
  if (rpc_) rpc_->Stop();
  if (transport_) transport_->Stop();
}

Status Node::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stopping_; });
  if (fatal_) return std::unexpected(*fatal_);
  return OkStatus();
}

void Node::Fatal(std::string reason) {
  spdlog::critical("stopping: {}", reason);
  std::lock_guard lock(mu_);
  if (!fatal_) fatal_ = Error{ErrorCode::kInternal, std::move(reason)};
  stopping_ = true;
  cv_.notify_all();
}

void Node::AddCommitListener(std::function<void(const CommitResult&)> listener) {
  listeners_.push_back(std::move(listener));
}

std::vector<AdmitResult> Node::Submit(std::span<const ByteSpan> envelopes) {
  auto results = mempool_->Admit(envelopes, app_->height(), app_->last_timestamp_ms());
  pb::NodeMessage gossip;
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].status == AdmitStatus::kAdmitted)
      gossip.mutable_txs()->add_txs(envelopes[i].data(), envelopes[i].size());
  if (gossip.txs().txs_size() > 0) {
    SendToValidators(p2p::Priority::kGossip, Serialize(gossip));
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_one();
  }
  return results;
}

void Node::SendToValidators(p2p::Priority priority, const std::string& message) {
  const std::shared_ptr<const EpochView> view = View();  // RPC threads call this too
  for (size_t i = 0; i < view->keys.size(); ++i) {
    if (view->role == Role::kValidator && i == view->index) continue;
    SendToValidator(i, view->keys[i], priority, message);
  }
}

void Node::SendToValidator(size_t index, const crypto::PublicKey& key, p2p::Priority priority,
                           const std::string& message) {
  // Opened but not started (the RPC fuzz target serves a node with no sockets): nothing to send
  // through, and pending transactions are sent again once the transport runs (re-gossip).
  if (transport_ == nullptr) return;
  const bool sent = transport_->Send(key, priority, ToBytes(message));
  std::lock_guard lock(mu_);
  if (index >= send_failing_.size() || send_failing_[index] == !sent) return;
  send_failing_[index] = !sent;
  // Once per run of failures, not per message; pending transactions are sent again (re-gossip).
  if (!sent)
    spdlog::warn(
        "sending to validator {} ({}) failed (queue full or message too large); "
        "pending transactions will be sent again",
        index, ShortKey(key));
  else
    spdlog::info("sending to validator {} ({}) works again", index, ShortKey(key));
}

Result<NodeStatus> Node::GetStatus() const {
  NodeStatus s;
  s.member = config_.member;
  const std::shared_ptr<const EpochView> view = View();
  s.role = view->role;
  s.height = app_->height();
  s.last_block_digest = app_->last_digest();
  s.last_block_time_ms = app_->last_timestamp_ms();
  // A read that fails is the caller's error (RPC: -32603), never a zero root or view 0 shown as
  // true.
  auto root = app_->tree().Root(s.height);
  if (!root) return std::unexpected(root.error());
  s.state_root = *root;
  s.mempool_txs = mempool_->size();
  s.oldest_pending_ms = mempool_->OldestAgeMs();
  s.peers_connected = peers_connected_.load();
  s.gossip_invalid_signature_batches = gossip_invalid_signature_batches_.load();
  const auto n = static_cast<uint32_t>(view->keys.size());
  // The committed view comes from the last block's commit certificate, so it means the same on a
  // validator and on an observer (which runs no replica).
  if (s.height > 0) {
    auto cert_bytes = app_->blocks().GetCommitCertificate(s.height);
    if (!cert_bytes) return std::unexpected(cert_bytes.error());
    consensus::pb::CommitCertificate cert;
    if (!cert_bytes->has_value() ||
        !cert.ParseFromArray((*cert_bytes)->data(), static_cast<int>((*cert_bytes)->size())))
      return MakeError(ErrorCode::kCorruption, "the commit certificate of block " +
                                                   std::to_string(s.height) +
                                                   " is missing or does not parse");
    auto vote = consensus::DecodeVoteBody(cert.body());
    if (!vote) return std::unexpected(vote.error());
    s.committed_view = vote->view;
  }
  s.committed_primary = n == 0 ? 0 : consensus::PrimaryOf(s.committed_view, n);
  std::lock_guard lock(mu_);
  if (view->role == Role::kValidator) {
    s.replica_view = replica_status_.view;
    s.replica_primary = n == 0 ? 0 : consensus::PrimaryOf(replica_status_.view, n);
    s.in_view_change = replica_status_.in_view_change;
  }
  s.halted = fatal_.has_value();
  return s;
}

bool Node::halted() const {
  std::lock_guard lock(mu_);
  return fatal_.has_value();
}

void Node::LogReplicaChanges(const consensus::ReplicaStatus& st) {
  const uint32_t n = static_cast<uint32_t>(validator_keys_.size());
  if (st.in_view_change && (!logged_status_.in_view_change || st.view != logged_status_.view)) {
    // Started by this replica's timer (no block committed in time) or by f+1 peers' view changes.
    spdlog::warn(
        "view change: leaving view {} for view {} at height {} (timeout or peers' view "
        "changes)",
        logged_status_.view, st.view, app_->height());
  } else if (!st.in_view_change &&
             (logged_status_.in_view_change || st.view != logged_status_.view)) {
    spdlog::info("view change done: now in view {}, primary {}, at height {}", st.view,
                 consensus::PrimaryOf(st.view, n), app_->height());
  }
  logged_status_ = st;
}

void Node::QueueGossip(const crypto::PublicKey& from, pb::TxBatch batch, uint64_t now_ms) {
  if (batch.txs_size() == 0) return;
  std::lock_guard lock(gossip_mu_);
  if (auto it = gossip_ignored_until_ms_.find(from); it != gossip_ignored_until_ms_.end()) {
    if (now_ms < it->second) return;
    gossip_ignored_until_ms_.erase(it);
  }
  const size_t bytes = batch.ByteSizeLong();
  size_t& queued = gossip_queued_bytes_per_peer_[from];
  // Bounded work per peer: one peer cannot queue more than this ahead of the others.
  if (queued + bytes > kMaxQueuedGossipBytesPerPeer) return;
  queued += bytes;
  gossip_queue_.push_back({from, std::make_shared<pb::TxBatch>(std::move(batch)), bytes});
  gossip_cv_.notify_one();
}

void Node::GossipLoop() {
  while (true) {
    QueuedGossip item;
    {
      std::unique_lock lock(gossip_mu_);
      gossip_cv_.wait(lock, [this] { return gossip_stopping_ || !gossip_queue_.empty(); });
      if (gossip_stopping_) return;
      item = std::move(gossip_queue_.front());
      gossip_queue_.pop_front();
    }
    AdmitGossip(item.from, *item.batch);
    std::lock_guard lock(gossip_mu_);
    auto it = gossip_queued_bytes_per_peer_.find(item.from);
    if (it == gossip_queued_bytes_per_peer_.end()) continue;
    it->second -= std::min(it->second, item.bytes);
    if (it->second == 0) gossip_queued_bytes_per_peer_.erase(it);
  }
}

void Node::AdmitGossip(const crypto::PublicKey& from, const pb::TxBatch& batch) {
  if (batch.txs_size() > static_cast<int>(kMaxAdmitBatch)) return;
  std::vector<ByteSpan> spans;
  spans.reserve(batch.txs_size());
  for (const std::string& tx : batch.txs())
    spans.push_back(AsSpan(tx));
  auto results = mempool_->Admit(spans, app_->height(), app_->last_timestamp_ms());
  size_t admitted = 0, bad_signatures = 0;
  for (const AdmitResult& r : results) {
    admitted += r.status == AdmitStatus::kAdmitted;
    bad_signatures += r.bad_signature;
  }
  if (bad_signatures > 0) {
    {
      std::lock_guard lock(gossip_mu_);
      gossip_ignored_until_ms_[from] = MonotonicMs() + kGossipPenaltyMs;
      // Drop what this peer has queued too; only this batch's bytes stay counted (the caller
      // releases them).
      std::erase_if(gossip_queue_, [&](const QueuedGossip& q) { return q.from == from; });
      gossip_queued_bytes_per_peer_[from] = batch.ByteSizeLong();
    }
    gossip_invalid_signature_batches_++;
    spdlog::warn(
        "peer {} gossiped {} transactions whose signatures do not verify; its gossip is "
        "ignored for {} s",
        ShortKey(from), bad_signatures, kGossipPenaltyMs / 1000);
  }
  if (admitted > 0) {
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_one();
  }
}

// Sends pooled transactions that have not committed again, so an admitted transaction reaches
// whichever validator is primary now even if the first forward was lost (a broken connection, a
// full queue) or went to a primary that has since been replaced.
void Node::MaybeRegossip(uint64_t now) {
  std::optional<size_t> only_to;  // a validator sends to the current primary only
  bool view_changed = false;
  if (role_ == Role::kValidator && replica_) {
    consensus::ReplicaStatus st = replica_->status();
    if (st.in_view_change || st.is_primary) return;  // no primary to send to, or it is this node
    only_to = consensus::PrimaryOf(st.view, static_cast<uint32_t>(validator_keys_.size()));
    view_changed = st.view != regossip_view_;
  }
  if (!view_changed && now < last_regossip_ms_ + kRegossipIntervalMs) return;
  last_regossip_ms_ = now;
  if (role_ == Role::kValidator && replica_) regossip_view_ = replica_->status().view;
  auto stale =
      mempool_->Stale(kMaxRegossipTxs, kMaxRegossipBytes, view_changed ? 0 : kRegossipMinAgeMs);
  if (stale.empty()) return;
  pb::NodeMessage gossip;
  for (const auto& tx : stale)
    gossip.mutable_txs()->add_txs(tx->envelope.data(), tx->envelope.size());
  const std::string bytes = Serialize(gossip);
  if (only_to)
    SendToValidator(*only_to, validator_keys_[*only_to], p2p::Priority::kGossip, bytes);
  else
    SendToValidators(p2p::Priority::kGossip, bytes);
  const uint64_t oldest_ms = mempool_->AgeMs(*stale.front());
  // Logged after a view change, and once for each transaction that becomes the oldest waiting
  // past kStalePendingWarnMs (not every round).
  const bool newly_stale =
      oldest_ms >= kStalePendingWarnMs && stale.front()->tx.tx_id() != warned_stale_tx_;
  if (newly_stale) warned_stale_tx_ = stale.front()->tx.tx_id();
  if (view_changed || newly_stale)
    spdlog::info("sent {} pending transactions again to {} (oldest pending {} ms)", stale.size(),
                 only_to ? "primary " + std::to_string(*only_to) : std::string("the validators"),
                 oldest_ms);
}

Result<std::vector<ledger::VerifiedTx>> Node::Resolve(const ledger::DecodedBlock& block) {
  return ResolveBlockTxs(block, genesis_.chain_id, *mempool_, *verifier_, verified_cache_,
                         kMaxVerifiedCache);
}

void Node::DriverLoop() {
  if (replica_) {
    ApplyEffects(replica_->Start(MonotonicMs()));
  }
  if (retired_) ApplyRetiredEffects(retired_->replica->Start(MonotonicMs()));
  last_block_ms_ = MonotonicMs();
  while (true) {
    std::deque<InboundMessage> batch;
    {
      std::unique_lock lock(mu_);
      const uint64_t now = MonotonicMs();
      uint64_t wake_at = now + 10;  // proposals and sync are checked at least this often
      if (next_tick_ms_ != 0) wake_at = std::min(wake_at, std::max(next_tick_ms_, now));
      if (retired_ && retired_->next_tick_ms != 0)
        wake_at = std::min(wake_at, std::max(retired_->next_tick_ms, now));
      cv_.wait_for(lock, std::chrono::milliseconds(wake_at - now),
                   [this] { return stopping_ || !inbound_.empty() || wake_; });
      if (stopping_) break;
      batch = inbound_.TakeAll();
      wake_ = false;
    }
    const uint64_t now = MonotonicMs();
    for (const InboundMessage& m : batch)
      HandleMessage(m, now);
    if (replica_ && next_tick_ms_ != 0 && now >= next_tick_ms_) {
      next_tick_ms_ = 0;
      ApplyEffects(replica_->Tick(now));
    }
    if (retired_ && retired_->next_tick_ms != 0 && now >= retired_->next_tick_ms) {
      retired_->next_tick_ms = 0;
      ApplyRetiredEffects(retired_->replica->Tick(now));
    }
    MaybeSwitchEpoch(now);
    if (replica_) MaybePropose(now);
    MaybeSync(now);
    MaybeRegossip(now);
    if (replica_) {
      consensus::ReplicaStatus st = replica_->status();
      LogReplicaChanges(st);
      std::lock_guard lock(mu_);
      replica_status_ = st;
    }
  }
}

void Node::HandleMessage(const InboundMessage& m, uint64_t now) {
  pb::NodeMessage message;
  if (!message.ParseFromArray(m.bytes.data(), static_cast<int>(m.bytes.size()))) {
    spdlog::debug("unparsable message from {}", ShortKey(m.from));
    return;
  }
  switch (message.kind_case()) {
    case pb::NodeMessage::kConsensus: {
      // To the replica of the epoch the envelope names: this epoch's, or the previous one's for a
      // validator still finishing it (docs/consensus.md "Epochs"); any other is dropped.
      const std::optional<uint64_t> epoch = consensus::PeekEnvelopeEpoch(message.consensus());
      const bool current = replica_ && epoch && *epoch == epoch_;
      const bool previous = !current && retired_ && epoch && *epoch == retired_->epoch;
      if (!current && !previous) break;
      const std::vector<crypto::PublicKey>& keys = current ? validator_keys_ : retired_->keys;
      // Consensus comes only from validators, and an envelope must name the validator whose key
      // authenticated this session; the replica drops (and counts) any other sender index.
      auto it = std::find(keys.begin(), keys.end(), m.from);
      if (it == keys.end()) {
        if (consensus_from_non_validator_++ == 0)
          spdlog::warn("dropping consensus messages from {}: not a validator (counted)",
                       ShortKey(m.from));
        break;
      }
      const auto from = static_cast<uint32_t>(it - keys.begin());
      if (current) {
        ApplyEffects(replica_->OnMessage(now, message.consensus(), from));
      } else {
        ApplyRetiredEffects(retired_->replica->OnMessage(now, message.consensus(), from));
      }
      break;
    }
    case pb::NodeMessage::kTxs:
      // Verified on the gossip worker, never here on the driver thread.
      if (message.txs().txs_size() > static_cast<int>(kMaxAdmitBatch)) break;
      QueueGossip(m.from, std::move(*message.mutable_txs()), now);
      break;
    case pb::NodeMessage::kSyncRequest:
      // Any node serves the certified blocks it has (the observer checks the certificates, not who
      // sent them): after validator-set changes, the genesis validators may all be observers.
      HandleSyncRequest(m.from, message.sync_request().from_height(),
                        message.sync_request().max_blocks());
      break;
    case pb::NodeMessage::kSyncReply:
      if (role_ == Role::kObserver)
        HandleSyncReply(m.from, message.sync_reply().SerializeAsString());
      break;
    case pb::NodeMessage::KIND_NOT_SET:
      break;
  }
}

void Node::ApplyEffects(consensus::Effects effects) {
  for (consensus::Outbound& out : effects.messages) {
    pb::NodeMessage message;
    message.set_consensus(std::move(out.bytes));
    std::string bytes = Serialize(message);
    if (out.to == consensus::kBroadcast) {
      for (size_t i = 0; i < validator_keys_.size(); ++i) {
        if (i != validator_index_) SendConsensus(static_cast<uint32_t>(i), bytes);
      }
    } else if (out.to < validator_keys_.size() && out.to != validator_index_) {
      SendConsensus(out.to, bytes);
    }
  }
  if (effects.next_tick_ms) next_tick_ms_ = *effects.next_tick_ms;
  StoreExecutionCertificates(effects.execution_certs);
  if (effects.halted) Fatal("this node's execution result differs from the certified one");
  ExecuteDelivered();
}

// A refused send (the peer's queue is full, or it is no longer a member) is counted and logged once
// until a send to that peer succeeds again. The replica retransmits its own votes, view change and
// new view while nothing progresses, and fetches what it misses, so a lost message is resent.
void Node::SendConsensus(uint32_t to, const std::string& bytes) {
  if (consensus_send_failing_.size() != validator_keys_.size())
    consensus_send_failing_.assign(validator_keys_.size(), false);
  const bool sent =
      transport_->Send(validator_keys_[to], p2p::Priority::kConsensus, ToBytes(bytes));
  if (sent) {
    if (consensus_send_failing_[to]) {
      consensus_send_failing_[to] = false;
      spdlog::info("consensus sends to validator {} accepted again", to);
    }
    return;
  }
  ++consensus_send_failures_;
  if (!consensus_send_failing_[to]) {
    consensus_send_failing_[to] = true;
    spdlog::warn(
        "consensus send to validator {} ({} bytes) refused by p2p (queue full?); the "
        "replica retransmits; {} refused so far",
        to, bytes.size(), consensus_send_failures_);
  }
}

void Node::ExecuteDelivered() {
  if (executing_) return;  // the outer call drains the queue
  executing_ = true;
  while (!delivered_.empty()) {
    consensus::CommittedBlock block = std::move(delivered_.front());
    delivered_.pop_front();
    if (block.height <= app_->height()) continue;  // already executed (replayed after restart)
    if (block.height != app_->height() + 1) {
      Fatal("committed block " + std::to_string(block.height) + " is not the next height");
      break;
    }
    auto result =
        app_->Commit(block.height, block.payload, AsSpan(block.commit_cert.SerializeAsString()),
                     [this](const ledger::DecodedBlock& b) { return Resolve(b); });
    if (!result && IsStorageFailure(result.error()))
      StopOnStorageFailure("committing block " + std::to_string(block.height), result.error());
    if (!result) {
      Fatal("executing block " + std::to_string(block.height) + ": " + result.error().message);
      break;
    }
    // The execution vote goes out before AfterCommit's prune: a prune that fails stops the process,
    // and a vote not sent then is one the certificate of this height may lack.
    std::optional<consensus::EpochChange> scheduled;
    if (result->scheduled) {
      scheduled =
          consensus::EpochChange{result->scheduled->set_hash, result->scheduled->activation_height};
      spdlog::info("block {} scheduled validator set epoch {} ({} validators) from height {}",
                   result->height, result->scheduled->epoch, result->scheduled->validators.size(),
                   result->scheduled->activation_height);
    }
    if (replica_) {
      consensus::Effects effects = replica_->OnExecuted(
          MonotonicMs(), result->height, result->state_root, result->receipt_root, scheduled);
      // Effects of OnExecuted carry no deliveries; apply them without recursion on the queue.
      ApplyEffects(std::move(effects));
    }
    AfterCommit(*result);
  }
  executing_ = false;
}

void Node::AfterCommit(const CommitResult& result) {
  if (result.members_changed && transport_ != nullptr) RefreshMembership();
  mempool_->Remove(result.tx_ids);
  for (const Hash32& id : result.tx_ids)
    verified_cache_.erase(id);
  if (verified_cache_.size() >= kMaxVerifiedCache) verified_cache_.clear();
  mempool_->Expire(result.height, result.timestamp_ms);
  if (result.height % kPruneEveryBlocks == 0) {
    if (auto pruned = app_->PruneState(config_.retain_versions); !pruned) {
      if (IsStorageFailure(pruned.error()))
        StopOnStorageFailure("pruning old state versions", pruned.error());
      Fatal("pruning old state versions: " + pruned.error().message);
    }
  }
  last_block_ms_ = MonotonicMs();
  if (result.null_block && result.null_reason != "empty payload")
    spdlog::warn("block {} committed as a null block: {}", result.height, result.null_reason);
  spdlog::debug("committed block {} with {} txs, state root {}", result.height,
                result.tx_ids.size(), result.state_root.ToHex());
  for (auto& listener : listeners_)
    listener(result);
}

void Node::MaybePropose(uint64_t now) {
  consensus::ReplicaStatus st = replica_->status();
  const uint64_t committed = app_->height();
  std::erase_if(in_flight_, [&](const auto& entry) {
    return entry.first <= committed || entry.second.view != st.view;
  });
  if (!st.is_primary) return;
  if (st.delivered != committed) return;  // still executing
  // The block's height must be the sequence number the replica gives it; after a view change the
  // new primary first re-proposes what was prepared, and proposes new blocks once those commit.
  const uint64_t next = st.next_seq;
  if (next <= committed || next > committed + kMaxBlocksInFlight) return;
  if (next > st.end_height) return;  // the next epoch's set proposes it
  if (auto built = in_flight_.find(next);
      built != in_flight_.end() &&
      now < built->second.proposed_at_ms + 2 * config_.consensus_view_timeout_ms)
    return;  // built, and the replica has not taken it yet
  // The parent: the last committed block, or this node's own proposal just below, still in flight.
  Hash32 prev_digest = app_->last_digest();
  uint64_t prev_timestamp_ms = app_->last_timestamp_ms();
  size_t in_flight_count = 0;  // the blocks in flight hold disjoint transactions
  if (next > committed + 1) {
    auto parent = in_flight_.find(next - 1);
    if (parent == in_flight_.end()) return;  // the block below is not this node's: wait for it
    prev_digest = parent->second.digest;
    prev_timestamp_ms = parent->second.timestamp_ms;
    for (const auto& [height, block] : in_flight_)
      if (height < next) in_flight_count += block.tx_ids.size();
  }
  const bool have_txs = mempool_->size() > in_flight_count;
  // Pipelined blocks carry transactions; an empty block is only proposed on an idle chain.
  if (!have_txs && next > committed + 1) return;
  const uint64_t interval = have_txs ? kBusyBlockIntervalMs : genesis_.consensus.block_interval_ms;
  if (now < last_block_ms_ + interval) return;
  // Built only now that a block is being made (this runs on every pass of the driver loop).
  std::unordered_set<Hash32, Hash32Hasher> in_flight_txs;
  for (const auto& [height, block] : in_flight_)
    if (height < next) in_flight_txs.insert(block.tx_ids.begin(), block.tx_ids.end());
  auto txs = mempool_->Reap(genesis_.consensus.max_block_txs,
                            genesis_.consensus.max_block_bytes - genesis::kProposerReserveBytes,
                            next, &in_flight_txs);
  if (txs.empty() && next > committed + 1) return;
  std::vector<Bytes> envelopes;
  std::vector<Hash32> ids;
  envelopes.reserve(txs.size());
  for (const auto& tx : txs) {
    envelopes.push_back(tx->envelope);
    ids.push_back(tx->tx.tx_id());
  }
  const uint64_t timestamp_ms = std::max(WallMs(), prev_timestamp_ms + 1);
  Bytes block = app_->BuildBlock(next, prev_digest, timestamp_ms, envelopes, ids, validator_index_);
  in_flight_[next] = InFlightBlock{st.view, app_->Digest(block), timestamp_ms, now, std::move(ids)};
  last_block_ms_ = now;
  ApplyEffects(replica_->OnPayloadReady(now, std::move(block)));
}

void Node::MaybeSync(uint64_t now) {
  if (role_ != Role::kObserver || validator_keys_.empty()) return;
  const uint64_t want = app_->height() + 1;
  if (sync_requested_height_ == want && now < sync_requested_at_ms_ + kSyncRetryMs) return;
  if (sync_requested_height_ != want && now < sync_requested_at_ms_ + 20 &&
      sync_requested_height_ != 0)
    return;  // pace requests while catching up
  pb::NodeMessage message;
  message.mutable_sync_request()->set_from_height(want);
  message.mutable_sync_request()->set_max_blocks(kSyncBlocksPerRequest);
  const crypto::PublicKey& peer = validator_keys_[sync_peer_cursor_++ % validator_keys_.size()];
  transport_->Send(peer, p2p::Priority::kGossip, ToBytes(Serialize(message)));
  // A new request replaces the last: a late reply to it is dropped like any unasked-for one.
  sync_request_ = SyncRequestSent{peer, want, kSyncBlocksPerRequest};
  sync_requested_height_ = want;
  sync_requested_at_ms_ = now;
}

void Node::HandleSyncRequest(const crypto::PublicKey& from, uint64_t from_height,
                             uint32_t max_blocks) {
  pb::NodeMessage reply;
  size_t bytes = 0;
  const uint32_t count = std::min(max_blocks, kSyncBlocksPerRequest);
  for (uint64_t h = from_height; h < from_height + count && h <= app_->height(); ++h) {
    // Only blocks with an execution certificate: observers check their result against it.
    auto block = consensus_app_->LoadBlock(h);
    if (!block || !block->has_exec_cert()) break;
    bytes += block->ByteSizeLong();
    if (bytes > kMaxSyncReplyBytes && reply.sync_reply().blocks_size() > 0) break;
    *reply.mutable_sync_reply()->add_blocks() = std::move(*block);
  }
  reply.mutable_sync_reply()->set_tip_height(app_->height());
  // A refused send (the observer's queue is full, or it just disconnected) is not retried here: the
  // observer asks again after kSyncRetryMs. Logged at debug level, since any observer can cause it.
  if (!transport_->Send(from, p2p::Priority::kGossip, ToBytes(Serialize(reply))))
    spdlog::debug("sync reply to {} not sent (p2p refused it)", ShortKey(from));
}

// A follower more than a few blocks behind its peer logs its progress every kCatchUpLogMs: height
// reached, of how many (the peer's height), the rate, and the time left at that rate; and once
// caught up, the whole catch-up's figures.
void Node::LogCatchUp(uint64_t tip) {
  constexpr uint64_t kCatchUpLogMs = 5'000;
  constexpr uint64_t kBehind = 16;  // closer than this is following, not catching up
  const uint64_t now = MonotonicMs();
  const uint64_t height = app_->height();
  if (!catch_up_.active) {
    if (tip < height + kBehind) {
      catch_up_.txs = 0;
      return;
    }
    catch_up_ = CatchUp{true, now, height, now, catch_up_.txs};
    spdlog::info("catching up: height {} of {}", height, tip);
    return;
  }
  const double seconds = static_cast<double>(now - catch_up_.started_ms) / 1000.0;
  const uint64_t blocks = height - catch_up_.start_height;
  const double rate = seconds > 0 ? static_cast<double>(blocks) / seconds : 0;
  const double tx_rate = seconds > 0 ? static_cast<double>(catch_up_.txs) / seconds : 0;
  if (height >= tip) {
    spdlog::info(
        "caught up at height {}: {} blocks and {} transactions in {:.1f} s ({:.0f} "
        "blocks/s, {:.0f} transactions/s)",
        height, blocks, catch_up_.txs, seconds, rate, tx_rate);
    catch_up_ = CatchUp{};
    return;
  }
  if (now < catch_up_.logged_ms + kCatchUpLogMs) return;
  catch_up_.logged_ms = now;
  spdlog::info(
      "catching up: height {} of {} ({:.0f} blocks/s, {:.0f} transactions/s, about {:.0f} "
      "s left)",
      height, tip, rate, tx_rate, rate > 0 ? static_cast<double>(tip - height) / rate : 0.0);
}

void Node::HandleSyncReply(const crypto::PublicKey& from, const std::string& bytes) {
  pb::SyncReply reply;
  if (!reply.ParseFromString(bytes)) {
    sync_replies_dropped_++;
    return;
  }
  const bool from_asked_peer = sync_request_ && sync_request_->peer == from;
  consensus::ValidatorSet validators(validator_keys_, epoch_);
  SyncReplyOutcome outcome = ApplySyncReply(
      *app_, validators, sync_request_ ? &*sync_request_ : nullptr, from, reply,
      [this](const ledger::DecodedBlock& b) { return Resolve(b); },
      [this](const CommitResult& r) {
        catch_up_.txs += r.tx_ids.size();
        AfterCommit(r);
      });
  if (outcome.fatal) {
    if (IsStorageFailure(*outcome.fatal))
      StopOnStorageFailure("committing a block from a sync reply", *outcome.fatal);
    Fatal(outcome.fatal->message);
    return;
  }
  if (from_asked_peer && !outcome.dropped) LogCatchUp(reply.tip_height());
  if (outcome.dropped) {
    sync_replies_dropped_++;
    // Unsolicited replies are anyone's to send: logged at debug level, so they cannot flood the
    // log.
    if (!from_asked_peer) {
      spdlog::debug("{} from {}; dropped", outcome.dropped->message, ShortKey(from));
      return;
    }
    spdlog::warn("{} from {}; dropped, asking another validator", outcome.dropped->message,
                 ShortKey(from));
  }
  sync_request_.reset();  // answered (or refused)
  // Ask again at once after progress or a refusal (another validator, by the cursor); a reply with
  // nothing new waits for kSyncRetryMs, so a caught-up observer does not ask in a loop.
  if (outcome.committed > 0 || outcome.dropped) sync_requested_at_ms_ = 0;
}

}  // namespace cl::node
