#include "node/mempool.h"

#include <gtest/gtest.h>

#include "tests/unit/node/test_txs.h"

namespace cl::node {
namespace {

constexpr char kChain[] = "test-chain";

class MempoolTest : public ::testing::Test {
 protected:
  Bytes MakeTx(uint64_t nonce, uint64_t valid_until_height = 100) {
    return ledger::SignTransaction(
        testing::CreateAccountBody(kChain, nonce, valid_until_height, key_),
        std::span<const crypto::PrivateKey>(&key_, 1));
  }

  std::vector<AdmitResult> Admit(Mempool& pool, std::vector<Bytes> txs, uint64_t height = 0) {
    std::vector<ByteSpan> spans(txs.begin(), txs.end());
    return pool.Admit(spans, height, 0);
  }

  crypto::PrivateKey key_ = crypto::PrivateKey::Generate();
  crypto::ParallelVerifier verifier_{2};
};

TEST_F(MempoolTest, AdmitsValidTransactionsOnce) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {MakeTx(1), MakeTx(2), MakeTx(1)});
  EXPECT_EQ(r[0].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(r[1].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(r[2].status, AdmitStatus::kDuplicate);
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(Admit(pool, {MakeTx(2)})[0].status, AdmitStatus::kDuplicate);
  ASSERT_NE(pool.Find(r[0].tx_id), nullptr);
  EXPECT_EQ(pool.Find(r[0].tx_id)->tx.tx_id(), r[0].tx_id);
}

TEST_F(MempoolTest, RejectsGarbageBadSignatureAndWrongChain) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  Bytes tampered = MakeTx(3);
  tampered[tampered.size() - 5] ^= 0x01;  // inside the last signature
  Bytes garbage = {1, 2, 3, 4};
  Mempool other_chain({"other-chain", 100, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {garbage, tampered});
  EXPECT_EQ(r[0].status, AdmitStatus::kRejected);
  EXPECT_EQ(r[1].status, AdmitStatus::kRejected);
  EXPECT_FALSE(r[1].reason.empty());
  EXPECT_EQ(Admit(other_chain, {MakeTx(4)})[0].status, AdmitStatus::kRejected);
  EXPECT_EQ(pool.size(), 0u);
}

TEST_F(MempoolTest, FullPoolAnswersFull) {
  Mempool pool({kChain, 2, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {MakeTx(1), MakeTx(2), MakeTx(3)});
  EXPECT_EQ(r[2].status, AdmitStatus::kFull);
  EXPECT_EQ(r[2].reason, "mempool full");
  EXPECT_EQ(pool.size(), 2u);
}

// Under overload the pool is full and most submissions are refused: the refusal must not cost a
// signature verification (it did: every refused transaction was verified first, so ten times the
// committed rate spent the verifier on transactions the pool could not take). A transaction with a
// bad signature shows the order: it is answered kFull, not rejected for its signature.
TEST_F(MempoolTest, FullPoolAnswersFullBeforeCheckingSignatures) {
  Mempool pool({kChain, 2, 1u << 20, {}}, &verifier_);
  Bytes tampered = MakeTx(3);
  tampered[tampered.size() - 5] ^= 0x01;  // inside the last signature
  auto r = Admit(pool, {MakeTx(1), MakeTx(2), tampered});
  EXPECT_EQ(r[0].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(r[1].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(r[2].status, AdmitStatus::kFull);
  EXPECT_FALSE(r[2].bad_signature);
  r = Admit(pool, {tampered, MakeTx(4)});
  EXPECT_EQ(r[0].status, AdmitStatus::kFull);
  EXPECT_EQ(r[1].status, AdmitStatus::kFull);
  EXPECT_EQ(pool.size(), 2u);
}

TEST_F(MempoolTest, ByteLimitIsEnforced) {
  Bytes tx = MakeTx(1);
  Mempool pool({kChain, 100, tx.size() + 10, {}}, &verifier_);
  auto r = Admit(pool, {tx, MakeTx(2)});
  EXPECT_EQ(r[0].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(r[1].status, AdmitStatus::kFull);
  EXPECT_EQ(pool.bytes(), tx.size());
}

TEST_F(MempoolTest, ReapKeepsAdmissionOrderAndLimits) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {MakeTx(1), MakeTx(2), MakeTx(3), MakeTx(4)});
  auto reaped = pool.Reap(3, 1u << 20, 1);
  ASSERT_EQ(reaped.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(reaped[i]->tx.tx_id(), r[i].tx_id);
  size_t one = reaped[0]->envelope.size();
  EXPECT_EQ(pool.Reap(10, one, 1).size(), 1u);
}

TEST_F(MempoolTest, ReapSkipsTransactionsOfBlocksInFlight) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {MakeTx(1), MakeTx(2), MakeTx(3)});
  const std::unordered_set<Hash32, Hash32Hasher> in_flight = {r[0].tx_id, r[2].tx_id};
  auto reaped = pool.Reap(10, 1u << 20, 1, &in_flight);
  ASSERT_EQ(reaped.size(), 1u);
  EXPECT_EQ(reaped[0]->tx.tx_id(), r[1].tx_id);
  // Excluded transactions stay pooled: they are reaped again if their block does not commit.
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.Reap(10, 1u << 20, 1).size(), 3u);
}

TEST_F(MempoolTest, ExpiredTransactionsAreRejectedDroppedAndNotReaped) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  EXPECT_EQ(Admit(pool, {MakeTx(1, 5)}, /*height=*/5)[0].status, AdmitStatus::kRejected);
  Admit(pool, {MakeTx(2, 5), MakeTx(3, 50)}, 0);
  EXPECT_EQ(pool.Reap(10, 1u << 20, 6).size(), 1u);
  EXPECT_EQ(pool.Expire(5, 0), 1u);
  EXPECT_EQ(pool.size(), 1u);
}

TEST_F(MempoolTest, ExpiredBoundIsRefusedNamingTheFieldAndTheClock) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  // Height: compared with the next block's height.
  auto by_height = Admit(pool, {MakeTx(1, 5)}, /*height=*/5);
  EXPECT_EQ(by_height[0].status, AdmitStatus::kRejected);
  EXPECT_EQ(by_height[0].reason,
            "body.valid_until_height: 5 has passed; the next block is at height 6");
  // Time: compared with the last committed block's time, not this node's clock.
  ledger::pb::TxBody body = testing::CreateAccountBody(kChain, 2, 100, key_);
  body.set_valid_until_time_ms(1'000);
  Bytes tx = ledger::SignTransaction(body, std::span<const crypto::PrivateKey>(&key_, 1));
  std::vector<ByteSpan> spans = {tx};
  auto by_time = pool.Admit(spans, 3, /*time_ms=*/1'001);
  EXPECT_EQ(by_time[0].status, AdmitStatus::kRejected);
  EXPECT_EQ(by_time[0].reason,
            "body.valid_until_time_ms: 1000 has passed; the last committed block's time (block "
            "time, Unix ms) is 1001");
  // At the bound itself it is still admitted (its block may then be too late: tx_expired).
  EXPECT_EQ(pool.Admit(spans, 3, 1'000)[0].status, AdmitStatus::kAdmitted);
}

TEST_F(MempoolTest, RemoveDropsCommittedTransactions) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  auto r = Admit(pool, {MakeTx(1), MakeTx(2)});
  std::vector<Hash32> committed = {r[0].tx_id};
  pool.Remove(committed);
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_EQ(pool.Find(r[0].tx_id), nullptr);
  EXPECT_EQ(pool.bytes(), pool.Find(r[1].tx_id)->envelope.size());
}

}  // namespace
}  // namespace cl::node

namespace cl::node {
namespace {

TEST_F(MempoolTest, CommittedTransactionsAreDuplicatesNotAdmittedAgain) {
  Bytes tx = MakeTx(9);
  Hash32 committed_id = ledger::ParseTransaction(tx, kChain)->tx_id;
  MempoolConfig config{kChain, 100, 1u << 20, {}};
  config.committed_height = [committed_id](const Hash32& id) -> Result<std::optional<uint64_t>> {
    if (id == committed_id) return std::optional<uint64_t>(42);
    return std::optional<uint64_t>();
  };
  Mempool pool(std::move(config), &verifier_);
  auto r = Admit(pool, {tx, MakeTx(10)});
  EXPECT_EQ(r[0].status, AdmitStatus::kDuplicate);
  EXPECT_EQ(r[0].reason, "already committed at height 42");
  EXPECT_EQ(r[1].status, AdmitStatus::kAdmitted);
  EXPECT_EQ(pool.size(), 1u);
}

}  // namespace
}  // namespace cl::node

namespace cl::node {
namespace {

// A committed-transaction lookup that cannot read refuses the transaction (it was admitted again:
// the failed lookup counted as "never committed"), as unavailable: retrying may succeed, so it is
// not answered as an invalid transaction (review finding: clients drop a -32011 transaction).
TEST_F(MempoolTest, AFailedCommittedLookupRefusesTheTransaction) {
  MempoolConfig config{kChain, 100, 1u << 20, {}};
  config.committed_height = [](const Hash32&) -> Result<std::optional<uint64_t>> {
    return MakeError(ErrorCode::kIoError, "chain database /d: read failed: IO error");
  };
  Mempool pool(std::move(config), &verifier_);
  auto r = Admit(pool, {MakeTx(11)});
  EXPECT_EQ(r[0].status, AdmitStatus::kUnavailable);
  EXPECT_NE(r[0].reason.find("read failed: IO error"), std::string::npos) << r[0].reason;
  EXPECT_EQ(pool.size(), 0u);
}

// A gossiped transaction whose signature does not verify marks its sender as faulty (node.cc
// ignores that peer's gossip for a while); other refusals do not (issue 14, defect 14).
TEST_F(MempoolTest, BadSignatureIsFlaggedApartFromOtherRefusals) {
  Mempool pool({kChain, 100, 1u << 20, {}}, &verifier_);
  Bytes tampered = MakeTx(3);
  tampered[tampered.size() - 5] ^= 0x01;  // inside the last signature
  auto r = Admit(pool, {tampered, MakeTx(4, /*valid_until_height=*/0), Bytes{1, 2, 3}, MakeTx(5)});
  EXPECT_EQ(r[0].status, AdmitStatus::kRejected);
  EXPECT_TRUE(r[0].bad_signature);
  EXPECT_EQ(r[1].status, AdmitStatus::kRejected);  // expired
  EXPECT_FALSE(r[1].bad_signature);
  EXPECT_FALSE(r[2].bad_signature);  // garbage
  EXPECT_EQ(r[3].status, AdmitStatus::kAdmitted);
  EXPECT_FALSE(r[3].bad_signature);
}

// Pooled transactions carry their age, and the ones pooled long enough are offered for re-gossip
// oldest first, within the bounds (issue 14, defect 7).
TEST_F(MempoolTest, StaleTransactionsAreOfferedOldestFirstWithinBounds) {
  uint64_t now_ms = 1'000;
  MempoolConfig config{kChain, 100, 1u << 20, {}};
  config.now_ms = [&now_ms] { return now_ms; };
  Mempool pool(config, &verifier_);
  auto first = Admit(pool, {MakeTx(1), MakeTx(2)});
  now_ms += 5'000;
  auto second = Admit(pool, {MakeTx(3)});
  EXPECT_EQ(pool.OldestAgeMs(), 5'000u);
  EXPECT_EQ(pool.AgeMs(*pool.Find(second[0].tx_id)), 0u);
  auto stale = pool.Stale(100, 1u << 20, /*min_age_ms=*/1'000);
  ASSERT_EQ(stale.size(), 2u);
  EXPECT_EQ(stale[0]->tx.tx_id(), first[0].tx_id);
  EXPECT_EQ(stale[1]->tx.tx_id(), first[1].tx_id);
  EXPECT_EQ(pool.Stale(1, 1u << 20, 0).size(), 1u);
  EXPECT_EQ(pool.Stale(100, 1u << 20, 0).size(), 3u);
  EXPECT_EQ(pool.Stale(100, 1, 0).size(), 0u);  // byte bound
  pool.Remove(std::vector<Hash32>{first[0].tx_id, first[1].tx_id});
  EXPECT_EQ(pool.OldestAgeMs(), 0u);
  EXPECT_TRUE(pool.Stale(100, 1u << 20, 1'000).empty());
}

}  // namespace
}  // namespace cl::node
