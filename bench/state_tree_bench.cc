// State tree figures at 1,000,000 keys, LevelDB on disk: tree_updates_per_s (batches of 10,000
// random updates per version, commit with sync included), proof_verify_per_s (decode + verify of an
// encoded proof, one core) and proof_bytes (mean encoded inclusion proof).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ledger/leveldb_store.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

namespace cl::ledger {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTreeKeys = 1'000'000;
constexpr size_t kUpdatesPerVersion = 10'000;
constexpr size_t kBuildBatchKeys = 100'000;
constexpr size_t kValueBytes = 64;
constexpr size_t kProofSamples = 2'000;

Bytes KeyOf(uint64_t i) {
  Bytes key = ToBytes("account/");
  AppendU64BE(key, i);
  return key;
}

Bytes ValueOf(std::mt19937_64& rng) {
  Bytes value(kValueBytes);
  for (uint8_t& b : value)
    b = static_cast<uint8_t>(rng());
  return value;
}

// One tree of kTreeKeys keys on disk, built once per process and removed at exit.
struct World {
  fs::path dir;
  std::unique_ptr<LevelDbStore> store;
  std::unique_ptr<StateTree> tree;
  uint64_t version = 0;
  uint64_t keys = 0;  // keys 0..keys-1 exist
  std::mt19937_64 rng{42};

  World() {
    std::string pattern = (fs::temp_directory_path() / "state_tree_bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir = pattern;
    auto opened = LevelDbStore::Open(dir, LevelDbOptions{});
    if (!opened) std::abort();
    store = std::move(*opened);
    tree = std::make_unique<StateTree>(store.get());
    while (keys < kTreeKeys) {
      std::vector<StateWrite> writes;
      for (size_t i = 0; i < kBuildBatchKeys; ++i)
        writes.push_back({KeyOf(keys++), ValueOf(rng)});
      Commit(writes);
    }
  }
  ~World() {
    tree.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void Commit(const std::vector<StateWrite>& writes) {
    WriteBatch batch;
    if (!tree->Apply(++version, writes, &batch) || !store->Write(batch, /*sync=*/true)) {
      std::abort();
    }
  }
};

// CPU seconds of the calling thread (separates our work from other load on a shared machine).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

World& TheWorld() {
  static World world;
  return world;
}

void BM_StateTreeUpdates(benchmark::State& state) {
  World& world = TheWorld();
  double apply_s = 0;
  double commit_s = 0;
  double apply_cpu_s = 0;
  double commit_cpu_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // Updates of existing keys, with one in ten a new key, as a block of payments would do.
    std::vector<StateWrite> writes;
    writes.reserve(kUpdatesPerVersion);
    for (size_t i = 0; i < kUpdatesPerVersion; ++i) {
      const uint64_t index = i % 10 == 0 ? world.keys++ : world.rng() % world.keys;
      writes.push_back({KeyOf(index), ValueOf(world.rng)});
    }
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    const double start_cpu = ThreadCpuSeconds();
    WriteBatch batch;
    if (!world.tree->Apply(++world.version, writes, &batch)) std::abort();
    const auto applied = std::chrono::steady_clock::now();
    const double applied_cpu = ThreadCpuSeconds();
    if (!world.store->Write(batch, /*sync=*/true)) std::abort();
    const auto committed = std::chrono::steady_clock::now();
    apply_cpu_s += applied_cpu - start_cpu;
    commit_cpu_s += ThreadCpuSeconds() - applied_cpu;
    apply_s += std::chrono::duration<double>(applied - start).count();
    commit_s += std::chrono::duration<double>(committed - applied).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["tree_updates_per_s"] =
      benchmark::Counter(static_cast<double>(kUpdatesPerVersion) * n, benchmark::Counter::kIsRate);
  state.counters["tree_apply_ms"] = 1000 * apply_s / n;
  state.counters["tree_commit_ms"] = 1000 * commit_s / n;
  state.counters["tree_apply_cpu_ms"] = 1000 * apply_cpu_s / n;
  state.counters["tree_commit_cpu_ms"] = 1000 * commit_cpu_s / n;
}
BENCHMARK(BM_StateTreeUpdates)->Iterations(30)->Unit(benchmark::kMillisecond)->UseRealTime();

struct ProofSample {
  Bytes key;
  Bytes value;
  Bytes encoded;
};

std::vector<ProofSample>& Samples(const Hash32& root) {
  static std::vector<ProofSample> samples = [&] {
    World& world = TheWorld();
    std::vector<ProofSample> out;
    for (size_t i = 0; i < kProofSamples; ++i) {
      Bytes key = KeyOf(world.rng() % world.keys);
      auto proof = world.tree->Prove(key, world.version);
      if (!proof || proof->kind != StateProof::Kind::kInclusion) std::abort();
      if (!VerifyStateProof(root, key, proof->value, *proof)) std::abort();
      out.push_back({key, proof->value, proof->Encode()});
    }
    return out;
  }();
  return samples;
}

void BM_StateProofVerify(benchmark::State& state) {
  World& world = TheWorld();
  const Hash32 root = *world.tree->Root(world.version);
  const std::vector<ProofSample>& samples = Samples(root);
  size_t i = 0;
  for (auto _ : state) {
    const ProofSample& sample = samples[i++ % samples.size()];
    auto proof = StateProof::Decode(sample.encoded);
    if (!proof || !VerifyStateProof(root, sample.key, sample.value, *proof)) std::abort();
  }
  state.counters["proof_verify_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StateProofVerify)->Unit(benchmark::kMicrosecond);

void BM_StateProofSize(benchmark::State& state) {
  World& world = TheWorld();
  const std::vector<ProofSample>& samples = Samples(*world.tree->Root(world.version));
  double total = 0;
  size_t largest = 0;
  for (auto _ : state) {
    total = 0;
    for (const ProofSample& sample : samples) {
      total += static_cast<double>(sample.encoded.size());
      largest = std::max(largest, sample.encoded.size());
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["proof_bytes"] = total / static_cast<double>(samples.size());
  state.counters["proof_max_bytes"] = static_cast<double>(largest);
  state.counters["proof_value_bytes"] = static_cast<double>(kValueBytes);
}
BENCHMARK(BM_StateProofSize)->Iterations(1);

}  // namespace
}  // namespace cl::ledger

BENCHMARK_MAIN();
