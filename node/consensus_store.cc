#include "node/consensus_store.h"

#include "node/storage_failure.h"
#include "util/assert.h"

namespace cl::node {
namespace {

// Epoch 0 keeps the keys it had before epochs existed; epoch e >= 1 has its own:
// 'c' 'e' || u64be(e) || tag.
Bytes KeyOf(uint64_t epoch, char tag) {
  if (epoch == 0) return Bytes{'c', 's', static_cast<uint8_t>(tag)};
  Bytes k = {'c', 'e'};
  AppendU64BE(k, epoch);
  k.push_back(static_cast<uint8_t>(tag));
  return k;
}

constexpr std::string_view kWriting =
    "persisting consensus state (a vote, a view change or a checkpoint)";
constexpr std::string_view kReading = "reading consensus state";

}  // namespace

ConsensusStore::ConsensusStore(ledger::KvStore* store, uint64_t epoch)
    : store_(store),
      record_prefix_(KeyOf(epoch, 'R')),
      view_key_(KeyOf(epoch, 'V')),
      checkpoint_key_(KeyOf(epoch, 'C')) {
  LEDGER_ASSERT(store_ != nullptr);
}

void ConsensusStore::Write(ledger::WriteBatch& batch) {
  auto status = store_->Write(batch, /*sync=*/true);
  if (!status) StopOnStorageFailure(kWriting, status.error());
}

void ConsensusStore::AppendRecord(uint64_t seq, const std::string& record) {
  Bytes key = record_prefix_;
  AppendU64BE(key, seq);
  AppendU32BE(key, next_index_++);
  ledger::WriteBatch batch;
  batch.Put(key, AsSpan(record));
  Write(batch);
}

void ConsensusStore::PutViewRecord(const std::string& record) {
  ledger::WriteBatch batch;
  batch.Put(view_key_, AsSpan(record));
  Write(batch);
}

void ConsensusStore::PutCheckpoint(const std::string& cert) {
  ledger::WriteBatch batch;
  batch.Put(checkpoint_key_, AsSpan(cert));
  Write(batch);
}

void ConsensusStore::DropRecordsUpTo(uint64_t seq) {
  ledger::WriteBatch batch;
  Bytes end = record_prefix_;
  AppendU64BE(end, seq);
  auto status = store_->Scan(record_prefix_, {}, [&](ByteSpan key, ByteSpan) {
    if (key.size() < end.size() ||
        std::lexicographical_compare(end.begin(), end.end(), key.begin(),
                                     key.begin() + static_cast<std::ptrdiff_t>(end.size())))
      return false;  // past seq: keys are in order
    batch.Delete(key);
    return true;
  });
  if (!status) StopOnStorageFailure(kReading, status.error());
  if (batch.size() > 0) Write(batch);
}

Result<consensus::Storage::Loaded> ConsensusStore::Read() {
  Loaded loaded;
  uint32_t max_index = 0;
  LEDGER_TRY(store_->Scan(record_prefix_, {}, [&](ByteSpan key, ByteSpan value) {
    loaded.records.emplace_back(AsStringView(value));
    if (key.size() == record_prefix_.size() + 12)
      max_index = std::max(max_index, LoadU32BE(key.data() + record_prefix_.size() + 8) + 1);
    return true;
  }));
  auto view = store_->Get(view_key_);
  if (!view) return std::unexpected(view.error());
  if (view->has_value()) loaded.view_record = ToString(**view);
  auto checkpoint = store_->Get(checkpoint_key_);
  if (!checkpoint) return std::unexpected(checkpoint.error());
  if (checkpoint->has_value()) loaded.checkpoint = ToString(**checkpoint);
  next_index_ = max_index;
  read_ = loaded;
  return loaded;
}

consensus::Storage::Loaded ConsensusStore::Load() {
  if (read_) {
    Loaded loaded = std::move(*read_);
    read_.reset();
    return loaded;
  }
  auto loaded = Read();
  if (!loaded) StopOnStorageFailure(kReading, loaded.error());
  read_.reset();
  return std::move(*loaded);
}

}  // namespace cl::node
