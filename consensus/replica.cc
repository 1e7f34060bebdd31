#include "consensus/replica.h"

#include <algorithm>
#include <tuple>

#include "crypto/sha256.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::consensus {
namespace {

struct Vote {
  std::string body;
  std::string sig;
  Hash32 digest;
  uint64_t view = 0;
};

// Per-sequence-number state. The per-view part is reset when the replica enters a higher view; the
// prepared proof and the commit outlive view changes (PBFT carries them into view-change messages).
struct Slot {
  uint64_t view = 0;
  bool has_pp = false;
  pb::Envelope pp;  // with payload
  Hash32 digest;
  std::map<uint32_t, Vote> prepares;
  std::map<uint32_t, Vote> commits;
  std::string own_pp, own_prepare, own_commit;  // envelope bytes, for retransmission

  // Set when a NEW_VIEW re-proposed this seq: the re-proposal (no payload; blocks travel by digest
  // in view changes) waits here until the payload is known, and no other digest is accepted.
  std::optional<Hash32> nv_digest;
  pb::Envelope nv_pp;
  // Pre-prepares (with payload) accepted here in earlier views, by view, kept through view changes:
  // a NEW_VIEW may re-propose any of them, and a peer may ask for one (PAYLOAD_REQUEST). Not only
  // the last: a block a quorum prepared in view v (with f faulty prepares that reached no correct
  // replica) may be needed after faulty primaries of later views made every correct replica accept
  // other blocks here; the NEW_VIEW then re-proposes it by digest and only correct replicas that
  // kept it can supply it. Faulty primaries lead at most f views in a row before a correct one
  // decides the slot or re-proposes the block, so f + 2 (kKeptPerSlotBeyondF + f) of the latest
  // views suffice; older ones are dropped first.
  std::map<uint64_t, std::pair<Hash32, pb::Envelope>> kept;

  std::optional<pb::PreparedProof> prepared;  // kept with its payload (local only)
  uint64_t prepared_view = 0;
  bool committed = false;
  Hash32 committed_digest;
  std::string committed_payload;
  pb::CommitCertificate cert;

  void Keep(uint64_t pp_view, const Hash32& d, pb::Envelope env, size_t max_kept) {
    kept[pp_view] = {d, std::move(env)};
    while (kept.size() > max_kept)
      kept.erase(kept.begin());
  }

  void ResetForView(uint64_t v, size_t max_kept) {
    if (has_pp) Keep(view, digest, std::move(pp), max_kept);
    view = v;
    nv_digest.reset();
    nv_pp.Clear();
    has_pp = false;
    pp.Clear();
    prepares.clear();
    commits.clear();
    own_pp.clear();
    own_prepare.clear();
    own_commit.clear();
  }
};

struct ViewChangeInfo {
  uint64_t view = 0;
  pb::Envelope env;
  pb::ViewChangeBody body;
};

struct ExecVote {
  uint64_t height = 0;
  std::string body;
  std::string sig;
};

}  // namespace

struct Replica::Impl {
  ReplicaConfig cfg;
  Hash32 Digest(ByteSpan payload) const {
    return cfg.payload_digest ? cfg.payload_digest(payload) : PayloadDigest(payload);
  }
  // Whether `payload` is the block `digest` names (planted bug (d): anything is).
  bool PayloadMatches(ByteSpan payload, const Hash32& digest) const {
    return cfg.bugs.skip_payload_digest_check || Digest(payload) == digest;
  }
  ValidatorSet vs;
  Application* app;
  Storage* storage;
  SignatureVerifier* verifier;
  std::optional<KeySigner> key_signer;  // when the config names no signer
  Signer* signer;
  uint32_t n, f, quorum;
  uint32_t self;

  uint64_t view = 0;
  bool in_vc = false;
  uint64_t low = 0;
  std::optional<pb::ExecutionCertificate> stable_cert;  // absent while low == cfg.base_height
  // The epoch's last height: known from the start (cfg.end_height) or from the application when
  // it executes the block that schedules the next set (OnExecuted). Nothing above it is ordered.
  uint64_t end_height = UINT64_MAX;
  uint64_t delivered = 0;
  uint64_t executed = 0;
  uint64_t next_seq = 1;
  std::map<uint64_t, Slot> slots;
  std::map<uint64_t, Hash32> delivered_digest;  // (low, delivered]

  std::map<uint64_t, std::map<uint32_t, ExecVote>> exec_votes;  // (low, low + 2 window]
  std::vector<ExecVote> latest_exec_vote;                       // per sender, any height
  std::map<uint64_t, std::string> own_exec_body;
  std::string own_exec_env;
  // The votes re-signed at a restart for restored executed heights (RestoreOwnExecVote), kept for
  // retransmission until the checkpoint reaches them.
  std::map<uint64_t, std::string> restored_exec_envs;  // height -> envelope, above low
  uint64_t known_certified = 0;
  // Verified certificates of heights not yet executed here (state replies, view changes), each
  // applied once its height is executed, in height order: at most kMaxBlocksPerStateReply, the
  // highest kept, so a state reply's certificates all reach the block store.
  std::map<uint64_t, pb::ExecutionCertificate> pending_certs;  // above executed

  std::map<uint32_t, ViewChangeInfo> vc_latest;
  std::string own_vc, own_nv;
  std::map<uint32_t, uint64_t> nv_answered_ms;  // when each peer was last sent installed_nv
  bool rearmed_late = false;     // the last deadline was re-armed because it was noticed late
  std::string installed_nv;      // the NEW_VIEW that installed the current view, to help laggards
  uint64_t view_started_ms = 0;  // when the current view was installed (normal operation)
  uint32_t consecutive_failures = 0;
  bool vc_quorum_armed = false;

  uint64_t progress_deadline = 0, vc_deadline = 0, retransmit_deadline = 0;
  uint64_t last_proposal_ms = 0;
  uint64_t retransmit_mark = UINT64_MAX;
  uint32_t transfer_rr = 0;
  // State requests this replica sent and not yet answered: peer -> from_height asked (at most one
  // per peer, so at most n entries). A STATE_REPLY is taken only from a peer asked, starting at the
  // height asked (issue 14, defect 10: a sync reply's sender and request are checked).
  std::map<uint32_t, uint64_t> state_requests;
  // An owed certificate: this replica's own execution vote body for the height, and whom it asked.
  // A round asks every other validator once; a height is given up when every other validator's
  // reply held its block without a certificate (none has one: its votes were lost everywhere, and
  // none can form any more), or after kOwedCertRounds rounds (some never answered), the rounds
  // kOwedCertRoundBackoffTimeouts base view timeouts apart. A given-up height keeps no certificate.
  struct OwedCert {
    std::string body;
    uint64_t asked = 0;          // bit per peer asked for it in the current round
    uint64_t answered = 0;       // bit per peer whose reply held its block without a certificate
    uint32_t rounds = 0;         // rounds completed
    uint64_t not_before_ms = 0;  // no request starts at it before this (backoff between rounds)
  };
  // Heights at or below the checkpoint, executed here, whose certificate was never formed here
  // (OweSkippedCerts; at a restart, RestoreOwedCert). A peer's stored certificate is taken for one
  // only if it verifies and certifies exactly its body (HandleOwedCertReply).
  std::map<uint64_t, OwedCert> owed_certs;  // at most kMaxOwedCertificates
  uint64_t owed_given_up = 0;
  std::optional<std::pair<uint32_t, uint64_t>> owed_request;  // peer asked, from_height asked
  uint64_t owed_request_deadline = 0;
  uint32_t owed_rr = 0;
  uint64_t owed_cursor = 0;  // the next owed request starts at the first owed height from here
  uint32_t payload_rr = 0;   // whom to ask next for a missing payload
  std::vector<uint64_t> payload_reply_after_ms;  // per peer: no payload sent to it before this

  std::deque<std::pair<Hash32, Bytes>> pending;
  std::vector<std::deque<std::pair<uint64_t, std::string>>> buffered;  // per peer: (view, bytes)
  std::vector<uint64_t> buffered_bytes;                                // per peer
  uint64_t buffered_total_bytes = 0;
  std::map<std::tuple<int, uint64_t, uint64_t>, Hash32> signed_votes;  // (type, view, seq)

  DropCounters drops;
  bool halted = false;
  uint64_t now = 0;
  Effects fx;
  Effects startup_fx;

  Impl(ReplicaConfig c, Application* a, Storage* s)
      : cfg(std::move(c)), vs(cfg.validators, cfg.epoch), app(a), storage(s) {
    LEDGER_ASSERT(cfg.key.has_value());
    LEDGER_ASSERT(!cfg.chain_id.empty() && cfg.chain_id.size() <= crypto::kChainIdMaxBytes);
    LEDGER_ASSERT(cfg.self < vs.size());
    LEDGER_ASSERT(cfg.window_seqs > 0 && cfg.window_seqs <= kMaxWindowSeqs);
    LEDGER_ASSERT(cfg.end_height > cfg.base_height);
    end_height = cfg.end_height;
    low = cfg.base_height;
    verifier = cfg.verifier ? cfg.verifier : &DefaultVerifier();
    if (cfg.signer) {
      signer = cfg.signer;
    } else {
      key_signer.emplace(*cfg.key);
      signer = &*key_signer;
    }
    n = vs.size();
    f = vs.f();
    quorum = cfg.bugs.quorum_2f ? std::max<uint32_t>(2 * f, 1) : vs.quorum();
    self = cfg.self;
    latest_exec_vote.resize(n);
    buffered.resize(n);
    buffered_bytes.resize(n);
    payload_reply_after_ms.resize(n);
    LEDGER_ASSERT(cfg.max_block_bytes <= kMaxPayloadBytes);  // every message fits a frame
  }

  uint32_t Primary(uint64_t v) const { return PrimaryOf(v, n); }
  bool IsPrimary() const { return Primary(view) == self && !in_vc; }
  uint64_t High() const { return low + cfg.window_seqs; }
  // The highest sequence number this replica may order now: the window, within the epoch.
  uint64_t Limit() const { return std::min(High(), end_height); }
  uint64_t Timeout() const {
    return cfg.view_timeout_ms << std::min(consecutive_failures, kViewChangeBackoffCapExponent);
  }

  Slot& GetSlot(uint64_t seq) {
    Slot& s = slots[seq];
    if (s.view < view) s.ResetForView(view, f + kKeptPerSlotBeyondF);
    return s;
  }

  void Send(uint32_t to, std::string bytes) { fx.messages.push_back({to, std::move(bytes)}); }

  // Signs a body as this replica; the envelope names the epoch for routing (unsigned).
  pb::Envelope Sign(pb::MessageType type, std::string body) {
    pb::Envelope env = SignEnvelope(type, self, std::move(body), *signer, cfg.chain_id);
    env.set_epoch(cfg.epoch);
    return env;
  }

  // Signs a vote, refusing to sign two different digests for one (type, view, seq): the guard that,
  // with the persisted records, keeps a restarted replica from contradicting itself.
  std::optional<pb::Envelope> SignVote(pb::MessageType type, uint64_t v, uint64_t seq,
                                       const Hash32& digest) {
    auto key = std::make_tuple(static_cast<int>(type), v, seq);
    auto it = signed_votes.find(key);
    if (it != signed_votes.end() && it->second != digest) return std::nullopt;
    signed_votes[key] = digest;
    return Sign(type, EncodeVoteBody(v, seq, digest, cfg.epoch));
  }

  void Persist(uint64_t seq, const pb::Envelope& own, const pb::PreparedProof* proof) {
    pb::PersistedRecord rec;
    *rec.mutable_own() = own;
    if (proof) *rec.mutable_prepared() = *proof;
    storage->AppendRecord(seq, rec.SerializeAsString());
  }

  // ---- normal case -------------------------------------------------------------------------

  void TryPropose() {
    if (!IsPrimary() || halted) return;
    while (!pending.empty() && next_seq <= Limit()) {
      Bytes payload = std::move(pending.front().second);
      pending.pop_front();
      Propose(std::move(payload));
    }
    bool idle = next_seq <= delivered + 1;
    if (pending.empty() && idle && next_seq <= Limit() &&
        now >= last_proposal_ms + cfg.propose_delay_ms) {
      Propose(Bytes{});  // empty block: proves the primary alive and advances block time
    }
  }

  void Propose(Bytes payload) {
    uint64_t seq = next_seq++;
    Hash32 digest = Digest(payload);
    auto env = SignVote(pb::PRE_PREPARE, view, seq, digest);
    LEDGER_ASSERT(env.has_value());  // next_seq only grows within a view
    env->set_payload(std::string(payload.begin(), payload.end()));
    Persist(seq, *env, nullptr);
    Slot& s = GetSlot(seq);
    s.has_pp = true;
    s.pp = *env;
    s.digest = digest;
    s.own_pp = env->SerializeAsString();
    Send(kBroadcast, s.own_pp);
    last_proposal_ms = now;
    CheckPrepared(seq);
  }

  // Accepts a verified pre-prepare for the current view and prepares it.
  void AcceptPrePrepare(const pb::Envelope& env, const VoteFields& vf) {
    Slot& s = GetSlot(vf.seq);
    if (s.committed && s.committed_digest != vf.digest) {
      ++drops.conflicting;  // cannot happen with at most f faults: two blocks committed at one seq
      return;
    }
    if (s.nv_digest && *s.nv_digest != vf.digest) {
      ++drops.conflicting;  // the NEW_VIEW fixed another block at this seq
      return;
    }
    if (s.has_pp) {
      if (s.digest != vf.digest) {
        // Two signed pre-prepares for one (view, seq): proof that the primary equivocates.
        ++drops.conflicting;
        StartViewChange(view + 1);
      }
      return;
    }
    auto mine = signed_votes.find({static_cast<int>(pb::PREPARE), view, vf.seq});
    if (mine != signed_votes.end() && mine->second != vf.digest) {
      ++drops.conflicting;  // we prepared another block here (before a restart): never contradict
      return;
    }
    // A block a valid NEW_VIEW fixed here was prepared by a quorum in an earlier view (each
    // validated it then); the application's check may depend on state that has moved on since (the
    // block before it may have committed as a null block), and refusing it would stall every later
    // view on the same re-proposal. Execution turns a block that no longer extends its parent into
    // a null block.
    const bool fixed_by_new_view = s.nv_digest && *s.nv_digest == vf.digest;
    if (!fixed_by_new_view && !app->ValidatePayload(vf.seq, AsSpan(env.payload()))) {
      ++drops.invalid_payload;
      return;
    }
    s.has_pp = true;
    s.pp = env;
    s.digest = vf.digest;
    if (Primary(view) == self) {
      signed_votes[{static_cast<int>(pb::PRE_PREPARE), view, vf.seq}] = vf.digest;
      s.own_pp = env.SerializeAsString();
    } else if (s.own_prepare.empty()) {
      auto prep = SignVote(pb::PREPARE, view, vf.seq, vf.digest);
      if (!prep) {
        ++drops.conflicting;  // prepared another digest here before a restart
        return;
      }
      Persist(vf.seq, *prep, nullptr);
      s.own_prepare = prep->SerializeAsString();
      s.prepares[self] = Vote{prep->body(), prep->signature(), vf.digest, view};
      Send(kBroadcast, s.own_prepare);
    }
    CheckPrepared(vf.seq);
    CheckCommitted(vf.seq);
  }

  // Collects the largest group of identical vote bodies matching (view, seq, digest).
  static std::pair<std::string, std::vector<std::pair<uint32_t, std::string>>> Group(
      const std::map<uint32_t, Vote>& votes, uint64_t v, const Hash32& digest,
      std::optional<uint32_t> exclude) {
    std::map<std::string, std::vector<std::pair<uint32_t, std::string>>> groups;
    for (const auto& [sender, vote] : votes) {
      if (vote.view != v || vote.digest != digest) continue;
      if (exclude && sender == *exclude) continue;
      groups[vote.body].push_back({sender, vote.sig});
    }
    std::pair<std::string, std::vector<std::pair<uint32_t, std::string>>> best;
    for (auto& [body, signers] : groups) {
      if (signers.size() > best.second.size()) best = {body, std::move(signers)};
    }
    return best;
  }

  void CheckPrepared(uint64_t seq) {
    Slot& s = GetSlot(seq);
    if (!s.has_pp || !s.own_commit.empty()) return;
    auto [body, signers] = Group(s.prepares, view, s.digest, Primary(view));
    if (signers.size() + 1 < quorum) return;
    pb::PreparedProof proof;
    *proof.mutable_pre_prepare() = s.pp;
    proof.set_prepare_body(body);
    for (auto& [who, sig] : signers) {
      pb::Signer* sg = proof.add_prepares();
      sg->set_replica(who);
      sg->set_signature(sig);
    }
    auto commit = SignVote(pb::COMMIT, view, seq, s.digest);
    if (!commit) {
      ++drops.conflicting;
      return;
    }
    s.prepared = proof;
    s.prepared_view = view;
    Persist(seq, *commit, &proof);
    s.own_commit = commit->SerializeAsString();
    s.commits[self] = Vote{commit->body(), commit->signature(), s.digest, view};
    Send(kBroadcast, s.own_commit);
    CheckCommitted(seq);
  }

  void CheckCommitted(uint64_t seq) {
    Slot& s = GetSlot(seq);
    if (s.committed) return;
    // The payload must be known: from this view's pre-prepare or a prepared proof.
    for (const auto& [sender, vote] : s.commits) {
      (void)sender;
      Hash32 d = vote.digest;
      const std::string* payload = nullptr;
      if (s.has_pp && s.digest == d) payload = &s.pp.payload();
      if (!payload && s.prepared) {
        auto pf = DecodeVoteBody(s.prepared->pre_prepare().body());
        if (pf && pf->digest == d) payload = &s.prepared->pre_prepare().payload();
      }
      if (!payload) continue;
      auto [body, signers] = Group(s.commits, vote.view, d, std::nullopt);
      if (signers.size() < quorum) continue;
      s.committed = true;
      s.committed_digest = d;
      s.committed_payload = *payload;
      s.cert.set_body(body);
      for (auto& [who, sig] : signers) {
        pb::Signer* sg = s.cert.add_signers();
        sg->set_replica(who);
        sg->set_signature(sig);
      }
      TryDeliver();
      return;
    }
  }

  void DeliverOne(uint64_t height, const Hash32& digest, const std::string& payload,
                  const pb::CommitCertificate& cert) {
    CommittedBlock block;
    block.height = height;
    block.digest = digest;
    block.payload.assign(payload.begin(), payload.end());
    block.commit_cert = cert;
    app->DeliverBlock(block);
    delivered = height;
    delivered_digest[height] = digest;
    fx.delivered_heights.push_back(height);
    consecutive_failures = 0;
    progress_deadline = now + Timeout();
    std::erase_if(pending, [&](const auto& p) { return p.first == digest; });
  }

  void TryDeliver() {
    while (true) {
      auto it = slots.find(delivered + 1);
      if (it == slots.end() || !it->second.committed) break;
      DeliverOne(delivered + 1, it->second.committed_digest, it->second.committed_payload,
                 it->second.cert);
    }
    if (IsPrimary() && next_seq <= delivered) next_seq = delivered + 1;
    TryPropose();
  }

  // ---- execution certificates (checkpoints) -------------------------------------------------

  void OnExecutedImpl(uint64_t height, const Hash32& state_root, const Hash32& result_root,
                      const std::optional<EpochChange>& scheduled) {
    LEDGER_ASSERT(height == executed + 1 && height <= delivered);
    executed = height;
    auto it = delivered_digest.find(height);
    LEDGER_ASSERT(it != delivered_digest.end());
    if (scheduled) NoteEpochEnd(*scheduled, height);
    SignOwnExecVote(height, EncodeExecutionVoteBody(height, it->second, state_root, result_root,
                                                    cfg.epoch, scheduled));
    Send(kBroadcast, own_exec_env);
    CheckExecCert(height);
    while (!pending_certs.empty() && pending_certs.begin()->first <= executed && !halted) {
      auto entry = pending_certs.extract(pending_certs.begin());
      LEDGER_ASSERT(entry.key() == executed);  // each was above executed, which grows by one
      ApplyVerifiedCert(entry.key(), entry.mapped());
    }
  }

  // The epoch ends at the activation height of the change block `height` scheduled. One change at a
  // time (the ledger refuses a second one), so a known end is only ever this same one again.
  void NoteEpochEnd(const EpochChange& scheduled, uint64_t height) {
    LEDGER_ASSERT(scheduled.activation_height > height);
    const uint64_t end = scheduled.activation_height - (cfg.bugs.epoch_one_block_early ? 2 : 1);
    LEDGER_ASSERT(end_height == UINT64_MAX || end_height == end);
    end_height = end;
  }

  // A replica restarted after its epoch's end was certified (a retired replica brought back): it
  // signs its vote for the end again, only to retransmit it, so that a validator still finishing
  // the epoch learns how far it went and asks for the blocks (review finding: it stayed silent).
  void ResignCertifiedEnd(const std::vector<ExecutedTip>& tips) {
    if (end_height == UINT64_MAX || low != end_height || !own_exec_env.empty()) return;
    for (const ExecutedTip& tip : tips) {
      if (tip.height != end_height) continue;
      SignOwnExecVote(tip.height,
                      EncodeExecutionVoteBody(tip.height, tip.digest, tip.state_root,
                                              tip.result_root, cfg.epoch, tip.scheduled));
    }
  }

  void SignOwnExecVote(uint64_t height, const std::string& body) {
    own_exec_body[height] = body;
    pb::Envelope env = Sign(pb::EXECUTION_VOTE, body);
    own_exec_env = env.SerializeAsString();
    latest_exec_vote[self] = ExecVote{height, body, env.signature()};
    if (height <= low + 2 * cfg.window_seqs && height > low) {
      exec_votes[height][self] = ExecVote{height, body, env.signature()};
    }
  }

  // After a restart: the votes for the executed heights above the checkpoint are signed again
  // (the process may have stopped before they went out, and peers whose checkpoint moved on no
  // longer take theirs, so without them a height may never be certified). Called in ascending
  // height order; sent at Start, retransmitted until certified (or passed by the checkpoint).
  void RestoreOwnExecVote(const ExecutedTip& tip) {
    if (tip.height == 0 || tip.height > executed || tip.height <= low) return;
    LEDGER_ASSERT(restored_exec_envs.empty() || restored_exec_envs.rbegin()->first < tip.height);
    SignOwnExecVote(tip.height, EncodeExecutionVoteBody(tip.height, tip.digest, tip.state_root,
                                                        tip.result_root, cfg.epoch, tip.scheduled));
    restored_exec_envs[tip.height] = own_exec_env;
  }

  // After a restart: an executed height at or below the checkpoint whose certificate the
  // application lacks is owed again (owed_certs is not durable). Nothing is signed: the body,
  // rebuilt from the application's durable execution record (the one this replica's vote for that
  // height was signed over), only decides which peer certificate is taken. Called in ascending
  // height order, before RestoreOwnExecVote; at most kMaxOwedCertificates are kept (the highest).
  void RestoreOwedCert(const ExecutedTip& tip) {
    if (tip.height == 0 || tip.height > low || tip.height > executed) return;
    // The checkpoint's own certificate is known (stable_cert; the node stores it at start): the
    // node hands the executed tip also when it is the checkpoint, to give the executed height.
    if (tip.height == low && stable_cert) return;
    LEDGER_ASSERT(owed_certs.empty() || owed_certs.rbegin()->first < tip.height);
    LEDGER_ASSERT(restored_exec_envs.empty());
    owed_certs[tip.height] =
        OwedCert{.body = EncodeExecutionVoteBody(tip.height, tip.digest, tip.state_root,
                                                 tip.result_root, cfg.epoch, tip.scheduled)};
    while (owed_certs.size() > kMaxOwedCertificates) {
      owed_certs.erase(owed_certs.begin());
      ++owed_given_up;
    }
  }

  // A verified execution certificate learnt from a peer (view change, new view, state reply).
  void NoteVerifiedCert(uint64_t height, const pb::ExecutionCertificate& cert) {
    known_certified = std::max(known_certified, height);
    if (height <= low) return;
    if (height <= executed) {
      ApplyVerifiedCert(height, cert);
    } else {
      pending_certs.insert_or_assign(height, cert);
      // The lowest are the next to execute: a far certificate (from a view change) gives way to
      // them, rather than evicting the catch-up's own (whose heights would then be owed).
      if (pending_certs.size() > kMaxBlocksPerStateReply)
        pending_certs.erase(std::prev(pending_certs.end()));
      LEDGER_ASSERT(pending_certs.size() <= kMaxBlocksPerStateReply);
    }
  }

  void ApplyVerifiedCert(uint64_t height, const pb::ExecutionCertificate& cert) {
    if (height <= low) return;
    auto own = own_exec_body.find(height);
    if (own != own_exec_body.end() && own->second != cert.body()) {
      halted = true;
      fx.halted = true;
      return;
    }
    AdvanceCheckpoint(height, cert);
  }

  void CheckExecCert(uint64_t height) {
    if (height <= low || halted) return;
    std::map<std::string, std::vector<std::pair<uint32_t, std::string>>> groups;
    std::set<uint32_t> seen;
    auto add = [&](uint32_t who, const ExecVote& v) {
      if (v.height != height || !seen.insert(who).second) return;
      groups[v.body].push_back({who, v.sig});
    };
    if (auto it = exec_votes.find(height); it != exec_votes.end()) {
      for (const auto& [who, v] : it->second)
        add(who, v);
    }
    for (uint32_t i = 0; i < n; ++i)
      add(i, latest_exec_vote[i]);
    for (auto& [body, signers] : groups) {
      if (signers.size() < quorum) continue;
      known_certified = std::max(known_certified, height);
      if (height > executed) return;  // state transfer or our own execution will catch up
      auto own = own_exec_body.find(height);
      if (own != own_exec_body.end() && own->second != body) {
        halted = true;  // our execution disagrees with a quorum: non-determinism
        fx.halted = true;
        return;
      }
      pb::ExecutionCertificate cert;
      cert.set_body(body);
      for (auto& [who, sig] : signers) {
        pb::Signer* sg = cert.add_signers();
        sg->set_replica(who);
        sg->set_signature(sig);
      }
      AdvanceCheckpoint(height, cert);
      return;
    }
  }

  void AdvanceCheckpoint(uint64_t height, const pb::ExecutionCertificate& cert) {
    if (height <= low) return;
    OweSkippedCerts(height);
    low = height;
    stable_cert = cert;
    restored_exec_envs.erase(restored_exec_envs.begin(), restored_exec_envs.upper_bound(low));
    storage->PutCheckpoint(cert.SerializeAsString());
    storage->DropRecordsUpTo(height);
    slots.erase(slots.begin(), slots.upper_bound(height));
    exec_votes.erase(exec_votes.begin(), exec_votes.upper_bound(height));
    delivered_digest.erase(delivered_digest.begin(), delivered_digest.lower_bound(height));
    own_exec_body.erase(own_exec_body.begin(), own_exec_body.lower_bound(height));
    for (auto it = signed_votes.begin(); it != signed_votes.end();) {
      if (std::get<2>(it->first) <= height) {
        it = signed_votes.erase(it);
      } else {
        ++it;
      }
    }
    fx.execution_certs.push_back(cert);
    TryPropose();
  }

  // Executed heights between the old checkpoint and `height` still hold this replica's own vote
  // body: their certificate was never formed here (one is formed for every height the checkpoint
  // reaches in order), and once the checkpoint passes them their votes are stale, so without this
  // the block store would lack their certificate for good while the other validators have it.
  void OweSkippedCerts(uint64_t height) {
    for (auto it = own_exec_body.upper_bound(low); it != own_exec_body.end() && it->first < height;
         ++it) {
      LEDGER_ASSERT(it->first <= executed);
      owed_certs.insert_or_assign(it->first, OwedCert{.body = it->second});
    }
    while (owed_certs.size() > kMaxOwedCertificates) {
      owed_certs.erase(owed_certs.begin());
      ++owed_given_up;
    }
  }

  uint64_t OtherValidatorsMask() const {
    static_assert(kMaxValidators <= 64);
    const uint64_t all = n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
    return all & ~(uint64_t{1} << self);
  }

  // Closes the owed heights' rounds that asked every other validator; gives up the heights every
  // other validator answered without a certificate, and those whose last round is over.
  void CloseOwedRounds() {
    const uint64_t others = OtherValidatorsMask();
    for (auto it = owed_certs.begin(); it != owed_certs.end();) {
      OwedCert& o = it->second;
      bool give_up = (o.answered & others) == others;
      if (!give_up && (o.asked & others) == others) {
        o.asked = 0;
        ++o.rounds;
        o.not_before_ms = now + kOwedCertRoundBackoffTimeouts * cfg.view_timeout_ms;
        give_up = o.rounds >= kOwedCertRounds;
      }
      if (give_up) {
        ++owed_given_up;
        it = owed_certs.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Asks one peer per base view timeout for blocks from an owed height: its state reply carries
  // the execution certificates of its block store. Successive requests rotate through the owed
  // heights not in a backoff (each starts at the first such height past the previous request's
  // range, wrapping around), so an owed height no peer can serve never blocks the ones above it;
  // the peer is the next (round robin) not yet asked for that height in its current round.
  void MaybeRequestOwedCerts() {
    if (owed_certs.empty() || now < owed_request_deadline || n < 2) return;
    owed_request_deadline = now + cfg.view_timeout_ms;
    CloseOwedRounds();
    auto due = [&](const auto& entry) { return entry.second.not_before_ms <= now; };
    auto start = std::find_if(owed_certs.lower_bound(owed_cursor), owed_certs.end(), due);
    if (start == owed_certs.end()) start = std::find_if(owed_certs.begin(), owed_certs.end(), due);
    if (start == owed_certs.end()) return;  // every owed height waits between rounds
    std::optional<uint32_t> peer;
    for (uint32_t k = 0; k < n && !peer; ++k) {
      const uint32_t q = (owed_rr + k) % n;
      if (q != self && (start->second.asked & (uint64_t{1} << q)) == 0) peer = q;
    }
    LEDGER_ASSERT(peer.has_value());  // CloseOwedRounds left no round that asked everyone
    const uint32_t p = *peer;
    owed_rr = p + 1;
    start->second.asked |= uint64_t{1} << p;
    const uint64_t from = start->first;
    const uint64_t span = owed_certs.rbegin()->first - from + 1;
    const uint64_t max_blocks = std::min<uint64_t>(span, kMaxBlocksPerStateReply);
    LEDGER_ASSERT(max_blocks >= 1 && from <= low);
    owed_cursor = from + max_blocks;
    owed_request = {p, from};
    pb::StateRequestBody body;
    body.set_from_height(from);
    body.set_max_blocks(static_cast<uint32_t>(max_blocks));
    pb::Envelope env = Sign(pb::STATE_REQUEST, body.SerializeAsString());
    Send(p, env.SerializeAsString());
  }

  // A state reply to MaybeRequestOwedCerts: only from the peer asked, starting at the height asked.
  // Any other reply starting at or below the checkpoint is stale (a late answer to a catch-up
  // request another peer's reply already served), as before owed certificates existed. A block's
  // execution certificate is stored only if it verifies against the validator set and certifies
  // exactly this replica's own execution of that height; a verified one for another result means
  // this replica's execution disagrees with a quorum (halt, as in ApplyVerifiedCert).
  void HandleOwedCertReply(const pb::Envelope& env, const pb::StateReplyBody& body) {
    if (!owed_request || owed_request->first != env.sender() ||
        owed_request->second != body.blocks(0).height()) {
      ++drops.stale;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    owed_request.reset();
    LEDGER_ASSERT(env.sender() < n && env.sender() != self);
    const uint64_t sender_bit = uint64_t{1} << env.sender();
    for (const pb::CertifiedBlock& b : body.blocks()) {
      auto owed = owed_certs.find(b.height());
      if (owed == owed_certs.end()) continue;
      LEDGER_ASSERT(owed->first <= low && owed->first <= executed);
      owed->second.asked |= sender_bit;  // its block was in the reply: this peer was asked
      if (!b.has_exec_cert()) {
        owed->second.answered |= sender_bit;
        continue;
      }
      auto ef = VerifyExecutionCertificate(vs, cfg.chain_id, b.exec_cert(), *verifier);
      if (!ef || ef->height != owed->first) {
        ++drops.bad_certificate;
        owed->second.answered |= sender_bit;
        continue;
      }
      if (b.exec_cert().body() != owed->second.body) {
        halted = true;
        fx.halted = true;
        return;
      }
      fx.execution_certs.push_back(b.exec_cert());
      owed_certs.erase(owed);
    }
  }

  // ---- view change --------------------------------------------------------------------------

  void StartViewChange(uint64_t new_view) {
    if (new_view < view || (new_view == view && in_vc) || halted) return;
    view = new_view;
    in_vc = true;
    ++consecutive_failures;
    pb::ViewChangeBody body;
    body.set_new_view(new_view);
    body.set_stable_seq(low);
    body.set_epoch(cfg.epoch);
    if (stable_cert && low > cfg.base_height) *body.mutable_stable_cert() = *stable_cert;
    if (!cfg.bugs.drop_prepared_in_view_change) {
      for (const auto& [seq, s] : slots) {
        if (seq > low && seq <= end_height && s.prepared) {
          pb::PreparedProof* proof = body.add_prepared();
          *proof = *s.prepared;
          proof->mutable_pre_prepare()->clear_payload();  // blocks travel by digest
        }
      }
    }
    pb::Envelope env = Sign(pb::VIEW_CHANGE, body.SerializeAsString());
    own_vc = env.SerializeAsString();
    storage->PutViewRecord(own_vc);
    vc_latest[self] = ViewChangeInfo{new_view, env, body};
    Send(kBroadcast, own_vc);
    // PBFT's liveness rule: the timer for this view starts only once a quorum wants this view or a
    // later one. Without it the replica never moves past this view on its own: it retransmits its
    // view change and waits to be joined (f+1 rule), re-admitted (MaybeReadmit) or sent a NEW_VIEW.
    // (Moving on alone is how a paused replica ran away from the others, view after view.)
    vc_deadline = now + Timeout();
    vc_quorum_armed = false;
    own_nv.clear();
    MaybeArmViewChangeTimer();
    TryNewView();
  }

  void MaybeArmViewChangeTimer() {
    if (!in_vc || vc_quorum_armed) return;
    uint32_t count = 0;  // replicas that gave up the views below ours (a later view counts too)
    for (const auto& [sender, info] : vc_latest) {
      (void)sender;
      if (info.view >= view) ++count;
    }
    if (count >= quorum) {
      vc_deadline = now + Timeout();
      vc_quorum_armed = true;
    }
  }

  // Checks a view-change message; on success fills info.
  Status ValidateViewChange(const pb::Envelope& env, ViewChangeInfo& info) {
    if (env.type() != pb::VIEW_CHANGE) {
      return MakeError(ErrorCode::kInvalidArgument, "not a view change");
    }
    if (!env.payload().empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "view change carries a payload");
    }
    LEDGER_TRY(ParseCanonical(info.body, env.body(), "view-change body"));
    info.view = info.body.new_view();
    info.env = env;
    if (info.view == 0) return MakeError(ErrorCode::kInvalidArgument, "view change to view 0");
    if (info.body.epoch() != cfg.epoch)
      return MakeError(ErrorCode::kFailedPrecondition, "view change of another epoch");
    if (!cfg.bugs.skip_view_change_signature) {
      LEDGER_TRY(VerifyEnvelope(vs, cfg.chain_id, env, *verifier));
    }
    uint64_t stable = info.body.stable_seq();
    if (stable < cfg.base_height) {
      return MakeError(ErrorCode::kInvalidArgument, "stable checkpoint before the epoch");
    } else if (stable > cfg.base_height) {
      auto cf = VerifyExecutionCertificate(vs, cfg.chain_id, info.body.stable_cert(), *verifier);
      if (!cf) return std::unexpected(cf.error());
      if (cf->height != stable) {
        return MakeError(ErrorCode::kInvalidArgument, "stable certificate height mismatch");
      }
    } else if (info.body.has_stable_cert()) {
      return MakeError(ErrorCode::kInvalidArgument, "certificate for the epoch's base checkpoint");
    }
    if (static_cast<uint64_t>(info.body.prepared_size()) > cfg.window_seqs) {
      return MakeError(ErrorCode::kResourceExhausted, "too many prepared proofs");
    }
    std::set<uint64_t> seqs;
    for (const pb::PreparedProof& p : info.body.prepared()) {
      auto pf = VerifyPreparedProof(vs, cfg.chain_id, p, *verifier);
      if (!pf) return std::unexpected(pf.error());
      if (pf->seq <= stable || pf->seq > stable + cfg.window_seqs) {
        return MakeError(ErrorCode::kInvalidArgument, "prepared proof outside the watermarks");
      }
      if (pf->seq > end_height) {
        return MakeError(ErrorCode::kInvalidArgument, "prepared proof beyond the epoch's end");
      }
      if (pf->view >= info.view) {
        return MakeError(ErrorCode::kInvalidArgument, "prepared proof from a later view");
      }
      if (!seqs.insert(pf->seq).second) {
        return MakeError(ErrorCode::kInvalidArgument, "two prepared proofs for one seq");
      }
    }
    return OkStatus();
  }

  struct Reproposal {
    uint64_t seq;
    Hash32 digest;
  };

  // PBFT's new-view rule: from the quorum of view changes, min-s is the highest stable checkpoint,
  // and each seq in (min-s, max-s] gets the prepared proof of the highest view, or an empty block.
  std::vector<Reproposal> ComputeO(const std::vector<const pb::ViewChangeBody*>& vcs,
                                   uint64_t& min_s, const pb::ExecutionCertificate** min_cert) {
    min_s = cfg.base_height;
    *min_cert = nullptr;
    for (const auto* b : vcs) {
      if (b->stable_seq() > min_s) {
        min_s = b->stable_seq();
        *min_cert = &b->stable_cert();
      }
    }
    std::map<uint64_t, std::pair<uint64_t, Hash32>> best;  // seq -> (view, digest)
    for (const auto* b : vcs) {
      for (const pb::PreparedProof& p : b->prepared()) {
        auto pf = DecodeVoteBody(p.pre_prepare().body());
        if (!pf || pf->seq <= min_s) continue;
        auto it = best.find(pf->seq);
        if (it == best.end() || pf->view > it->second.first) best[pf->seq] = {pf->view, pf->digest};
      }
    }
    std::vector<Reproposal> out;
    uint64_t max_s = best.empty() ? min_s : best.rbegin()->first;
    for (uint64_t s = min_s + 1; s <= max_s; ++s) {
      auto it = best.find(s);
      out.push_back({s, it == best.end() ? Digest({}) : it->second.second});
    }
    return out;
  }

  void TryNewView() {
    if (!in_vc || Primary(view) != self || !own_nv.empty()) return;
    std::vector<const ViewChangeInfo*> chosen;
    for (const auto& [sender, info] : vc_latest) {
      (void)sender;
      if (info.view == view && chosen.size() < quorum) chosen.push_back(&info);
    }
    if (chosen.size() < quorum) return;
    std::vector<const pb::ViewChangeBody*> bodies;
    for (const auto* c : chosen)
      bodies.push_back(&c->body);
    uint64_t min_s = 0;
    const pb::ExecutionCertificate* min_cert = nullptr;
    std::vector<Reproposal> o = ComputeO(bodies, min_s, &min_cert);
    pb::NewViewBody nv;
    nv.set_view(view);
    nv.set_epoch(cfg.epoch);
    for (const auto* c : chosen)
      *nv.add_view_changes() = c->env;
    for (const Reproposal& r : o) {
      auto env = SignVote(pb::PRE_PREPARE, view, r.seq, r.digest);
      LEDGER_ASSERT(env.has_value());  // a fresh view: nothing was proposed in it yet
      *nv.add_pre_prepares() = *env;   // by digest: the payload follows in its own PRE_PREPARE
    }
    pb::Envelope env = Sign(pb::NEW_VIEW, nv.SerializeAsString());
    own_nv = env.SerializeAsString();
    installed_nv = own_nv;
    storage->PutViewRecord(own_nv);
    Send(kBroadcast, own_nv);
    InstallNewView(nv, min_s, min_cert);
  }

  Status ValidateNewView(const pb::Envelope& env, pb::NewViewBody& nv, uint64_t& min_s,
                         const pb::ExecutionCertificate** min_cert,
                         std::vector<ViewChangeInfo>& infos) {
    LEDGER_TRY(ParseCanonical(nv, env.body(), "new-view body"));
    if (nv.epoch() != cfg.epoch)
      return MakeError(ErrorCode::kFailedPrecondition, "new view of another epoch");
    if (env.sender() != Primary(nv.view())) {
      return MakeError(ErrorCode::kInvalidArgument, "new view not from its primary");
    }
    if (static_cast<uint32_t>(nv.view_changes_size()) > quorum ||
        static_cast<uint64_t>(nv.pre_prepares_size()) > cfg.window_seqs) {
      return MakeError(ErrorCode::kResourceExhausted, "new view too large");
    }
    LEDGER_TRY(VerifyEnvelope(vs, cfg.chain_id, env, *verifier));
    std::set<uint32_t> senders;
    infos.resize(nv.view_changes_size());
    for (int i = 0; i < nv.view_changes_size(); ++i) {
      const pb::Envelope& vc = nv.view_changes(i);
      LEDGER_TRY(ValidateViewChange(vc, infos[i]));
      if (infos[i].view != nv.view()) {
        return MakeError(ErrorCode::kInvalidArgument, "view change for another view");
      }
      if (!senders.insert(vc.sender()).second) {
        return MakeError(ErrorCode::kInvalidArgument, "duplicate view-change sender");
      }
    }
    if (senders.size() < quorum) {
      return MakeError(ErrorCode::kFailedPrecondition, "new view without a quorum");
    }
    std::vector<const pb::ViewChangeBody*> bodies;
    for (const auto& info : infos)
      bodies.push_back(&info.body);
    std::vector<Reproposal> o = ComputeO(bodies, min_s, min_cert);
    if (o.size() != static_cast<size_t>(nv.pre_prepares_size())) {
      return MakeError(ErrorCode::kInvalidArgument, "re-proposals do not follow the view changes");
    }
    for (size_t i = 0; i < o.size(); ++i) {
      const pb::Envelope& pp = nv.pre_prepares(static_cast<int>(i));
      auto vf = DecodeVoteBody(pp.body());
      if (pp.type() != pb::PRE_PREPARE || pp.sender() != env.sender() || !vf ||
          vf->view != nv.view() || vf->seq != o[i].seq || vf->digest != o[i].digest ||
          vf->epoch != cfg.epoch || !pp.payload().empty()) {
        return MakeError(ErrorCode::kInvalidArgument, "re-proposal does not match");
      }
      LEDGER_TRY(VerifyEnvelope(vs, cfg.chain_id, pp, *verifier));
    }
    return OkStatus();
  }

  void InstallNewView(const pb::NewViewBody& nv, uint64_t min_s,
                      const pb::ExecutionCertificate* min_cert) {
    view = nv.view();
    in_vc = false;
    view_started_ms = now;
    progress_deadline = now + Timeout();
    for (auto it = vc_latest.begin(); it != vc_latest.end();) {
      if (it->second.view < view) {
        it = vc_latest.erase(it);
      } else {
        ++it;
      }
    }
    known_certified = std::max(known_certified, min_s);
    if (min_cert && min_s > low) NoteVerifiedCert(min_s, *min_cert);
    uint64_t max_s = min_s;
    for (const pb::Envelope& pp : nv.pre_prepares()) {
      auto vf = DecodeVoteBody(pp.body());
      LEDGER_ASSERT(vf.has_value());  // validated or self-made
      max_s = std::max(max_s, vf->seq);
      if (vf->seq <= low) continue;
      Slot& s = GetSlot(vf->seq);
      s.nv_digest = vf->digest;
      s.nv_pp = pp;
      CompleteReproposal(vf->seq);
    }
    if (Primary(view) == self) {
      next_seq = std::max({max_s, delivered, low}) + 1;
      for (const auto& [seq, slot] : slots) {
        if (slot.view == view && slot.has_pp) next_seq = std::max(next_seq, seq + 1);
      }
      last_proposal_ms = now;
    }
    if (Primary(view) == self) RequestMissingPayloads();
    ReplayBuffered();
    TryPropose();
  }

  // ---- payloads of re-proposals -------------------------------------------------------------

  // A pre-prepare with its payload for (seq, digest) that this replica holds, if any.
  const pb::Envelope* FindPrePrepare(const Slot& s, const Hash32& digest) const {
    if (s.has_pp && s.digest == digest) return &s.pp;
    for (const auto& [v, entry] : s.kept)
      if (entry.first == digest) return &entry.second;
    if (s.prepared) {
      auto pf = DecodeVoteBody(s.prepared->pre_prepare().body());
      if (pf && pf->digest == digest) return &s.prepared->pre_prepare();
    }
    return nullptr;
  }

  // A NEW_VIEW re-proposal names its block by digest; once the payload is known (held here, empty,
  // or fetched), it is accepted like any pre-prepare, and the primary sends it with its payload.
  void CompleteReproposal(uint64_t seq) {
    Slot& s = GetSlot(seq);
    if (!s.nv_digest || s.has_pp) return;
    pb::Envelope env = s.nv_pp;
    if (*s.nv_digest != Digest({})) {
      const pb::Envelope* known = FindPrePrepare(s, *s.nv_digest);
      if (!known) return;  // RequestMissingPayloads asks a peer
      env.set_payload(known->payload());
    }
    auto vf = DecodeVoteBody(env.body());
    LEDGER_ASSERT(vf.has_value());  // validated or self-made
    AcceptPrePrepare(env, *vf);
    if (Primary(view) == self && s.has_pp) Send(kBroadcast, s.own_pp);
  }

  // Asks one peer (a different one each time) for each re-proposed payload still missing.
  void RequestMissingPayloads() {
    if (in_vc) return;
    for (auto& [seq, s] : slots) {
      if (s.view != view || !s.nv_digest || s.has_pp) continue;
      pb::PayloadRequestBody body;
      body.set_seq(seq);
      body.set_digest(std::string(AsStringView(s.nv_digest->span())));
      uint32_t to = (self + 1 + payload_rr++ % (n - 1)) % n;
      pb::Envelope env = Sign(pb::PAYLOAD_REQUEST, body.SerializeAsString());
      Send(to, env.SerializeAsString());
    }
  }

  void HandlePayloadRequest(const pb::Envelope& env) {
    pb::PayloadRequestBody body;
    if (!ParseCanonical(body, env.body(), "payload request")) {
      ++drops.malformed;
      return;
    }
    auto digest = Hash32::FromSpan(AsSpan(body.digest()));
    auto it = slots.find(body.seq());
    if (!digest || it == slots.end()) {
      ++drops.stale;
      return;
    }
    const pb::Envelope* pp = FindPrePrepare(it->second, *digest);
    // One block per retransmission interval per peer: a requester cannot make us send more.
    if (!pp || now < payload_reply_after_ms[env.sender()]) {
      ++drops.stale;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    payload_reply_after_ms[env.sender()] = now + cfg.retransmit_ms;
    pb::PayloadReplyBody reply;
    *reply.mutable_pre_prepare() = *pp;
    pb::Envelope out = Sign(pb::PAYLOAD_REPLY, reply.SerializeAsString());
    Send(env.sender(), out.SerializeAsString());
  }

  void HandlePayloadReply(const pb::Envelope& env) {
    pb::PayloadReplyBody body;
    if (!ParseCanonical(body, env.body(), "payload reply")) {
      ++drops.malformed;
      return;
    }
    const pb::Envelope& pp = body.pre_prepare();
    auto vf = DecodeVoteBody(pp.body());
    if (pp.type() != pb::PRE_PREPARE || !vf) {
      ++drops.malformed;
      return;
    }
    auto it = slots.find(vf->seq);
    if (it == slots.end() || it->second.view != view || !it->second.nv_digest ||
        *it->second.nv_digest != vf->digest || it->second.has_pp) {
      ++drops.stale;  // not (or no longer) wanted: nothing unsolicited is kept
      return;
    }
    if (pp.payload().size() > cfg.max_block_bytes ||
        !PayloadMatches(AsSpan(pp.payload()), vf->digest) || pp.sender() != Primary(vf->view)) {
      ++drops.malformed;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier) ||
        !VerifyEnvelope(vs, cfg.chain_id, pp, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    Slot& s = it->second;
    s.Keep(vf->view, vf->digest, pp, f + kKeptPerSlotBeyondF);
    CompleteReproposal(vf->seq);
  }

  void ReplayBuffered() {
    for (uint32_t p = 0; p < n; ++p) {
      auto q = std::move(buffered[p]);
      buffered[p].clear();
      buffered_total_bytes -= buffered_bytes[p];
      buffered_bytes[p] = 0;
      for (auto& [v, bytes] : q) {
        if (v >= view) HandleMessage(bytes, p);
      }
    }
  }

  void EvictOldestBuffered(uint32_t sender) {
    auto& q = buffered[sender];
    LEDGER_ASSERT(!q.empty());
    buffered_bytes[sender] -= q.front().second.size();
    buffered_total_bytes -= q.front().second.size();
    q.pop_front();
    ++drops.buffer_full;
  }

  // `bytes` is a verified vote of `sender` (its signature checked): the sender is who it claims.
  void Buffer(uint32_t sender, uint64_t v, const std::string& bytes) {
    auto& q = buffered[sender];
    q.push_back({v, bytes});
    buffered_bytes[sender] += bytes.size();
    buffered_total_bytes += bytes.size();
    while (!q.empty() &&
           (q.size() > kMaxBufferedPerPeer || buffered_bytes[sender] > kMaxBufferedBytesPerPeer)) {
      EvictOldestBuffered(sender);
    }
    while (buffered_total_bytes > kMaxBufferedBytesTotal) {
      uint32_t largest = 0;
      for (uint32_t p = 1; p < n; ++p) {
        if (buffered_bytes[p] > buffered_bytes[largest]) largest = p;
      }
      EvictOldestBuffered(largest);
    }
  }

  // ---- state transfer -----------------------------------------------------------------------

  uint64_t HonestKnownHeight() const {
    // The (f+1)-th highest executed height claimed by peers: at least one honest replica has it.
    std::vector<uint64_t> hs;
    for (uint32_t i = 0; i < n; ++i) {
      if (i != self) hs.push_back(latest_exec_vote[i].height);
    }
    std::sort(hs.rbegin(), hs.rend());
    uint64_t claimed = hs.size() > f ? hs[f] : 0;
    return std::max(claimed, known_certified);
  }

  // The epoch's last height is executed here but not certified: no later height of this epoch
  // will carry the checkpoint past it, and peers that certified it may have moved to the next
  // epoch, so the replica asks for that block with its certificate.
  bool EndUncertified() const {
    return end_height != UINT64_MAX && executed >= end_height && low < end_height;
  }

  void MaybeRequestState() {
    const bool end_uncertified = EndUncertified();
    if (HonestKnownHeight() <= delivered && !end_uncertified) return;
    const uint64_t from = end_uncertified ? end_height : delivered + 1;
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t p = (transfer_rr + k) % n;
      if (p == self || (!end_uncertified && latest_exec_vote[p].height <= delivered)) continue;
      transfer_rr = p + 1;
      std::erase_if(state_requests, [&](const auto& r) { return r.second <= delivered; });
      state_requests[p] = from;
      pb::StateRequestBody body;
      body.set_from_height(from);
      body.set_max_blocks(kMaxBlocksPerStateReply);
      pb::Envelope env = Sign(pb::STATE_REQUEST, body.SerializeAsString());
      Send(p, env.SerializeAsString());
      return;
    }
  }

  void HandleStateRequest(const pb::Envelope& env) {
    pb::StateRequestBody body;
    if (!ParseCanonical(body, env.body(), "state request") || body.from_height() == 0) {
      ++drops.malformed;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    pb::StateReplyBody reply;
    uint64_t bytes = 0;
    uint32_t max_blocks = std::min(body.max_blocks(), kMaxBlocksPerStateReply);
    // Only this epoch's blocks: a later one is certified by another set (and served by its
    // replica).
    const uint64_t last = std::min(executed, end_height);
    for (uint64_t h = body.from_height(); h <= last && reply.blocks_size() < (int)max_blocks; ++h) {
      auto block = app->LoadBlock(h);
      if (!block) break;
      // Whole blocks while they fit; the first always does (messages.h static_asserts).
      bytes += block->ByteSizeLong() + 6;  // + the field's tag and length
      if (bytes > kMaxStateReplyBytes && reply.blocks_size() > 0) break;
      *reply.add_blocks() = std::move(*block);
    }
    if (reply.blocks_size() == 0) return;
    pb::Envelope out = Sign(pb::STATE_REPLY, reply.SerializeAsString());
    Send(env.sender(), out.SerializeAsString());
  }

  void HandleStateReply(const pb::Envelope& env) {
    pb::StateReplyBody body;
    if (!ParseCanonical(body, env.body(), "state reply") ||
        body.blocks_size() > static_cast<int>(kMaxBlocksPerStateReply)) {
      ++drops.malformed;
      return;
    }
    if (body.blocks_size() > 0 && body.blocks(0).height() <= low) {
      HandleOwedCertReply(env, body);
      return;
    }
    if (body.blocks_size() > 0 && EndUncertified() && body.blocks(0).height() == end_height) {
      HandleEndCertReply(env, body.blocks(0));
      return;
    }
    if (body.blocks_size() == 0 || body.blocks(0).height() != delivered + 1) {
      ++drops.stale;
      return;
    }
    bool planted = cfg.bugs.accept_unverified_state_reply;
    auto asked = state_requests.find(env.sender());
    if (!planted && (asked == state_requests.end() || asked->second != body.blocks(0).height())) {
      ++drops.unsolicited;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    if (asked != state_requests.end()) state_requests.erase(asked);
    for (const pb::CertifiedBlock& b : body.blocks()) {
      if (b.height() != delivered + 1 || b.height() > end_height) break;
      if (b.payload().size() > cfg.max_block_bytes) {
        ++drops.malformed;
        return;
      }
      auto cf = VerifyCommitCertificate(vs, cfg.chain_id, b.commit_cert(), *verifier);
      Hash32 digest = Digest(AsSpan(b.payload()));
      if (planted) {
        // Planted bug (e): the certificate is not checked; the block is taken as its payload says.
        if (!cf) cf = VoteFields{view, b.height(), digest};
      } else if (cf && cfg.bugs.skip_payload_digest_check) {
        digest = cf->digest;  // planted bug (d): the payload is taken as the block the cert names
      }
      if (!cf || cf->seq != b.height() || cf->digest != digest) {
        ++drops.bad_certificate;
        return;
      }
      // A quorum committed in a later view than ours: we fell behind. Moving up is always safe; our
      // view change for that view makes its replicas answer with the NEW_VIEW that installed it.
      if (cf->view > view && cf->view <= view + kMaxViewsAhead) StartViewChange(cf->view);
      auto it = slots.find(b.height());
      if (it != slots.end()) {
        it->second.committed = true;
        it->second.committed_digest = digest;
      }
      DeliverOne(b.height(), digest, b.payload(), b.commit_cert());
      if (b.has_exec_cert()) {
        auto ef = VerifyExecutionCertificate(vs, cfg.chain_id, b.exec_cert(), *verifier);
        if (ef && ef->height == b.height() && ef->block_digest == digest) {
          NoteVerifiedCert(ef->height, b.exec_cert());
        }
      }
    }
    TryDeliver();
  }

  // The answer to an end-of-epoch request (MaybeRequestState): the certificate is taken if it
  // verifies and certifies the block this replica delivered there.
  void HandleEndCertReply(const pb::Envelope& env, const pb::CertifiedBlock& b) {
    auto asked = state_requests.find(env.sender());
    if (asked == state_requests.end() || asked->second != end_height) {
      ++drops.unsolicited;
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    state_requests.erase(asked);
    if (!b.has_exec_cert()) return;  // that peer has none either
    auto ef = VerifyExecutionCertificate(vs, cfg.chain_id, b.exec_cert(), *verifier);
    auto digest = delivered_digest.find(end_height);
    if (!ef || ef->height != end_height || digest == delivered_digest.end() ||
        ef->block_digest != digest->second) {
      ++drops.bad_certificate;
      return;
    }
    NoteVerifiedCert(end_height, b.exec_cert());
  }

  // ---- message intake -----------------------------------------------------------------------

  void HandleVoteMessage(const std::string& bytes, const pb::Envelope& env) {
    auto vf = DecodeVoteBody(env.body());
    if (!vf) {
      ++drops.malformed;
      return;
    }
    if (vf->view < view || vf->epoch != cfg.epoch) {
      ++drops.stale;
      return;
    }
    if (vf->view > view + kMaxViewsAhead) {
      ++drops.out_of_window;
      return;
    }
    if (vf->view > view || in_vc) {
      // Checked before buffering, so the buffer holds only what its sender really signed, under
      // that sender (a flood claiming another replica's index never reaches it).
      if (!env.payload().empty() &&
          (env.type() != pb::PRE_PREPARE || env.payload().size() > cfg.max_block_bytes)) {
        ++drops.malformed;
        return;
      }
      if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
        ++drops.bad_signature;
        return;
      }
      Buffer(env.sender(), vf->view, bytes);
      return;
    }
    if (vf->seq <= low) {
      ++drops.stale;
      return;
    }
    bool outside = vf->seq <= low || vf->seq > High() || vf->seq > end_height;
    bool is_pp = env.type() == pb::PRE_PREPARE;
    // Planted bug (c): the pre-prepare skips the watermark check, and votes for a slot that holds
    // an accepted pre-prepare are taken as already checked.
    bool planted = cfg.bugs.accept_outside_watermarks &&
                   (is_pp || (slots.contains(vf->seq) && slots[vf->seq].has_pp));
    if (outside && !planted) {
      ++drops.out_of_window;
      return;
    }
    if (is_pp) {
      bool too_big =
          env.payload().size() > cfg.max_block_bytes && !cfg.bugs.skip_payload_size_check;
      if (env.sender() != Primary(view) || too_big ||
          !PayloadMatches(AsSpan(env.payload()), vf->digest)) {
        ++drops.malformed;
        return;
      }
      Slot& s = GetSlot(vf->seq);
      if (s.has_pp && s.digest == vf->digest) {
        ++drops.stale;  // duplicate
        return;
      }
      if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
        ++drops.bad_signature;
        return;
      }
      AcceptPrePrepare(env, *vf);
      return;
    }
    if (!env.payload().empty() || (env.type() == pb::PREPARE && env.sender() == Primary(view))) {
      ++drops.malformed;
      return;
    }
    Slot& s = GetSlot(vf->seq);
    auto& votes = env.type() == pb::PREPARE ? s.prepares : s.commits;
    auto it = votes.find(env.sender());
    if (it != votes.end()) {
      if (it->second.body == env.body()) {
        ++drops.stale;
      } else {
        ++drops.conflicting;
      }
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    votes[env.sender()] = Vote{env.body(), env.signature(), vf->digest, vf->view};
    if (env.type() == pb::PREPARE) CheckPrepared(vf->seq);
    CheckCommitted(vf->seq);
  }

  void HandleExecutionVote(const pb::Envelope& env) {
    auto ef = DecodeExecutionVoteBody(env.body());
    if (!ef) {
      ++drops.malformed;
      return;
    }
    if (ef->epoch != cfg.epoch) {
      ++drops.stale;  // another epoch's (a misrouted or replayed vote): never counted here
      return;
    }
    ExecVote& latest = latest_exec_vote[env.sender()];
    bool in_range = ef->height <= std::max(low, delivered) + 2 * cfg.window_seqs;
    auto at_it = exec_votes.find(ef->height);
    bool have = at_it != exec_votes.end() && at_it->second.contains(env.sender());
    if (ef->height <= low || (ef->height == latest.height && latest.body == env.body()) ||
        (!in_range && ef->height <= latest.height) || have) {
      if (have && at_it->second[env.sender()].body != env.body()) {
        ++drops.conflicting;
      } else {
        ++drops.stale;
      }
      return;
    }
    if (!VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
      ++drops.bad_signature;
      return;
    }
    ExecVote v{ef->height, env.body(), env.signature()};
    if (ef->height > latest.height) latest = v;
    if (in_range) exec_votes[ef->height][env.sender()] = v;
    CheckExecCert(ef->height);
    if (HonestKnownHeight() > delivered + cfg.window_seqs) MaybeRequestState();
  }

  void HandleViewChangeMessage(const pb::Envelope& env) {
    pb::ViewChangeBody peek;
    if (!ParseCanonical(peek, env.body(), "view-change body")) {
      ++drops.malformed;
      return;
    }
    if (peek.epoch() != cfg.epoch) {
      ++drops.stale;  // another epoch's: not answered, not counted
      return;
    }
    uint64_t nv = peek.new_view();
    if (nv < view || (nv == view && !in_vc)) {
      // A peer still changing to a view at or below the one we run fell behind (it was paused, cut
      // off or restarted): the NEW_VIEW that installed our view brings it back (it may move up).
      // At most once per sender per base timeout: each answer is a whole NEW_VIEW, and a replayed
      // old view change must not make us send them without bound.
      auto& answered = nv_answered_ms[env.sender()];
      if (!in_vc && !installed_nv.empty() && now >= answered + cfg.view_timeout_ms &&
          VerifyEnvelope(vs, cfg.chain_id, env, *verifier)) {
        answered = now;
        Send(env.sender(), installed_nv);
      }
      ++drops.stale;
      return;
    }
    if (nv > view + kMaxViewsAhead) {
      ++drops.out_of_window;
      return;
    }
    auto it = vc_latest.find(env.sender());
    if (it != vc_latest.end() && it->second.view >= nv) {
      ++drops.stale;
      return;
    }
    ViewChangeInfo info;
    if (auto st = ValidateViewChange(env, info); !st) {
      ++drops.bad_certificate;
      return;
    }
    if (info.body.stable_seq() > cfg.base_height) {
      NoteVerifiedCert(info.body.stable_seq(), info.body.stable_cert());
    }
    vc_latest[env.sender()] = std::move(info);
    // PBFT liveness rule: f+1 peers want a later view, so at least one honest one does; join the
    // smallest such view.
    std::vector<uint64_t> later;
    for (const auto& [sender, i] : vc_latest) {
      if (sender != self && i.view > view) later.push_back(i.view);
    }
    if (later.size() >= f + 1) {
      std::sort(later.begin(), later.end());
      uint64_t target = later[later.size() - (f + 1)];
      if (target > view || (target == view && !in_vc)) StartViewChange(target);
    }
    MaybeReadmit();
    MaybeArmViewChangeTimer();
    TryNewView();
  }

  // Re-admission of a peer that went ahead alone. A replica that sent a VIEW_CHANGE for view w must
  // never vote in a view below w again: that message may end up in w's NEW_VIEW, and it does not
  // report what the replica prepares afterwards. So a peer waiting alone for w (fewer than f+1 want
  // it, so nobody joins) cannot come back to our view v < w; we go to w with it instead, but only
  // once v has run kReadmitAfterTimeouts base timeouts, so a faulty peer cannot keep us changing.
  void MaybeReadmit() {
    if (in_vc || halted || now < view_started_ms + kReadmitAfterTimeouts * cfg.view_timeout_ms) {
      return;
    }
    // Only to view + 1, the one view a replica can reach alone (the quorum rule stops it there): a
    // faulty peer's view change for a view of its choosing (say one it leads) moves nobody.
    for (const auto& [sender, info] : vc_latest) {
      if (sender != self && info.view == view + 1) {
        StartViewChange(view + 1);
        return;
      }
    }
  }

  void HandleNewViewMessage(const pb::Envelope& env) {
    pb::NewViewBody peek;
    if (!ParseCanonical(peek, env.body(), "new-view body")) {
      ++drops.malformed;
      return;
    }
    if (peek.view() < view || (peek.view() == view && !in_vc)) {
      ++drops.stale;
      return;
    }
    if (peek.view() > view + kMaxViewsAhead) {
      ++drops.out_of_window;
      return;
    }
    pb::NewViewBody nv;
    uint64_t min_s = 0;
    const pb::ExecutionCertificate* min_cert = nullptr;
    std::vector<ViewChangeInfo> infos;
    if (auto st = ValidateNewView(env, nv, min_s, &min_cert, infos); !st) {
      ++drops.bad_certificate;
      return;
    }
    storage->PutViewRecord(env.SerializeAsString());
    own_vc.clear();
    installed_nv = env.SerializeAsString();
    InstallNewView(nv, min_s, min_cert);
  }

  // from: the validator the message came from over an authenticated session, when known.
  void HandleMessage(const std::string& bytes, std::optional<uint32_t> from = std::nullopt) {
    if (halted) return;
    if (bytes.size() > kMaxConsensusMessageBytes) {
      ++drops.malformed;
      return;
    }
    // Strict: one encoding per message and no unknown field at any depth (docs/consensus.md).
    pb::Envelope env;
    if (!ParseCanonical(env, bytes, "consensus envelope")) {
      ++drops.malformed;
      return;
    }
    if (!vs.contains(env.sender())) {
      ++drops.not_validator;
      return;
    }
    if (from && env.sender() != *from) {
      ++drops.wrong_sender;
      return;
    }
    if (env.sender() == self) {
      ++drops.malformed;  // our own messages never come back through the network
      return;
    }
    // Only a PRE_PREPARE carries a block. The signature does not cover `payload`, so on any other
    // message it would be unsigned bulk that a faulty sender could pad a VIEW_CHANGE with, and the
    // NEW_VIEW that quotes it would outgrow every frame (docs/consensus.md, "Message sizes").
    if (env.type() != pb::PRE_PREPARE && !env.payload().empty()) {
      ++drops.malformed;
      return;
    }
    switch (env.type()) {
      case pb::PRE_PREPARE:
      case pb::PREPARE:
      case pb::COMMIT:
        HandleVoteMessage(bytes, env);
        return;
      case pb::EXECUTION_VOTE:
        HandleExecutionVote(env);
        return;
      case pb::VIEW_CHANGE:
        HandleViewChangeMessage(env);
        return;
      case pb::NEW_VIEW:
        HandleNewViewMessage(env);
        return;
      case pb::STATE_REQUEST:
        HandleStateRequest(env);
        return;
      case pb::STATE_REPLY:
        HandleStateReply(env);
        return;
      case pb::PAYLOAD_REQUEST:
        HandlePayloadRequest(env);
        return;
      case pb::PAYLOAD_REPLY:
        HandlePayloadReply(env);
        return;
      default:
        ++drops.malformed;
        return;
    }
  }

  // ---- timers -------------------------------------------------------------------------------

  void Retransmit() {
    bool progressed = delivered != retransmit_mark;
    retransmit_mark = delivered;
    retransmit_deadline = now + cfg.retransmit_ms;
    if (progressed) return;
    if (in_vc) {
      if (!own_vc.empty()) Send(kBroadcast, own_vc);
    } else {
      if (!own_nv.empty() && Primary(view) == self) Send(kBroadcast, own_nv);
      for (auto& [seq, s] : slots) {
        if (s.view != view) continue;
        if (!s.own_pp.empty()) Send(kBroadcast, s.own_pp);
        if (!s.own_prepare.empty()) Send(kBroadcast, s.own_prepare);
        if (!s.own_commit.empty()) Send(kBroadcast, s.own_commit);
      }
      RequestMissingPayloads();
    }
    if (!own_exec_env.empty()) Send(kBroadcast, own_exec_env);
    for (const auto& [height, env] : restored_exec_envs) {
      if (env != own_exec_env) Send(kBroadcast, env);
    }
    MaybeRequestState();
  }

  // A deadline passed by more than a whole timeout means this process did not run (it was paused or
  // starved), not that the primary failed: the input queued meanwhile is handled first.
  bool FiredLate(uint64_t deadline) const { return now >= deadline + Timeout(); }

  void TickImpl() {
    if (halted) return;
    // A deadline noticed late is re-armed once (the process was paused: its queued input goes
    // first); a second late one in a row means the driver is starved, not paused, and the view
    // changes as if on time, or a slow driver would never leave a failed view.
    // Once the epoch's last height is delivered there is nothing left to order in it: no view
    // changes (its execution certificate forms from the votes retransmitted below).
    const bool epoch_ordered = delivered >= end_height;
    if (epoch_ordered) {
      rearmed_late = false;
      progress_deadline = now + Timeout();
      vc_deadline = now + Timeout();
    } else if (in_vc && now >= vc_deadline) {
      if (!vc_quorum_armed) {
        vc_deadline = now + Timeout();  // unarmed: never move past this view alone
      } else if (FiredLate(vc_deadline) && !rearmed_late) {
        vc_deadline = now + Timeout();
        rearmed_late = true;
      } else {
        rearmed_late = false;
        StartViewChange(view + 1);
      }
    } else if (!in_vc && now >= progress_deadline) {
      if (FiredLate(progress_deadline) && !rearmed_late) {
        progress_deadline = now + Timeout();
        rearmed_late = true;
      } else {
        rearmed_late = false;
        StartViewChange(view + 1);
      }
    } else {
      rearmed_late = false;  // on time: the process runs normally
    }
    if (!epoch_ordered) MaybeReadmit();
    TryPropose();
    if (now >= retransmit_deadline) Retransmit();
    MaybeRequestOwedCerts();
  }

  Effects Finish() {
    Effects out = std::move(fx);
    fx = Effects{};
    if (halted) {
      out.halted = true;
      return out;
    }
    uint64_t next = retransmit_deadline;
    next = std::min(next, in_vc ? vc_deadline : progress_deadline);
    if (IsPrimary() && next_seq <= delivered + 1) {
      next = std::min(next, last_proposal_ms + cfg.propose_delay_ms);
    }
    out.next_tick_ms = std::max(next, now + 1);
    return out;
  }

  // ---- restart ------------------------------------------------------------------------------

  void Restore(uint64_t executed_height) {
    // The driver starts an epoch's replica once the height before it is executed.
    LEDGER_ASSERT(executed_height >= cfg.base_height);
    delivered = executed = executed_height;
    known_certified = low;
    Storage::Loaded loaded = storage->Load();
    // What storage holds of an earlier epoch (a driver that keeps one store) is not this epoch's.
    if (!loaded.checkpoint.empty()) {
      pb::ExecutionCertificate cert;
      LEDGER_ASSERT(cert.ParseFromString(loaded.checkpoint));
      auto ef = DecodeExecutionVoteBody(cert.body());
      LEDGER_ASSERT(ef.has_value());
      if (ef->epoch == cfg.epoch && ef->height > low) {
        low = ef->height;
        stable_cert = cert;
        known_certified = low;
      }
    }
    std::vector<pb::PersistedRecord> records;
    for (const std::string& r : loaded.records) {
      pb::PersistedRecord rec;
      LEDGER_ASSERT(rec.ParseFromString(r));
      auto vf = DecodeVoteBody(rec.own().body());
      LEDGER_ASSERT(vf.has_value());
      if (vf->epoch != cfg.epoch) continue;
      signed_votes[{static_cast<int>(rec.own().type()), vf->view, vf->seq}] = vf->digest;
      if (vf->seq > low && rec.has_prepared()) {
        Slot& s = slots[vf->seq];
        if (!s.prepared || vf->view >= s.prepared_view) {
          s.prepared = rec.prepared();
          s.prepared_view = vf->view;
        }
      }
      view = std::max(view, vf->view);
      records.push_back(std::move(rec));
    }
    if (!loaded.view_record.empty()) {
      pb::Envelope env;
      LEDGER_ASSERT(env.ParseFromString(loaded.view_record));
      if (env.type() == pb::VIEW_CHANGE) {
        pb::ViewChangeBody body;
        LEDGER_ASSERT(body.ParseFromString(env.body()));
        if (body.epoch() == cfg.epoch && body.new_view() >= view) {
          view = body.new_view();
          in_vc = true;
          own_vc = loaded.view_record;
          vc_latest[self] = ViewChangeInfo{view, env, body};
        }
      } else {
        pb::NewViewBody nv;
        LEDGER_ASSERT(nv.ParseFromString(env.body()));
        if (nv.epoch() == cfg.epoch && nv.view() >= view) {
          view = nv.view();
          installed_nv = loaded.view_record;
          if (env.sender() == self) own_nv = loaded.view_record;
        }
      }
    }
    // Own votes of the current view come back, so retransmissions repeat exactly what was sent.
    for (const pb::PersistedRecord& rec : records) {
      auto vf = DecodeVoteBody(rec.own().body());
      if (vf->epoch != cfg.epoch || vf->view != view || vf->seq <= low) continue;
      Slot& s = GetSlot(vf->seq);
      Vote v{rec.own().body(), rec.own().signature(), vf->digest, vf->view};
      switch (rec.own().type()) {
        case pb::PRE_PREPARE:
          s.has_pp = true;
          s.pp = rec.own();
          s.digest = vf->digest;
          s.own_pp = rec.own().SerializeAsString();
          next_seq = std::max(next_seq, vf->seq + 1);
          break;
        case pb::PREPARE:
          s.prepares[self] = v;
          s.own_prepare = rec.own().SerializeAsString();
          break;
        case pb::COMMIT:
          s.commits[self] = v;
          s.own_commit = rec.own().SerializeAsString();
          break;
        default:
          break;
      }
    }
    next_seq = std::max(next_seq, delivered + 1);
    if (!loaded.view_record.empty() && !in_vc) {
      // Re-install the new view we entered: its re-proposals were never persisted one by one.
      pb::Envelope env;
      pb::NewViewBody nv;
      LEDGER_ASSERT(env.ParseFromString(loaded.view_record));
      if (env.type() == pb::NEW_VIEW && nv.ParseFromString(env.body()) && nv.epoch() == cfg.epoch &&
          nv.view() == view) {
        std::vector<ViewChangeInfo> infos(nv.view_changes_size());
        std::vector<const pb::ViewChangeBody*> bodies;
        for (int i = 0; i < nv.view_changes_size(); ++i) {
          LEDGER_ASSERT(infos[i].body.ParseFromString(nv.view_changes(i).body()));
          bodies.push_back(&infos[i].body);
        }
        uint64_t min_s = 0;
        const pb::ExecutionCertificate* min_cert = nullptr;
        ComputeO(bodies, min_s, &min_cert);
        InstallNewView(nv, min_s, min_cert);
      }
    }
  }
};

Replica::Replica(ReplicaConfig config, Application* app, Storage* storage, uint64_t executed_height,
                 uint64_t now_ms)
    : impl_(std::make_unique<Impl>(std::move(config), app, storage)) {
  impl_->now = now_ms;
  impl_->Restore(executed_height);
  impl_->progress_deadline = now_ms + impl_->Timeout();
  impl_->vc_deadline = now_ms + impl_->Timeout();
  impl_->retransmit_deadline = now_ms + impl_->cfg.retransmit_ms;
  impl_->last_proposal_ms = now_ms;
  impl_->view_started_ms = now_ms;
}

Replica::Replica(ReplicaConfig config, Application* app, Storage* storage,
                 const ExecutedTip& executed, uint64_t now_ms)
    : Replica(std::move(config), app, storage, executed.height, now_ms) {
  if (executed.height == impl_->executed) impl_->RestoreOwnExecVote(executed);
}

Replica::Replica(ReplicaConfig config, Application* app, Storage* storage,
                 const std::vector<ExecutedTip>& executed, uint64_t now_ms)
    : Replica(std::move(config), app, storage, executed.empty() ? 0 : executed.back().height,
              now_ms) {
  LEDGER_ASSERT(executed.size() <= 2 * kMaxOwedCertificates + 1);
  for (const ExecutedTip& tip : executed) {
    if (tip.height <= impl_->cfg.base_height) continue;  // an earlier epoch's
    // A change an executed block scheduled ends this epoch, whether or not the driver said so
    // (review finding: a restarted replica without the end ordered heights past it).
    if (tip.scheduled) impl_->NoteEpochEnd(*tip.scheduled, tip.height);
    if (tip.height <= impl_->low) {
      impl_->RestoreOwedCert(tip);
    } else {
      impl_->RestoreOwnExecVote(tip);
    }
  }
  impl_->ResignCertifiedEnd(executed);
}

Replica::~Replica() = default;

Effects Replica::Start(uint64_t now_ms) {
  impl_->now = std::max(impl_->now, now_ms);
  if (impl_->in_vc && !impl_->own_vc.empty()) impl_->Send(kBroadcast, impl_->own_vc);
  if (!impl_->own_nv.empty()) impl_->Send(kBroadcast, impl_->own_nv);
  for (const auto& [height, env] : impl_->restored_exec_envs)
    impl_->Send(kBroadcast, env);
  impl_->TryPropose();
  return impl_->Finish();
}

Effects Replica::OnMessage(uint64_t now_ms, const std::string& bytes) {
  impl_->now = std::max(impl_->now, now_ms);
  impl_->HandleMessage(bytes);
  return impl_->Finish();
}

Effects Replica::OnMessage(uint64_t now_ms, const std::string& bytes, uint32_t from) {
  impl_->now = std::max(impl_->now, now_ms);
  impl_->HandleMessage(bytes, from);
  return impl_->Finish();
}

Effects Replica::Tick(uint64_t now_ms) {
  impl_->now = std::max(impl_->now, now_ms);
  impl_->TickImpl();
  return impl_->Finish();
}

Effects Replica::OnPayloadReady(uint64_t now_ms, Bytes payload) {
  impl_->now = std::max(impl_->now, now_ms);
  if (payload.size() <= impl_->cfg.max_block_bytes && impl_->pending.size() < kMaxPendingPayloads &&
      !impl_->halted) {
    Hash32 d = impl_->Digest(payload);
    impl_->pending.push_back({d, std::move(payload)});
    impl_->TryPropose();
  }
  return impl_->Finish();
}

Effects Replica::OnExecuted(uint64_t now_ms, uint64_t height, const Hash32& state_root,
                            const Hash32& result_root,
                            const std::optional<EpochChange>& scheduled) {
  impl_->now = std::max(impl_->now, now_ms);
  if (!impl_->halted) impl_->OnExecutedImpl(height, state_root, result_root, scheduled);
  return impl_->Finish();
}

ReplicaStatus Replica::status() const {
  ReplicaStatus s;
  s.view = impl_->view;
  s.in_view_change = impl_->in_vc;
  s.is_primary = impl_->IsPrimary();
  s.next_seq = impl_->next_seq;
  s.low_watermark = impl_->low;
  s.delivered = impl_->delivered;
  s.executed = impl_->executed;
  s.halted = impl_->halted;
  for (const auto& q : impl_->buffered)
    s.buffered_messages += q.size();
  s.buffered_bytes = impl_->buffered_total_bytes;
  s.owed_certificates = impl_->owed_certs.size();
  s.owed_certificates_given_up = impl_->owed_given_up;
  s.epoch = impl_->cfg.epoch;
  s.end_height = impl_->end_height;
  s.epoch_finished = impl_->end_height != UINT64_MAX && impl_->low >= impl_->end_height;
  return s;
}

uint64_t Replica::BufferedBytesFrom(uint32_t sender) const {
  return sender < impl_->buffered_bytes.size() ? impl_->buffered_bytes[sender] : 0;
}

const DropCounters& Replica::drops() const {
  return impl_->drops;
}

}  // namespace cl::consensus
