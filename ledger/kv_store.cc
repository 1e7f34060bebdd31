#include "ledger/kv_store.h"

#include <iterator>

namespace cl::ledger {

void WriteBatch::Put(ByteSpan key, ByteSpan value) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), Bytes(value.begin(), value.end())});
  approximate_bytes_ += key.size() + value.size();
}

void WriteBatch::Put(Bytes&& key, Bytes&& value) {
  approximate_bytes_ += key.size() + value.size();
  ops_.push_back(Op{std::move(key), std::move(value)});
}

void WriteBatch::Append(WriteBatch&& other) {
  ops_.insert(ops_.end(), std::make_move_iterator(other.ops_.begin()),
              std::make_move_iterator(other.ops_.end()));
  approximate_bytes_ += other.approximate_bytes_;
  other.Clear();
}

void WriteBatch::Delete(ByteSpan key) {
  ops_.push_back(Op{Bytes(key.begin(), key.end()), std::nullopt});
  approximate_bytes_ += key.size();
}

}  // namespace cl::ledger
