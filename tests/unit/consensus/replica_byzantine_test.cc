// What one Byzantine validator can do to view changes (issue 14, the security review of defects 6
// and 11): pad its VIEW_CHANGE so that the NEW_VIEW quoting it outgrows every frame, pick the view
// (and so the primary) everyone re-admits it into, or exploit the late-timer rule. Replicas
// 0..n-2 are real; replica n-1 is the Byzantine one, whose messages the test writes by hand.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <set>

#include "consensus/messages.h"
#include "consensus/replica.h"
#include "crypto/sha256.h"

namespace cl::consensus {
namespace {

constexpr char kChain[] = "byzantine-vc-chain";

crypto::PrivateKey KeyFor(uint32_t i) {
  std::string seed("consensus-byzantine-vc-key-");
  seed.append(std::to_string(i));
  return *crypto::PrivateKey::FromBytes(crypto::Sha256Of(AsSpan(seed)).span());
}

class NullStorage final : public Storage {
 public:
  void AppendRecord(uint64_t, const std::string&) override {}
  void PutViewRecord(const std::string&) override {}
  void PutCheckpoint(const std::string&) override {}
  void DropRecordsUpTo(uint64_t) override {}
  Loaded Load() override { return {}; }
};

class AcceptAll final : public Application {
 public:
  // validate_once: a non-empty payload is acceptable the first time only, as when the state it was
  // checked against has moved on by the time it is proposed again.
  bool ValidatePayload(uint64_t, ByteSpan payload) override {
    if (!validate_once || payload.empty()) return true;
    return validated.insert(std::string(payload.begin(), payload.end())).second;
  }
  void DeliverBlock(const CommittedBlock& block) override { blocks.push_back(block); }
  std::optional<pb::CertifiedBlock> LoadBlock(uint64_t) override { return std::nullopt; }
  std::vector<CommittedBlock> blocks;
  bool validate_once = false;
  std::set<std::string> validated;
};

// Replicas 0..n-2 correct; replica n-1 is Byzantine: its replica object is never run; the test
// injects what it sends.
class Cluster {
 public:
  explicit Cluster(uint32_t n) : n_(n), apps_(n), storage_(n) {
    for (uint32_t i = 0; i < n; ++i)
      keys_.push_back(KeyFor(i).GetPublicKey());
    for (uint32_t i = 0; i + 1 < n; ++i) {
      ReplicaConfig cfg;
      cfg.chain_id = kChain;
      cfg.validators = keys_;
      cfg.self = i;
      cfg.key = KeyFor(i);
      cfg.window_seqs = 4;
      replicas_.push_back(std::make_unique<Replica>(std::move(cfg), &apps_[i], &storage_[i], 0, 0));
    }
  }
  uint32_t correct() const { return n_ - 1; }
  void Apply(uint32_t from, Effects fx) {
    for (auto& m : fx.messages) {
      largest = std::max<uint64_t>(largest, m.bytes.size());
      if (m.bytes.size() > kMaxConsensusMessageBytes) {
        ++oversize;
        continue;
      }
      for (uint32_t to = 0; to < correct(); ++to)
        if (to != from && (m.to == kBroadcast || m.to == to)) queue_.push_back({from, to, m.bytes});
    }
    AcceptAll& app = apps_[from];
    while (executed_[from] < app.blocks.size()) {
      uint64_t h = ++executed_[from];
      Hash32 root = crypto::Sha256Of(AsSpan(ToString(app.blocks[h - 1].payload)));
      Apply(from, replicas_[from]->OnExecuted(now_, h, root, root));
    }
  }
  void Drain() {
    while (!queue_.empty()) {
      auto [from, to, bytes] = std::move(queue_.front());
      queue_.pop_front();
      if (drop && drop(from, to, bytes)) continue;
      Apply(to, replicas_[to]->OnMessage(now_, bytes, from));
    }
  }
  void Inject(uint32_t from, const std::string& bytes) {
    for (uint32_t to = 0; to < correct(); ++to)
      queue_.push_back({from, to, bytes});
  }
  std::function<void()> before_tick;
  std::function<bool(uint32_t from, uint32_t to, const std::string& bytes)> drop;
  void AdvanceTime(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += 50) {
      now_ += 50;
      if (before_tick) before_tick();
      Drain();
      for (uint32_t i = 0; i < correct(); ++i)
        Apply(i, replicas_[i]->Tick(now_));
      Drain();
    }
  }
  struct Queued {
    uint32_t from, to;
    std::string bytes;
  };
  uint32_t n_;
  uint64_t now_ = 0;
  std::vector<crypto::PublicKey> keys_;
  std::vector<AcceptAll> apps_;
  std::vector<NullStorage> storage_;
  std::map<uint32_t, uint64_t> executed_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::deque<Queued> queue_;
  uint64_t oversize = 0, largest = 0;
};

// A VIEW_CHANGE whose envelope carries an unsigned `payload` field used to be accepted and copied
// into the NEW_VIEW, which then exceeded the frame limit and was never delivered: the chain
// stopped.
TEST(ByzantineViewChange, PaddedViewChangeEnvelopeNeitherGrowsTheNewViewNorHaltsTheChain) {
  Cluster c(4);
  const uint32_t byz = 3;
  std::set<uint64_t> sent;
  c.before_tick = [&] {
    uint64_t top = 0;
    for (uint32_t i = 0; i < c.correct(); ++i)
      top = std::max(top, c.replicas_[i]->status().view);
    for (uint64_t w = top; w <= top + 1; ++w) {
      if (w == 0 || !sent.insert(w).second) continue;
      pb::ViewChangeBody body;
      body.set_new_view(w);
      pb::Envelope env =
          SignEnvelope(pb::VIEW_CHANGE, byz, body.SerializeAsString(), KeyFor(byz), kChain);
      env.set_payload(std::string(kMaxConsensusMessageBytes - 200, 'z'));
      c.Inject(byz, env.SerializeAsString());
    }
  };
  c.AdvanceTime(2000);
  const size_t before = c.apps_[1].blocks.size();
  EXPECT_GT(before, 0u);
  c.AdvanceTime(60000);
  EXPECT_EQ(c.oversize, 0u);
  EXPECT_GT(c.apps_[1].blocks.size(), before + 10) << "one Byzantine validator stopped the chain";
}

// A replica whose ticks are always more than a timeout late (a starved driver, not a pause) must
// still leave a dead primary's view: only one late deadline in a row is re-armed.
TEST(ByzantineViewChange, PersistentlyLateTicksStillChangeView) {
  std::vector<crypto::PublicKey> keys;
  for (uint32_t i = 0; i < 4; ++i)
    keys.push_back(KeyFor(i).GetPublicKey());
  ReplicaConfig cfg;
  cfg.chain_id = kChain;
  cfg.validators = keys;
  cfg.self = 1;
  cfg.key = KeyFor(1);
  AcceptAll app;
  NullStorage st;
  Replica r(std::move(cfg), &app, &st, 0, 0);
  r.Start(0);
  uint64_t now = 0;
  for (int i = 0; i < 50; ++i) {
    now += 2100;  // each tick 2.1 s after the last (a driver busy for 2.1 s per loop), base timeout
                  // 1 s
    r.Tick(now);
  }
  EXPECT_TRUE(r.status().in_view_change || r.status().view > 0)
      << "105 s without a primary and no view change";
}

// One Byzantine backup's view change for a far view (one it leads) moves nobody; re-admission goes
// only to view + 1, the one view a replica can reach alone.
TEST(ByzantineViewChange, OneByzantineBackupCannotPickTheNextViewOrItsPrimary) {
  Cluster c(4);
  const uint32_t byz = 3;
  c.AdvanceTime(5000);
  EXPECT_EQ(c.replicas_[0]->status().view, 0u);
  auto view_change = [&](uint64_t w) {
    pb::ViewChangeBody body;
    body.set_new_view(w);
    return SignEnvelope(pb::VIEW_CHANGE, byz, body.SerializeAsString(), KeyFor(byz), kChain)
        .SerializeAsString();
  };
  c.Inject(byz, view_change(999));  // 999 % 4 == 3: the Byzantine replica's own view
  c.Drain();
  c.AdvanceTime(100);
  for (uint32_t i = 0; i < c.correct(); ++i)
    EXPECT_EQ(c.replicas_[i]->status().view, 0u) << "a single faulty backup moved replica " << i;
  // A peer waiting alone in view 1 is re-admitted: everyone goes to view 1, and no further.
  c.Inject(byz, view_change(1));
  c.Drain();
  c.AdvanceTime(100);
  for (uint32_t i = 0; i < c.correct(); ++i)
    EXPECT_LE(c.replicas_[i]->status().view, 1u);
}

// A NEW_VIEW that re-proposes a block a quorum prepared fixes it by digest; replicas accept it
// without asking the application again. Asked again, the application may refuse it because state
// moved on (a null block committed before it), and every later view would stall on the same
// re-proposal (security review of the view-change fixes, F4).
TEST(ByzantineViewChange, BlockFixedByANewViewIsAcceptedWithoutRevalidation) {
  Cluster c(4);
  for (auto& app : c.apps_)
    app.validate_once = true;
  for (uint32_t i = 0; i < c.correct(); ++i)
    c.Apply(i, c.replicas_[i]->Start(0));
  // No COMMIT is delivered in view 0: the block is prepared everywhere and committed nowhere.
  c.drop = [](uint32_t, uint32_t, const std::string& bytes) {
    pb::Envelope env;
    return env.ParseFromString(bytes) && env.type() == pb::COMMIT && DecodeVoteBody(env.body()) &&
           DecodeVoteBody(env.body())->view == 0;
  };
  const std::string block = "the prepared block";
  c.Apply(0, c.replicas_[0]->OnPayloadReady(c.now_, Bytes(block.begin(), block.end())));
  c.Drain();
  auto delivered = [&](uint32_t i) {
    for (const auto& b : c.apps_[i].blocks)
      if (std::string(b.payload.begin(), b.payload.end()) == block) return true;
    return false;
  };
  for (uint32_t i = 0; i < c.correct(); ++i)
    ASSERT_FALSE(delivered(i));
  c.AdvanceTime(60000);  // view 0 times out; the NEW_VIEW of view 1 re-proposes the block
  for (uint32_t i = 0; i < c.correct(); ++i) {
    EXPECT_GE(c.replicas_[i]->status().view, 1u);
    EXPECT_TRUE(delivered(i)) << "replica " << i << " never committed the re-proposed block";
  }
}

// A block B can be prepared by a quorum in a view where only the faulty replica saw the prepares:
// it alone holds the prepared certificate, and it may keep it out of the next view change. The
// NEW_VIEW of that view then fixes nothing at B's seq, and the correct replicas accept another
// block C there (not prepared either). When the faulty replica's view change with B's proof makes
// it into a later NEW_VIEW, that NEW_VIEW fixes B by digest, and only correct replicas can supply
// B's payload: the faulty one never answers a PAYLOAD_REQUEST. A slot that kept only its last
// earlier pre-prepare (C) has lost B everywhere, and every NEW_VIEW carrying the proof stalls on
// it (security review of the view-change fixes, F3). Schedule, n = 4, replica 3 faulty: view 0
// (primary 0) pre-prepares B and every correct replica prepares it, but no PREPARE reaches a
// correct replica (replica 3 collects those of 1 and 2); view 1 (primary 1) installs from the
// correct replicas' view changes alone and pre-prepares C, whose PREPAREs are dropped as well;
// replica 3 sends, for every view from 2 on, a view change carrying B's proof, and it reaches the
// primary of view 2 early enough to be quoted.
TEST(ByzantineViewChange,
     BlockAHiddenQuorumPreparedIsStillAvailableAfterALaterViewAcceptedAnother) {
  Cluster c(4);
  const uint32_t byz = 3;
  for (uint32_t i = 0; i < c.correct(); ++i)
    c.Apply(i, c.replicas_[i]->Start(0));
  const std::string block_b = "block B, prepared by a quorum in view 0";
  const std::string block_c = "block C, accepted in view 1";
  const Hash32 digest_b = PayloadDigest(AsSpan(block_b));
  const Hash32 digest_c = PayloadDigest(AsSpan(block_c));
  pb::Envelope b_pre_prepare;                     // replica 0's, view 0
  std::map<uint32_t, pb::Envelope> b_prepares;    // view 0, by sender
  std::set<uint32_t> prepared_c;                  // replicas that sent a view-1 PREPARE for C
  std::map<uint64_t, std::set<uint32_t>> quoted;  // NEW_VIEW view -> senders of its view changes
  c.drop = [&](uint32_t from, uint32_t, const std::string& bytes) {
    pb::Envelope env;
    if (!env.ParseFromString(bytes)) return false;
    if (env.type() == pb::NEW_VIEW) {
      pb::NewViewBody nv;
      if (nv.ParseFromString(env.body()))
        for (const pb::Envelope& vc : nv.view_changes())
          quoted[nv.view()].insert(vc.sender());
      return false;
    }
    auto vf = DecodeVoteBody(env.body());
    if (!vf || vf->view > 1) return false;
    if (env.type() == pb::PRE_PREPARE && vf->view == 0 && vf->digest == digest_b) {
      b_pre_prepare = env;
      return false;
    }
    if (env.type() != pb::PREPARE) return false;
    // Every PREPARE of views 0 and 1 is lost between correct replicas: none of them prepares.
    if (vf->view == 0 && vf->digest == digest_b) b_prepares.emplace(from, env);
    if (vf->view == 1 && vf->digest == digest_c) prepared_c.insert(from);
    return true;
  };
  // Replica 1 will propose C when it leads view 1; replica 0 proposes B now.
  c.Apply(1, c.replicas_[1]->OnPayloadReady(c.now_, Bytes(block_c.begin(), block_c.end())));
  c.Apply(0, c.replicas_[0]->OnPayloadReady(c.now_, Bytes(block_b.begin(), block_b.end())));
  c.Drain();
  ASSERT_EQ(b_prepares.size(), 2u) << "replicas 1 and 2 did not both prepare B in view 0";
  // B's prepared certificate: 0's pre-prepare and the prepares of 1 and 2, held by replica 3 only.
  pb::PreparedProof proof;
  *proof.mutable_pre_prepare() = b_pre_prepare;
  proof.mutable_pre_prepare()->clear_payload();
  proof.set_prepare_body(b_prepares.begin()->second.body());
  for (const auto& [who, env] : b_prepares) {
    pb::Signer* sg = proof.add_prepares();
    sg->set_replica(who);
    sg->set_signature(env.signature());
  }
  std::set<uint64_t> sent;
  c.before_tick = [&] {
    uint64_t top = 0;
    for (uint32_t i = 0; i < c.correct(); ++i)
      top = std::max(top, c.replicas_[i]->status().view);
    for (uint64_t w = std::max<uint64_t>(top, 2); w <= top + 1; ++w) {
      if (!sent.insert(w).second) continue;
      pb::ViewChangeBody body;
      body.set_new_view(w);
      *body.add_prepared() = proof;
      c.Inject(byz,
               SignEnvelope(pb::VIEW_CHANGE, byz, body.SerializeAsString(), KeyFor(byz), kChain)
                   .SerializeAsString());
    }
  };
  c.AdvanceTime(30000);
  // The schedule happened: view 1 accepted C on every correct replica without B's proof, and the
  // NEW_VIEW of view 2 quoted replica 3's view change.
  ASSERT_TRUE(quoted.contains(1) && quoted.contains(2));
  EXPECT_EQ(quoted[1].count(byz), 0u);
  EXPECT_EQ(prepared_c, (std::set<uint32_t>{0, 2}));
  EXPECT_EQ(quoted[2].count(byz), 1u);
  for (uint32_t i = 0; i < c.correct(); ++i) {
    const auto& blocks = c.apps_[i].blocks;
    EXPECT_FALSE(blocks.empty()) << "replica " << i << " never committed height 1 (B)";
    if (blocks.empty()) continue;
    EXPECT_EQ(std::string(blocks[0].payload.begin(), blocks[0].payload.end()), block_b)
        << "replica " << i << " committed another block than B at height 1";
    EXPECT_EQ(blocks[0].digest, digest_b);
    for (size_t h = 0; h < std::min(blocks.size(), c.apps_[0].blocks.size()); ++h)
      EXPECT_EQ(blocks[h].payload, c.apps_[0].blocks[h].payload)
          << "replicas 0 and " << i << " differ at height " << h + 1;
  }
}

}  // namespace
}  // namespace cl::consensus
