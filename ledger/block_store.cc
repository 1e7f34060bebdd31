#include "ledger/block_store.h"

#include "ledger/executor.h"
#include "ledger/result_code.h"
#include "util/assert.h"

namespace cl::ledger {
namespace {

constexpr uint8_t kBlockTag = 'B';
constexpr uint8_t kCommitCertTag = 'C';
constexpr uint8_t kExecCertTag = 'E';
constexpr uint8_t kReceiptsTag = 'R';
constexpr uint8_t kExecutedTag = 'X';
constexpr uint8_t kTxTag = 'T';
constexpr uint8_t kLatestTag = 'M';

Bytes Key(uint8_t tag) {
  return Bytes{'b', 'k', tag};
}
Bytes HeightKey(uint8_t tag, uint64_t height) {
  Bytes k = Key(tag);
  AppendU64BE(k, height);
  return k;
}

template <class Message>
Result<std::optional<Message>> ParseRecord(Result<std::optional<Bytes>> raw, const char* what) {
  if (!raw) return std::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<Message>();
  Message m;
  if (!m.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())))
    return MakeError(ErrorCode::kCorruption, std::string("stored ") + what + " does not parse");
  return std::optional<Message>(std::move(m));
}

}  // namespace

BlockStore::BlockStore(KvStore* store) : store_(store) {
  LEDGER_ASSERT(store_ != nullptr);
}

void BlockStore::AddCommitted(const DecodedBlock& block, ByteSpan block_bytes, ByteSpan commit_cert,
                              const pb::ReceiptList& receipts, const pb::ExecutedBlock& executed,
                              WriteBatch* batch) const {
  const uint64_t height = block.header.height();
  LEDGER_ASSERT(executed.height() == height);
  LEDGER_ASSERT(receipts.receipts_size() == static_cast<int>(block.txs.size()));
  batch->Put(HeightKey(kBlockTag, height), block_bytes);
  batch->Put(HeightKey(kCommitCertTag, height), commit_cert);
  batch->Put(HeightKey(kReceiptsTag, height), AsSpan(receipts.SerializeAsString()));
  batch->Put(HeightKey(kExecutedTag, height), AsSpan(executed.SerializeAsString()));
  for (size_t i = 0; i < block.tx_ids.size(); ++i) {
    // Only executed transactions are indexed: one refused as a whole was included but never ran
    // (tx_expired), or ran before and keeps its first location (tx_duplicate). A transaction id
    // is executed once, and its index entry names that execution.
    if (!TxWasExecuted(receipts.receipts(static_cast<int>(i)))) continue;
    pb::TxLocation location;
    location.set_height(height);
    location.set_index(static_cast<uint32_t>(i));
    Bytes key = Key(kTxTag);
    Append(key, block.tx_ids[i].span());
    batch->Put(key, AsSpan(location.SerializeAsString()));
  }
  Bytes latest;
  AppendU64BE(latest, height);
  batch->Put(Key(kLatestTag), latest);
}

void BlockStore::AddExecutionCertificate(uint64_t height, ByteSpan cert, WriteBatch* batch) const {
  batch->Put(HeightKey(kExecCertTag, height), cert);
}

Result<uint64_t> BlockStore::LatestHeight() const {
  auto raw = store_->Get(Key(kLatestTag));
  if (!raw) return std::unexpected(raw.error());
  if (!raw->has_value()) return uint64_t{0};
  if ((*raw)->size() != 8)
    return MakeError(ErrorCode::kCorruption, "stored latest block height is not 8 bytes");
  return LoadU64BE((*raw)->data());
}

Result<std::optional<Bytes>> BlockStore::GetAt(uint8_t tag, uint64_t height) const {
  return store_->Get(HeightKey(tag, height));
}
Result<std::optional<Bytes>> BlockStore::GetBlock(uint64_t height) const {
  return GetAt(kBlockTag, height);
}
Result<std::optional<Bytes>> BlockStore::GetCommitCertificate(uint64_t height) const {
  return GetAt(kCommitCertTag, height);
}
Result<std::optional<Bytes>> BlockStore::GetExecutionCertificate(uint64_t height) const {
  return GetAt(kExecCertTag, height);
}
Result<std::optional<pb::ReceiptList>> BlockStore::GetReceipts(uint64_t height) const {
  return ParseRecord<pb::ReceiptList>(GetAt(kReceiptsTag, height), "receipt list");
}
Result<std::optional<pb::ExecutedBlock>> BlockStore::GetExecuted(uint64_t height) const {
  return ParseRecord<pb::ExecutedBlock>(GetAt(kExecutedTag, height), "executed block");
}
Result<std::optional<pb::TxLocation>> BlockStore::FindTx(const Hash32& tx_id) const {
  Bytes key = Key(kTxTag);
  Append(key, tx_id.span());
  return ParseRecord<pb::TxLocation>(store_->Get(key), "tx location");
}

bool TxWasExecuted(const pb::Receipt& receipt) {
  return receipt.code() == static_cast<uint32_t>(ResultCode::kOk);
}

Hash32 ReceiptRoot(const pb::ReceiptList& receipts) {
  std::vector<Hash32> leaves;
  leaves.reserve(receipts.receipts_size());
  for (const pb::Receipt& r : receipts.receipts())
    leaves.push_back(MerkleLeafHash(ReceiptHash(r).span()));
  return MerkleRootOfLeafHashes(leaves);
}

}  // namespace cl::ledger
