#include "crypto/parallel_verifier.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace cl::crypto {
namespace {

// Owns the bytes that VerifyItem spans point into.
struct Corpus {
  std::vector<Bytes> keys;
  std::vector<Bytes> sigs;
  std::vector<Hash32> digests;
  std::vector<VerifyItem> items;
  std::vector<uint8_t> expected;  // crypto::Verify's verdict, computed item by item
};

// n items cycling through valid signatures and every way an item can be wrong. The expected
// verdicts come from the single-item API, so the batch must agree with it exactly.
Corpus MakeCorpus(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<PrivateKey> signers;
  for (int i = 0; i < 4; ++i)
    signers.push_back(PrivateKey::Generate());
  Corpus c;
  c.keys.resize(n);
  c.sigs.resize(n);
  c.digests.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const PrivateKey& signer = signers[i % signers.size()];
    PublicKey pub = signer.GetPublicKey();
    Hash32 digest = Sha256Of(AsSpan("item " + std::to_string(i) + "/" + std::to_string(seed)));
    Signature sig = signer.Sign(digest);
    Bytes key(pub.bytes.begin(), pub.bytes.end());
    Bytes sig_bytes(sig.bytes.begin(), sig.bytes.end());
    switch (rng() % 10) {
      case 0:  // wrong digest
        digest.bytes[rng() % 32] ^= 0x01;
        break;
      case 1: {  // someone else's key
        PublicKey other = signers[(i + 1) % signers.size()].GetPublicKey();
        key = Bytes(other.bytes.begin(), other.bytes.end());
        break;
      }
      case 2:  // corrupted signature byte
        sig_bytes[rng() % 64] ^= static_cast<uint8_t>(1 + rng() % 255);
        break;
      case 3:  // key that does not parse: bad prefix, not on the curve, or wrong length
        if (i % 3 == 0) key[0] = 0x04;
        if (i % 3 == 1) std::fill(key.begin() + 1, key.end(), 0xff);
        if (i % 3 == 2) key.pop_back();
        break;
      case 4:  // signature of the wrong length
        if (i % 2 == 0) sig_bytes.pop_back();
        if (i % 2 == 1) sig_bytes.push_back(0);
        break;
      default:  // valid (half of the items)
        break;
    }
    c.keys[i] = std::move(key);
    c.sigs[i] = std::move(sig_bytes);
    c.digests[i] = digest;
  }
  for (size_t i = 0; i < n; ++i) {
    c.items.push_back(VerifyItem{c.keys[i], c.digests[i], c.sigs[i]});
    auto key = PublicKey::Parse(c.keys[i]);
    auto sig = Signature::FromSpan(c.sigs[i]);
    bool ok = key.has_value() && sig.has_value() && Verify(*key, c.digests[i], *sig);
    c.expected.push_back(ok ? kVerdictValid : kVerdictInvalid);
  }
  return c;
}

TEST(ParallelVerifier, VerdictsMatchSingleVerifyForEveryBatchSize) {
  Corpus corpus = MakeCorpus(3001, 1);
  ParallelVerifier verifier(3);  // more threads than this machine's cores, on purpose
  ASSERT_EQ(verifier.num_threads(), 3u);
  for (size_t n : {0, 1, 2, 7, 8, 9, 17, 63, 64, 65, 101, 1000, 3001}) {
    auto verdicts = verifier.VerifyBatch(std::span(corpus.items).first(n));
    ASSERT_TRUE(verdicts.has_value()) << n;
    EXPECT_EQ(*verdicts, std::vector<uint8_t>(corpus.expected.begin(),
                                              corpus.expected.begin() + static_cast<ptrdiff_t>(n)))
        << "batch of " << n;
  }
}

TEST(ParallelVerifier, CorpusHasBothVerdicts) {
  // Guards the other tests against a corpus that is all valid or all invalid.
  Corpus corpus = MakeCorpus(200, 2);
  size_t valid = std::count(corpus.expected.begin(), corpus.expected.end(), kVerdictValid);
  EXPECT_GT(valid, 50u);
  EXPECT_LT(valid, 150u);
}

TEST(ParallelVerifier, SingleThreadPoolGivesTheSameVerdicts) {
  Corpus corpus = MakeCorpus(500, 3);
  ParallelVerifier verifier(1);
  auto verdicts = verifier.VerifyBatch(corpus.items);
  ASSERT_TRUE(verdicts.has_value());
  EXPECT_EQ(*verdicts, corpus.expected);
}

TEST(ParallelVerifier, DefaultPoolHasAtLeastOneThreadAndCapIsApplied) {
  ParallelVerifier by_default;
  EXPECT_GE(by_default.num_threads(), 1u);
  EXPECT_EQ(by_default.num_threads(),
            std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(),
                                                 ParallelVerifier::kMaxThreads)));
  ParallelVerifier capped(ParallelVerifier::kMaxThreads + 10);
  EXPECT_EQ(capped.num_threads(), ParallelVerifier::kMaxThreads);
}

TEST(ParallelVerifier, WritesIntoCallerBuffer) {
  Corpus corpus = MakeCorpus(77, 4);
  ParallelVerifier verifier(2);
  std::vector<uint8_t> verdicts(corpus.items.size(), 0xaa);
  ASSERT_TRUE(verifier.VerifyBatch(corpus.items, verdicts).has_value());
  EXPECT_EQ(verdicts, corpus.expected);
}

TEST(ParallelVerifier, RejectsBatchPastTheLimit) {
  ParallelVerifier verifier(2);
  std::vector<VerifyItem> items(ParallelVerifier::kMaxBatchItems + 1);
  auto verdicts = verifier.VerifyBatch(items);
  ASSERT_FALSE(verdicts.has_value());
  EXPECT_EQ(verdicts.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(verdicts.error().message.find("kMaxBatchItems"), std::string::npos);
  std::vector<uint8_t> buffer(items.size());
  EXPECT_EQ(verifier.VerifyBatch(items, buffer).error().code, ErrorCode::kResourceExhausted);
}

TEST(ParallelVerifier, AcceptsBatchAtTheLimit) {
  // Items with empty keys are invalid without any curve math, so this is quick.
  ParallelVerifier verifier(2);
  std::vector<VerifyItem> items(ParallelVerifier::kMaxBatchItems);
  auto verdicts = verifier.VerifyBatch(items);
  ASSERT_TRUE(verdicts.has_value());
  EXPECT_EQ(*verdicts, std::vector<uint8_t>(items.size(), kVerdictInvalid));
}

TEST(ParallelVerifier, RejectsVerdictBufferOfWrongSize) {
  Corpus corpus = MakeCorpus(10, 5);
  ParallelVerifier verifier(2);
  std::vector<uint8_t> small(9);
  auto status = verifier.VerifyBatch(corpus.items, small);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
}

TEST(ParallelVerifier, ConcurrentCallersEachGetTheirOwnVerdicts) {
  constexpr int kCallers = 4;
  constexpr int kRoundsPerCaller = 15;
  std::vector<Corpus> corpora;
  for (int i = 0; i < kCallers; ++i)
    corpora.push_back(MakeCorpus(150 + 37 * i, 10 + i));
  ParallelVerifier verifier(2);
  std::vector<int> mismatches(kCallers, 0);
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&, t] {
      const Corpus& c = corpora[t];
      for (int round = 0; round < kRoundsPerCaller; ++round) {
        // Vary the size so batches of different shapes interleave in the queue.
        size_t n = c.items.size() - static_cast<size_t>(round * 7);
        auto verdicts = verifier.VerifyBatch(std::span(c.items).first(n));
        if (!verdicts.has_value() ||
            *verdicts != std::vector<uint8_t>(c.expected.begin(),
                                              c.expected.begin() + static_cast<ptrdiff_t>(n)))
          ++mismatches[t];
      }
    });
  }
  for (std::thread& t : callers)
    t.join();
  for (int t = 0; t < kCallers; ++t)
    EXPECT_EQ(mismatches[t], 0) << "caller " << t;
}

TEST(ParallelVerifier, ShutsDownCleanlyWithAndWithoutWork) {
  Corpus corpus = MakeCorpus(40, 6);
  for (int i = 0; i < 20; ++i) {
    ParallelVerifier verifier(1 + i % 4);
    if (i % 2 == 0) {
      auto verdicts = verifier.VerifyBatch(corpus.items);
      ASSERT_TRUE(verdicts.has_value());
      EXPECT_EQ(*verdicts, corpus.expected);
    }
  }
}

}  // namespace
}  // namespace cl::crypto
