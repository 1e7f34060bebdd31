#include "ledger/tree_state.h"

namespace cl::ledger {

Result<Hash32> CommitChanges(StateTree& tree, uint64_t height,
                             const std::vector<StateChange>& changes, WriteBatch* batch) {
  std::vector<StateWrite> writes;
  writes.reserve(changes.size());
  for (const auto& c : changes)
    writes.push_back(StateWrite{c.key, c.value});
  return tree.Apply(height, writes, batch);
}

}  // namespace cl::ledger
