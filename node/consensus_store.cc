#include "node/consensus_store.h"

#include "node/storage_failure.h"
#include "util/assert.h"

namespace cl::node {
namespace {

const Bytes kRecordPrefix = {'c', 's', 'R'};
const Bytes kViewKey = {'c', 's', 'V'};
const Bytes kCheckpointKey = {'c', 's', 'C'};

constexpr std::string_view kWriting =
    "persisting consensus state (a vote, a view change or a checkpoint)";
constexpr std::string_view kReading = "reading consensus state";

}  // namespace

ConsensusStore::ConsensusStore(ledger::KvStore* store) : store_(store) {
  LEDGER_ASSERT(store_ != nullptr);
}

void ConsensusStore::Write(ledger::WriteBatch& batch) {
  auto status = store_->Write(batch, /*sync=*/true);
  if (!status) StopOnStorageFailure(kWriting, status.error());
}

void ConsensusStore::AppendRecord(uint64_t seq, const std::string& record) {
  Bytes key = kRecordPrefix;
  AppendU64BE(key, seq);
  AppendU32BE(key, next_index_++);
  ledger::WriteBatch batch;
  batch.Put(key, AsSpan(record));
  Write(batch);
}

void ConsensusStore::PutViewRecord(const std::string& record) {
  ledger::WriteBatch batch;
  batch.Put(kViewKey, AsSpan(record));
  Write(batch);
}

void ConsensusStore::PutCheckpoint(const std::string& cert) {
  ledger::WriteBatch batch;
  batch.Put(kCheckpointKey, AsSpan(cert));
  Write(batch);
}

void ConsensusStore::DropRecordsUpTo(uint64_t seq) {
  ledger::WriteBatch batch;
  Bytes end = kRecordPrefix;
  AppendU64BE(end, seq);
  auto status = store_->Scan(kRecordPrefix, {}, [&](ByteSpan key, ByteSpan) {
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
  LEDGER_TRY(store_->Scan(kRecordPrefix, {}, [&](ByteSpan key, ByteSpan value) {
    loaded.records.emplace_back(AsStringView(value));
    if (key.size() == kRecordPrefix.size() + 12)
      max_index = std::max(max_index, LoadU32BE(key.data() + kRecordPrefix.size() + 8) + 1);
    return true;
  }));
  auto view = store_->Get(kViewKey);
  if (!view) return std::unexpected(view.error());
  if (view->has_value()) loaded.view_record = ToString(**view);
  auto checkpoint = store_->Get(kCheckpointKey);
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
