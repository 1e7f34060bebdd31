// The PBFT replica (DESIGN decisions 6-8, docs/consensus.md) as a pure state machine:
//   (message | timer tick | payload ready | executed state root) -> Effects
// It owns no socket, thread, clock or global: time comes in with every input, randomness from the
// seed in its config, persistence goes through the Storage interface it owns, and the application
// is reached only through the Application interface it owns. The same code runs in the node and in
// the deterministic simulator (tests/sim).
//
// Thread safety: a Replica is not thread-safe; one driver thread calls it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "consensus/consensus.pb.h"
#include "consensus/messages.h"
#include "crypto/keys.h"
#include "util/bytes.h"

namespace cl::consensus {

// Named limits. At a limit the replica drops the input and counts it; it never blocks or grows.
inline constexpr uint64_t kDefaultWindowSeqs = 32;  // high - low watermark
// With kMaxValidators, the largest window whose NEW_VIEW still fits one message (asserted below).
inline constexpr uint64_t kMaxWindowSeqs = 64;
inline constexpr uint64_t kDefaultMaxBlockBytes = 8u << 20;  // one payload, <= kMaxPayloadBytes
// Votes for a later view (or for the view being changed to) wait in a buffer until the replica
// gets there. Only votes whose signature verified are buffered, under their verified sender; each
// sender's queue is bounded by count and bytes (its oldest entries go first), and when all queues
// together exceed the total, the largest queue loses its oldest entry, so one flooding validator
// never evicts another's votes.
inline constexpr size_t kMaxBufferedPerPeer = 64;  // future-view messages per peer
inline constexpr uint64_t kMaxBufferedBytesPerPeer = uint64_t{32} << 20;  // one max pre-prepare
inline constexpr uint64_t kMaxBufferedBytesTotal = uint64_t{96} << 20;
inline constexpr size_t kMaxPendingPayloads = 256;  // queued payloads to propose
inline constexpr uint32_t kMaxBlocksPerStateReply = 16;
// Executed heights whose execution certificate this replica never formed before its checkpoint
// moved past them on a later certificate (a restarted replica whose re-signed vote was not yet
// matched by enough others, votes lost or late): it asks peers for their stored certificate of
// each, one request per base view timeout. Beyond this many the lowest are given up.
inline constexpr size_t kMaxOwedCertificates = 2 * kMaxWindowSeqs;
// An owed height is asked of every other validator once per round, for at most this many rounds,
// this many base view timeouts apart; it is given up sooner when every other validator answered
// with its block but no certificate (none was formed anywhere). A given-up height keeps no
// execution certificate on this replica (ReplicaStatus::owed_certificates_given_up counts them).
inline constexpr uint32_t kOwedCertRounds = 2;
inline constexpr uint64_t kOwedCertRoundBackoffTimeouts = 16;
// A state reply holds whole blocks up to this many bytes in all, at least one block: one block of
// kMaxPayloadBytes always fits (messages.h), so the reply never exceeds kMaxConsensusMessageBytes.
inline constexpr uint64_t kMaxStateReplyBytes = kMaxConsensusMessageBytes - 1024;
inline constexpr uint32_t kViewChangeBackoffCapExponent = 4;  // timeout <= base * 2^4
inline constexpr uint64_t kMaxViewsAhead = 1000;              // farther-future views are dropped
// A replica running view v re-admits a peer that waits alone in a view change for view v+1 (it
// timed out while paused or cut off, and must not vote in v again): once v has run this many base
// timeouts, it moves to v+1 with it. Only v+1, so a faulty validator cannot pick the view (and its
// primary); and at most one such forced view change per this many base timeouts.
inline constexpr uint64_t kReadmitAfterTimeouts = 4;
// Pre-prepares of earlier views a slot keeps, beyond f (replica.cc, Slot::kept): f + 2 in all.
inline constexpr size_t kKeptPerSlotBeyondF = 2;

// Every message the replica can produce fits kMaxConsensusMessageBytes (issue 14, defect 11): the
// view-change messages for every accepted (n, window), the block-carrying ones for every accepted
// max_block_bytes (ReplicaConfig checks both).
static_assert(MaxViewChangeBytes(kMaxValidators, kMaxWindowSeqs) <= kMaxConsensusMessageBytes);
static_assert(MaxNewViewBytes(kMaxValidators, kMaxWindowSeqs) <= kMaxConsensusMessageBytes);
static_assert(kDefaultMaxBlockBytes <= kMaxPayloadBytes);

// Test-only switches that plant known bugs, so the simulator's tests can prove they would catch
// them. Always all false outside tests.
struct PlantedBugs {
  bool quorum_2f = false;                     // (a) quorum 2f (one short when n = 3f+1)
  bool drop_prepared_in_view_change = false;  // (b) view-change messages carry no prepared proofs
  bool accept_outside_watermarks = false;     // (c) pre-prepares outside (low, high] are accepted
  // (h) the epoch ends one block before the scheduled activation height, so the next epoch's set
  // (started from end_height by the driver) takes over one block early.
  bool epoch_one_block_early = false;
  // (d) a block's payload is not checked against the digest its votes name (pre-prepare, payload
  // reply and state reply): execution may then read bytes the agreed digest does not bind.
  bool skip_payload_digest_check = false;
  // (e) a state reply is taken from anyone, for any height asked or not, without checking its
  // commit certificates.
  bool accept_unverified_state_reply = false;
  // (f) a view change's own signature is not checked (a forged one counts toward the f+1 rule).
  bool skip_view_change_signature = false;
  // (g) a pre-prepare's payload size is not checked against max_block_bytes.
  bool skip_payload_size_check = false;
};

struct ReplicaConfig {
  std::string chain_id;
  std::vector<crypto::PublicKey> validators;  // the set of `epoch`
  // Epochs (docs/consensus.md "Epochs"). A replica orders the heights of one epoch: above
  // base_height (the height before the epoch's first: A - 1, or 0 for epoch 0; a checkpoint that
  // needs no certificate, as genesis), up to end_height when a change is scheduled (A' - 1 of the
  // next epoch: from the start when the driver knows it, else from OnExecuted). The driver starts
  // the next epoch's replica once this one reports epoch_finished.
  uint64_t epoch = 0;
  uint64_t base_height = 0;
  uint64_t end_height = UINT64_MAX;
  uint32_t self = 0;
  std::optional<crypto::PrivateKey> key;
  uint64_t window_seqs = kDefaultWindowSeqs;
  uint64_t max_block_bytes = kDefaultMaxBlockBytes;
  uint64_t view_timeout_ms = 1000;  // base; doubled per consecutive failed view, up to the cap
  uint64_t propose_delay_ms = 200;  // the primary proposes an empty block after this idle time
  uint64_t retransmit_ms = 250;     // resend own in-flight votes when nothing progressed
  uint64_t seed = 0;
  SignatureVerifier* verifier = nullptr;  // nullptr: DefaultVerifier()
  Signer* signer = nullptr;               // nullptr: ECDSA with `key` (KeySigner)
  PayloadDigestFn payload_digest;         // empty: PayloadDigest (H(0x37 || payload))
  PlantedBugs bugs;
};

// A block committed in order, with the certificate that proves it.
struct CommittedBlock {
  uint64_t height = 0;
  Hash32 digest;
  Bytes payload;
  pb::CommitCertificate commit_cert;
};

// The application side, owned by consensus (the node implements it over ledger/; the simulator over
// a hash chain). Calls are synchronous and must not call back into the replica.
class Application {
 public:
  virtual ~Application() = default;
  // Whether a proposed payload is acceptable at this height (a replica never prepares one it
  // rejects).
  virtual bool ValidatePayload(uint64_t height, ByteSpan payload) = 0;
  // Committed blocks arrive here exactly once each, in height order. The application executes the
  // block and later reports the roots through Replica::OnExecuted.
  virtual void DeliverBlock(const CommittedBlock& block) = 0;
  // A committed block at or below the executed height, for state transfer to peers.
  virtual std::optional<pb::CertifiedBlock> LoadBlock(uint64_t height) = 0;
};

// Durable storage of what the replica signed. Every call returns only once the data is durable: the
// replica calls it before the effect that sends the vote is emitted, so a restarted replica never
// contradicts itself.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual void AppendRecord(uint64_t seq, const std::string& record) = 0;  // PersistedRecord bytes
  virtual void PutViewRecord(const std::string& record) = 0;  // latest VIEW_CHANGE / NEW_VIEW only
  virtual void PutCheckpoint(const std::string& cert) = 0;    // latest stable ExecutionCertificate
  virtual void DropRecordsUpTo(uint64_t seq) = 0;
  struct Loaded {
    std::vector<std::string> records;
    std::string view_record;
    std::string checkpoint;
  };
  virtual Loaded Load() = 0;
};

inline constexpr uint32_t kBroadcast = UINT32_MAX;

struct Outbound {
  uint32_t to = kBroadcast;  // a replica index, or kBroadcast (everyone but self)
  std::string bytes;         // a serialized pb::Envelope
};

struct Effects {
  std::vector<Outbound> messages;
  std::optional<uint64_t> next_tick_ms;  // call Tick at or after this time
  std::vector<uint64_t> delivered_heights;
  std::vector<pb::ExecutionCertificate> execution_certs;  // newly formed, for the block store
  bool halted = false;  // the replica saw its own execution disagree with a certificate
};

// Why inputs were dropped, for metrics and the simulator.
struct DropCounters {
  uint64_t malformed = 0;  // unparsable, wrong sizes, bad fields
  uint64_t bad_signature = 0;
  uint64_t not_validator = 0;
  uint64_t stale = 0;  // old view or at/below what is already decided (not an attack)
  uint64_t out_of_window = 0;
  uint64_t conflicting = 0;  // a second, different vote from the same sender
  uint64_t invalid_payload = 0;
  uint64_t buffer_full = 0;
  uint64_t bad_certificate = 0;
  uint64_t wrong_sender = 0;  // the envelope names another sender than the session it came from
  uint64_t unsolicited = 0;   // a state reply from a peer not asked, or not for the height asked
  uint64_t total() const {
    return malformed + bad_signature + not_validator + out_of_window + conflicting +
           invalid_payload + buffer_full + bad_certificate + wrong_sender + unsolicited;
  }
};

struct ReplicaStatus {
  uint64_t view = 0;
  bool in_view_change = false;
  bool is_primary = false;  // primary of its view and not in a view change
  uint64_t next_seq = 0;    // the sequence number the next proposal would take (primary only)
  uint64_t low_watermark = 0;
  uint64_t delivered = 0;
  uint64_t executed = 0;
  bool halted = false;
  size_t buffered_messages = 0;  // future-view votes waiting (all senders)
  uint64_t buffered_bytes = 0;   // their bytes, at most kMaxBufferedBytesTotal
  size_t owed_certificates = 0;  // heights whose certificate is being fetched from peers
  uint64_t epoch = 0;
  uint64_t end_height = UINT64_MAX;  // the epoch's last height, once known
  // The epoch's last height is executed and certified here: the driver starts the next epoch.
  bool epoch_finished = false;
  // Owed heights given up (no peer served a certificate): they keep none on this replica.
  uint64_t owed_certificates_given_up = 0;
};

// What the application executed last, from its own durable record: a restarted replica signs its
// execution vote for that height again, because it may never have sent it (the process stopped
// between the block's commit and the vote), and the certificate of that height may need it.
struct ExecutedTip {
  uint64_t height = 0;
  Hash32 digest;  // the block's digest, as delivered
  Hash32 state_root;
  Hash32 result_root;
  std::optional<EpochChange> scheduled;  // the change this block scheduled, as OnExecuted had it
};

class Replica {
 public:
  // Starts (or restarts) from what storage holds and the application's executed height.
  Replica(ReplicaConfig config, Application* app, Storage* storage, uint64_t executed_height,
          uint64_t now_ms);
  // The same, and the replica's execution vote for executed.height is signed again, sent at Start
  // and retransmitted until that height is certified.
  Replica(ReplicaConfig config, Application* app, Storage* storage, const ExecutedTip& executed,
          uint64_t now_ms);
  // The same for several heights: the application's records of executed heights whose certificate
  // it lacks, ascending, the last being the executed height: at or below the checkpoint (at most
  // kMaxOwedCertificates), each is owed again and its certificate fetched from peers, nothing
  // signed; above it (at most kMaxOwedCertificates + 1), each vote is signed again and
  // retransmitted until its height is certified, and each height the checkpoint then passes
  // uncertified is owed (replica.cc).
  Replica(ReplicaConfig config, Application* app, Storage* storage,
          const std::vector<ExecutedTip>& executed, uint64_t now_ms);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Effects of the start itself (timers, retransmission after a restart).
  Effects Start(uint64_t now_ms);
  Effects OnMessage(uint64_t now_ms, const std::string& bytes);
  // A message that arrived over an authenticated session with validator `from`: an envelope that
  // names any other sender is dropped (counted as wrong_sender) before anything else is done.
  Effects OnMessage(uint64_t now_ms, const std::string& bytes, uint32_t from);
  Effects Tick(uint64_t now_ms);
  Effects OnPayloadReady(uint64_t now_ms, Bytes payload);
  // `scheduled`: the validator-set change the block scheduled (its execution vote carries it, and
  // the epoch ends at its activation height - 1).
  Effects OnExecuted(uint64_t now_ms, uint64_t height, const Hash32& state_root,
                     const Hash32& result_root,
                     const std::optional<EpochChange>& scheduled = std::nullopt);

  ReplicaStatus status() const;
  // Bytes of future-view votes buffered from one validator (tests and metrics).
  uint64_t BufferedBytesFrom(uint32_t sender) const;
  const DropCounters& drops() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cl::consensus
