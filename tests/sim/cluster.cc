#include "tests/sim/cluster.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "consensus/messages.h"
#include "crypto/sha256.h"
#include "tests/sim/replica_doubles.h"
#include "util/assert.h"
#include "util/quorum.h"

namespace cl::sim {
namespace {

using consensus::Effects;
using consensus::kBroadcast;
namespace pb = consensus::pb;

constexpr char kChainId[] = "sim-chain";
constexpr uint64_t kViewTimeoutMs = 500;
constexpr uint64_t kProposeDelayMs = 200;
constexpr uint64_t kRetransmitMs = 250;
constexpr uint64_t kWindowSeqs = 16;

// splitmix64: a small, portable, seedable generator (std distributions differ between libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

 private:
  uint64_t state_;
};

// The simulator's signature scheme (the default; --real-crypto uses ECDSA as the node does). A
// signature by replica i over digest d is SHA-256(secret_i || d), written twice (64 bytes); the
// verifier recomputes it from the secret it holds for the public key. Same accept/reject semantics
// as ECDSA for everything the simulator can send: a signature verifies only if made with that
// key's secret over that digest, so flipped bits, random bytes, another replica's signature and a
// signature over other bytes are all rejected. About 100 times cheaper than secp256k1 signing plus
// verification, which was 80% of a run's time.
class SimKeys {
 public:
  void Add(const crypto::PublicKey& key, const Hash32& secret) { secrets_.emplace(key, secret); }
  const Hash32* Secret(const crypto::PublicKey& key) const {
    auto it = secrets_.find(key);
    return it == secrets_.end() ? nullptr : &it->second;
  }
  static crypto::Signature Sign(const Hash32& secret, const Hash32& digest) {
    crypto::Sha256 h;
    Hash32 a = h.Update(secret.span()).Update(digest.span()).Final();
    crypto::Signature sig;
    std::copy(a.bytes.begin(), a.bytes.end(), sig.bytes.begin());
    std::copy(a.bytes.begin(), a.bytes.end(), sig.bytes.begin() + 32);
    return sig;
  }

 private:
  std::map<crypto::PublicKey, Hash32> secrets_;
};

class SimSigner final : public consensus::Signer {
 public:
  explicit SimSigner(const Hash32& secret) : secret_(secret) {}
  crypto::Signature Sign(const Hash32& digest) override { return SimKeys::Sign(secret_, digest); }

 private:
  Hash32 secret_;
};

class SimVerifier final : public consensus::SignatureVerifier {
 public:
  explicit SimVerifier(const SimKeys* keys) : keys_(keys) {}
  bool Verify(const crypto::PublicKey& key, const Hash32& digest,
              const crypto::Signature& sig) override {
    const Hash32* secret = keys_->Secret(key);
    return secret && SimKeys::Sign(*secret, digest) == sig;
  }

 private:
  const SimKeys* keys_;
};

// Payload format of the simulated application: 'P' || id (8) || filler || FNV-1a-64 of the rest
// (8).
uint64_t Fnv(ByteSpan s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : s)
    h = (h ^ b) * 0x100000001b3ULL;
  return h;
}
// size 0: a small random size; otherwise exactly `size` bytes (at least 17).
Bytes MakePayload(uint64_t id, Rng& rng, uint64_t size = 0) {
  Bytes p;
  p.push_back('P');
  AppendU64BE(p, id);
  size_t filler = size >= 17 ? size - 17 : rng.Between(8, 120);
  for (size_t i = 0; i < filler; i += 8) {  // 8 bytes per draw: blocks may be MiBs
    uint64_t r = rng.Next();
    for (size_t k = 0; k < 8 && i + k < filler; ++k)
      p.push_back(static_cast<uint8_t>(r >> (8 * k)));
  }
  AppendU64BE(p, Fnv(ByteSpan(p.data(), p.size())));
  return p;
}
// A validator-set change (--reconfigure): 'E' || next epoch (8) || member mask (4) || FNV (8).
constexpr size_t kEpochPayloadBytes = 21;
Bytes MakeEpochPayload(uint64_t epoch, uint32_t mask) {
  Bytes p;
  p.push_back('E');
  AppendU64BE(p, epoch);
  AppendU32BE(p, mask);
  AppendU64BE(p, Fnv(ByteSpan(p.data(), p.size())));
  return p;
}
bool PayloadWellFormed(ByteSpan p) {
  if (p.empty()) return true;  // an empty block
  if (p.size() == kEpochPayloadBytes && p[0] == 'E')
    return LoadU64BE(p.data() + 13) == Fnv(p.first(13));
  if (p.size() < 17 || p[0] != 'P') return false;
  return LoadU64BE(p.data() + p.size() - 8) == Fnv(p.first(p.size() - 8));
}

// Epochs of the simulated consortium: the universe of nodes is fixed (ids 0..universe-1, keys
// drawn from the seed); a set is a mask of it, replica index = rank of the id in the mask.
constexpr uint32_t kMaxUniverse = 10;
constexpr uint64_t kActivationDelay = 65;  // as ledger::kEpochActivationDelay
static_assert(kActivationDelay > consensus::kMaxWindowSeqs);
uint32_t MemberCount(uint32_t mask) {
  return static_cast<uint32_t>(__builtin_popcount(mask));
}
std::vector<uint32_t> Members(uint32_t mask) {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < kMaxUniverse; ++i)
    if (mask >> i & 1) out.push_back(i);
  return out;
}

// The simulated application: state root = hash chain over the full bytes of every committed
// payload (not over the digest consensus agreed on: execution reads every byte, so a replica that
// took a payload its digest does not name diverges, and the state-root check across correct
// replicas catches it); result root = H(payload). Its committed blocks are durable (the ledger
// writes them with sync).
class SimApp final : public consensus::Application {
 public:
  struct Epoch {
    uint64_t epoch = 0;
    uint64_t first = 1;           // the first height its set certifies
    uint64_t changed_height = 0;  // the block that scheduled it (0 for epoch 0)
    uint32_t mask = 0;
  };
  // Epochs this application knows: epoch 0 (the simulation's genesis), then every set an
  // executed 'E' payload scheduled, each at its block + kActivationDelay. One change at a time: a
  // change executed before the last one is in force, or not for the next epoch, is a no-op.
  std::vector<Epoch> epochs;
  std::function<Hash32(uint32_t mask)> set_hash;
  std::map<uint64_t, consensus::EpochChange> scheduled_at;  // changed height -> change
  const Epoch& EpochOf(uint64_t height) const {
    for (size_t i = epochs.size(); i-- > 0;)
      if (epochs[i].first <= height) return epochs[i];
    return epochs.front();
  }
  // Executes height h's epoch effects; the change it scheduled, if any.
  std::optional<consensus::EpochChange> Execute(uint64_t h) {
    const std::string& p = blocks[h - 1].payload();
    if (p.size() != kEpochPayloadBytes || p[0] != 'E') return std::nullopt;
    const uint8_t* b = reinterpret_cast<const uint8_t*>(p.data());
    uint64_t next = LoadU64BE(b + 1);
    uint32_t mask = LoadU32BE(b + 9);
    const Epoch& last = epochs.back();
    if (next != last.epoch + 1 || last.first > h || mask >= (1u << kMaxUniverse) ||
        MemberCount(mask) < 4) {
      return std::nullopt;
    }
    epochs.push_back(Epoch{next, h + kActivationDelay, h, mask});
    consensus::EpochChange change{set_hash(mask), h + kActivationDelay};
    scheduled_at[h] = change;
    return change;
  }
  std::optional<consensus::EpochChange> ScheduledAt(uint64_t h) const {
    auto it = scheduled_at.find(h);
    if (it == scheduled_at.end()) return std::nullopt;
    return it->second;
  }
  bool ValidatePayload(uint64_t, ByteSpan payload) override { return PayloadWellFormed(payload); }
  void DeliverBlock(const consensus::CommittedBlock& block) override {
    pb::CertifiedBlock b;
    b.set_height(block.height);
    b.set_payload(std::string(block.payload.begin(), block.payload.end()));
    *b.mutable_commit_cert() = block.commit_cert;
    blocks.push_back(std::move(b));
    digests.push_back(block.digest);
    Hash32 prev = roots.empty() ? Hash32{} : roots.back();
    crypto::Sha256 h;
    roots.push_back(
        h.Update(prev.span()).Update(ByteSpan(block.payload.data(), block.payload.size())).Final());
    unexecuted.push_back(block.height);
  }
  std::optional<pb::CertifiedBlock> LoadBlock(uint64_t height) override {
    if (height == 0 || height > blocks.size()) return std::nullopt;
    pb::CertifiedBlock b = blocks[height - 1];
    auto it = exec_certs.find(height);
    if (it != exec_certs.end()) *b.mutable_exec_cert() = it->second;
    return b;
  }
  Hash32 ResultRoot(uint64_t height) const {
    return crypto::TaggedHash(crypto::Domain::kReceipt, AsSpan(blocks[height - 1].payload()));
  }

  std::vector<pb::CertifiedBlock> blocks;
  std::vector<Hash32> digests;
  std::vector<Hash32> roots;
  std::vector<uint64_t> unexecuted;
  std::map<uint64_t, pb::ExecutionCertificate> exec_certs;
};

enum class Byz {
  kNone,
  kSilent,
  kBadSignatures,
  kGarbage,
  kFarFuture,
  kEquivocate,
  kConflicting,
  kSameDigest,   // as primary: two payloads under one digest, to different backups; as any
                 // replica: state and payload replies whose payloads differ from their digests
  kForgedSync,   // unsolicited and forged state / payload replies, forged certificates
  kFutureFlood,  // votes and view changes for views far ahead, with bad signatures, at high rate
  kOversize,     // messages at and just over every size limit
};
constexpr Byz kAllAttacks[] = {
    Byz::kSilent,      Byz::kBadSignatures, Byz::kGarbage,    Byz::kFarFuture,   Byz::kEquivocate,
    Byz::kConflicting, Byz::kSameDigest,    Byz::kForgedSync, Byz::kFutureFlood, Byz::kOversize};
const char* ByzName(Byz b) {
  switch (b) {
    case Byz::kSameDigest:
      return "same-digest";
    case Byz::kForgedSync:
      return "forged-sync";
    case Byz::kFutureFlood:
      return "future-flood";
    case Byz::kOversize:
      return "oversize";
    case Byz::kNone:
      return "honest";
    case Byz::kSilent:
      return "silent";
    case Byz::kBadSignatures:
      return "bad-signatures";
    case Byz::kGarbage:
      return "garbage";
    case Byz::kFarFuture:
      return "far-future";
    case Byz::kEquivocate:
      return "equivocate";
    case Byz::kConflicting:
      return "conflicting-votes";
  }
  return "?";
}

struct Node {
  uint32_t id = 0;
  bool up = true;
  Byz byz = Byz::kNone;
  crypto::PrivateKey key;
  std::unique_ptr<consensus::Signer> signer;  // over `key`, or the simulator's scheme
  std::map<uint64_t, MemStorage> storage;     // per epoch (a replica of each epoch has its own)
  SimApp app;
  uint64_t epoch = 0;  // of `replica`, or the epoch it follows as an observer (no replica)
  std::unique_ptr<consensus::Replica> replica;
  uint64_t base = 0;  // the replica's base height (the height before its epoch's first)
  // Replicas of finished epochs: they still answer state requests and retransmit their votes, so
  // a validator that lagged in an old epoch catches up to its end.
  std::map<uint64_t, std::unique_ptr<consensus::Replica>> retired;
  uint64_t tick_at = UINT64_MAX;
  uint64_t tick_gen = 0;
  std::string last_status;
  bool paused = false;  // SIGSTOP: no input handled, no ticks
  uint64_t paused_at_ms = 0;
  uint64_t inbox_bytes = 0;
  std::deque<std::shared_ptr<const std::string>>
      inbox;  // input that arrived while paused, handled on resume
  explicit Node(crypto::PrivateKey k) : key(std::move(k)) {}
};

struct Event {
  uint64_t at = 0;
  uint64_t order = 0;  // FIFO among equal times, for determinism
  enum Kind {
    kDeliver,
    kTick,
    kPayload,
    kCrash,
    kRestart,
    kPartition,
    kHeal,
    kPause,
    kResume,
    kIsolate,      // `to` alone on one side; kCurrentPrimary: whoever is primary at that moment
    kToggleLink,   // the link between `to` and `from` goes down if up, up if down
    kReconfigure,  // a validator-set change is proposed (--reconfigure)
  } kind = kDeliver;
  uint32_t to = 0;
  uint32_t from = 0;
  uint64_t gen = 0;
  std::shared_ptr<const std::string> bytes;  // one copy per broadcast, shared by its deliveries
  bool operator>(const Event& o) const { return std::tie(at, order) > std::tie(o.at, o.order); }
};

Event MakeEvent(uint64_t at, Event::Kind kind, uint32_t to, uint32_t from, uint64_t gen,
                std::shared_ptr<const std::string> bytes = {}) {
  Event e;
  e.at = at;
  e.kind = kind;
  e.to = to;
  e.from = from;
  e.gen = gen;
  e.bytes = std::move(bytes);
  return e;
}

constexpr uint32_t kCurrentPrimary = UINT32_MAX;
// Fault timings of the targeted scenarios (simulated ms), as in the reports of issue 14.
constexpr uint64_t kIsolationMs = 20'000;
constexpr uint64_t kFlapMs = 15'000;
constexpr uint64_t kPauseMinMs = 2'000, kPauseMaxMs = 20'000;
// What peers do with messages to a paused process: p2p::TransportOptions closes a session silent
// for idle_timeout_ms (5 s), and queues at most queue_max_bytes (64 MiB) of consensus messages per
// peer.
constexpr uint64_t kSessionIdleTimeoutMs = 5'000;
constexpr uint64_t kPausedQueueMaxBytes = uint64_t{64} << 20;

class Simulation {
 public:
  explicit Simulation(const SimOptions& o) : opt_(o), rng_(o.seed * 0x2545F4914F6CDD1DULL + 7) {}

  SimResult Run() {
    Setup();
    while (!queue_.empty() && result_.ok) {
      // Moved out, not copied: pop() reorders by (at, order), which the move leaves intact.
      Event e = std::move(const_cast<Event&>(queue_.top()));
      queue_.pop();
      now_ = e.at;
      ++events_[e.kind];
      if (now_ > heal_at_ + kLivenessBoundMs) break;
      Process(e);
      if (healed_ && LivenessMet()) {
        result_.recovered_after_heal_ms = now_ - heal_at_;
        break;
      }
    }
    if (result_.ok && !LivenessMet()) {
      std::ostringstream os;
      os << "liveness: after the heal at " << heal_at_
         << " ms, honest replicas did not reach height " << liveness_target_ << " within "
         << kLivenessBoundMs << " ms in one view; heights (view, * = in view change):";
      for (auto& nd : nodes_) {
        if (nd->byz != Byz::kNone) continue;
        if (!nd->replica) {
          os << " r" << nd->id << "=" << nd->app.blocks.size() << "(observer e" << nd->epoch << ")";
          continue;
        }
        auto st = nd->replica->status();
        os << " r" << nd->id << "=" << st.delivered << "(v" << st.view
           << (st.in_view_change ? "*" : "") << (opt_.reconfigure ? " e" : "")
           << (opt_.reconfigure ? std::to_string(nd->epoch) : "") << ")";
      }
      Fail(os.str());
    }
    for (auto& nd : nodes_) {
      if (nd->byz != Byz::kNone || !nd->replica) continue;
      result_.max_height = std::max(result_.max_height, nd->replica->status().delivered);
      result_.view_changes = std::max(result_.view_changes, nd->replica->status().view);
      result_.dropped_invalid += nd->replica->drops().total();
    }
    for (const EpochSet& set : sets_)
      if (set.epoch > 0 && set.first <= result_.max_height) ++result_.epochs;
    result_.sim_time_ms = now_;
    result_.deliveries = events_[Event::kDeliver];
    result_.ticks = events_[Event::kTick];
    return result_;
  }

  // A validator set of the reference schedule (what the correct replicas executed).
  struct EpochSet {
    uint64_t epoch = 0;
    uint64_t first = 1;
    uint32_t mask = 0;
    std::unique_ptr<consensus::ValidatorSet> vs;
  };

 private:
  std::vector<crypto::PublicKey> KeysOf(uint32_t mask) const {
    std::vector<crypto::PublicKey> keys;
    for (uint32_t id : Members(mask))
      keys.push_back(keys_[id]);
    return keys;
  }
  Hash32 SetHash(uint32_t mask) const {
    crypto::Sha256 h;
    for (const crypto::PublicKey& k : KeysOf(mask))
      h.Update(k.span());
    return h.Final();
  }
  EpochSet MakeSet(uint64_t epoch, uint64_t first, uint32_t mask) const {
    EpochSet set{epoch, first, mask, nullptr};
    set.vs = std::make_unique<consensus::ValidatorSet>(KeysOf(mask), epoch);
    return set;
  }
  // The reference set that certifies `height`.
  const consensus::ValidatorSet& SetFor(uint64_t height) const {
    for (size_t i = sets_.size(); i-- > 0;)
      if (sets_[i].first <= height) return *sets_[i].vs;
    return *sets_.front().vs;
  }
  // The universe ids of the members of `epoch` as node `nd` knows them (replica index order).
  std::vector<uint32_t> MembersOf(const Node& nd, uint64_t epoch) const {
    if (epoch < nd.app.epochs.size()) return Members(nd.app.epochs[epoch].mask);
    return {};
  }

  void Setup() {
    uint32_t n = opt_.n;
    uint32_t f = FaultsTolerated(n);
    universe_ = opt_.reconfigure ? std::min(kMaxUniverse, n + 3) : n;
    LEDGER_ASSERT(n >= 1 && n <= kMaxUniverse);
    for (uint32_t i = 0; i < universe_; ++i) {
      Hash32 secret = crypto::TaggedHash(
          crypto::Domain::kStateKey,
          AsSpan("sim-key-" + std::to_string(opt_.seed) + "-" + std::to_string(i)));
      auto key = crypto::PrivateKey::FromBytes(secret.span());
      nodes_.push_back(std::make_unique<Node>(*key));
      Node& nd = *nodes_.back();
      nd.id = i;
      if (opt_.real_crypto) {
        keys_.push_back(nd.key.GetPublicKey());
        nd.signer = std::make_unique<consensus::KeySigner>(nd.key);
      } else {
        // The simulator's scheme needs no curve point: a distinct 33-byte name per replica.
        crypto::PublicKey pub;
        pub.bytes[0] = 0x02;
        Hash32 name = crypto::TaggedHash(crypto::Domain::kStateKey, secret.span());
        std::copy(name.bytes.begin(), name.bytes.end(), pub.bytes.begin() + 1);
        keys_.push_back(pub);
        sim_keys_.Add(pub, secret);
        nd.signer = std::make_unique<SimSigner>(secret);
      }
    }
    if (opt_.real_crypto) {
      verifier_ = std::make_unique<CachingVerifier>();
    } else {
      verifier_ = std::make_unique<SimVerifier>(&sim_keys_);
    }
    sets_.push_back(MakeSet(0, 1, (1u << n) - 1));
    for (auto& nd : nodes_) {
      nd->app.epochs.push_back(SimApp::Epoch{0, 1, 0, (1u << n) - 1});
      nd->app.set_hash = [this](uint32_t mask) { return SetHash(mask); };
    }

    Scenario sc = opt_.scenario;
    latency_min_ms_ = rng_.Between(1, 20);
    latency_max_ms_ = latency_min_ms_ + rng_.Between(0, 80);
    if (sc != Scenario::kClean) {
      loss_ = static_cast<double>(rng_.Between(0, 25)) / 100.0;
      dup_ = static_cast<double>(rng_.Between(0, 10)) / 100.0;
    }
    payload_interval_ms_ = rng_.Between(50, 250);
    heal_at_ = rng_.Between(1500, 4000);
    if (opt_.reconfigure) {
      // Long enough for the changes to take effect (65 blocks each) under the faults.
      heal_at_ = rng_.Between(15'000, 30'000);
      uint32_t changes = static_cast<uint32_t>(rng_.Between(1, 3));
      for (uint32_t c = 0; c < changes; ++c)
        Push(MakeEvent(rng_.Between(200, heal_at_ / 2), Event::kReconfigure, 0, 0, 0));
    }
    ScheduleTargetedFaults(sc);

    bool any_scenario = !opt_.attack.empty();  // --attack: Byzantine members in every scenario
    if (sc == Scenario::kByzantine || sc == Scenario::kMixed || any_scenario) {
      uint32_t count = static_cast<uint32_t>(rng_.Between(1, f));
      std::vector<uint32_t> ids(n);
      for (uint32_t i = 0; i < n; ++i)
        ids[i] = i;
      for (uint32_t i = n - 1; i > 0; --i)
        std::swap(ids[i], ids[rng_.Below(i + 1)]);
      // Half the runs make the first primary Byzantine, so primary-only attacks happen.
      if (rng_.Chance(0.5)) std::swap(ids[0], *std::find(ids.begin(), ids.end(), 0u));
      // One attack for all by default; with f >= 2, half the runs mix attacks (each Byzantine
      // member draws its own). --attack NAME makes every Byzantine member use NAME.
      Byz strategy = kAllAttacks[rng_.Below(std::size(kAllAttacks))];
      bool mix = rng_.Chance(0.5);
      Byz forced = Byz::kNone;
      for (Byz b : kAllAttacks) {
        if (opt_.attack == ByzName(b)) forced = b;
      }
      for (uint32_t k = 0; k < count; ++k) {
        Byz b = k > 0 && mix ? kAllAttacks[rng_.Below(std::size(kAllAttacks))] : strategy;
        nodes_[ids[k]]->byz = forced != Byz::kNone ? forced : b;
        if (!strategy_.empty()) strategy_ += ",";
        strategy_ += ByzName(nodes_[ids[k]]->byz);
      }
    }
    // Mixed runs pause a replica (SIGSTOP/SIGCONT) in half the seeds, before the heal.
    if (sc == Scenario::kMixed && rng_.Chance(0.5)) {
      uint32_t who = static_cast<uint32_t>(rng_.Below(n));
      uint64_t at = rng_.Below(heal_at_);
      uint64_t back = std::min(heal_at_, at + rng_.Between(kPauseMinMs / 4, kPauseMinMs));
      Push(MakeEvent(at, Event::kPause, who, 0, 0));
      Push(MakeEvent(back, Event::kResume, who, 0, 0));
    }
    for (auto& nd : nodes_) {
      if (nd->byz == Byz::kNone) honest_.push_back(nd->id);
      if (opt_.verbose && nd->byz != Byz::kNone)
        std::printf("r%u is byzantine: %s\n", nd->id, ByzName(nd->byz));
    }
    for (auto& nd : nodes_)
      StartReplica(*nd);

    for (uint64_t t = rng_.Between(0, payload_interval_ms_); t < heal_at_ + kLivenessBoundMs;
         t += payload_interval_ms_) {
      Push(MakeEvent(t, Event::kPayload, 0, 0, 0));
    }
    if (sc == Scenario::kCrash || sc == Scenario::kMixed) {
      uint32_t crashes = static_cast<uint32_t>(rng_.Between(1, 2 * n));
      for (uint32_t c = 0; c < crashes; ++c) {
        uint32_t who = static_cast<uint32_t>(rng_.Below(n));
        uint64_t at = rng_.Below(heal_at_);
        uint64_t back = std::min(heal_at_, at + rng_.Between(50, 2000));
        Push(MakeEvent(at, Event::kCrash, who, 0, 0));
        Push(MakeEvent(back, Event::kRestart, who, 0, 0));
      }
    }
    if (sc == Scenario::kPartition || sc == Scenario::kMixed) {
      uint32_t parts = static_cast<uint32_t>(rng_.Between(1, 4));
      for (uint32_t p = 0; p < parts; ++p) {
        uint64_t at = rng_.Below(heal_at_);
        Push(MakeEvent(at, Event::kPartition, 0, 0, rng_.Next()));
        Push(MakeEvent(std::min(heal_at_, at + rng_.Between(100, 3000)), Event::kHeal, 0, 0, 0));
      }
    }
    Push(MakeEvent(heal_at_, Event::kHeal, 0, 0, 1));
    group_.assign(universe_, 0);
  }

  // The pause, isolation and flapping scenarios; each moves the heal to the end of its faults.
  void ScheduleTargetedFaults(Scenario sc) {
    uint32_t n = opt_.n;
    if (sc == Scenario::kPause || sc == Scenario::kIsolatePrimary ||
        sc == Scenario::kIsolateBackup || sc == Scenario::kFlapLink) {
      // No loss: the others then stay in one view and commit, and nothing but the targeted fault
      // can bring the replica it hit back (the runaway of issue 14 was seen on a healthy network).
      loss_ = 0;
    }
    if (sc == Scenario::kPause) {
      uint32_t pauses = static_cast<uint32_t>(rng_.Between(1, 3));
      for (uint32_t p = 0; p < pauses; ++p) {
        uint32_t who = static_cast<uint32_t>(rng_.Below(n));
        uint64_t at = rng_.Between(200, heal_at_);
        // Half the pauses are 10-20 s long, as in the report (several backed-off timeouts).
        uint64_t length = rng_.Chance(0.5) ? rng_.Between(10'000, kPauseMaxMs)
                                           : rng_.Between(kPauseMinMs, kPauseMaxMs);
        Push(MakeEvent(at, Event::kPause, who, 0, 0));
        Push(MakeEvent(at + length, Event::kResume, who, 0, 0));
        pause_end_ = std::max(pause_end_, at + length);
      }
      heal_at_ = std::max(heal_at_, pause_end_);
    } else if (sc == Scenario::kIsolatePrimary || sc == Scenario::kIsolateBackup) {
      uint64_t at = rng_.Between(300, 1500);
      uint32_t who = sc == Scenario::kIsolatePrimary
                         ? kCurrentPrimary
                         : static_cast<uint32_t>(rng_.Between(1, n - 1));  // view 0's backups
      Push(MakeEvent(at, Event::kIsolate, who, 0, 0));
      heal_at_ = at + kIsolationMs;
    } else if (sc == Scenario::kFlapLink) {
      uint32_t a = static_cast<uint32_t>(rng_.Below(n));
      uint32_t b = static_cast<uint32_t>((a + rng_.Between(1, n - 1)) % n);
      uint64_t start = rng_.Between(300, 1500);
      for (uint64_t t = start; t < start + kFlapMs; t += rng_.Between(100, 1500)) {
        Push(MakeEvent(t, Event::kToggleLink, a, b, 0));
      }
      heal_at_ = start + kFlapMs;
    }
  }

  uint32_t CurrentPrimary() const {
    uint64_t v = 0, epoch = 0;
    const Node* any = nullptr;
    for (uint32_t id : honest_) {
      const Node& nd = *nodes_[id];
      if (!nd.up || !nd.replica || nd.replica->status().in_view_change) continue;
      if (nd.epoch > epoch || !any) v = 0;
      if (nd.epoch >= epoch) {
        epoch = nd.epoch;
        any = &nd;
        v = std::max(v, nd.replica->status().view);
      }
    }
    if (!any) return 0;
    std::vector<uint32_t> members = MembersOf(*any, epoch);
    return members[consensus::PrimaryOf(v, static_cast<uint32_t>(members.size()))];
  }

  static std::pair<uint32_t, uint32_t> Link(uint32_t a, uint32_t b) {
    return {std::min(a, b), std::max(a, b)};
  }

  // What a restarted node hands its replica (Node::RestoreExecutionState): the execution records
  // of the executed heights at or below the stored checkpoint whose certificate the application
  // lacks (the last kMaxOwedCertificates: owed again, fetched from peers), then of those above it
  // without one, and of the executed height in any case (at most kMaxOwedCertificates + 1, the
  // highest). The replica signs the votes above its checkpoint again: the process may have stopped
  // before sending them.
  static std::vector<consensus::ExecutedTip> RestoredTips(Node& nd, uint64_t epoch, uint64_t base) {
    std::vector<consensus::ExecutedTip> tips;
    const uint64_t executed = nd.app.blocks.size();
    if (executed == 0) return tips;
    uint64_t checkpoint = base;  // an epoch's base is its checkpoint until a certificate forms
    if (std::string cp = nd.storage[epoch].Load().checkpoint; !cp.empty()) {
      pb::ExecutionCertificate cert;
      LEDGER_ASSERT(cert.ParseFromString(cp));
      auto ef = consensus::DecodeExecutionVoteBody(cert.body());
      LEDGER_ASSERT(ef.has_value());
      checkpoint = std::max(checkpoint, ef->height);
    }
    auto add = [&](uint64_t h) {
      consensus::ExecutedTip tip;
      tip.height = h;
      tip.digest = nd.app.digests[h - 1];
      tip.state_root = nd.app.roots[h - 1];
      tip.result_root = nd.app.ResultRoot(h);
      tip.scheduled = nd.app.ScheduledAt(h);
      tips.push_back(tip);
    };
    const uint64_t owed_top = std::min(checkpoint, executed);
    const uint64_t owed_from = owed_top > consensus::kMaxOwedCertificates
                                   ? owed_top - consensus::kMaxOwedCertificates + 1
                                   : 1;
    for (uint64_t h = std::max(owed_from, base + 1); h <= owed_top; ++h)
      if (!nd.app.exec_certs.contains(h)) add(h);
    if (!tips.empty() && tips.back().height == executed) return tips;
    uint64_t from = checkpoint + 1;
    if (from > executed) {
      from = executed;  // the replica ignores a height at or below its checkpoint
    } else if (executed - from > consensus::kMaxOwedCertificates) {
      from = executed - consensus::kMaxOwedCertificates;
    }
    for (uint64_t h = from; h <= executed; ++h)
      if (h == executed || !nd.app.exec_certs.contains(h)) add(h);
    return tips;
  }

  // (Re)starts a node from what survives a crash (its app and storage): the replica of the epoch
  // of its next height if it is a member of that epoch's set, else it follows as an observer.
  void StartReplica(Node& nd) {
    nd.up = true;
    nd.tick_at = UINT64_MAX;
    const uint64_t executed = nd.app.blocks.size();
    const SimApp::Epoch& ep = nd.app.EpochOf(executed + 1);
    nd.epoch = ep.epoch;
    uint64_t end = UINT64_MAX;  // a later change it already executed ends this epoch
    if (nd.app.epochs.back().epoch == ep.epoch + 1)
      end = nd.app.epochs.back().first - (opt_.bugs.epoch_one_block_early ? 2 : 1);
    StartEpochReplica(nd, ep.epoch, ep.first - 1, end, RestoredTips(nd, ep.epoch, ep.first - 1));
    // The previous epoch's replica again, if it was in that set (it lost it in the crash), so that
    // a validator still catching up in that epoch can get its blocks from this one.
    if (ep.epoch == 0 || nd.retired.contains(ep.epoch - 1)) return;
    const SimApp::Epoch& prev = nd.app.epochs[ep.epoch - 1];
    std::vector<uint32_t> members = Members(prev.mask);
    auto self = std::find(members.begin(), members.end(), nd.id);
    if (self == members.end()) return;
    consensus::ReplicaConfig cfg = BaseConfig(nd);
    cfg.validators = KeysOf(prev.mask);
    cfg.self = static_cast<uint32_t>(self - members.begin());
    cfg.epoch = prev.epoch;
    cfg.base_height = prev.first - 1;
    cfg.end_height = ep.first - (opt_.bugs.epoch_one_block_early ? 2 : 1);
    // Its execution vote for the epoch's end is signed again (it is what tells a lagging peer how
    // far the epoch went, so that it asks for the blocks).
    const uint64_t end_height = cfg.end_height;
    consensus::ExecutedTip tip;
    tip.height = end_height;
    tip.digest = nd.app.digests[end_height - 1];
    tip.state_root = nd.app.roots[end_height - 1];
    tip.result_root = nd.app.ResultRoot(end_height);
    tip.scheduled = nd.app.ScheduledAt(end_height);
    auto old =
        std::make_unique<consensus::Replica>(std::move(cfg), &nd.app, &nd.storage[prev.epoch],
                                             std::vector<consensus::ExecutedTip>{tip}, now_);
    consensus::Replica* r = old.get();
    nd.retired[prev.epoch] = std::move(old);
    Apply(nd, r->Start(now_), prev.epoch);
  }

  consensus::ReplicaConfig BaseConfig(const Node& nd) const {
    consensus::ReplicaConfig cfg;
    cfg.chain_id = kChainId;
    cfg.key = nd.key;
    cfg.window_seqs = kWindowSeqs;
    cfg.max_block_bytes = std::max<uint64_t>(64 * 1024, opt_.payload_bytes);
    cfg.view_timeout_ms = kViewTimeoutMs;
    cfg.propose_delay_ms = kProposeDelayMs;
    cfg.retransmit_ms = kRetransmitMs;
    cfg.seed = opt_.seed ^ nd.id;
    cfg.verifier = verifier_.get();
    cfg.signer = nd.signer.get();
    cfg.bugs = opt_.bugs;
    return cfg;
  }

  void StartEpochReplica(Node& nd, uint64_t epoch, uint64_t base, uint64_t end,
                         const std::vector<consensus::ExecutedTip>& tips) {
    std::vector<uint32_t> members = MembersOf(nd, epoch);
    auto self = std::find(members.begin(), members.end(), nd.id);
    nd.replica.reset();
    nd.base = base;
    if (self == members.end()) return;  // not in this epoch's set: an observer
    consensus::ReplicaConfig cfg = BaseConfig(nd);
    cfg.validators = KeysOf(nd.app.epochs[epoch].mask);
    cfg.self = static_cast<uint32_t>(self - members.begin());
    cfg.epoch = epoch;
    cfg.base_height = base;
    cfg.end_height = end;
    if (tips.empty()) {
      nd.replica = std::make_unique<consensus::Replica>(std::move(cfg), &nd.app, &nd.storage[epoch],
                                                        nd.app.blocks.size(), now_);
    } else {
      nd.replica = std::make_unique<consensus::Replica>(std::move(cfg), &nd.app, &nd.storage[epoch],
                                                        tips, now_);
    }
    Apply(nd, nd.replica->Start(now_), epoch);
  }

  // The epoch's last height is executed and certified here: its replica retires (it still serves
  // state requests and retransmits), and the next epoch's starts, if this node is in its set.
  void MaybeSwitchEpoch(Node& nd) {
    if (!nd.up || !nd.replica) return;
    consensus::ReplicaStatus st = nd.replica->status();
    if (!st.epoch_finished) return;
    const uint64_t next = nd.epoch + 1;
    LEDGER_ASSERT(next < nd.app.epochs.size());  // it executed the change that ended the epoch
    nd.retired[nd.epoch] = std::move(nd.replica);
    nd.epoch = next;
    // The next epoch starts above the end the replica reported (planted bug (h) moves it).
    StartEpochReplica(nd, next, st.end_height, UINT64_MAX, {});
  }

  // A node without a replica in its epoch follows as an observer: it takes certified blocks from
  // the correct node with the most (as the node's observer sync does; the checks below verify
  // every certificate against the schedule), and starts its replica when it reaches the height
  // before an epoch whose set it is in.
  void ObserverCatchUp(Node& nd) {
    if (!nd.up || nd.paused || nd.replica) return;
    const Node* src = nullptr;
    for (uint32_t id : honest_) {
      const Node& o = *nodes_[id];
      if (o.id != nd.id && o.up && (!src || o.app.blocks.size() > src->app.blocks.size())) src = &o;
    }
    if (!src) return;
    for (uint32_t k = 0; k < consensus::kMaxBlocksPerStateReply; ++k) {
      const uint64_t h = nd.app.blocks.size() + 1;
      if (h > src->app.blocks.size()) break;
      const SimApp::Epoch& ep = nd.app.EpochOf(h);
      if (ep.first == h && (ep.mask >> nd.id & 1)) break;  // joins that epoch's set from h - 1
      const pb::CertifiedBlock& b = src->app.blocks[h - 1];
      consensus::CommittedBlock cb;
      cb.height = h;
      cb.digest = src->app.digests[h - 1];
      cb.payload = Bytes(b.payload().begin(), b.payload().end());
      cb.commit_cert = b.commit_cert();
      nd.app.DeliverBlock(cb);
      auto cert = src->app.exec_certs.find(h);
      if (cert != src->app.exec_certs.end()) nd.app.exec_certs[h] = cert->second;
      CheckDelivered(nd, h);
      ExecutePending(nd);
    }
    const SimApp::Epoch& ep = nd.app.EpochOf(nd.app.blocks.size() + 1);
    nd.epoch = ep.epoch;
    if (ep.mask >> nd.id & 1) StartReplica(nd);
  }

  // Records the change an honest node executed into the reference schedule (or checks it there).
  void NoteSchedule(const Node& nd) {
    const SimApp::Epoch& e = nd.app.epochs.back();
    if (e.epoch == sets_.size()) {
      sets_.push_back(MakeSet(e.epoch, e.first, e.mask));
    } else if (e.epoch > sets_.size() || sets_[e.epoch].first != e.first ||
               sets_[e.epoch].mask != e.mask) {
      Fail("replica " + std::to_string(nd.id) + " scheduled epoch " + std::to_string(e.epoch) +
           " differently");
    }
  }

  // Routes an input to the replica of the epoch its envelope names: the current one, or a
  // retired one (a lagging peer of an earlier epoch); another epoch's input is dropped.
  void DeliverTo(Node& nd, const std::string& bytes) {
    if (opt_.reconfigure) {
      pb::Envelope env;
      uint64_t e = env.ParseFromString(bytes) ? env.epoch() : nd.epoch;
      if (e != nd.epoch || !nd.replica) {
        auto it = nd.retired.find(e);
        if (it != nd.retired.end()) Apply(nd, it->second->OnMessage(now_, bytes), e);
        return;
      }
    }
    if (nd.replica) Apply(nd, nd.replica->OnMessage(now_, bytes), nd.epoch);
  }

  void TickAll(Node& nd) {
    if (nd.replica) Apply(nd, nd.replica->Tick(now_), nd.epoch);
    for (auto& [e, r] : nd.retired)
      Apply(nd, r->Tick(now_), e);
  }

  void Push(Event e) {
    e.order = next_order_++;
    queue_.push(std::move(e));
  }

  void Fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    std::ostringstream os;
    os << "seed " << opt_.seed << " n=" << opt_.n << " scenario=" << ScenarioName(opt_.scenario)
       << " byzantine=" << (strategy_.empty() ? "none" : strategy_) << " t=" << now_
       << "ms: " << what << "\n  replay: " << ReplayCommand(opt_);
    result_.failure = os.str();
  }

  bool Honest(uint32_t id) const { return nodes_[id]->byz == Byz::kNone; }

  // --reconfigure: proposes the next set (one change at a time: while the last scheduled set is
  // not in force, or a proposal for the next epoch is recent, it tries again later). The set adds,
  // removes or replaces one validator, keeps 4..universe members, and never more Byzantine ones
  // than its f.
  void ProposeSetChange() {
    uint64_t height = 0;
    for (uint32_t id : honest_)
      height = std::max<uint64_t>(height, nodes_[id]->app.blocks.size());
    const EpochSet& last = sets_.back();
    const uint64_t next = sets_.size();
    if (last.first > height + 1 || (proposed_epoch_ == next && now_ < proposed_epoch_at_ + 5'000)) {
      Push(MakeEvent(now_ + 2'000, Event::kReconfigure, 0, 0, 0));
      return;
    }
    uint32_t mask = last.mask;
    for (int attempt = 0; attempt < 16; ++attempt) {
      uint32_t m = last.mask;
      std::vector<uint32_t> in = Members(m), out;
      for (uint32_t i = 0; i < universe_; ++i)
        if (!(m >> i & 1)) out.push_back(i);
      uint64_t op = rng_.Below(3);  // 0 add, 1 remove, 2 replace
      if ((op == 0 || op == 2) && !out.empty()) m |= 1u << out[rng_.Below(out.size())];
      if ((op == 1 || op == 2) && in.size() > 4) m &= ~(1u << in[rng_.Below(in.size())]);
      uint32_t byz = 0;
      for (uint32_t id : Members(m))
        byz += nodes_[id]->byz != Byz::kNone ? 1 : 0;
      if (m != last.mask && MemberCount(m) >= 4 && byz <= FaultsTolerated(MemberCount(m))) {
        mask = m;
        break;
      }
    }
    Bytes p = MakeEpochPayload(next, mask);
    proposed_.insert(consensus::PayloadDigest(p));
    proposed_epoch_ = next;
    proposed_epoch_at_ = now_;
    if (opt_.verbose)
      std::printf("%8llu propose epoch %llu: mask %03x\n", static_cast<unsigned long long>(now_),
                  static_cast<unsigned long long>(next), mask);
    for (auto& nd : nodes_) {
      if (nd->up && !nd->paused && nd->replica)
        Apply(*nd, nd->replica->OnPayloadReady(now_, p), nd->epoch);
    }
  }

  // ---- network ------------------------------------------------------------------------------

  void Transmit(uint32_t from, uint32_t to, std::string bytes) {
    Transmit(from, to, std::make_shared<const std::string>(std::move(bytes)));
  }

  void Transmit(uint32_t from, uint32_t to, const std::shared_ptr<const std::string>& shared) {
    if (from == to) return;
    const std::string& bytes = *shared;
    // The p2p layer carries no message larger than one frame (node.cc static_asserts that this
    // limit plus the node's wrapping fits p2p::kMaxMessageBytes): a larger one never arrives.
    if (bytes.size() > consensus::kMaxConsensusMessageBytes) {
      ++result_.dropped_oversize;
      if (nodes_[from]->byz == Byz::kNone)
        Fail("replica " + std::to_string(from) + " sent a " + std::to_string(bytes.size()) +
             "-byte message, larger than a p2p frame carries: it is never delivered");
      return;
    }
    double loss = healed_ ? std::min(loss_, 0.05) : loss_;
    if (rng_.Chance(loss)) return;
    uint64_t lat = rng_.Between(latency_min_ms_, latency_max_ms_);
    if (rng_.Chance(0.03)) lat *= 10;  // a latency spike
    if (rng_.Chance(dup_)) {
      Push(MakeEvent(now_ + lat + rng_.Between(0, 50), Event::kDeliver, to, from, 0, shared));
    }
    Push(MakeEvent(now_ + lat, Event::kDeliver, to, from, 0, shared));
  }

  void SendFrom(uint32_t from, uint32_t to, const std::string& bytes) {
    SendFrom(from, to, bytes, nodes_[from]->epoch);
  }
  // `to` is a replica index of `epoch`'s set (or kBroadcast: every other member of it).
  void SendFrom(uint32_t from, uint32_t to, const std::string& bytes, uint64_t epoch) {
    std::vector<uint32_t> members = MembersOf(*nodes_[from], epoch);
    if (to == kBroadcast) {
      auto shared = std::make_shared<const std::string>(bytes);
      for (uint32_t id : members) {
        if (id != from) Transmit(from, id, shared);
      }
    } else if (to < members.size()) {
      Transmit(from, members[to], bytes);
    }
  }

  // ---- Byzantine behaviour ------------------------------------------------------------------

  std::string Resign(const Node& nd, pb::Envelope env) {
    pb::Envelope signed_env =
        consensus::SignEnvelope(env.type(), nd.id, env.body(), *nd.signer, kChainId);
    signed_env.set_payload(env.payload());
    return signed_env.SerializeAsString();
  }

  std::string VoteWithDigest(const Node& signer, pb::MessageType type, uint64_t view, uint64_t seq,
                             const Hash32& d, const std::string& payload) {
    pb::Envelope env = consensus::SignEnvelope(
        type, signer.id, consensus::EncodeVoteBody(view, seq, d), *signer.signer, kChainId);
    if (type == pb::PRE_PREPARE) env.set_payload(payload);
    return env.SerializeAsString();
  }

  void ByzantineSend(Node& nd, const consensus::Outbound& out) {
    pb::Envelope env;
    bool parsed = env.ParseFromString(out.bytes);
    switch (nd.byz) {
      case Byz::kSilent:
        return;
      case Byz::kBadSignatures: {
        if (parsed && rng_.Chance(0.7)) {
          std::string sig = env.signature();
          if (!sig.empty()) sig[rng_.Below(sig.size())] ^= 0x01;
          env.set_signature(sig);
          SendFrom(nd.id, out.to, env.SerializeAsString());
          return;
        }
        SendFrom(nd.id, out.to, out.bytes);
        return;
      }
      case Byz::kGarbage: {
        SendFrom(nd.id, out.to, out.bytes);
        std::string junk(rng_.Between(0, 300), '\0');
        for (char& c : junk)
          c = static_cast<char>(rng_.Next());
        SendFrom(nd.id, kBroadcast, junk);
        if (parsed && (env.type() == pb::PREPARE || env.type() == pb::COMMIT)) {
          auto vf = consensus::DecodeVoteBody(env.body());
          if (vf) {
            SendFrom(nd.id, kBroadcast,
                     VoteWithDigest(nd, env.type(), vf->view + rng_.Between(1, 1u << 20),
                                    vf->seq + rng_.Between(1, 1u << 30), vf->digest, ""));
          }
        }
        return;
      }
      case Byz::kFarFuture: {
        // As primary: well-signed pre-prepares beyond the high watermark, then silence, which
        // forces a view change (the view changes of replicas that wrongly accepted them are
        // poisoned).
        if (parsed && env.type() == pb::PRE_PREPARE && nd.replica) {
          auto vf = consensus::DecodeVoteBody(env.body());
          auto st = nd.replica->status();
          if (vf) {
            Bytes p = MakePayload(next_payload_id_++, rng_, opt_.payload_bytes);
            std::string ps(p.begin(), p.end());
            proposed_.insert(consensus::PayloadDigest(p));
            uint64_t far = st.low_watermark + kWindowSeqs + rng_.Between(1, 8);
            SendFrom(nd.id, kBroadcast,
                     VoteWithDigest(nd, pb::PRE_PREPARE, vf->view, far, consensus::PayloadDigest(p),
                                    ps));
          }
          return;
        }
        SendFrom(nd.id, out.to, out.bytes);
        return;
      }
      case Byz::kEquivocate: {
        if (parsed && env.type() == pb::PRE_PREPARE) {
          auto vf = consensus::DecodeVoteBody(env.body());
          if (!vf) return;
          Bytes p = MakePayload(next_payload_id_++, rng_, opt_.payload_bytes);
          Hash32 alt = consensus::PayloadDigest(p);
          proposed_.insert(alt);
          std::string ps(p.begin(), p.end());
          // Half the replicas get the original, half the alternative; every Byzantine replica votes
          // for both sides, each to its side.
          for (uint32_t i = 0; i < opt_.n; ++i) {
            if (i == nd.id) continue;
            bool side_b = (i + opt_.seed) % 2 == 1;
            Hash32 d = side_b ? alt : vf->digest;
            if (side_b) {
              Transmit(nd.id, i, VoteWithDigest(nd, pb::PRE_PREPARE, vf->view, vf->seq, d, ps));
            } else {
              Transmit(nd.id, i, out.bytes);
            }
            for (auto& other : nodes_) {
              if (other->byz == Byz::kNone) continue;
              if (other->id != nd.id) {
                Transmit(other->id, i,
                         VoteWithDigest(*other, pb::PREPARE, vf->view, vf->seq, d, ""));
              }
              Transmit(other->id, i, VoteWithDigest(*other, pb::COMMIT, vf->view, vf->seq, d, ""));
            }
          }
          return;
        }
        SendFrom(nd.id, out.to, out.bytes);
        return;
      }
      case Byz::kConflicting: {
        if (parsed && (env.type() == pb::PREPARE || env.type() == pb::COMMIT ||
                       env.type() == pb::EXECUTION_VOTE)) {
          Hash32 junk;
          for (auto& b : junk.bytes)
            b = static_cast<uint8_t>(rng_.Next());
          std::string conflicting;
          if (env.type() == pb::EXECUTION_VOTE) {
            auto ef = consensus::DecodeExecutionVoteBody(env.body());
            if (!ef) return;
            conflicting = consensus::SignEnvelope(pb::EXECUTION_VOTE, nd.id,
                                                  consensus::EncodeExecutionVoteBody(
                                                      ef->height, ef->block_digest, junk, junk),
                                                  *nd.signer, kChainId)
                              .SerializeAsString();
          } else {
            auto vf = consensus::DecodeVoteBody(env.body());
            if (!vf) return;
            conflicting = VoteWithDigest(nd, env.type(), vf->view, vf->seq, junk, "");
          }
          for (uint32_t i = 0; i < opt_.n; ++i) {
            if (i == nd.id) continue;
            Transmit(nd.id, i, rng_.Chance(0.5) ? conflicting : out.bytes);
          }
          return;
        }
        SendFrom(nd.id, out.to, out.bytes);
        return;
      }
      case Byz::kSameDigest:
        SameDigestSend(nd, env, parsed, out);
        return;
      case Byz::kForgedSync:
        SendFrom(nd.id, out.to, out.bytes);
        if (rng_.Chance(0.3)) ForgedSync(nd);
        return;
      case Byz::kFutureFlood:
        SendFrom(nd.id, out.to, out.bytes);
        FutureFlood(nd);
        return;
      case Byz::kOversize:
        OversizeSend(nd, env, parsed, out);
        return;
      case Byz::kNone:
        break;
    }
    SendFrom(nd.id, out.to, out.bytes);
  }

  // ---- the review's attacks -----------------------------------------------------------------

  // Another well-formed payload (so the application accepts it) of the same size, differing in
  // its filler: the bytes a replica would execute if it did not check a payload against its digest.
  static std::string OtherPayload(const std::string& p) {
    Bytes q(p.begin(), p.end());
    if (q.size() >= 17 && q[0] == 'P') {
      q.resize(q.size() - 8);  // without its checksum
    } else {
      q.assign(9, 0);
      q[0] = 'P';
    }
    if (q.size() > 9) {
      q[9] ^= 0x5a;  // the first filler byte
    } else {
      q.push_back(0x5a);
    }
    AppendU64BE(q, Fnv(ByteSpan(q.data(), q.size())));
    LEDGER_ASSERT(PayloadWellFormed(ByteSpan(q.data(), q.size())));
    return std::string(q.begin(), q.end());
  }

  pb::Envelope Sign(const Node& nd, pb::MessageType type, std::string body) {
    return consensus::SignEnvelope(type, nd.id, std::move(body), *nd.signer, kChainId);
  }

  // Attack 1. As primary: the signed pre-prepare goes to half the backups with its payload and to
  // the other half with another payload under the same signed digest. As anyone: payload and
  // state replies keep their certificates and digests and swap the payload bytes.
  void SameDigestSend(Node& nd, const pb::Envelope& env, bool parsed,
                      const consensus::Outbound& out) {
    if (!parsed) return SendFrom(nd.id, out.to, out.bytes);
    if (env.type() == pb::PRE_PREPARE && !env.payload().empty()) {
      pb::Envelope other = env;
      other.set_payload(OtherPayload(env.payload()));
      std::string other_bytes = other.SerializeAsString();
      for (uint32_t i = 0; i < opt_.n; ++i) {
        if (i == nd.id || (out.to != kBroadcast && out.to != i)) continue;
        Transmit(nd.id, i, (i + opt_.seed) % 2 == 1 ? other_bytes : out.bytes);
      }
      return;
    }
    if (env.type() == pb::PAYLOAD_REPLY) {
      pb::PayloadReplyBody body;
      if (body.ParseFromString(env.body()) && !body.pre_prepare().payload().empty()) {
        body.mutable_pre_prepare()->set_payload(OtherPayload(body.pre_prepare().payload()));
        return SendFrom(nd.id, out.to,
                        Sign(nd, pb::PAYLOAD_REPLY, body.SerializeAsString()).SerializeAsString());
      }
    }
    if (env.type() == pb::STATE_REPLY) {
      pb::StateReplyBody body;
      if (body.ParseFromString(env.body())) {
        for (pb::CertifiedBlock& b : *body.mutable_blocks()) {
          if (!b.payload().empty()) b.set_payload(OtherPayload(b.payload()));
        }
        return SendFrom(nd.id, out.to,
                        Sign(nd, pb::STATE_REPLY, body.SerializeAsString()).SerializeAsString());
      }
    }
    SendFrom(nd.id, out.to, out.bytes);
  }

  // A commit certificate for (view, seq, digest) in which every honest signer is forged and every
  // Byzantine one signs for real: what f colluders can make, one short of a quorum (or more).
  pb::CommitCertificate ForgedCommitCert(uint64_t view, uint64_t seq, const Hash32& digest) {
    pb::CommitCertificate cert;
    std::string body = consensus::EncodeVoteBody(view, seq, digest);
    cert.set_body(body);
    for (auto& other : nodes_) {
      pb::Signer* signer = cert.add_signers();
      signer->set_replica(other->id);
      if (other->byz != Byz::kNone) {
        signer->set_signature(Sign(*other, pb::COMMIT, body).signature());
      } else {
        std::string sig(64, '\0');
        for (char& c : sig)
          c = static_cast<char>(rng_.Next());
        signer->set_signature(sig);
      }
    }
    return cert;
  }

  // Attack 2. A state or payload reply nobody asked for, to a random correct replica: blocks with
  // forged certificates at the height it needs next, genuine blocks for heights it never asked,
  // genuine certificates over other bytes, replies that claim another sender.
  void ForgedSync(Node& nd) {
    if (honest_.empty()) return;
    uint32_t target = honest_[rng_.Below(honest_.size())];
    Node& t = *nodes_[target];
    uint64_t next = t.up && t.replica ? t.replica->status().delivered + 1 : 1;
    uint64_t view = t.up && t.replica ? t.replica->status().view : 0;
    pb::StateReplyBody body;
    uint64_t variant = rng_.Below(5);
    uint64_t height = variant == 3 ? next + rng_.Between(1, 1000) : next;
    // A genuine certified block from a correct replica, if one holds that height.
    const pb::CertifiedBlock* genuine = nullptr;
    for (uint32_t id : honest_) {
      const SimApp& app = nodes_[id]->app;
      if (app.blocks.size() >= height) genuine = &app.blocks[height - 1];
    }
    pb::CertifiedBlock* b = body.add_blocks();
    b->set_height(height);
    if (variant == 2 && genuine) {
      *b = *genuine;
      b->set_payload(OtherPayload(genuine->payload()));  // its certificate, other bytes
    } else if (variant == 3 && genuine) {
      *b = *genuine;  // real, but never asked for
    } else {
      Bytes p = MakePayload(next_payload_id_++, rng_);
      b->set_payload(std::string(p.begin(), p.end()));
      *b->mutable_commit_cert() =
          ForgedCommitCert(view + rng_.Below(3), height, consensus::PayloadDigest(p));
    }
    pb::Envelope env = Sign(nd, pb::STATE_REPLY, body.SerializeAsString());
    if (variant == 4) {
      env.set_sender(target == 0 ? 1 : target - 1);  // claims another sender; bad signature
    }
    Transmit(nd.id, target, env.SerializeAsString());
    if (rng_.Chance(0.3)) {
      // An unsolicited payload reply: a pre-prepare it signed itself, for a slot nobody
      // re-proposed.
      Bytes p = MakePayload(next_payload_id_++, rng_);
      pb::PayloadReplyBody reply;
      pb::Envelope pp = Sign(nd, pb::PRE_PREPARE,
                             consensus::EncodeVoteBody(view, next, consensus::PayloadDigest(p)));
      pp.set_payload(std::string(p.begin(), p.end()));
      *reply.mutable_pre_prepare() = pp;
      Transmit(nd.id, target,
               Sign(nd, pb::PAYLOAD_REPLY, reply.SerializeAsString()).SerializeAsString());
    }
  }

  // Attack 3. For every message it sends, a burst of view changes, new views, pre-prepares,
  // prepares and commits for views up to kMaxViewsAhead ahead (and a few beyond), most claiming a
  // random sender with a bad signature, some signed by itself (they fill only its own buffer).
  void FutureFlood(Node& nd) {
    constexpr uint32_t kBurst = 8;
    uint64_t view = 0;
    for (uint32_t id : honest_) {
      if (nodes_[id]->up && nodes_[id]->replica)
        view = std::max(view, nodes_[id]->replica->status().view);
    }
    for (uint32_t k = 0; k < kBurst; ++k) {
      uint64_t v = view + rng_.Between(1, consensus::kMaxViewsAhead + 10);
      pb::MessageType type = static_cast<pb::MessageType>(rng_.Between(1, 6));
      if (type == pb::EXECUTION_VOTE) type = pb::VIEW_CHANGE;
      std::string body;
      if (type == pb::VIEW_CHANGE) {
        pb::ViewChangeBody vc;
        vc.set_new_view(v);
        body = vc.SerializeAsString();
      } else if (type == pb::NEW_VIEW) {
        pb::NewViewBody nv;
        nv.set_view(v);
        body = nv.SerializeAsString();
      } else {
        Hash32 d;
        for (auto& x : d.bytes)
          x = static_cast<uint8_t>(rng_.Next());
        body = consensus::EncodeVoteBody(v, rng_.Between(1, 100), d);
      }
      pb::Envelope env = Sign(nd, type, body);
      if (rng_.Chance(0.9)) {
        env.set_sender(static_cast<uint32_t>(rng_.Below(opt_.n)));
        std::string sig = env.signature();
        sig[rng_.Below(sig.size())] ^= static_cast<char>(1 + rng_.Below(255));
        env.set_signature(sig);
      }
      SendFrom(nd.id, rng_.Chance(0.5) ? kBroadcast : static_cast<uint32_t>(rng_.Below(opt_.n)),
               env.SerializeAsString());
    }
  }

  uint64_t MaxBlockBytes() const { return std::max<uint64_t>(64 * 1024, opt_.payload_bytes); }

  // Attack 4. As primary: payloads of exactly max_block_bytes and one byte more. Once a run: a view
  // change with window and window + 1 prepared proofs, NEW_VIEWs with the most view changes and
  // re-proposals allowed and one more of each, a state reply with one block more than allowed, and
  // (one run in ten) messages of exactly the largest consensus message size and one byte over it.
  void OversizeSend(Node& nd, const pb::Envelope& env, bool parsed,
                    const consensus::Outbound& out) {
    // A third of its proposals (a payload of 64 KiB costs the simulation as much as a short run).
    if (parsed && env.type() == pb::PRE_PREPARE && !env.payload().empty() && rng_.Chance(0.3)) {
      auto vf = consensus::DecodeVoteBody(env.body());
      if (!vf) return;
      Bytes p = MakePayload(next_payload_id_++, rng_, MaxBlockBytes() + rng_.Below(2));
      Hash32 d = consensus::PayloadDigest(p);
      proposed_.insert(d);
      pb::Envelope pp = Sign(nd, pb::PRE_PREPARE, consensus::EncodeVoteBody(vf->view, vf->seq, d));
      pp.set_payload(std::string(p.begin(), p.end()));
      SendFrom(nd.id, out.to, pp.SerializeAsString());
      return;
    }
    SendFrom(nd.id, out.to, out.bytes);
    if (oversize_sent_ || !parsed || env.type() == pb::PRE_PREPARE) return;
    oversize_sent_ = true;
    uint64_t view = nd.replica ? nd.replica->status().view : 0;
    for (uint64_t count : {kWindowSeqs, kWindowSeqs + 1}) {
      pb::ViewChangeBody vc;
      vc.set_new_view(view + 1);
      for (uint64_t i = 1; i <= count; ++i) {
        pb::PreparedProof* proof = vc.add_prepared();
        Hash32 d = consensus::PayloadDigest({});
        *proof->mutable_pre_prepare() =
            Sign(*nodes_[consensus::PrimaryOf(view, opt_.n)], pb::PRE_PREPARE,
                 consensus::EncodeVoteBody(view, i, d));
        proof->set_prepare_body(consensus::EncodeVoteBody(view, i, d));
        for (auto& other : nodes_) {
          pb::Signer* s = proof->add_prepares();
          s->set_replica(other->id);
          s->set_signature(Sign(*other, pb::PREPARE, proof->prepare_body()).signature());
        }
      }
      pb::Envelope vc_env = Sign(nd, pb::VIEW_CHANGE, vc.SerializeAsString());
      SendFrom(nd.id, kBroadcast, vc_env.SerializeAsString());
      // A NEW_VIEW for view + 1 with a quorum (and one more) of view changes and a window (and one
      // more) of re-proposals: the most entries a NEW_VIEW may carry, and one over each limit.
      pb::NewViewBody nv;
      nv.set_view(view + 1);
      uint64_t vcs = QuorumSize(opt_.n) + (count - kWindowSeqs);
      for (uint64_t i = 0; i < vcs; ++i)
        *nv.add_view_changes() = vc_env;
      for (uint64_t i = 1; i <= count; ++i) {
        *nv.add_pre_prepares() =
            Sign(nd, pb::PRE_PREPARE, consensus::EncodeVoteBody(view + 1, i, Hash32{}));
      }
      SendFrom(nd.id, kBroadcast,
               Sign(nd, pb::NEW_VIEW, nv.SerializeAsString()).SerializeAsString());
    }
    pb::StateReplyBody reply;
    for (uint32_t i = 0; i <= consensus::kMaxBlocksPerStateReply; ++i) {
      pb::CertifiedBlock* b = reply.add_blocks();
      b->set_height(i + 1);
      Bytes p = MakePayload(next_payload_id_++, rng_);
      b->set_payload(std::string(p.begin(), p.end()));
      *b->mutable_commit_cert() = ForgedCommitCert(view, i + 1, consensus::PayloadDigest(p));
    }
    SendFrom(nd.id, kBroadcast,
             Sign(nd, pb::STATE_REPLY, reply.SerializeAsString()).SerializeAsString());
    if (rng_.Chance(0.1)) {
      for (uint64_t extra : {uint64_t{0}, uint64_t{1}}) {
        // A pre-prepare for the next view whose payload makes the envelope exactly the limit.
        pb::Envelope big =
            Sign(nd, pb::PRE_PREPARE, consensus::EncodeVoteBody(view + 1, 1, Hash32{}));
        uint64_t base = big.ByteSizeLong() + 5;
        std::string payload(consensus::kMaxConsensusMessageBytes - base, 'x');
        big.set_payload(payload);
        while (big.ByteSizeLong() < consensus::kMaxConsensusMessageBytes)
          payload.push_back('x'), big.set_payload(payload);
        while (big.ByteSizeLong() > consensus::kMaxConsensusMessageBytes)
          payload.pop_back(), big.set_payload(payload);
        if (extra) payload.push_back('x'), big.set_payload(payload);
        SendFrom(nd.id, static_cast<uint32_t>(rng_.Below(opt_.n)), big.SerializeAsString());
      }
    }
  }

  // ---- effects and checks -------------------------------------------------------------------

  void Apply(Node& nd, Effects fx, uint64_t epoch) {
    if (opt_.verbose && nd.replica) {
      auto st = nd.replica->status();
      std::string line = "v" + std::to_string(st.view) + (st.in_view_change ? "*" : "") + " d" +
                         std::to_string(st.delivered) + " low" + std::to_string(st.low_watermark) +
                         (opt_.reconfigure ? " e" + std::to_string(nd.epoch) + " end" +
                                                 std::to_string(st.end_height)
                                           : "");
      if (line != nd.last_status) {
        std::printf("%8llu r%u %s\n", static_cast<unsigned long long>(now_), nd.id, line.c_str());
        nd.last_status = line;
      }
    }
    if (nd.byz == Byz::kNone && fx.halted) Fail("replica " + std::to_string(nd.id) + " halted");
    for (const consensus::Outbound& out : fx.messages) {
      if (nd.byz == Byz::kNone) {
        SendFrom(nd.id, out.to, out.bytes, epoch);
      } else {
        ByzantineSend(nd, out);
      }
    }
    for (uint64_t h : fx.delivered_heights)
      CheckDelivered(nd, h);
    for (const pb::ExecutionCertificate& cert : fx.execution_certs)
      CheckExecCert(nd, cert);
    if (fx.next_tick_ms && *fx.next_tick_ms < nd.tick_at) {
      nd.tick_at = *fx.next_tick_ms;
      Push(MakeEvent(nd.tick_at, Event::kTick, nd.id, 0, ++nd.tick_gen));
    }
    ExecutePending(nd);
    MaybeSwitchEpoch(nd);
  }

  // Executes what was delivered (synchronously, as the node's executor would), and reports it to
  // the replica that ordered it (none for an observer's copied blocks).
  void ExecutePending(Node& nd) {
    while (!nd.app.unexecuted.empty() && nd.up) {
      uint64_t h = nd.app.unexecuted.front();
      nd.app.unexecuted.erase(nd.app.unexecuted.begin());
      Hash32 root = nd.app.roots[h - 1];
      Hash32 result = nd.app.ResultRoot(h);
      if (nd.byz == Byz::kNone) {
        auto [it, fresh] = reference_roots_.emplace(h, root);
        if (!fresh && it->second != root)
          Fail("state root diverged at height " + std::to_string(h));
      }
      std::optional<consensus::EpochChange> scheduled = nd.app.Execute(h);
      if (scheduled && nd.byz == Byz::kNone) NoteSchedule(nd);
      if (nd.replica && h > nd.base) {
        Apply(nd, nd.replica->OnExecuted(now_, h, root, result, scheduled), nd.epoch);
      }
    }
  }

  void CheckDelivered(Node& nd, uint64_t h) {
    if (nd.byz != Byz::kNone) return;
    const pb::CertifiedBlock& b = nd.app.blocks[h - 1];
    Hash32 digest = nd.app.digests[h - 1];
    auto [it, fresh] = committed_.emplace(h, digest);
    if (!fresh && it->second != digest) {
      Fail("safety: replica " + std::to_string(nd.id) + " committed a different block at height " +
           std::to_string(h));
      return;
    }
    ByteSpan payload = AsSpan(b.payload());
    if (payload.size() > MaxBlockBytes()) {
      Fail("validity: replica " + std::to_string(nd.id) + " committed a block of " +
           std::to_string(payload.size()) + " bytes at " + std::to_string(h) +
           ", over max_block_bytes " + std::to_string(MaxBlockBytes()));
      return;
    }
    if (!PayloadWellFormed(payload) || (!payload.empty() && !proposed_.contains(digest))) {
      Fail("validity: replica " + std::to_string(nd.id) +
           " committed an unproposed or invalid block at " + std::to_string(h));
      return;
    }
    if (!opt_.check_certificates) return;
    auto cf = consensus::VerifyCommitCertificate(SetFor(h), kChainId, b.commit_cert(), *verifier_);
    if (!cf || cf->seq != h || cf->digest != digest) {
      Fail("certificate: commit certificate at height " + std::to_string(h) + " of replica " +
           std::to_string(nd.id) +
           " does not verify: " + (cf ? "wrong block" : cf.error().message));
    }
  }

  void CheckExecCert(Node& nd, const pb::ExecutionCertificate& cert) {
    if (nd.byz != Byz::kNone) return;
    if (!opt_.check_certificates) {
      if (auto ef = consensus::DecodeExecutionVoteBody(cert.body()))
        nd.app.exec_certs[ef->height] = cert;
      return;
    }
    auto height = consensus::DecodeExecutionVoteBody(cert.body());
    auto ef = height ? consensus::VerifyExecutionCertificate(SetFor(height->height), kChainId, cert,
                                                             *verifier_)
                     : height;
    if (!ef) {
      Fail("certificate: execution certificate does not verify: " + ef.error().message);
      return;
    }
    auto it = reference_roots_.find(ef->height);
    if (it != reference_roots_.end() && it->second != ef->state_root) {
      Fail("certificate: execution certificate at " + std::to_string(ef->height) +
           " certifies a wrong state root");
    }
    nd.app.exec_certs[ef->height] = cert;
  }

  bool LivenessMet() const {
    if (!healed_) return false;
    std::optional<uint64_t> view;
    uint64_t top = 0;  // the latest epoch a correct node runs or follows
    for (uint32_t id : honest_)
      top = std::max(top, nodes_[id]->epoch);
    for (uint32_t id : honest_) {
      const Node& nd = *nodes_[id];
      if (!nd.up || nd.paused || nd.app.blocks.size() < liveness_target_) return false;
      if (!nd.replica || nd.epoch != top) continue;  // observers: caught up is enough
      consensus::ReplicaStatus st = nd.replica->status();
      if (st.in_view_change || (view && *view != st.view)) return false;
      view = st.view;
    }
    return true;
  }

  // ---- events -------------------------------------------------------------------------------

  void Process(const Event& e) {
    switch (e.kind) {
      case Event::kDeliver: {
        Node& nd = *nodes_[e.to];
        if (!nd.up || group_[e.from] != group_[e.to] || cut_.contains(Link(e.from, e.to))) return;
        if (nd.paused) {
          // The sessions buffer it (handled on resume) until the peers' p2p layer closes the
          // session to a peer silent for its idle timeout; after that, sends to it are lost until
          // it reconnects. The peers' consensus queue to it is bounded too.
          bool closed = now_ >= nd.paused_at_ms + kSessionIdleTimeoutMs;
          if (closed || nd.inbox_bytes + e.bytes->size() > kPausedQueueMaxBytes) return;
          nd.inbox_bytes += e.bytes->size();
          nd.inbox.push_back(e.bytes);
          return;
        }
        DeliverTo(nd, *e.bytes);
        return;
      }
      case Event::kTick: {
        Node& nd = *nodes_[e.to];
        if (!nd.up || e.gen != nd.tick_gen) return;
        nd.tick_at = UINT64_MAX;
        if (nd.paused) return;  // the timer is due; it fires on resume
        TickAll(nd);
        return;
      }
      case Event::kPayload: {
        Bytes p = MakePayload(next_payload_id_++, rng_, opt_.payload_bytes);
        proposed_.insert(consensus::PayloadDigest(p));
        for (auto& nd : nodes_) {
          if (nd->up && !nd->paused && nd->replica)
            Apply(*nd, nd->replica->OnPayloadReady(now_, p), nd->epoch);
        }
        if (opt_.reconfigure) {
          for (auto& nd : nodes_)
            ObserverCatchUp(*nd);
        }
        return;
      }
      case Event::kReconfigure:
        ProposeSetChange();
        return;
      case Event::kCrash: {
        Node& nd = *nodes_[e.to];
        if (!nd.up || healed_) return;
        nd.up = false;
        nd.paused = false;
        nd.inbox.clear();
        nd.inbox_bytes = 0;
        nd.replica.reset();  // everything not in storage or the app's durable blocks is lost
        nd.retired.clear();
        nd.tick_gen++;
        return;
      }
      case Event::kRestart: {
        Node& nd = *nodes_[e.to];
        if (nd.up) return;
        StartReplica(nd);
        return;
      }
      case Event::kPartition: {
        if (healed_) return;
        Rng r(e.gen);
        for (uint32_t i = 0; i < universe_; ++i)
          group_[i] = static_cast<uint32_t>(r.Below(2));
        return;
      }
      case Event::kPause: {
        Node& nd = *nodes_[e.to];
        if (nd.up && !healed_ && !nd.paused) {
          nd.paused = true;
          nd.paused_at_ms = now_;
        }
        return;
      }
      case Event::kResume: {
        Node& nd = *nodes_[e.to];
        Resume(nd);
        return;
      }
      case Event::kIsolate: {
        if (healed_) return;
        uint32_t who = e.to == kCurrentPrimary ? CurrentPrimary() : e.to;
        for (uint32_t i = 0; i < universe_; ++i)
          group_[i] = i == who ? 1 : 0;
        return;
      }
      case Event::kToggleLink: {
        if (healed_) return;
        auto link = Link(e.to, e.from);
        if (!cut_.erase(link)) cut_.insert(link);
        return;
      }
      case Event::kHeal: {
        std::fill(group_.begin(), group_.end(), 0);
        if (e.gen == 1 && !healed_) {
          cut_.clear();
          for (auto& nd : nodes_)
            Resume(*nd);
          for (auto& nd : nodes_) {
            if (!nd->up) StartReplica(*nd);
          }
          healed_ = true;
          uint64_t top = 0;
          for (uint32_t id : honest_)
            top = std::max<uint64_t>(top, nodes_[id]->app.blocks.size());
          liveness_target_ = top + kLivenessBlocks;
        }
        return;
      }
    }
  }

  // SIGCONT: every timer that came due fires at once, then the input queued meanwhile arrives.
  void Resume(Node& nd) {
    if (!nd.up || !nd.paused) return;
    nd.paused = false;
    nd.tick_at = UINT64_MAX;
    ++nd.tick_gen;
    TickAll(nd);
    std::deque<std::shared_ptr<const std::string>> inbox = std::move(nd.inbox);
    nd.inbox.clear();
    nd.inbox_bytes = 0;
    for (const auto& bytes : inbox) {
      if (!nd.up || nd.paused) break;
      DeliverTo(nd, *bytes);
    }
  }

  SimOptions opt_;
  Rng rng_;
  SimKeys sim_keys_;
  std::unique_ptr<consensus::SignatureVerifier> verifier_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<crypto::PublicKey> keys_;
  uint32_t universe_ = 0;
  std::vector<EpochSet> sets_;  // the reference schedule, epoch 0 first
  uint64_t proposed_epoch_ = 0, proposed_epoch_at_ = 0;
  std::vector<uint32_t> honest_;
  std::vector<uint32_t> group_;
  std::set<std::pair<uint32_t, uint32_t>> cut_;  // links down, (low id, high id)
  uint64_t pause_end_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  uint64_t next_order_ = 0;
  uint64_t now_ = 0;
  uint64_t latency_min_ms_ = 1, latency_max_ms_ = 1;
  double loss_ = 0, dup_ = 0;
  uint64_t payload_interval_ms_ = 100;
  uint64_t heal_at_ = 0;
  bool healed_ = false;
  uint64_t liveness_target_ = 0;
  uint64_t next_payload_id_ = 1;
  std::string strategy_;
  bool oversize_sent_ = false;
  uint64_t events_[Event::kReconfigure + 1] =
      {};  // the Byzantine members' attacks, for failure messages
  std::set<Hash32> proposed_;
  std::map<uint64_t, Hash32> committed_;
  std::map<uint64_t, Hash32> reference_roots_;
  SimResult result_;
};

}  // namespace

const char* ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kClean:
      return "clean";
    case Scenario::kLossy:
      return "lossy";
    case Scenario::kCrash:
      return "crash";
    case Scenario::kPartition:
      return "partition";
    case Scenario::kByzantine:
      return "byzantine";
    case Scenario::kMixed:
      return "mixed";
    case Scenario::kPause:
      return "pause";
    case Scenario::kIsolatePrimary:
      return "isolate-primary";
    case Scenario::kIsolateBackup:
      return "isolate-backup";
    case Scenario::kFlapLink:
      return "flap-link";
  }
  return "?";
}

bool ParseScenario(const std::string& name, Scenario* out) {
  for (Scenario s : {Scenario::kClean, Scenario::kLossy, Scenario::kCrash, Scenario::kPartition,
                     Scenario::kByzantine, Scenario::kMixed, Scenario::kPause,
                     Scenario::kIsolatePrimary, Scenario::kIsolateBackup, Scenario::kFlapLink}) {
    if (name == ScenarioName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

std::vector<std::string> AttackNames() {
  std::vector<std::string> out;
  for (Byz b : kAllAttacks)
    out.push_back(ByzName(b));
  return out;
}

std::string ReplayCommand(const SimOptions& o) {
  std::ostringstream os;
  os << "build/tests/sim/consensus_sim --n " << o.n << " --scenario " << ScenarioName(o.scenario)
     << " --seed " << o.seed;
  if (o.bugs.quorum_2f) os << " --bug a";
  if (o.bugs.drop_prepared_in_view_change) os << " --bug b";
  if (o.bugs.accept_outside_watermarks) os << " --bug c";
  if (o.bugs.skip_payload_digest_check) os << " --bug d";
  if (o.bugs.accept_unverified_state_reply) os << " --bug e";
  if (o.bugs.skip_view_change_signature) os << " --bug f";
  if (o.bugs.skip_payload_size_check) os << " --bug g";
  if (o.payload_bytes) os << " --payload-bytes " << o.payload_bytes;
  if (!o.attack.empty()) os << " --attack " << o.attack;
  if (o.bugs.epoch_one_block_early) os << " --bug h";
  if (o.real_crypto) os << " --real-crypto";
  if (o.reconfigure) os << " --reconfigure";
  return os.str();
}

SimResult RunSimulation(const SimOptions& options) {
  return Simulation(options).Run();
}

}  // namespace cl::sim
