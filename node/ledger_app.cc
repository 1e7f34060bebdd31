#include "node/ledger_app.h"

#include <algorithm>
#include <cstring>

#include "consensus/messages.h"
#include "crypto/sha256.h"
#include "ledger/executor.h"
#include "ledger/ledger_state.h"
#include "ledger/merkle.h"
#include "ledger/tree_state.h"
#include "util/assert.h"

namespace cl::node {
namespace {

// "ndG" -> the genesis hash this store was created from. Do not change.
const Bytes kGenesisKey = {'n', 'd', 'G'};
// The changes that started each epoch (ScheduledEpoch): 'n' 'd' 'V' || u64be epoch ->
// ValidatorSetRecord (epoch, activation and changed heights, the set), written with its block.
Bytes EpochKey(uint64_t epoch) {
  Bytes k = {'n', 'd', 'V'};
  AppendU64BE(k, epoch);
  return k;
}

Hash32 ToHash(const std::string& s) {
  Hash32 h;
  LEDGER_ASSERT(s.size() == Hash32::kSize);
  std::memcpy(h.data(), s.data(), Hash32::kSize);
  return h;
}

std::string FromHash(const Hash32& h) {
  return std::string(h.bytes.begin(), h.bytes.end());
}

}  // namespace

ScheduledSet ScheduledOf(const ledger::pb::ValidatorSetRecord& set) {
  ScheduledSet s;
  s.epoch = set.epoch();
  s.changed_height = set.changed_height();
  s.activation_height = set.activation_height();
  s.validators = ledger::SetKeys(set);
  s.set_hash = ledger::ValidatorSetHash(s.validators);
  return s;
}

LedgerApp::LedgerApp(ledger::KvStore* store, ledger::KvStore* state_store, genesis::Genesis genesis)
    : store_(store),
      state_store_(state_store),
      genesis_(std::move(genesis)),
      tree_(std::make_unique<ledger::StateTree>(state_store)),
      index_(std::make_unique<ledger::LatestStateIndex>(store, *tree_)),
      blocks_(store) {}

Result<std::unique_ptr<LedgerApp>> LedgerApp::Open(ledger::KvStore* store,
                                                   ledger::KvStore* state_store,
                                                   const genesis::Genesis& genesis) {
  LEDGER_ASSERT(store != nullptr && state_store != nullptr);
  std::unique_ptr<LedgerApp> app(new LedgerApp(store, state_store, genesis));
  LEDGER_TRY(app->Initialise());
  return app;
}

Result<Hash32> LedgerApp::StageState(uint64_t height,
                                     const std::vector<ledger::StateChange>& changes,
                                     ledger::WriteBatch* batch, const Hash32* expected_root) {
  ledger::WriteBatch* tree_batch = batch;
  if (state_store_ != store_) {
    tree_batch = &tree_batch_;
    tree_batch->Clear();  // keeps the buffer of earlier blocks
  }
  if (expected_root == nullptr)
    return ledger::CommitChanges(*tree_, height, changes, tree_batch, batch, index_.get());
  // The tree first, alone: its cache keys nodes by version, so a version that is never written is
  // never read; the index's cache is not, so it takes the changes only once the root is right.
  auto root = ledger::CommitChanges(*tree_, height, changes, tree_batch, batch, nullptr);
  if (!root) return root;
  if (*root != *expected_root)
    return MakeError(ErrorCode::kFailedPrecondition,
                     "block " + std::to_string(height) +
                         ": execution differs from the execution certificate (state root " +
                         root->ToHex() + ", certified " + expected_root->ToHex() + ")");
  index_->Commit(height, changes, batch);
  return root;
}

Status LedgerApp::WriteCommit(const ledger::WriteBatch& batch) {
  // The tree first: a crash after it leaves a tree version the chain does not have, which Open
  // drops; the other order could leave a committed block without its state.
  if (state_store_ != store_) LEDGER_TRY(state_store_->Write(tree_batch_, /*sync=*/true));
  return store_->Write(batch, /*sync=*/true);
}

Status LedgerApp::Initialise() {
  auto stored = store_->Get(kGenesisKey);
  if (!stored) return std::unexpected(stored.error());
  if (!stored->has_value()) {
    // A crash between the genesis tree's write and the chain's leaves a tree without a chain.
    LEDGER_TRY(tree_->DropVersionsAbove(std::nullopt));
    auto changes = genesis::GenesisStateChanges(genesis_);
    if (!changes) return std::unexpected(changes.error());
    ledger::WriteBatch batch;
    auto root = StageState(0, *changes, &batch);
    if (!root) return std::unexpected(root.error());
    batch.Put(kGenesisKey, genesis_.hash.span());
    LEDGER_TRY(WriteCommit(batch));
  } else if (**stored != Bytes(genesis_.hash.bytes.begin(), genesis_.hash.bytes.end())) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the data directory belongs to another chain (genesis hash differs)");
  }
  auto latest = blocks_.LatestHeight();
  if (!latest) return std::unexpected(latest.error());
  LEDGER_TRY(tree_->load_status());  // a failed read is not a version mismatch
  auto tree_version = tree_->LatestVersion();
  if (tree_version && *tree_version > *latest) {
    // The tree's batch of the next block was written, the block's was not (see the header).
    LEDGER_TRY(tree_->DropVersionsAbove(*latest));
    tree_version = tree_->LatestVersion();
    // The index compared its marker with the tree's version when it was made: make it again.
    index_ = std::make_unique<ledger::LatestStateIndex>(store_, *tree_);
  }
  if (!tree_version || *tree_version != *latest)
    return MakeError(ErrorCode::kCorruption,
                     "state tree version " +
                         (tree_version ? std::to_string(*tree_version) : std::string("(none)")) +
                         " does not match the block store's height " + std::to_string(*latest) +
                         " (a data directory from another layout, or a damaged one)");
  height_ = *latest;
  {
    ledger::TreeStateReader reader(*tree_, *latest, index_.get());
    auto record = ledger::ReadEpochRecord(reader);
    if (!record) return std::unexpected(record.error());
    epoch_record_ = std::move(*record);
  }
  if (*latest == 0) {
    last_digest_ = genesis_.hash;
    last_timestamp_ms_ = genesis_.genesis_time_ms;
  } else {
    auto executed = blocks_.GetExecuted(*latest);
    if (!executed) return std::unexpected(executed.error());
    if (!executed->has_value() || (*executed)->header_hash().size() != Hash32::kSize)
      return MakeError(ErrorCode::kCorruption, "the latest block has no execution record");
    last_digest_ = ToHash((*executed)->header_hash());
    last_timestamp_ms_ = (*executed)->timestamp_ms();
  }
  return OkStatus();
}

Hash32 LedgerApp::ValidatorSetHashFor(uint64_t height) const {
  return ledger::ValidatorSetHash(ValidatorsFor(height));
}

std::vector<crypto::PublicKey> LedgerApp::ValidatorsFor(uint64_t height) const {
  std::lock_guard lock(mu_);
  return ledger::SetKeys(ledger::SetForHeight(epoch_record_, height));
}

uint64_t LedgerApp::EpochFor(uint64_t height) const {
  std::lock_guard lock(mu_);
  return ledger::SetForHeight(epoch_record_, height).epoch();
}

ledger::pb::EpochRecord LedgerApp::epoch_record() const {
  std::lock_guard lock(mu_);
  return epoch_record_;
}

Result<std::optional<ScheduledSet>> LedgerApp::ScheduledEpoch(uint64_t epoch) const {
  auto raw = store_->Get(EpochKey(epoch));
  if (!raw) return std::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<ScheduledSet>();
  ledger::pb::ValidatorSetRecord set;
  if (!set.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())) ||
      set.epoch() != epoch || set.validators_size() == 0)
    return MakeError(ErrorCode::kCorruption, "epoch index record " + std::to_string(epoch));
  for (const auto& v : set.validators())
    if (!crypto::PublicKey::Parse(AsSpan(v.node_key())))
      return MakeError(ErrorCode::kCorruption, "epoch index record " + std::to_string(epoch));
  ScheduledSet s = ScheduledOf(set);
  return std::optional<ScheduledSet>(std::move(s));
}

Result<std::optional<ledger::pb::MemberRecord>> LedgerApp::Member(uint32_t id) const {
  ledger::TreeStateReader reader(*tree_, height(), index_.get());
  const Bytes key = ledger::keys::Member(id);
  auto raw = reader.Get(key);
  if (!raw) return std::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<ledger::pb::MemberRecord>();
  ledger::pb::MemberRecord m;
  if (!m.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())))
    return MakeError(ErrorCode::kCorruption, "member record " + std::to_string(id));
  return std::optional<ledger::pb::MemberRecord>(std::move(m));
}

Result<std::vector<ledger::pb::MemberRecord>> LedgerApp::Members() const {
  ledger::TreeStateReader reader(*tree_, height(), index_.get());
  const Bytes key = ledger::keys::Governance();
  auto raw = reader.Get(key);
  if (!raw) return std::unexpected(raw.error());
  ledger::pb::GovernanceRecord gov;
  if (!raw->has_value() || !gov.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())))
    return MakeError(ErrorCode::kCorruption, "the governance record is missing or does not parse");
  std::vector<uint32_t> ids(gov.members().begin(), gov.members().end());
  ids.insert(ids.end(), gov.removed().begin(), gov.removed().end());
  std::sort(ids.begin(), ids.end());
  std::vector<ledger::pb::MemberRecord> members;
  for (uint32_t id : ids) {
    auto m = Member(id);
    if (!m) return std::unexpected(m.error());
    if (!m->has_value())
      return MakeError(ErrorCode::kCorruption,
                       "governance names a missing member " + std::to_string(id));
    members.push_back(std::move(**m));
  }
  return members;
}

Result<std::set<crypto::PublicKey>> LedgerApp::MemberKeys() const {
  auto members = Members();
  if (!members) return std::unexpected(members.error());
  std::set<crypto::PublicKey> keys;
  for (const ledger::pb::MemberRecord& m : *members) {
    if (m.removed_height() != 0) continue;
    if (auto key = crypto::PublicKey::Parse(AsSpan(m.node_key()))) keys.insert(*key);
  }
  const ledger::pb::EpochRecord record = epoch_record();
  for (const crypto::PublicKey& k : ledger::SetKeys(record.current()))
    keys.insert(k);
  if (record.has_next()) {
    for (const crypto::PublicKey& k : ledger::SetKeys(record.next()))
      keys.insert(k);
  }
  return keys;
}

Result<std::vector<ledger::EpochChange>> LedgerApp::EpochHistory() const {
  std::vector<ledger::EpochChange> history;
  for (uint64_t epoch = 1;; ++epoch) {
    auto set = ScheduledEpoch(epoch);
    if (!set) return std::unexpected(set.error());
    if (!set->has_value()) break;
    auto cert = blocks_.GetExecutionCertificate((*set)->changed_height);
    if (!cert) return std::unexpected(cert.error());
    if (!cert->has_value()) break;
    history.push_back(ledger::EpochChange{(*set)->changed_height, (*set)->validators, **cert});
  }
  return history;
}

Hash32 LedgerApp::last_digest() const {
  std::lock_guard lock(mu_);
  return last_digest_;
}

uint64_t LedgerApp::last_timestamp_ms() const {
  std::lock_guard lock(mu_);
  return last_timestamp_ms_;
}

Hash32 LedgerApp::Digest(ByteSpan payload) const {
  if (auto h = ledger::WellFormedHeaderHash(payload, genesis_.chain_id)) return *h;
  return consensus::PayloadDigest(payload);
}

Bytes LedgerApp::BuildBlock(uint64_t height, const Hash32& prev_digest, uint64_t timestamp_ms,
                            std::span<const Bytes> envelopes, std::span<const Hash32> tx_ids,
                            uint32_t proposer) const {
  LEDGER_ASSERT(height > this->height());
  ledger::pb::BlockHeader header;
  header.set_chain_id(genesis_.chain_id);
  header.set_height(height);
  header.set_prev_header_hash(FromHash(prev_digest));
  header.set_timestamp_ms(timestamp_ms);
  header.set_validator_set_hash(FromHash(ValidatorSetHashFor(height)));
  header.set_proposer(proposer);
  return ledger::EncodeBlock(header, envelopes, tx_ids);
}

Status LedgerApp::CheckProposal(uint64_t height, ByteSpan payload, uint64_t now_ms,
                                const TxResolver& resolve) const {
  if (payload.empty()) return OkStatus();  // a null block
  auto block = ledger::DecodeBlock(payload, genesis_.chain_id);
  if (!block) return std::unexpected(block.error());
  const ledger::pb::BlockHeader& h = block->header;
  // The consortium's own limits (genesis), not only the code's (DecodeBlock): a faulty primary must
  // not get a block past them certified.
  if (block->txs.size() > genesis_.consensus.max_block_txs)
    return MakeError(ErrorCode::kInvalidArgument,
                     "proposal has more transactions than max_block_txs");
  if (payload.size() > genesis_.consensus.max_block_bytes)
    return MakeError(ErrorCode::kInvalidArgument, "proposal is larger than max_block_bytes");
  if (h.height() != height)
    return MakeError(ErrorCode::kInvalidArgument, "proposal height does not match its sequence");
  const std::vector<crypto::PublicKey> set = ValidatorsFor(height);
  if (h.validator_set_hash() != FromHash(ledger::ValidatorSetHash(set)))
    return MakeError(ErrorCode::kInvalidArgument, "proposal names another validator set");
  if (h.proposer() >= set.size())
    return MakeError(ErrorCode::kInvalidArgument, "proposal proposer is not a validator");
  if (h.timestamp_ms() > now_ms + kMaxClockSkewMs)
    return MakeError(ErrorCode::kInvalidArgument, "proposal timestamp is ahead of this clock");
  if (height == this->height() + 1) {
    std::lock_guard lock(mu_);
    if (h.prev_header_hash() != FromHash(last_digest_))
      return MakeError(ErrorCode::kInvalidArgument, "proposal does not extend the last block");
    if (h.timestamp_ms() <= last_timestamp_ms_)
      return MakeError(ErrorCode::kInvalidArgument, "proposal timestamp is not after the last");
  }
  auto txs = resolve(*block);
  if (!txs) return std::unexpected(txs.error());
  return OkStatus();
}

Result<CommitResult> LedgerApp::Commit(uint64_t height, ByteSpan payload, ByteSpan commit_cert,
                                       const TxResolver& resolve,
                                       const CertifiedExecution* certified) {
  LEDGER_ASSERT(height == this->height() + 1);
  CommitResult result;
  result.height = height;
  result.block_digest = Digest(payload);
  Hash32 prev_digest = last_digest();
  uint64_t prev_time = last_timestamp_ms();
  result.timestamp_ms = prev_time;

  // Classify: a block that extends the chain, or a null block.
  std::optional<ledger::DecodedBlock> block;
  std::vector<ledger::VerifiedTx> txs;
  if (payload.empty()) {
    result.null_reason = "empty payload";
  } else if (auto decoded = ledger::DecodeBlock(payload, genesis_.chain_id); !decoded) {
    result.null_reason = decoded.error().message;
  } else if (decoded->header.height() != height) {
    result.null_reason = "height does not match its sequence";
  } else if (decoded->header.prev_header_hash() != FromHash(prev_digest)) {
    result.null_reason = "does not extend the previous block";
  } else if (decoded->header.timestamp_ms() <= prev_time) {
    result.null_reason = "timestamp is not after the previous block's";
  } else if (auto verified = resolve(*decoded); !verified) {
    result.null_reason = "a transaction does not verify: " + verified.error().message;
  } else {
    block = std::move(*decoded);
    txs = std::move(*verified);
  }
  result.null_block = !block.has_value();

  std::optional<ledger::pb::EpochRecord> new_record;
  ledger::DecodedBlock stored;  // what the block store indexes
  stored.header.set_height(height);
  std::vector<ledger::StateChange> changes;
  if (block) {
    ledger::TreeStateReader reader(*tree_, height - 1, index_.get());
    ledger::BlockInfo info{genesis_.chain_id, height, block->header.timestamp_ms()};
    auto outcome = ledger::ExecuteBlock(reader, info, txs);
    if (!outcome) return std::unexpected(outcome.error());  // fatal: storage or invariant
    for (ledger::pb::Receipt& r : outcome->receipts)
      *result.receipts.add_receipts() = std::move(r);
    changes = std::move(outcome->changes);
    // The epoch record, when the block wrote it (a change scheduled or activated).
    for (const ledger::StateChange& c : changes) {
      if (!c.key.empty() &&
          (c.key[0] == ledger::keys::kMember || c.key[0] == ledger::keys::kGovernance ||
           c.key[0] == ledger::keys::kEpoch))
        result.members_changed = true;
      if (c.key != ledger::keys::Epoch()) continue;
      ledger::pb::EpochRecord record;
      if (!c.value || !record.ParseFromArray(c.value->data(), static_cast<int>(c.value->size())))
        return MakeError(ErrorCode::kCorruption, "block " + std::to_string(height) +
                                                     " wrote an epoch record that does not parse");
      new_record = std::move(record);
    }
    result.timestamp_ms = block->header.timestamp_ms();
    result.tx_ids = block->tx_ids;
    stored = std::move(*block);
  }

  ledger::WriteBatch& batch = block_batch_;
  batch.Clear();  // keeps the buffer of earlier blocks
  // With a certificate, checked before anything is written or cached: a block this node cannot
  // reproduce must not become its chain.
  result.receipt_root = ledger::ReceiptRoot(result.receipts);
  if (certified != nullptr && result.receipt_root != certified->receipt_root)
    return MakeError(ErrorCode::kFailedPrecondition,
                     "block " + std::to_string(height) +
                         ": execution differs from the execution certificate (receipt root " +
                         result.receipt_root.ToHex() + ", certified " +
                         certified->receipt_root.ToHex() + ")");
  auto root =
      StageState(height, changes, &batch, certified != nullptr ? &certified->state_root : nullptr);
  if (!root) return std::unexpected(root.error());
  result.state_root = *root;
  ledger::pb::ExecutedBlock executed;
  executed.set_height(height);
  executed.set_header_hash(FromHash(result.block_digest));
  executed.set_state_root(FromHash(result.state_root));
  executed.set_receipt_root(FromHash(result.receipt_root));
  executed.set_timestamp_ms(result.timestamp_ms);
  blocks_.AddCommitted(stored, payload, commit_cert, result.receipts, executed, &batch);
  if (certified != nullptr) blocks_.AddExecutionCertificate(height, certified->exec_cert, &batch);
  if (new_record && new_record->has_next() && new_record->next().changed_height() == height) {
    result.scheduled = ScheduledOf(new_record->next());
    batch.Put(EpochKey(new_record->next().epoch()), ledger::SerializeRecord(new_record->next()));
  }
  LEDGER_TRY(WriteCommit(batch));
  {
    std::lock_guard lock(mu_);
    last_digest_ = result.block_digest;
    last_timestamp_ms_ = result.timestamp_ms;
    if (new_record) epoch_record_ = std::move(*new_record);
  }
  height_ = height;
  return result;
}

Status LedgerApp::StoreExecutionCertificate(uint64_t height, ByteSpan cert) {
  ledger::WriteBatch batch;
  blocks_.AddExecutionCertificate(height, cert, &batch);
  return store_->Write(batch, /*sync=*/true);
}

Status LedgerApp::PruneState(uint64_t retain_versions) {
  const uint64_t latest = height();
  if (retain_versions == 0 || latest < retain_versions) return OkStatus();
  ledger::WriteBatch batch;
  LEDGER_TRY(tree_->Prune(latest + 1 - retain_versions, &batch));
  if (batch.size() == 0) return OkStatus();
  return state_store_->Write(batch, /*sync=*/false);
}

}  // namespace cl::node
