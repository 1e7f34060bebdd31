// consensus::Storage on the node's KvStore: what the replica signed, written synced before the
// replica sends it, so a restarted validator never contradicts itself (DESIGN decision 8).
//
// Key layout (do not change):
//   "csR" || u64be seq || u32be n -> the n-th PersistedRecord appended for seq
//   "csV"                         -> the latest VIEW_CHANGE / NEW_VIEW record
//   "csC"                         -> the latest stable execution certificate
//
// A storage failure here stops the process (node/storage_failure.h) before the call returns: the
// replica cannot continue without durable votes, and must not send a vote it might not remember.
//
// Thread safety: one caller (the driver thread).
#pragma once

#include <optional>

#include "consensus/replica.h"
#include "ledger/kv_store.h"

namespace cl::node {

class ConsensusStore final : public consensus::Storage {
 public:
  // What the replica of `epoch` persists (docs/consensus.md "Epochs": each epoch's replica has its
  // own records, view record and checkpoint; epoch 0's keys are those of a node before epochs).
  explicit ConsensusStore(ledger::KvStore* store, uint64_t epoch = 0);

  void AppendRecord(uint64_t seq, const std::string& record) override;
  void PutViewRecord(const std::string& record) override;
  void PutCheckpoint(const std::string& cert) override;
  void DropRecordsUpTo(uint64_t seq) override;
  // Reads what the replica's Load will get, returning a failed read as an error (a node's start
  // calls it before making the replica, so a failed read refuses the start instead of stopping a
  // running node). Load then returns what it read, once.
  Result<Loaded> Read();
  Loaded Load() override;

 private:
  void Write(ledger::WriteBatch& batch);
  ledger::KvStore* store_;
  const Bytes record_prefix_, view_key_, checkpoint_key_;
  uint32_t next_index_ = 0;     // appended records get increasing indexes within a seq
  std::optional<Loaded> read_;  // what Read returned, for the next Load
};

}  // namespace cl::node
