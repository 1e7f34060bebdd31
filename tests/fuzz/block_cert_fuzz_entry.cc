// block_cert (fuzz_entries.h): certified blocks from a peer into an observer's ledger.
#include "consensus/messages.h"
#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/memory_store.h"
#include "ledger/transaction.h"
#include "node/ledger_app.h"
#include "node/node.pb.h"
#include "node/observer_sync.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "util/assert.h"

namespace cl::fuzz {
namespace {

constexpr uint32_t kMaxBlocksAsked = 16;
constexpr size_t kEnvelopeMemoSlots = 1u << 12;  // envelope verdicts kept across inputs

// What each input used to redo and now reuses (docs/testing.md, "Fuzzing"). Each is a pure
// function of its inputs, so reusing it changes no outcome: a mutated signature or envelope is a
// new key and is checked for real.

// The observer's store right after genesis (the genesis state tree and the genesis key), built
// once; each input starts from a copy of it.
const ledger::MemoryStore& GenesisStore() {
  static const ledger::MemoryStore* store = [] {
    auto* s = new ledger::MemoryStore();
    auto app = node::LedgerApp::Open(s, FixedConsortium().genesis);
    LEDGER_ASSERT(app.has_value());
    return s;
  }();
  return *store;
}

void CopyStore(const ledger::MemoryStore& from, ledger::MemoryStore* to) {
  ledger::WriteBatch batch;
  const Status scanned = from.Scan({}, {}, [&](ByteSpan key, ByteSpan value) {
    batch.Put(key, value);
    return true;
  });
  LEDGER_ASSERT(scanned.has_value());
  LEDGER_ASSERT(to->Write(batch, /*sync=*/false).has_value());
}

// The two block decoders agree (a block DecodeBlock takes is well-formed with the same hash; the
// converse need not hold: ledger/block.h), and the certificates verify or not without crashing.
void CheckBlock(const consensus::pb::CertifiedBlock& block) {
  const ByteSpan payload = AsSpan(block.payload());
  auto decoded = ledger::DecodeBlock(payload, kFuzzChainId);
  auto well_formed = ledger::WellFormedHeaderHash(payload, kFuzzChainId);
  if (decoded) LEDGER_ASSERT(well_formed.has_value() && decoded->header_hash == *well_formed);
  const consensus::ValidatorSet validators(FixedConsortium().validator_keys);
  const std::string chain(kFuzzChainId);
  auto commit =
      consensus::VerifyCommitCertificate(validators, chain, block.commit_cert(), MemoVerifier());
  auto exec =
      consensus::VerifyExecutionCertificate(validators, chain, block.exec_cert(), MemoVerifier());
  if (commit && exec && decoded) {
    (void)(commit->digest == decoded->header_hash);
    (void)(exec->block_digest == commit->digest);
  }
}

consensus::pb::CertifiedBlock Certify(uint64_t height, const Bytes& payload,
                                      const node::CommitResult& result) {
  const Consortium& c = FixedConsortium();
  consensus::pb::CertifiedBlock out;
  out.set_height(height);
  out.set_payload(ToString(payload));
  const std::string vote = consensus::EncodeVoteBody(0, height, result.block_digest);
  const std::string exec = consensus::EncodeExecutionVoteBody(
      height, result.block_digest, result.state_root, result.receipt_root);
  out.mutable_commit_cert()->set_body(vote);
  out.mutable_exec_cert()->set_body(exec);
  for (uint32_t i = 0; i < 3; ++i) {  // a quorum of 4
    auto* s = out.mutable_commit_cert()->add_signers();
    s->set_replica(i);
    s->set_signature(ToString(
        c.node_keys[i]
            .Sign(crypto::SignedDigest(crypto::Domain::kCommit, kFuzzChainId, AsSpan(vote)))
            .span()));
    auto* e = out.mutable_exec_cert()->add_signers();
    e->set_replica(i);
    e->set_signature(ToString(
        c.node_keys[i]
            .Sign(crypto::SignedDigest(crypto::Domain::kExecutionVote, kFuzzChainId, AsSpan(exec)))
            .span()));
  }
  return out;
}

}  // namespace

int FuzzBlockCert(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Consortium& c = FixedConsortium();
  node::pb::SyncReply reply;
  if (!reply.ParseFromArray(data + 1, static_cast<int>(size - 1))) return 0;
  for (const auto& block : reply.blocks())
    CheckBlock(block);
  ledger::MemoryStore store;
  CopyStore(GenesisStore(), &store);
  auto app = node::LedgerApp::Open(&store, c.genesis);
  LEDGER_ASSERT(app.has_value());
  const uint32_t from = data[0] % c.validator_keys.size();
  const node::SyncRequestSent request{c.validator_keys[from], 1, kMaxBlocksAsked};
  const bool asked = (data[0] & 0x80) == 0;
  size_t after_commit_calls = 0;
  const node::SyncReplyOutcome outcome = node::ApplySyncReply(
      **app, consensus::ValidatorSet(c.validator_keys), asked ? &request : nullptr,
      c.validator_keys[from], reply, VerifyBlockTxs,
      [&](const node::CommitResult&) { ++after_commit_calls; }, MemoVerifier());
  LEDGER_ASSERT(outcome.committed == after_commit_calls);
  LEDGER_ASSERT((*app)->height() == outcome.committed);
  LEDGER_ASSERT(asked || outcome.committed == 0);  // nothing unsolicited is ever taken
  return 0;
}

Result<std::vector<ledger::VerifiedTx>> VerifyBlockTxs(const ledger::DecodedBlock& block) {
  // ledger::VerifyEnvelope is a pure function of the envelope's bytes (the chain id is fixed), so
  // its verdict is memoised on them: every byte of a mutated envelope, signatures included, makes
  // a new key that is verified for real.
  static auto* verdicts = new FixedMemo<Result<ledger::VerifiedTx>>(kEnvelopeMemoSlots);
  std::vector<ledger::VerifiedTx> txs;
  for (const Bytes& envelope : block.txs) {
    const Hash32 key = crypto::Sha256Of(envelope);
    const Result<ledger::VerifiedTx>* verdict = verdicts->Find(key);
    if (verdict == nullptr)
      verdict = &verdicts->Put(key, ledger::VerifyEnvelope(envelope, kFuzzChainId));
    if (!*verdict) return std::unexpected(verdict->error());
    txs.push_back(**verdict);
  }
  return txs;
}

std::vector<consensus::pb::CertifiedBlock> CertifiedChain() {
  const Consortium& c = FixedConsortium();
  ledger::MemoryStore store;
  auto app = node::LedgerApp::Open(&store, c.genesis);
  LEDGER_ASSERT(app.has_value());
  std::vector<consensus::pb::CertifiedBlock> chain;
  const std::vector<std::vector<Bytes>> blocks = {
      {CreateAccountTx(1), CreateAccountTx(2)}, {IssueTx(1, 700)}, {}};
  for (const std::vector<Bytes>& txs : blocks) {
    const uint64_t height = (*app)->height() + 1;
    std::vector<Hash32> ids;
    for (const Bytes& tx : txs)
      ids.push_back(ledger::ParseTransaction(tx, kFuzzChainId)->tx_id);
    const Bytes payload =
        (*app)->BuildBlock(height, (*app)->last_digest(), 10'000 + height * 1'000, txs, ids, 0);
    auto result = (*app)->Commit(height, payload, {}, VerifyBlockTxs);
    LEDGER_ASSERT(result.has_value() && !result->null_block);
    chain.push_back(Certify(height, payload, *result));
  }
  return chain;
}

std::vector<Bytes> BlockCertSeeds() {
  node::pb::SyncReply reply;
  for (const consensus::pb::CertifiedBlock& block : CertifiedChain())
    *reply.add_blocks() = block;
  std::vector<Bytes> seeds;
  for (uint8_t from : {0, 2}) {
    Bytes seed = {from};
    Append(seed, AsSpan(reply.SerializeAsString()));
    seeds.push_back(std::move(seed));
  }
  node::pb::SyncReply first;
  *first.add_blocks() = reply.blocks(0);
  Bytes one = {1};
  Append(one, AsSpan(first.SerializeAsString()));
  seeds.push_back(std::move(one));
  return seeds;
}

}  // namespace cl::fuzz
