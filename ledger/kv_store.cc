#include "ledger/kv_store.h"

namespace cl::ledger {

void WriteBatch::Put(ByteSpan key, ByteSpan value) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  approximate_bytes_ += key.size() + value.size();
}

void WriteBatch::Delete(ByteSpan key) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), std::nullopt});
  approximate_bytes_ += key.size();
}

}  // namespace cl::ledger
