// The inbound p2p messages waiting for the node's driver thread (node.h), bounded by count and by
// bytes: the transport thread pushes, the driver takes the whole queue at once.
//
// Thread safety: none; the node guards its queue with its own mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "crypto/keys.h"
#include "util/bytes.h"

namespace cl::node {

struct InboundMessage {
  crypto::PublicKey from;
  Bytes bytes;
};

class DriverQueue {
 public:
  DriverQueue(size_t max_messages, uint64_t max_bytes);

  // Queues a copy of `message`, or drops it (returns false) when it would make the
  // queue hold more than max_messages messages or max_bytes bytes. A message is never split or
  // truncated; the sender's retransmission or a later sync brings a dropped one again.
  bool Push(const crypto::PublicKey& from, ByteSpan message);
  // Everything queued, oldest first; the queue is then empty.
  std::deque<InboundMessage> TakeAll();

  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  size_t max_messages_;
  uint64_t max_bytes_;
  std::deque<InboundMessage> messages_;
  uint64_t bytes_ = 0;
};

}  // namespace cl::node
