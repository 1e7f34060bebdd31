// Crypto micro-benchmarks: SHA-256 throughput, ECDSA sign and verify on one core. The parallel
// verifier's figure is in parallel_verify_bench.cc. Counters named as in bench/micro.sh's JSON.
#include <benchmark/benchmark.h>

#include <vector>

#include "crypto/keys.h"
#include "crypto/parallel_verifier.h"
#include "crypto/sha256.h"

namespace cl::crypto {
namespace {

constexpr size_t kSha256BufferBytes = 1 << 20;

void BM_Sha256(benchmark::State& state) {
  Bytes buffer(kSha256BufferBytes, 0x5a);
  for (auto _ : state)
    benchmark::DoNotOptimize(Sha256Of(buffer));
  double mb = static_cast<double>(kSha256BufferBytes) / 1e6;
  state.counters["sha256_mb_per_s"] =
      benchmark::Counter(mb, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Sha256);

void BM_EcdsaSign(benchmark::State& state) {
  PrivateKey key = PrivateKey::Generate();
  Hash32 digest = Sha256Of(AsSpan("sign me"));
  for (auto _ : state) {
    Signature sig = key.Sign(digest);
    benchmark::DoNotOptimize(sig);
    digest.bytes[0] ^= sig.bytes[0];  // vary the message so nothing is cached
  }
  state.counters["ecdsa_sign_per_s"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EcdsaSign);

void BM_EcdsaVerify(benchmark::State& state) {
  constexpr size_t kDistinct = 256;
  PrivateKey key = PrivateKey::Generate();
  PublicKey pub = key.GetPublicKey();
  std::vector<Hash32> digests(kDistinct);
  std::vector<Signature> sigs(kDistinct);
  for (size_t i = 0; i < kDistinct; ++i) {
    digests[i] = Sha256Of(AsSpan(std::to_string(i)));
    sigs[i] = key.Sign(digests[i]);
  }
  size_t i = 0;
  for (auto _ : state) {
    bool ok = Verify(pub, digests[i], sigs[i]);
    if (!ok) state.SkipWithError("signature did not verify");
    i = (i + 1) % kDistinct;
  }
  state.counters["ecdsa_verify_per_s"] =
      benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EcdsaVerify);

// All cores through the ParallelVerifier, batches of 4,096 distinct signatures; wall-clock rate.
void BM_ParallelVerify(benchmark::State& state) {
  constexpr size_t kBatch = 4096;
  ParallelVerifier verifier;
  PrivateKey key = PrivateKey::Generate();
  PublicKey pub = key.GetPublicKey();
  std::vector<Signature> sigs(kBatch);
  std::vector<VerifyItem> items(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    Hash32 digest = Sha256Of(AsSpan(std::to_string(i)));
    sigs[i] = key.Sign(digest);
    items[i] = VerifyItem{pub.span(), digest, sigs[i].span()};
  }
  std::vector<uint8_t> verdicts(kBatch);
  for (auto _ : state) {
    if (!verifier.VerifyBatch(items, verdicts).has_value()) state.SkipWithError("batch refused");
    for (uint8_t v : verdicts)
      if (v != kVerdictValid) state.SkipWithError("signature did not verify");
  }
  state.counters["parallel_verify_per_s"] =
      benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["parallel_verify_threads"] = static_cast<double>(verifier.num_threads());
}
BENCHMARK(BM_ParallelVerify)->UseRealTime();

}  // namespace
}  // namespace cl::crypto

BENCHMARK_MAIN();
