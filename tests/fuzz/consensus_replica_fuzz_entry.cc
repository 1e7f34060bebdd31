// consensus_replica (fuzz_entries.h): consensus messages from the network into a replica.
#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

#include "consensus/replica.h"
#include "crypto/sha256.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "tests/sim/replica_doubles.h"
#include "util/assert.h"

namespace cl::fuzz {
namespace {

constexpr uint32_t kValidators = 4;
constexpr uint32_t kTarget = 1;  // a backup in view 0
constexpr uint64_t kStartMs = 1'000'000;
constexpr uint64_t kStepMs = 100;
constexpr size_t kMaxMessages = 256;     // per input
constexpr size_t kMemoSlots = 1u << 14;  // own signatures kept across inputs, per replica

// Accepts every payload; checks that blocks arrive once each, in height order.
class FuzzApp final : public consensus::Application {
 public:
  bool ValidatePayload(uint64_t, ByteSpan payload) override {
    return payload.empty() || payload[0] != 'X';
  }
  void DeliverBlock(const consensus::CommittedBlock& block) override {
    LEDGER_ASSERT(block.height == blocks.size() + 1);
    blocks.push_back(block);
  }
  std::optional<consensus::pb::CertifiedBlock> LoadBlock(uint64_t height) override {
    if (height == 0 || height > executed) return std::nullopt;
    consensus::pb::CertifiedBlock b;
    b.set_height(height);
    b.set_payload(ToString(blocks[height - 1].payload));
    *b.mutable_commit_cert() = blocks[height - 1].commit_cert;
    return b;
  }
  std::vector<consensus::CommittedBlock> blocks;
  uint64_t executed = 0;
};

// The replica's own signatures memoised on the digest: ECDSA with RFC 6979 nonces is
// deterministic, so the remembered signature is the one KeySigner would make, byte for byte; only
// the work of making it again (each input re-signs the seeds' votes) is saved.
class MemoSigner final : public consensus::Signer {
 public:
  explicit MemoSigner(const crypto::PrivateKey& key) : key_(key) {}
  crypto::Signature Sign(const Hash32& digest) override {
    if (const crypto::Signature* sig = signatures_.Find(digest)) return *sig;
    return signatures_.Put(digest, key_.Sign(digest));
  }

 private:
  const crypto::PrivateKey& key_;
  FixedMemo<crypto::Signature> signatures_{kMemoSlots};
};

consensus::Signer& SignerFor(uint32_t self) {
  static std::vector<MemoSigner>* signers = [] {
    auto* s = new std::vector<MemoSigner>();
    for (uint32_t i = 0; i < kValidators; ++i)
      s->emplace_back(FixedConsortium().node_keys[i]);
    return s;
  }();
  return (*signers)[self];
}

consensus::ReplicaConfig ConfigFor(uint32_t self) {
  const Consortium& c = FixedConsortium();
  consensus::ReplicaConfig cfg;
  cfg.chain_id = std::string(kFuzzChainId);
  cfg.validators = c.validator_keys;
  cfg.self = self;
  cfg.key = c.node_keys[self];
  cfg.window_seqs = 8;
  cfg.view_timeout_ms = 1'000;
  cfg.max_block_bytes = 1u << 20;
  cfg.seed = self;
  cfg.verifier = &MemoVerifier();
  cfg.signer = &SignerFor(self);
  return cfg;
}

// One replica with its application and storage; executes what it delivers at once.
struct Member {
  explicit Member(uint32_t self, uint64_t now_ms)
      : replica(ConfigFor(self), &app, &storage, 0, now_ms) {}
  // Returns the messages to send; reports executions back into the replica.
  std::vector<consensus::Outbound> Handle(uint64_t now_ms, consensus::Effects fx) {
    std::vector<consensus::Outbound> out;
    for (int guard = 0;; ++guard) {
      LEDGER_ASSERT(guard < 10'000);
      for (consensus::Outbound& m : fx.messages) {
        LEDGER_ASSERT(m.bytes.size() <= consensus::kMaxConsensusMessageBytes);
        out.push_back(std::move(m));
      }
      if (app.executed >= app.blocks.size() || fx.halted) break;
      const uint64_t h = ++app.executed;
      const Hash32 root = crypto::Sha256Of(app.blocks[h - 1].payload);
      fx = replica.OnExecuted(now_ms, h, root, root);
    }
    return out;
  }
  sim::MemStorage storage;
  FuzzApp app;
  consensus::Replica replica;
};

void AppendMessage(Bytes& input, uint32_t from, const std::string& bytes) {
  LEDGER_ASSERT(bytes.size() <= 0xffff);
  input.push_back(static_cast<uint8_t>(from));
  input.push_back(static_cast<uint8_t>(bytes.size() >> 8));
  input.push_back(static_cast<uint8_t>(bytes.size()));
  input.insert(input.end(), bytes.begin(), bytes.end());
}

// A 4-replica cluster with instant delivery that records, as a fuzz input, what kTarget receives.
class Recorder {
 public:
  explicit Recorder(uint8_t options) : input_{options} {
    for (uint32_t i = 0; i < kValidators; ++i)
      members_.push_back(std::make_unique<Member>(i, now_));
    for (uint32_t i = 0; i < kValidators; ++i)
      Send(i, members_[i]->Handle(now_, members_[i]->replica.Start(now_)));
  }
  void Propose(const std::string& payload) {
    for (uint32_t i = 0; i < kValidators; ++i)
      if (i != down_)
        Send(i, members_[i]->Handle(now_,
                                    members_[i]->replica.OnPayloadReady(now_, ToBytes(payload))));
    Drain();
  }
  void AdvanceTime(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += kStepMs) {
      now_ += kStepMs;
      for (uint32_t i = 0; i < kValidators; ++i)
        if (i != down_) Send(i, members_[i]->Handle(now_, members_[i]->replica.Tick(now_)));
      Drain();
    }
  }
  void SetDown(uint32_t i) { down_ = i; }
  const Bytes& input() const { return input_; }

 private:
  void Send(uint32_t from, std::vector<consensus::Outbound> out) {
    for (consensus::Outbound& m : out)
      for (uint32_t to = 0; to < kValidators; ++to)
        if (to != from && (m.to == consensus::kBroadcast || m.to == to))
          queue_.push_back({from, to, m.bytes});
  }
  void Drain() {
    for (int guard = 0; !queue_.empty() && guard < 100'000; ++guard) {
      auto [from, to, bytes] = queue_.front();
      queue_.pop_front();
      if (to == down_) continue;
      if (to == kTarget && input_.size() + bytes.size() < 60'000)
        AppendMessage(input_, from, bytes);
      Send(to, members_[to]->Handle(now_, members_[to]->replica.OnMessage(now_, bytes, from)));
    }
  }
  struct Queued {
    uint32_t from, to;
    std::string bytes;
  };
  uint64_t now_ = kStartMs;
  uint32_t down_ = kValidators;  // none
  std::vector<std::unique_ptr<Member>> members_;
  std::deque<Queued> queue_;
  Bytes input_;
};

}  // namespace

int FuzzConsensusReplica(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool tick = (data[0] & 1) != 0;
  uint64_t now = kStartMs;
  Member target(kTarget, now);
  (void)target.Handle(now, target.replica.Start(now));
  size_t at = 1;
  for (size_t count = 0; at + 3 <= size && count < kMaxMessages; ++count) {
    const uint32_t from = data[at] % kValidators;
    const size_t length =
        std::min<size_t>((size_t{data[at + 1]} << 8) | data[at + 2], size - at - 3);
    const std::string bytes(reinterpret_cast<const char*>(data + at + 3), length);
    at += 3 + length;
    now += kStepMs;
    (void)target.Handle(now, target.replica.OnMessage(now, bytes, from));
    if (tick) (void)target.Handle(now, target.replica.Tick(now));
  }
  const consensus::ReplicaStatus st = target.replica.status();
  LEDGER_ASSERT(st.delivered == target.app.blocks.size());
  LEDGER_ASSERT(st.buffered_bytes <= consensus::kMaxBufferedBytesTotal);
  return 0;
}

std::vector<Bytes> ConsensusReplicaSeeds() {
  std::vector<Bytes> seeds;
  {  // Two blocks in view 0: pre-prepares, prepares, commits, execution votes.
    Recorder r(0);
    r.Propose("block-1");
    r.Propose("block-2");
    r.AdvanceTime(300);
    seeds.push_back(r.input());
  }
  {  // The primary is down: view change to view 1, whose primary (replica 1) is the target.
    Recorder r(1);
    r.SetDown(0);
    r.Propose("block-1");
    r.AdvanceTime(3'000);
    seeds.push_back(r.input());
  }
  {  // A block, then the primary fails: view change carrying a prepared block.
    Recorder r(1);
    r.Propose("block-1");
    r.SetDown(0);
    r.Propose("block-2");
    r.AdvanceTime(3'000);
    seeds.push_back(r.input());
  }
  return seeds;
}

}  // namespace cl::fuzz
