// The block store: committed blocks, their certificates, receipts, execution results and a
// transaction index, kept in the same KvStore as the state tree so that a block and everything it
// changes are written in one synced batch (DESIGN decision 8). Certificates are opaque bytes here
// (consensus owns their format).
//
// Key layout (do not change):
//   "bkB" || u64be height -> Block bytes (ledger/block.proto)
//   "bkC" || u64be height -> commit certificate bytes
//   "bkE" || u64be height -> execution certificate bytes (written when 2f+1 votes match)
//   "bkR" || u64be height -> ReceiptList
//   "bkX" || u64be height -> ExecutedBlock
//   "bkT" || tx id        -> TxLocation of the block that executed it (TxWasExecuted); a
//                            transaction only included (expired, or a duplicate) has none
//   "bkM"                 -> u64be latest committed height
//
// Thread safety: reads are safe from several threads; Add* only build batches.
#pragma once

#include <optional>

#include "ledger/block.h"
#include "ledger/kv_store.h"
#include "ledger/ledger.pb.h"

namespace cl::ledger {

class BlockStore {
 public:
  explicit BlockStore(KvStore* store);

  // Adds block `block` (at block.header.height(), which must be latest + 1) and everything
  // executing it produced to *batch. The caller adds the state tree's nodes and writes the batch
  // synced.
  void AddCommitted(const DecodedBlock& block, ByteSpan block_bytes, ByteSpan commit_cert,
                    const pb::ReceiptList& receipts, const pb::ExecutedBlock& executed,
                    WriteBatch* batch) const;
  void AddExecutionCertificate(uint64_t height, ByteSpan cert, WriteBatch* batch) const;

  // 0 when no block has been committed.
  Result<uint64_t> LatestHeight() const;
  Result<std::optional<Bytes>> GetBlock(uint64_t height) const;
  Result<std::optional<Bytes>> GetCommitCertificate(uint64_t height) const;
  Result<std::optional<Bytes>> GetExecutionCertificate(uint64_t height) const;
  Result<std::optional<pb::ReceiptList>> GetReceipts(uint64_t height) const;
  Result<std::optional<pb::ExecutedBlock>> GetExecuted(uint64_t height) const;
  // Where the transaction was executed (nullopt: never executed here, TxWasExecuted).
  Result<std::optional<pb::TxLocation>> FindTx(const Hash32& tx_id) const;

 private:
  Result<std::optional<Bytes>> GetAt(uint8_t tag, uint64_t height) const;
  KvStore* store_;
};

// Whether the transaction of this receipt was executed: it ran its operations (whatever their
// results: status committed, partial or rejected) and spent its id. A receipt with a
// transaction-level code (tx_expired, tx_duplicate; ledger/executor.cc ExecuteTx) is an inclusion
// that did not execute.
bool TxWasExecuted(const pb::Receipt& receipt);

// The RFC 6962 root over ReceiptHash of each receipt.
Hash32 ReceiptRoot(const pb::ReceiptList& receipts);

}  // namespace cl::ledger
