// What crosses the wire into a replica (issue 14): future-view buffering, sender binding, strict
// parsing of every signed or hashed message, and message sizes against the p2p frame limit.
#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>

#include "consensus/messages.h"
#include "consensus/replica.h"
#include "crypto/sha256.h"

namespace cl::consensus {
namespace {

constexpr char kChain[] = "wire-chain";

crypto::PrivateKey KeyFor(uint32_t i) {
  std::string seed("consensus-wire-key-");
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
  bool ValidatePayload(uint64_t, ByteSpan) override { return true; }
  void DeliverBlock(const CommittedBlock& block) override { blocks.push_back(block); }
  std::optional<pb::CertifiedBlock> LoadBlock(uint64_t) override { return std::nullopt; }
  std::vector<CommittedBlock> blocks;
};

// One replica (index `self`) of an n-validator set, fed hand-made messages.
struct Single {
  explicit Single(uint32_t n, uint32_t self = 0) {
    for (uint32_t i = 0; i < n; ++i)
      keys.push_back(KeyFor(i).GetPublicKey());
    ReplicaConfig cfg;
    cfg.chain_id = kChain;
    cfg.validators = keys;
    cfg.self = self;
    cfg.key = KeyFor(self);
    cfg.window_seqs = 8;
    replica = std::make_unique<Replica>(std::move(cfg), &app, &storage, 0, 0);
  }
  std::vector<crypto::PublicKey> keys;
  NullStorage storage;
  AcceptAll app;
  std::unique_ptr<Replica> replica;
};

std::string Vote(pb::MessageType type, uint32_t sender, const crypto::PrivateKey& key,
                 uint64_t view, uint64_t seq, const std::string& payload = "") {
  Hash32 digest = PayloadDigest(AsSpan(payload));
  pb::Envelope env = SignEnvelope(type, sender, EncodeVoteBody(view, seq, digest), key, kChain);
  if (type == pb::PRE_PREPARE) env.set_payload(payload);
  return env.SerializeAsString();
}

// ---- defect 12: buffering and sender binding ----------------------------------------------------

TEST(ReplicaWire, FutureViewFloodClaimingAnotherSenderIsNotBuffered) {
  Single s(4);
  const crypto::PrivateKey observer = KeyFor(99);  // a member, not a validator
  for (uint64_t i = 0; i < 200; ++i) {
    s.replica->OnMessage(0, Vote(pb::PREPARE, 2, observer, 5, 1 + i % 8));
    s.replica->OnMessage(0, Vote(pb::PRE_PREPARE, 1, observer, 5, 1, std::string(4096, 'x')));
  }
  EXPECT_EQ(s.replica->status().buffered_messages, 0u);
  EXPECT_EQ(s.replica->status().buffered_bytes, 0u);
  EXPECT_EQ(s.replica->drops().bad_signature, 400u);
}

TEST(ReplicaWire, FutureVoteFromTheWrongSessionIsDroppedAndCounted) {
  Single s(4);
  // Replica 2 really signed it, but it arrives over replica 3's session.
  s.replica->OnMessage(0, Vote(pb::PREPARE, 2, KeyFor(2), 5, 1), /*from=*/3);
  EXPECT_EQ(s.replica->drops().wrong_sender, 1u);
  EXPECT_EQ(s.replica->status().buffered_messages, 0u);
  s.replica->OnMessage(0, Vote(pb::PREPARE, 2, KeyFor(2), 5, 1), /*from=*/2);
  EXPECT_EQ(s.replica->status().buffered_messages, 1u);
}

TEST(ReplicaWire, BufferedBytesAreBoundedPerSenderAndInTotalWithoutEvictingHonestVotes) {
  const uint32_t n = 8;
  Single s(n);
  // Replica 7's honest future vote arrives first.
  const std::string honest = Vote(pb::PREPARE, 7, KeyFor(7), 5, 1);
  s.replica->OnMessage(0, honest, 7);
  // Replicas 1..6 each flood validly signed pre-prepares for a view they lead (view p has primary
  // p), 4 MiB each, far beyond both the per-sender and the total limit.
  const std::string payload(4u << 20, 'p');
  for (uint32_t p = 1; p <= 6; ++p) {
    for (uint64_t seq = 1; seq <= 12; ++seq) {
      s.replica->OnMessage(0, Vote(pb::PRE_PREPARE, p, KeyFor(p), p, seq, payload), p);
      ASSERT_LE(s.replica->BufferedBytesFrom(p), kMaxBufferedBytesPerPeer);
      ASSERT_LE(s.replica->status().buffered_bytes, kMaxBufferedBytesTotal);
    }
  }
  EXPECT_EQ(s.replica->BufferedBytesFrom(7), honest.size()) << "the honest vote was evicted";
  EXPECT_GT(s.replica->drops().buffer_full, 0u);
  EXPECT_EQ(s.replica->drops().bad_signature, 0u);
}

// ---- defect 11: every message fits one frame ------------------------------------------------

// n replicas with instant delivery through a network that, like p2p, refuses any message larger
// than kMaxConsensusMessageBytes (counted in `oversize`), and a filter to drop chosen messages.
class SizedCluster {
 public:
  SizedCluster(uint32_t n, uint64_t max_block_bytes, uint64_t window)
      : n_(n), apps_(n), storage_(n), down_(n, false) {
    for (uint32_t i = 0; i < n; ++i)
      keys_.push_back(KeyFor(i).GetPublicKey());
    for (uint32_t i = 0; i < n; ++i) {
      ReplicaConfig cfg;
      cfg.chain_id = kChain;
      cfg.validators = keys_;
      cfg.self = i;
      cfg.key = KeyFor(i);
      cfg.window_seqs = window;
      cfg.max_block_bytes = max_block_bytes;
      replicas_.push_back(std::make_unique<Replica>(std::move(cfg), &apps_[i], &storage_[i], 0, 0));
    }
  }

  void Apply(uint32_t from, Effects fx) {
    for (auto& m : fx.messages) {
      largest = std::max<uint64_t>(largest, m.bytes.size());
      if (pb::Envelope env; env.ParseFromString(m.bytes)) ++sent_by_type[env.type()];
      if (m.bytes.size() > kMaxConsensusMessageBytes) {
        ++oversize;  // p2p would refuse it: it never arrives anywhere
        continue;
      }
      for (uint32_t to = 0; to < n_; ++to) {
        if (to != from && (m.to == kBroadcast || m.to == to)) queue_.push_back({from, to, m.bytes});
      }
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
      if (down_[to] || down_[from]) continue;
      pb::Envelope env;
      if (drop && env.ParseFromString(bytes) && drop(from, to, env)) continue;
      Apply(to, replicas_[to]->OnMessage(now_, bytes, from));
    }
  }

  void AdvanceTime(uint64_t ms) {
    for (uint64_t t = 0; t < ms; t += 50) {
      now_ += 50;
      for (uint32_t i = 0; i < n_; ++i) {
        if (!down_[i]) Apply(i, replicas_[i]->Tick(now_));
      }
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
  std::vector<bool> down_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::deque<Queued> queue_;
  std::function<bool(uint32_t from, uint32_t to, const pb::Envelope&)> drop;
  uint64_t oversize = 0;
  uint64_t largest = 0;
  std::map<int, uint64_t> sent_by_type;
};

// The scenario, at the limit: blocks of the largest size are prepared but committed
// nowhere when the primary fails. The VIEW_CHANGE and NEW_VIEW name them by digest; the new
// primary, which never saw the first block (its pre-prepare was lost), fetches it with
// PAYLOAD_REQUEST and re-proposes both with their payloads. Every message fits one frame.
TEST(ReplicaWire, ViewChangeWithMaximumSizeBlocksInFlightFitsAndCommits) {
  SizedCluster c(4, kMaxPayloadBytes, 4);
  const std::string block1(kMaxPayloadBytes, 'a');
  std::string block2(kMaxPayloadBytes, 'b');
  c.drop = [](uint32_t, uint32_t to, const pb::Envelope& env) {
    if (env.type() == pb::COMMIT) {
      auto vf = DecodeVoteBody(env.body());
      return vf && vf->view == 0;  // view 0 never commits
    }
    if (env.type() == pb::PRE_PREPARE && to == 1) {
      auto vf = DecodeVoteBody(env.body());
      return vf && vf->view == 0 && vf->seq == 1;  // the next primary never sees block 1
    }
    return false;
  };
  c.Apply(0, c.replicas_[0]->OnPayloadReady(0, ToBytes(block1)));
  c.Apply(0, c.replicas_[0]->OnPayloadReady(0, ToBytes(block2)));
  c.Drain();
  for (uint32_t r = 0; r < 4; ++r)
    ASSERT_TRUE(c.apps_[r].blocks.empty());
  c.drop = nullptr;
  c.down_[0] = true;  // the primary fails with both blocks prepared at replicas 2 and 3
  c.AdvanceTime(5000);
  EXPECT_EQ(c.oversize, 0u) << "largest message " << c.largest << " bytes";
  EXPECT_LE(c.largest, kMaxConsensusMessageBytes);
  EXPECT_GE(c.sent_by_type[pb::PAYLOAD_REPLY], 1u) << "the new primary fetched block 1";
  for (uint32_t r = 1; r < 4; ++r) {
    EXPECT_GE(c.replicas_[r]->status().view, 1u);
    ASSERT_GE(c.apps_[r].blocks.size(), 2u) << "replica " << r;
    EXPECT_TRUE(ToString(c.apps_[r].blocks[0].payload) == block1) << "replica " << r;
    EXPECT_TRUE(ToString(c.apps_[r].blocks[1].payload) == block2) << "replica " << r;
  }
}

// The computed bounds are upper bounds of real encodings: a VIEW_CHANGE with a full window of
// prepared proofs, each with n signers, and a NEW_VIEW of a quorum of them.
TEST(ReplicaWire, SizeBoundsCoverTheLargestRealViewChangeAndNewView) {
  const uint32_t n = 7;
  const uint64_t window = 5;
  const std::string sig(64, 's');
  pb::ViewChangeBody vc;
  vc.set_new_view(UINT64_MAX);
  vc.set_stable_seq(UINT64_MAX);
  vc.mutable_stable_cert()->set_body(
      EncodeExecutionVoteBody(UINT64_MAX, Hash32{}, Hash32{}, Hash32{}));
  for (uint32_t i = 0; i < n; ++i) {
    pb::Signer* sg = vc.mutable_stable_cert()->add_signers();
    sg->set_replica(UINT32_MAX);
    sg->set_signature(sig);
  }
  for (uint64_t w = 0; w < window; ++w) {
    pb::PreparedProof* p = vc.add_prepared();
    pb::Envelope* pp = p->mutable_pre_prepare();
    pp->set_type(pb::STATE_REPLY);
    pp->set_sender(UINT32_MAX);
    pp->set_body(EncodeVoteBody(UINT64_MAX, UINT64_MAX, Hash32{}));
    pp->set_signature(sig);
    p->set_prepare_body(pp->body());
    for (uint32_t i = 0; i < n; ++i) {
      pb::Signer* sg = p->add_prepares();
      sg->set_replica(UINT32_MAX);
      sg->set_signature(sig);
    }
  }
  pb::Envelope vc_env;
  vc_env.set_type(pb::PAYLOAD_REPLY);
  vc_env.set_sender(UINT32_MAX);
  vc_env.set_body(vc.SerializeAsString());
  vc_env.set_signature(sig);
  EXPECT_LE(vc_env.ByteSizeLong(), MaxViewChangeBytes(n, window));
  pb::NewViewBody nv;
  nv.set_view(UINT64_MAX);
  for (uint32_t i = 0; i < QuorumSize(n); ++i)
    *nv.add_view_changes() = vc_env;
  for (uint64_t w = 0; w < window; ++w)
    *nv.add_pre_prepares() = vc.prepared(0).pre_prepare();
  pb::Envelope nv_env = vc_env;
  nv_env.set_body(nv.SerializeAsString());
  EXPECT_LE(nv_env.ByteSizeLong(), MaxNewViewBytes(n, window));
  // And the limits the replica accepts produce messages that fit (also static_asserted).
  EXPECT_LE(MaxNewViewBytes(kMaxValidators, kMaxWindowSeqs), kMaxConsensusMessageBytes);
  EXPECT_LE(MaxPrePrepareBytes(kMaxPayloadBytes), kMaxConsensusMessageBytes);
}

// A state reply never exceeds the limit: with blocks of the largest size it carries one each.
TEST(ReplicaWire, StateReplyOfMaximumSizeBlocksCarriesOneBlockAndFits) {
  class Store final : public Application {
   public:
    bool ValidatePayload(uint64_t, ByteSpan) override { return true; }
    void DeliverBlock(const CommittedBlock&) override {}
    std::optional<pb::CertifiedBlock> LoadBlock(uint64_t height) override {
      if (height > 3) return std::nullopt;
      pb::CertifiedBlock b;
      b.set_height(height);
      b.set_payload(std::string(kMaxPayloadBytes, 'z'));
      return b;
    }
  } store;
  std::vector<crypto::PublicKey> keys;
  for (uint32_t i = 0; i < 4; ++i)
    keys.push_back(KeyFor(i).GetPublicKey());
  ReplicaConfig cfg;
  cfg.chain_id = kChain;
  cfg.validators = keys;
  cfg.key = KeyFor(0);
  cfg.max_block_bytes = kMaxPayloadBytes;
  NullStorage storage;
  Replica r(std::move(cfg), &store, &storage, 3, 0);
  pb::StateRequestBody req;
  req.set_from_height(1);
  req.set_max_blocks(16);
  pb::Envelope env = SignEnvelope(pb::STATE_REQUEST, 1, req.SerializeAsString(), KeyFor(1), kChain);
  Effects fx = r.OnMessage(0, env.SerializeAsString(), 1);
  ASSERT_EQ(fx.messages.size(), 1u);
  EXPECT_LE(fx.messages[0].bytes.size(), kMaxConsensusMessageBytes);
  pb::Envelope out;
  ASSERT_TRUE(out.ParseFromString(fx.messages[0].bytes));
  pb::StateReplyBody reply;
  ASSERT_TRUE(reply.ParseFromString(out.body()));
  EXPECT_EQ(reply.blocks_size(), 1);
}

// Defect 10: a state reply is taken only from a peer this replica asked, for the height it asked.
TEST(ReplicaWire, StateReplyIsTakenOnlyFromThePeerAskedForTheHeightAsked) {
  Single s(4);
  const std::string payload = "block";
  const Hash32 digest = PayloadDigest(AsSpan(payload));
  pb::StateReplyBody reply;
  pb::CertifiedBlock* block = reply.add_blocks();
  block->set_height(1);
  block->set_payload(payload);
  const std::string body = EncodeVoteBody(0, 1, digest);
  block->mutable_commit_cert()->set_body(body);
  for (uint32_t i = 1; i <= 3; ++i) {
    pb::Signer* sg = block->mutable_commit_cert()->add_signers();
    sg->set_replica(i);
    sg->set_signature(SignEnvelope(pb::COMMIT, i, body, KeyFor(i), kChain).signature());
  }
  auto reply_from = [&](uint32_t sender) {
    return SignEnvelope(pb::STATE_REPLY, sender, reply.SerializeAsString(), KeyFor(sender), kChain)
        .SerializeAsString();
  };
  // Genuine certificate, but nobody asked: dropped, nothing delivered.
  s.replica->OnMessage(0, reply_from(2), 2);
  EXPECT_TRUE(s.app.blocks.empty());
  EXPECT_EQ(s.replica->drops().unsolicited, 1u);

  // Peers report having executed height 1; the replica asks one of them.
  for (uint32_t i = 1; i <= 3; ++i) {
    pb::Envelope vote =
        SignEnvelope(pb::EXECUTION_VOTE, i, EncodeExecutionVoteBody(1, digest, Hash32{}, Hash32{}),
                     KeyFor(i), kChain);
    s.replica->OnMessage(0, vote.SerializeAsString(), i);
  }
  std::optional<uint32_t> asked;
  for (uint64_t t = 1; t <= 20 && !asked; ++t) {
    Effects fx = s.replica->Tick(t * 1000);
    for (const Outbound& m : fx.messages) {
      pb::Envelope env;
      if (env.ParseFromString(m.bytes) && env.type() == pb::STATE_REQUEST) asked = m.to;
    }
  }
  ASSERT_TRUE(asked.has_value()) << "the lagging replica never asked for state";
  const uint32_t other = *asked == 1 ? 2 : 1;
  s.replica->OnMessage(30'000, reply_from(other), other);
  EXPECT_TRUE(s.app.blocks.empty()) << "a reply from a peer not asked was taken";
  s.replica->OnMessage(30'000, reply_from(*asked), *asked);
  ASSERT_EQ(s.app.blocks.size(), 1u);
  EXPECT_EQ(s.app.blocks[0].height, 1u);
}

// ---- defect 2: strict parsing of what is signed or hashed -------------------------------------

const std::string kUnknownField("\x48\x01", 2);  // field 9, varint 1

TEST(ReplicaWire, VoteBodiesRefuseUnknownFieldsAndNonCanonicalEncodings) {
  const std::string vote = EncodeVoteBody(3, 7, PayloadDigest(AsSpan("x")));
  ASSERT_TRUE(DecodeVoteBody(vote).has_value());
  EXPECT_FALSE(DecodeVoteBody(vote + kUnknownField).has_value());
  EXPECT_FALSE(DecodeVoteBody(vote + std::string("\x08\x03", 2)).has_value());  // view repeated
  EXPECT_FALSE(DecodeVoteBody(std::string("\x08\x00", 2) + vote.substr(2)).has_value());  // view 0
  const std::string exec = EncodeExecutionVoteBody(5, Hash32{}, Hash32{}, Hash32{});
  ASSERT_TRUE(DecodeExecutionVoteBody(exec).has_value());
  EXPECT_FALSE(DecodeExecutionVoteBody(exec + kUnknownField).has_value());
  EXPECT_FALSE(DecodeExecutionVoteBody(exec + std::string("\x08\x05", 2)).has_value());
}

// The single byte flip: the tag of a certificate's fourth signer (field 2) becomes field 9.
// A lenient parse then sees three signers, a quorum of four, and an unknown field.
TEST(ReplicaWire, CertificateSignerFlippedIntoAnUnknownFieldFails) {
  std::vector<crypto::PublicKey> keys;
  for (uint32_t i = 0; i < 4; ++i)
    keys.push_back(KeyFor(i).GetPublicKey());
  ValidatorSet vs(keys);
  const std::string body = EncodeVoteBody(0, 1, PayloadDigest(AsSpan("block")));
  pb::CommitCertificate cert;
  cert.set_body(body);
  for (uint32_t i = 0; i < 4; ++i) {
    pb::Signer* sg = cert.add_signers();
    sg->set_replica(i);
    sg->set_signature(SignEnvelope(pb::COMMIT, i, body, KeyFor(i), kChain).signature());
  }
  ASSERT_TRUE(VerifyCommitCertificate(vs, kChain, cert).has_value());
  std::string bytes = cert.SerializeAsString();
  const size_t fourth = bytes.size() - cert.signers(3).ByteSizeLong() - 2;
  ASSERT_EQ(bytes[fourth], '\x12');
  bytes[fourth] = '\x4a';  // field 2 (signers) -> field 9, same wire type
  pb::CommitCertificate lenient;
  ASSERT_TRUE(lenient.ParseFromString(bytes));
  ASSERT_EQ(lenient.signers_size(), 3);
  EXPECT_FALSE(VerifyCommitCertificate(vs, kChain, lenient).has_value());

  // The same flip inside a state reply never reaches the certificate check.
  class Lagging final : public Application {
   public:
    bool ValidatePayload(uint64_t, ByteSpan) override { return true; }
    void DeliverBlock(const CommittedBlock& b) override { delivered.push_back(b.height); }
    std::optional<pb::CertifiedBlock> LoadBlock(uint64_t) override { return std::nullopt; }
    std::vector<uint64_t> delivered;
  } app;
  ReplicaConfig cfg;
  cfg.chain_id = kChain;
  cfg.validators = keys;
  cfg.key = KeyFor(0);
  NullStorage storage;
  Replica r(std::move(cfg), &app, &storage, 0, 0);
  pb::StateReplyBody reply;
  pb::CertifiedBlock* block = reply.add_blocks();
  block->set_height(1);
  block->set_payload("block");
  *block->mutable_commit_cert() = lenient;
  pb::Envelope env = SignEnvelope(pb::STATE_REPLY, 1, reply.SerializeAsString(), KeyFor(1), kChain);
  r.OnMessage(0, env.SerializeAsString(), 1);
  EXPECT_TRUE(app.delivered.empty());
  EXPECT_EQ(r.drops().malformed, 1u);
}

// An envelope with an appended unknown field, or with its fields out of order, is not the message
// that was signed: dropped as malformed before any other check.
TEST(ReplicaWire, EnvelopeWithUnknownFieldOrNonCanonicalEncodingIsDropped) {
  Single s(4, 1);
  pb::Envelope pp = SignEnvelope(
      pb::PRE_PREPARE, 0, EncodeVoteBody(0, 1, PayloadDigest(AsSpan("p"))), KeyFor(0), kChain);
  pp.set_payload("p");
  const std::string canonical = pp.SerializeAsString();
  s.replica->OnMessage(0, canonical + kUnknownField, 0);
  // Out of order: the signature (field 4) moved in front of everything else.
  pb::Envelope sig_only;
  sig_only.set_signature(pp.signature());
  pb::Envelope rest = pp;
  rest.clear_signature();
  s.replica->OnMessage(0, sig_only.SerializeAsString() + rest.SerializeAsString(), 0);
  EXPECT_EQ(s.replica->drops().malformed, 2u);
  Effects fx = s.replica->OnMessage(0, canonical, 0);  // the control: prepared at once
  EXPECT_EQ(fx.messages.size(), 1u);
}

// Signed bodies with an unknown field are refused even though the signature over them verifies:
// two view changes for view 1 (f + 1 of them) make a replica join view 1 only when canonical.
TEST(ReplicaWire, SignedViewChangeWithUnknownFieldIsRefused) {
  for (bool tamper : {true, false}) {
    Single s(4, 1);
    for (uint32_t from : {2u, 3u}) {
      pb::ViewChangeBody vc;
      vc.set_new_view(1);
      std::string body = vc.SerializeAsString();
      if (tamper) body += kUnknownField;
      pb::Envelope env = SignEnvelope(pb::VIEW_CHANGE, from, body, KeyFor(from), kChain);
      s.replica->OnMessage(0, env.SerializeAsString(), from);
    }
    EXPECT_EQ(s.replica->status().view, tamper ? 0u : 1u) << "tampered: " << tamper;
    EXPECT_EQ(s.replica->drops().malformed, tamper ? 2u : 0u);
  }
}

std::string PayloadRequest(uint32_t from, uint64_t seq, const Hash32& digest) {
  pb::PayloadRequestBody body;
  body.set_seq(seq);
  body.set_digest(ToString(digest.span()));
  return SignEnvelope(pb::PAYLOAD_REQUEST, from, body.SerializeAsString(), KeyFor(from), kChain)
      .SerializeAsString();
}

// A payload is sent only for a held (seq, digest), at most once per retransmission interval per
// peer, so a requester cannot make a replica stream blocks at it.
TEST(ReplicaWire, PayloadRequestIsAnsweredForHeldBlocksOncePerInterval) {
  Single s(4, 1);
  const Hash32 d = PayloadDigest(AsSpan("p"));
  s.replica->OnMessage(0, Vote(pb::PRE_PREPARE, 0, KeyFor(0), 0, 1, "p"), 0);
  Effects fx = s.replica->OnMessage(1000, PayloadRequest(2, 1, d), 2);
  ASSERT_EQ(fx.messages.size(), 1u);
  EXPECT_EQ(fx.messages[0].to, 2u);
  pb::Envelope out;
  ASSERT_TRUE(out.ParseFromString(fx.messages[0].bytes));
  ASSERT_EQ(out.type(), pb::PAYLOAD_REPLY);
  pb::PayloadReplyBody reply;
  ASSERT_TRUE(reply.ParseFromString(out.body()));
  EXPECT_EQ(reply.pre_prepare().payload(), "p");
  EXPECT_TRUE(s.replica->OnMessage(1001, PayloadRequest(2, 1, d), 2).messages.empty());
  EXPECT_TRUE(s.replica->OnMessage(1001, PayloadRequest(3, 1, PayloadDigest(AsSpan("q"))), 3)
                  .messages.empty());
  EXPECT_EQ(s.replica->OnMessage(2000, PayloadRequest(2, 1, d), 2).messages.size(), 1u);
}

// A payload nobody asked for is not kept (memory is spent only on wanted blocks).
TEST(ReplicaWire, UnsolicitedPayloadReplyIsDropped) {
  Single s(4, 1);
  pb::PayloadReplyBody body;
  ASSERT_TRUE(body.mutable_pre_prepare()->ParseFromString(
      Vote(pb::PRE_PREPARE, 0, KeyFor(0), 0, 1, std::string(1 << 20, 'u'))));
  pb::Envelope env =
      SignEnvelope(pb::PAYLOAD_REPLY, 2, body.SerializeAsString(), KeyFor(2), kChain);
  Effects fx = s.replica->OnMessage(0, env.SerializeAsString(), 2);
  EXPECT_TRUE(fx.messages.empty());
  EXPECT_EQ(s.replica->drops().stale, 1u);
}

// Epochs: the driver routes an envelope by the epoch it names; the peek agrees with protobuf on
// every envelope shape and refuses bytes that are not a message.
TEST(EnvelopeEpoch, PeekAgreesWithTheParsedField) {
  for (uint64_t epoch : {uint64_t{0}, uint64_t{1}, uint64_t{300}, UINT64_MAX}) {
    pb::Envelope env =
        SignEnvelope(pb::PRE_PREPARE, 3, EncodeVoteBody(1, 2, Hash32{}, epoch), KeyFor(3), kChain);
    env.set_payload(std::string(1000, 'p'));
    env.set_epoch(epoch);
    const std::string bytes = env.SerializeAsString();
    auto peeked = PeekEnvelopeEpoch(bytes);
    ASSERT_TRUE(peeked.has_value());
    EXPECT_EQ(*peeked, epoch);
    // Cut anywhere inside a field: refused, or (cut at a field boundary) the fields before it.
    for (size_t cut = 1; cut < bytes.size(); cut += 97) {
      auto partial = PeekEnvelopeEpoch(std::string_view(bytes).substr(0, cut));
      pb::Envelope reparsed;
      if (partial) {
        EXPECT_TRUE(reparsed.ParseFromString(bytes.substr(0, cut))) << cut;
      }
    }
  }
  EXPECT_EQ(PeekEnvelopeEpoch(""), uint64_t{0});
  EXPECT_FALSE(PeekEnvelopeEpoch("\x0d\x01\x02\x03\x04").has_value());          // a fixed32 field
  EXPECT_FALSE(PeekEnvelopeEpoch(std::string("\x1a\x05") + "ab").has_value());  // past the end
  EXPECT_FALSE(PeekEnvelopeEpoch("\x30\xff").has_value());                      // varint cut short
}

// Epochs (review findings on the replica's epochs). A storage that keeps what it is given.
class KeepStorage final : public Storage {
 public:
  void AppendRecord(uint64_t, const std::string& r) override { loaded.records.push_back(r); }
  void PutViewRecord(const std::string& r) override { loaded.view_record = r; }
  void PutCheckpoint(const std::string& c) override { loaded.checkpoint = c; }
  void DropRecordsUpTo(uint64_t) override {}
  Loaded Load() override { return loaded; }
  Loaded loaded;
};

ReplicaConfig EpochConfig(uint32_t self) {
  ReplicaConfig cfg;
  cfg.chain_id = kChain;
  for (uint32_t i = 0; i < 4; ++i)
    cfg.validators.push_back(KeyFor(i).GetPublicKey());
  cfg.self = self;
  cfg.key = KeyFor(self);
  cfg.window_seqs = 64;
  return cfg;
}

std::string ExecVote(uint32_t from, uint64_t height, uint64_t epoch,
                     const std::optional<EpochChange>& scheduled = std::nullopt) {
  return SignEnvelope(
             pb::EXECUTION_VOTE, from,
             EncodeExecutionVoteBody(height, Hash32{}, Hash32{}, Hash32{}, epoch, scheduled),
             KeyFor(from), kChain)
      .SerializeAsString();
}

// A replica restarted after it executed the block that scheduled a change (height 11, activation
// 76), handed only the executed records (no end_height in its config), ends its epoch at 75: a
// pre-prepare for 76 is out of its window, and it prepares nothing there.
TEST(ReplicaEpochs, ARestartedReplicaTakesTheEpochsEndFromTheBlockThatScheduledIt) {
  AcceptAll app;
  KeepStorage storage;
  ExecutedTip t11;
  t11.height = 11;
  t11.scheduled = EpochChange{Hash32{}, 76};
  ExecutedTip t12;
  t12.height = 12;
  Replica r(EpochConfig(1), &app, &storage, std::vector<ExecutedTip>{t11, t12}, 0);
  r.Start(0);
  EXPECT_EQ(r.status().end_height, 75u);
  for (uint32_t i : {0u, 2u})
    r.OnMessage(1, ExecVote(i, 12, 0), i);
  ASSERT_EQ(r.status().low_watermark, 12u);
  const pb::Envelope pp = SignEnvelope(
      pb::PRE_PREPARE, 0, EncodeVoteBody(0, 76, PayloadDigest({}), 0), KeyFor(0), kChain);
  const uint64_t before = r.drops().out_of_window;
  Effects fx = r.OnMessage(2, pp.SerializeAsString(), 0);
  for (const Outbound& m : fx.messages) {
    pb::Envelope e;
    ASSERT_TRUE(e.ParseFromString(m.bytes));
    EXPECT_NE(e.type(), pb::PREPARE) << "prepared a height of the next epoch";
  }
  EXPECT_EQ(r.drops().out_of_window, before + 1);
}

// Execution votes and view changes of another epoch (the same keys at the same indices, the
// unsigned envelope hint rewritten) are dropped as stale: they raise no height a state request
// would chase, and a view change of another epoch gets no NEW_VIEW back.
TEST(ReplicaEpochs, AnotherEpochsExecutionVotesAndViewChangesAreDropped) {
  AcceptAll app;
  KeepStorage storage;
  Replica r(EpochConfig(1), &app, &storage, uint64_t{0}, 0);
  r.Start(0);
  for (uint32_t i : {0u, 2u, 3u}) {
    Effects fx = r.OnMessage(1, ExecVote(i, 500, 1), i);
    for (const Outbound& m : fx.messages) {
      pb::Envelope e;
      ASSERT_TRUE(e.ParseFromString(m.bytes));
      EXPECT_NE(e.type(), pb::STATE_REQUEST);
    }
  }
  EXPECT_EQ(r.drops().stale, 3u);
  pb::ViewChangeBody vc;
  vc.set_new_view(1);
  vc.set_epoch(1);
  const uint64_t stale = r.drops().stale;
  Effects fx =
      r.OnMessage(2,
                  SignEnvelope(pb::VIEW_CHANGE, 2, vc.SerializeAsString(), KeyFor(2), kChain)
                      .SerializeAsString(),
                  2);
  EXPECT_TRUE(fx.messages.empty());
  EXPECT_EQ(r.drops().stale, stale + 1);
}

// A replica brought back after its epoch ended and was certified (a node's retired replica after
// a crash) retransmits its vote for the epoch's last height, so a validator still finishing the
// epoch learns how far it went.
TEST(ReplicaEpochs, ARetiredReplicaBroughtBackRetransmitsItsVoteForTheEnd) {
  AcceptAll app;
  KeepStorage storage;
  pb::ExecutionCertificate cert;
  cert.set_body(EncodeExecutionVoteBody(75, Hash32{}, Hash32{}, Hash32{}, 0));
  storage.loaded.checkpoint = cert.SerializeAsString();
  ReplicaConfig cfg = EpochConfig(1);
  cfg.end_height = 75;
  ExecutedTip end;
  end.height = 75;
  Replica r(cfg, &app, &storage, std::vector<ExecutedTip>{end}, 0);
  r.Start(0);
  EXPECT_TRUE(r.status().epoch_finished);
  bool sent = false;
  for (uint64_t t = 1; t <= 2'000 && !sent; t += 100) {
    Effects fx = r.Tick(t);
    for (const Outbound& m : fx.messages) {
      pb::Envelope e;
      ASSERT_TRUE(e.ParseFromString(m.bytes));
      if (e.type() != pb::EXECUTION_VOTE) continue;
      auto ef = DecodeExecutionVoteBody(e.body());
      ASSERT_TRUE(ef.has_value());
      EXPECT_EQ(ef->height, 75u);
      sent = true;
    }
  }
  EXPECT_TRUE(sent);
}

}  // namespace
}  // namespace cl::consensus
