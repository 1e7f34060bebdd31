#include "node/driver_queue.h"

#include <utility>

#include "util/assert.h"

namespace cl::node {

DriverQueue::DriverQueue(size_t max_messages, uint64_t max_bytes)
    : max_messages_(max_messages), max_bytes_(max_bytes) {
  LEDGER_ASSERT(max_messages > 0 && max_bytes > 0);
}

bool DriverQueue::Push(const crypto::PublicKey& from, ByteSpan message) {
  if (messages_.size() >= max_messages_ || message.size() > max_bytes_ - bytes_) {
    return false;
  }
  messages_.push_back({from, Bytes(message.begin(), message.end())});
  bytes_ += message.size();
  LEDGER_ASSERT(messages_.size() <= max_messages_ && bytes_ <= max_bytes_);
  return true;
}

std::deque<InboundMessage> DriverQueue::TakeAll() {
  std::deque<InboundMessage> out;
  out.swap(messages_);
  bytes_ = 0;
  return out;
}

}  // namespace cl::node
