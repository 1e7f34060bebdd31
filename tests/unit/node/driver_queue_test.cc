#include "node/driver_queue.h"

#include <gtest/gtest.h>

#include "node/node.h"

namespace cl::node {
namespace {

crypto::PublicKey PeerKey() {
  return crypto::PrivateKey::Generate().GetPublicKey();
}

// Review finding: the node's driver queue was bounded by count only, so 65,536 queued messages of
// up to p2p::kMaxMessageBytes each (a terabyte) were accepted. With the node's limits, the fifth
// largest message is dropped: four fill all but a little of kMaxDriverQueueBytes.
TEST(DriverQueue, TheNodesQueueDropsAMessageThatWouldPassItsByteBudget) {
  DriverQueue queue(kMaxDriverQueue, kMaxDriverQueueBytes);
  const crypto::PublicKey peer = PeerKey();
  const Bytes largest(p2p::kMaxMessageBytes, 0x5a);
  const uint64_t fit = kMaxDriverQueueBytes / largest.size();
  ASSERT_LT(fit, kMaxDriverQueue) << "the byte budget must bind before the count";
  for (uint64_t i = 0; i < fit; ++i)
    ASSERT_TRUE(queue.Push(peer, largest)) << "message " << i;
  EXPECT_FALSE(queue.Push(peer, largest));
  EXPECT_EQ(queue.size(), fit);
  EXPECT_EQ(queue.bytes(), fit * largest.size());
  EXPECT_LE(queue.bytes(), kMaxDriverQueueBytes);
  // A smaller message that still fits the rest of the budget is taken.
  const uint64_t rest = kMaxDriverQueueBytes - queue.bytes();
  ASSERT_GT(rest, 0u);
  EXPECT_FALSE(queue.Push(peer, Bytes(rest + 1, 1)));
  EXPECT_TRUE(queue.Push(peer, Bytes(rest, 1)));
  EXPECT_EQ(queue.bytes(), kMaxDriverQueueBytes);
  EXPECT_FALSE(queue.Push(peer, Bytes(1, 1)));
}

TEST(DriverQueue, AMessageBeyondTheCountIsDroppedEvenWhenItsBytesFit) {
  DriverQueue queue(3, 1'000);
  const crypto::PublicKey peer = PeerKey();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(queue.Push(peer, Bytes(1, 1)));
  EXPECT_FALSE(queue.Push(peer, Bytes(1, 1)));
  EXPECT_FALSE(queue.Push(peer, Bytes()));
  EXPECT_EQ(queue.size(), 3u);
}

TEST(DriverQueue, TakingEverythingEmptiesItAndFreesTheBudget) {
  DriverQueue queue(8, 100);
  const crypto::PublicKey a = PeerKey(), b = PeerKey();
  ASSERT_TRUE(queue.Push(a, Bytes(60, 1)));
  ASSERT_TRUE(queue.Push(b, Bytes(40, 2)));
  EXPECT_FALSE(queue.Push(a, Bytes(1, 3)));
  std::deque<InboundMessage> taken = queue.TakeAll();
  ASSERT_EQ(taken.size(), 2u);
  EXPECT_EQ(taken[0].from, a);
  EXPECT_EQ(taken[0].bytes, Bytes(60, 1));
  EXPECT_EQ(taken[1].from, b);
  EXPECT_EQ(taken[1].bytes, Bytes(40, 2));
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_TRUE(queue.Push(a, Bytes(100, 4)));
}

}  // namespace
}  // namespace cl::node
