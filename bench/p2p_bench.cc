// Transport throughput: one encrypted session on loopback (two Transports in this process, each
// with its own thread). Reports p2p_mb_per_s (64 KiB messages) and p2p_msgs_per_s (200-byte
// messages), which bench/micro.sh collects. Targets: >= 200 MB/s and >= 100,000 messages/s.
//
// The sender keeps at most a window of messages in flight (a stand-in for the node's own flow
// control), so no message is dropped at the queue limits and the figure is delivered traffic.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "p2p/transport.h"

namespace cl::p2p {
namespace {

struct LoopbackPair {
  LoopbackPair() {
    auto key_a = crypto::PrivateKey::Generate(), key_b = crypto::PrivateKey::Generate();
    auto members = std::make_shared<StaticMembership>(
        std::set<crypto::PublicKey>{key_a.GetPublicKey(), key_b.GetPublicKey()});
    TransportOptions o;
    o.chain_id = "bench-chain";
    TransportHandlers hb;
    hb.on_message = [this](const crypto::PublicKey&, ByteSpan m) {
      received_bytes.fetch_add(m.size(), std::memory_order_relaxed);
      received.fetch_add(1, std::memory_order_release);
    };
    hb.on_peer_up = [this](const crypto::PublicKey&) { up.store(true); };
    b = std::make_unique<Transport>(o, Identity::FromPrivateKey(key_b), members, hb);
    a = std::make_unique<Transport>(o, Identity::FromPrivateKey(key_a), members,
                                    TransportHandlers{});
    const uint16_t port_b = *b->Start();
    (void)*a->Start();
    b_key = key_b.GetPublicKey();
    a->AddPeer(b_key, "127.0.0.1", port_b);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!up.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LoopbackPair() {
    a.reset();
    b.reset();
  }

  // Sends messages of message_bytes for each benchmark iteration; returns delivered seconds.
  double Run(benchmark::State& state, size_t message_bytes, uint64_t window) {
    uint64_t sent = 0;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
      while (sent - received.load(std::memory_order_acquire) >= window)
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      while (!a->Send(b_key, Priority::kConsensus, Bytes(message_bytes, 0xab)))
        std::this_thread::sleep_for(std::chrono::microseconds(20));
      ++sent;
    }
    while (received.load(std::memory_order_acquire) < sent)
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  std::unique_ptr<Transport> a, b;
  crypto::PublicKey b_key;
  std::atomic<bool> up{false};
  std::atomic<uint64_t> received{0}, received_bytes{0};
};

void BM_P2pSession64KiB(benchmark::State& state) {
  constexpr size_t kMessageBytes = size_t{64} << 10;
  LoopbackPair pair;
  if (!pair.up.load()) return state.SkipWithError("session did not come up");
  const double seconds = pair.Run(state, kMessageBytes, 256);
  state.counters["p2p_mb_per_s"] = static_cast<double>(pair.received_bytes.load()) / 1e6 / seconds;
  state.SetBytesProcessed(static_cast<int64_t>(pair.received_bytes.load()));
}
BENCHMARK(BM_P2pSession64KiB)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_P2pSession200B(benchmark::State& state) {
  constexpr size_t kMessageBytes = 200;
  LoopbackPair pair;
  if (!pair.up.load()) return state.SkipWithError("session did not come up");
  const double seconds = pair.Run(state, kMessageBytes, 20000);
  state.counters["p2p_msgs_per_s"] = static_cast<double>(pair.received.load()) / seconds;
}
BENCHMARK(BM_P2pSession200B)->UseRealTime()->MinTime(1.0);

}  // namespace
}  // namespace cl::p2p

BENCHMARK_MAIN();
