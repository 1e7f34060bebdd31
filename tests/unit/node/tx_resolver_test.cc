// ResolveBlockTxs: a block's transaction is taken from the mempool or the verified cache only when
// the envelope bytes are the block's; an envelope with the same body (same id) but other
// signatures is verified on its own and refused when its signatures do not verify.
#include "node/tx_resolver.h"

#include <gtest/gtest.h>

#include "ledger/ledger.pb.h"
#include "tests/unit/node/test_txs.h"

namespace cl::node {
namespace {

constexpr char kChain[] = "test-chain";
constexpr size_t kMaxCache = 100;

class TxResolverTest : public ::testing::Test {
 protected:
  ledger::pb::TxBody Body(uint64_t nonce) {
    return testing::CreateAccountBody(kChain, nonce, 100, key_);
  }
  Bytes Sign(const ledger::pb::TxBody& body, const crypto::PrivateKey& key) {
    return ledger::SignTransaction(body, std::span<const crypto::PrivateKey>(&key, 1));
  }
  // The same envelope with one byte of its first signature flipped: same body, same id.
  static Bytes WithBadSignature(const Bytes& envelope) {
    ledger::pb::TxEnvelope parsed;
    EXPECT_TRUE(parsed.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
    std::string* sig = parsed.mutable_signatures(0)->mutable_signature();
    EXPECT_FALSE(sig->empty());
    (*sig)[5] = static_cast<char>((*sig)[5] ^ 0x01);
    return ToBytes(parsed.SerializeAsString());
  }
  static ledger::DecodedBlock BlockOf(const std::vector<Bytes>& envelopes) {
    ledger::DecodedBlock block;
    for (const Bytes& e : envelopes) {
      auto parsed = ledger::ParseTransaction(e, kChain);
      EXPECT_TRUE(parsed.has_value());
      block.tx_ids.push_back(parsed->tx_id);
      block.txs.push_back(e);
    }
    return block;
  }

  crypto::PrivateKey key_ = crypto::PrivateKey::Generate();
  crypto::ParallelVerifier verifier_{2};
  Mempool pool_{{kChain, 100, 1u << 20, {}}, &verifier_};
  VerifiedEnvelopeCache cache_;
};

TEST_F(TxResolverTest, PooledCopyIsUsedWhenTheEnvelopeIsTheSame) {
  const Bytes good = Sign(Body(1), key_);
  const ByteSpan span = good;
  ASSERT_EQ(pool_.Admit({&span, 1}, 0, 0)[0].status, AdmitStatus::kAdmitted);
  auto resolved = ResolveBlockTxs(BlockOf({good}), kChain, pool_, verifier_, cache_, kMaxCache);
  ASSERT_TRUE(resolved.has_value()) << resolved.error().message;
  ASSERT_EQ(resolved->size(), 1u);
  EXPECT_TRUE(cache_.empty());  // nothing needed verifying
}

TEST_F(TxResolverTest, SameBodyWithBadSignaturesIsRefusedEvenWhenPooled) {
  const Bytes good = Sign(Body(1), key_);
  const ByteSpan span = good;
  ASSERT_EQ(pool_.Admit({&span, 1}, 0, 0)[0].status, AdmitStatus::kAdmitted);
  const Bytes forged = WithBadSignature(good);
  ASSERT_NE(forged, good);
  const ledger::DecodedBlock block = BlockOf({forged});
  ASSERT_EQ(block.tx_ids[0], pool_.Find(block.tx_ids[0])->tx.tx_id());  // same id as the pooled
  EXPECT_FALSE(ResolveBlockTxs(block, kChain, pool_, verifier_, cache_, kMaxCache).has_value());
}

TEST_F(TxResolverTest, SameBodySignedByAnotherKeyIsRefusedEvenWhenCached) {
  // Verified once from a proposal (not pooled): remembered with its envelope.
  const ledger::pb::TxBody body = Body(2);
  const Bytes good = Sign(body, key_);
  ASSERT_TRUE(
      ResolveBlockTxs(BlockOf({good}), kChain, pool_, verifier_, cache_, kMaxCache).has_value());
  ASSERT_EQ(cache_.size(), 1u);
  // The same body signed by a key that is not the controller: a valid signature, wrong signer.
  const Bytes other = Sign(body, crypto::PrivateKey::Generate());
  auto resolved = ResolveBlockTxs(BlockOf({other}), kChain, pool_, verifier_, cache_, kMaxCache);
  if (resolved) {
    // Signature checks alone pass; the signer set must then be the envelope's own, not the
    // cached copy's.
    ASSERT_EQ(resolved->size(), 1u);
    EXPECT_FALSE((*resolved)[0].SignedBy(key_.GetPublicKey()));
  }
  // And the forged-signature variant of the cached envelope is refused.
  EXPECT_FALSE(ResolveBlockTxs(BlockOf({WithBadSignature(good)}), kChain, pool_, verifier_, cache_,
                               kMaxCache)
                   .has_value());
}

TEST_F(TxResolverTest, CacheIsBounded) {
  for (uint64_t n = 0; n < 5; ++n) {
    ASSERT_TRUE(ResolveBlockTxs(BlockOf({Sign(Body(10 + n), key_)}), kChain, pool_, verifier_,
                                cache_, /*max_cache=*/3)
                    .has_value());
  }
  EXPECT_EQ(cache_.size(), 3u);
}

}  // namespace
}  // namespace cl::node
