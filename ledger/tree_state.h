// Glue between the executor and the authenticated state tree: a StateReader over the tree at a
// fixed version (the previous block's height), and the commit of a block's sorted changes as the
// next version, which yields the state root. Genesis state is version 0.
//
// Thread safety: TreeStateReader is as thread-safe as StateTree::Get; CommitChanges is a writer
// (one at a time, StateTree's rule).
#pragma once

#include <vector>

#include "ledger/kv_store.h"
#include "ledger/state_reader.h"
#include "ledger/state_tree.h"

namespace cl::ledger {

class TreeStateReader final : public StateReader {
 public:
  TreeStateReader(const StateTree& tree, uint64_t version) : tree_(tree), version_(version) {}
  Result<std::optional<Bytes>> Get(ByteSpan key) const override { return tree_.Get(key, version_); }

 private:
  const StateTree& tree_;
  uint64_t version_;
};

// Adds the tree nodes of version `height` to *batch and returns its root. The caller writes the
// batch (with the block and its receipts, synced) before executing the next block.
Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                             const std::vector<StateChange>& changes, WriteBatch* batch);

}  // namespace cl::ledger
