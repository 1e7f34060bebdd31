// Consensus throughput: n PBFT replicas in one process on one thread, no network delay, real
// signatures (every replica verifies every message itself), blocks of 1,000 dummy payload items.
// Figures: consensus_blocks_per_s_n<N> (blocks the whole cluster orders per second of one core) and
// consensus_cpu_ms_per_block_n<N> (CPU per block per replica = cluster CPU / blocks / n).
#include <benchmark/benchmark.h>

#include <deque>
#include <map>
#include <string>

#include "consensus/replica.h"
#include "crypto/sha256.h"

namespace {

using namespace cl;
using namespace cl::consensus;

constexpr size_t kItemsPerBlock = 1000;
constexpr size_t kItemBytes = 64;  // about the size of a transfer's id, accounts and amount
constexpr char kChain[] = "bench-chain";

class NullStorage final : public Storage {
 public:
  void AppendRecord(uint64_t, const std::string&) override {}
  void PutViewRecord(const std::string&) override {}
  void PutCheckpoint(const std::string&) override {}
  void DropRecordsUpTo(uint64_t) override {}
  Loaded Load() override { return {}; }
};

class CountingApp final : public Application {
 public:
  bool ValidatePayload(uint64_t, ByteSpan) override { return true; }
  void DeliverBlock(const CommittedBlock& block) override { pending.push_back(block.height); }
  std::optional<pb::CertifiedBlock> LoadBlock(uint64_t) override { return std::nullopt; }
  std::deque<uint64_t> pending;
  uint64_t delivered = 0;
};

void RunCluster(benchmark::State& state, uint32_t n) {
  std::vector<crypto::PrivateKey> keys;
  std::vector<crypto::PublicKey> pubs;
  for (uint32_t i = 0; i < n; ++i) {
    std::string seed = "bench-key-";
    seed.append(std::to_string(i));
    keys.push_back(*crypto::PrivateKey::FromBytes(crypto::Sha256Of(AsSpan(seed)).span()));
    pubs.push_back(keys.back().GetPublicKey());
  }
  std::vector<NullStorage> storage(n);
  std::vector<CountingApp> apps(n);
  std::vector<std::unique_ptr<Replica>> replicas;
  for (uint32_t i = 0; i < n; ++i) {
    ReplicaConfig cfg;
    cfg.chain_id = kChain;
    cfg.validators = pubs;
    cfg.self = i;
    cfg.key = keys[i];
    cfg.view_timeout_ms = 1u << 30;  // no view changes: time does not pass in this benchmark
    replicas.push_back(std::make_unique<Replica>(std::move(cfg), &apps[i], &storage[i], 0, 0));
  }
  Bytes payload(kItemsPerBlock * kItemBytes);
  for (size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<uint8_t>(i * 31);
  Hash32 root = crypto::Sha256Of(AsSpan("root"));

  std::deque<std::pair<uint32_t, std::string>> queue;
  auto apply = [&](uint32_t from, Effects fx, auto& self) -> void {
    for (auto& m : fx.messages) {
      for (uint32_t to = 0; to < n; ++to) {
        if (to != from && (m.to == kBroadcast || m.to == to)) queue.push_back({to, m.bytes});
      }
    }
    while (!apps[from].pending.empty()) {
      uint64_t h = apps[from].pending.front();
      apps[from].pending.pop_front();
      ++apps[from].delivered;
      self(from, replicas[from]->OnExecuted(0, h, root, root), self);
    }
  };

  uint64_t blocks = 0;
  uint64_t id = 0;
  for (auto _ : state) {
    // A fresh payload each block (the first 8 bytes are a counter), proposed by the primary (0).
    for (int k = 0; k < 8; ++k)
      payload[k] = static_cast<uint8_t>(++id >> (8 * k));
    apply(0, replicas[0]->OnPayloadReady(0, payload), apply);
    while (!queue.empty()) {
      auto [to, bytes] = std::move(queue.front());
      queue.pop_front();
      apply(to, replicas[to]->OnMessage(0, bytes), apply);
    }
    ++blocks;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (apps[i].delivered != blocks) state.SkipWithError("a replica did not commit every block");
  }
  const std::string suffix = "_n" + std::to_string(n);
  state.counters["consensus_blocks_per_s" + suffix] =
      benchmark::Counter(static_cast<double>(blocks), benchmark::Counter::kIsRate);
  state.counters["consensus_cpu_ms_per_block" + suffix] =
      benchmark::Counter(static_cast<double>(blocks) * n / 1000.0,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ConsensusN4(benchmark::State& state) {
  RunCluster(state, 4);
}
void BM_ConsensusN16(benchmark::State& state) {
  RunCluster(state, 16);
}

BENCHMARK(BM_ConsensusN4)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConsensusN16)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
