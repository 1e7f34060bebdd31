#include "ledger/kv_store.h"

#include <cstring>

#include "util/assert.h"

namespace cl::ledger {
namespace {

constexpr uint8_t kPut = 1;
constexpr uint8_t kDelete = 2;

void AppendLength(Bytes& rep, size_t length) {
  LEDGER_ASSERT(length <= UINT32_MAX);
  const auto n = static_cast<uint32_t>(length);
  uint8_t raw[sizeof n];
  std::memcpy(raw, &n, sizeof n);
  rep.insert(rep.end(), raw, raw + sizeof n);
}

uint32_t ReadLength(const Bytes& rep, size_t& at) {
  LEDGER_ASSERT(at + sizeof(uint32_t) <= rep.size());
  uint32_t n = 0;
  std::memcpy(&n, rep.data() + at, sizeof n);
  at += sizeof n;
  return n;
}

}  // namespace

void WriteBatch::Put(ByteSpan key, ByteSpan value) {
  rep_.push_back(kPut);
  AppendLength(rep_, key.size());
  rep_.insert(rep_.end(), key.begin(), key.end());
  AppendLength(rep_, value.size());
  rep_.insert(rep_.end(), value.begin(), value.end());
  ++count_;
}

void WriteBatch::Delete(ByteSpan key) {
  rep_.push_back(kDelete);
  AppendLength(rep_, key.size());
  rep_.insert(rep_.end(), key.begin(), key.end());
  ++count_;
}

void WriteBatch::Append(WriteBatch&& other) {
  if (rep_.empty()) {
    rep_ = std::move(other.rep_);
  } else {
    rep_.insert(rep_.end(), other.rep_.begin(), other.rep_.end());
  }
  count_ += other.count_;
  other.Clear();
}

void WriteBatch::ForEach(
    const std::function<void(ByteSpan key, std::optional<ByteSpan> value)>& visit) const {
  size_t at = 0;
  size_t visited = 0;
  while (at < rep_.size()) {
    const uint8_t kind = rep_[at++];
    LEDGER_ASSERT(kind == kPut || kind == kDelete);
    const uint32_t key_size = ReadLength(rep_, at);
    LEDGER_ASSERT(at + key_size <= rep_.size());
    const ByteSpan key(rep_.data() + at, key_size);
    at += key_size;
    if (kind == kDelete) {
      visit(key, std::nullopt);
    } else {
      const uint32_t value_size = ReadLength(rep_, at);
      LEDGER_ASSERT(at + value_size <= rep_.size());
      visit(key, ByteSpan(rep_.data() + at, value_size));
      at += value_size;
    }
    ++visited;
  }
  LEDGER_ASSERT(visited == count_);
}

}  // namespace cl::ledger
