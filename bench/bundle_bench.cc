// Proof bundles (docs/proofs.md): the offline verification time of an account bundle and its size,
// with 1,000,000 accounts in the state tree and n = 4 validators (3 signatures per certificate).
// Figures: bundle_verify_ms, bundle_bytes. And the same account proven at the end of 10 epochs
// (issue 16: targets <= 5 ms and <= 8 KB): the bundle carries 10 validator-set changes of a set
// moving between 4 and 7 validators (adds, removals, key rotations), each approved by a quorum of
// the previous set, and its own certificates are signed by a quorum of the 10th set. Figures:
// bundle10_verify_ms, bundle10_bytes.
#include <benchmark/benchmark.h>

#include <chrono>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/epoch.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/proof_bundle.h"
#include "ledger/state_tree.h"
#include "util/quorum.h"

namespace {

using namespace cl;
using namespace cl::ledger;

constexpr char kChain[] = "bundle-bench";
constexpr size_t kAccounts = 1'000'000;
constexpr size_t kValidators = 4;
constexpr uint64_t kHeight = 1;

std::string AccountId(size_t i) {
  std::string id(16, '\0');
  for (int b = 0; b < 8; ++b)
    id[15 - b] = static_cast<char>((i >> (8 * b)) & 0xff);
  return id;
}

// A certificate by the first QuorumSize(n) validators of `keys`.
Bytes SignCert(const std::vector<crypto::PrivateKey>& keys, crypto::Domain tag, const Bytes& body) {
  pb::BundleCertificate cert;
  cert.set_body(ToString(body));
  Hash32 digest = crypto::SignedDigest(tag, kChain, body);
  for (uint32_t i = 0; i < QuorumSize(static_cast<uint32_t>(keys.size())); ++i) {
    pb::BundleSigner* s = cert.add_signers();
    s->set_replica(i);
    s->set_signature(ToString(keys[i].Sign(digest).span()));
  }
  return SerializeRecord(cert);
}

std::vector<crypto::PublicKey> PublicKeys(const std::vector<crypto::PrivateKey>& keys) {
  std::vector<crypto::PublicKey> out;
  for (const crypto::PrivateKey& k : keys)
    out.push_back(k.GetPublicKey());
  return out;
}

Hash32 Filler(std::string_view what, uint64_t height) {
  return crypto::TaggedHash(crypto::Domain::kBlockHeader,
                            AsSpan(std::string(what) + std::to_string(height)));
}

constexpr size_t kEpochs = 10;
constexpr uint64_t kChangeSpacing = 1000;  // blocks between changes (at least 65)
constexpr uint64_t kEpochHeight = kEpochs * kChangeSpacing + kEpochActivationDelay;

// Commits a block at `height` whose header names `signers`' set and whose certificates a quorum
// of them signed in `epoch`, over the tree's version `height`.
void CommitBlock(BlockStore& blocks, MemoryStore& kv, uint64_t height, const Hash32& state_root,
                 const Hash32& genesis_hash, const std::vector<crypto::PrivateKey>& signers,
                 uint64_t epoch) {
  pb::BlockHeader header;
  header.set_chain_id(kChain);
  header.set_height(height);
  header.set_prev_header_hash(ToString(genesis_hash.span()));
  header.set_timestamp_ms(1'700'000'000'000);
  header.set_validator_set_hash(ToString(ValidatorSetHash(PublicKeys(signers)).span()));
  Bytes block = EncodeBlock(header, {}, {});
  DecodedBlock decoded = DecodeBlock(block, kChain).value();
  pb::ReceiptList receipts;
  pb::BundleVoteBody vote;
  vote.set_seq(height);
  vote.set_digest(ToString(decoded.header_hash.span()));
  pb::BundleExecutionVoteBody ev;
  ev.set_height(height);
  ev.set_block_digest(ToString(decoded.header_hash.span()));
  ev.set_state_root(ToString(state_root.span()));
  ev.set_result_root(ToString(ReceiptRoot(receipts).span()));
  ev.set_epoch(epoch);
  pb::ExecutedBlock executed;
  executed.set_height(height);
  WriteBatch bb;
  blocks.AddCommitted(decoded, block,
                      SignCert(signers, crypto::Domain::kCommit, SerializeRecord(vote)), receipts,
                      executed, &bb);
  blocks.AddExecutionCertificate(
      height, SignCert(signers, crypto::Domain::kExecutionVote, SerializeRecord(ev)), &bb);
  (void)kv.Write(bb, true);
}

// Ten changes of a set moving between 4 and 7 validators: add, add, add, rotate a key, remove,
// add, remove, remove, rotate, add (ending at 6). Returns the node's history and the last set.
std::vector<EpochChange> TenChanges(const std::vector<crypto::PrivateKey>& genesis,
                                    std::vector<crypto::PrivateKey>& last) {
  std::vector<EpochChange> history;
  std::vector<crypto::PrivateKey> set = genesis;
  const char kSteps[] = "aaaRrarrRa";
  for (size_t i = 0; i < kEpochs; ++i) {
    std::vector<crypto::PrivateKey> next = set;
    switch (kSteps[i]) {
      case 'a':
        next.push_back(crypto::PrivateKey::Generate());
        break;
      case 'r':
        next.erase(next.begin() + static_cast<std::ptrdiff_t>(i % next.size()));
        break;
      default:
        next[i % next.size()] = crypto::PrivateKey::Generate();
    }
    const uint64_t h = (i + 1) * kChangeSpacing;
    const std::vector<crypto::PublicKey> keys = PublicKeys(next);
    pb::BundleExecutionVoteBody body;
    body.set_height(h);
    body.set_block_digest(ToString(Filler("digest", h).span()));
    body.set_state_root(ToString(Filler("state", h).span()));
    body.set_result_root(ToString(Filler("result", h).span()));
    body.set_epoch(i);
    body.set_next_set_hash(ToString(ValidatorSetHash(keys).span()));
    body.set_next_activation_height(h + kEpochActivationDelay);
    history.push_back(
        {h, keys, SignCert(set, crypto::Domain::kExecutionVote, SerializeRecord(body))});
    set = std::move(next);
  }
  last = std::move(set);
  return history;
}

struct Setup {
  std::vector<crypto::PrivateKey> keys;
  TrustAnchor anchor;
  Bytes bundle;
  Bytes bundle10;  // the same account at kEpochHeight, in epoch 10

  Setup() {
    for (size_t i = 0; i < kValidators; ++i)
      keys.push_back(crypto::PrivateKey::Generate());
    anchor.chain_id = kChain;
    anchor.genesis_hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("bench"));
    anchor.validators = PublicKeys(keys);
    MemoryStore kv;
    StateTree tree(&kv);
    BlockStore blocks(&kv);
    std::vector<StateWrite> writes;
    writes.reserve(kAccounts);
    for (size_t i = 0; i < kAccounts; ++i) {
      pb::AccountRecord acc;
      acc.set_id(AccountId(i));
      acc.set_asset("USD.1");
      acc.set_credits_posted(1'000'000 + i);
      acc.set_debits_posted(i);
      acc.set_created_height(kHeight);
      writes.push_back({keys::Account(acc.id()), SerializeRecord(acc)});
    }
    WriteBatch tb;
    Hash32 state_root = tree.Apply(kHeight, writes, &tb).value();
    (void)kv.Write(tb, true);

    CommitBlock(blocks, kv, kHeight, state_root, anchor.genesis_hash, keys, 0);
    ProofRequest req;
    req.kind = pb::BUNDLE_KIND_ACCOUNT;
    std::string id = AccountId(kAccounts / 2);
    req.subject = Bytes(id.begin(), id.end());
    bundle = BuildProofBundle(blocks, tree, kChain, anchor.genesis_hash, req, {}).value();

    // Epoch 10: the tree at kEpochHeight (one more account written), the block signed by set 10.
    std::vector<crypto::PrivateKey> last;
    const std::vector<EpochChange> history = TenChanges(keys, last);
    pb::AccountRecord extra;
    extra.set_id(AccountId(kAccounts));
    extra.set_asset("USD.1");
    extra.set_created_height(kEpochHeight);
    const std::vector<StateWrite> one = {{keys::Account(extra.id()), SerializeRecord(extra)}};
    WriteBatch eb;
    Hash32 root10 = tree.Apply(kEpochHeight, one, &eb).value();
    (void)kv.Write(eb, true);
    CommitBlock(blocks, kv, kEpochHeight, root10, anchor.genesis_hash, last, kEpochs);
    req.height = kEpochHeight;
    bundle10 = BuildProofBundle(blocks, tree, kChain, anchor.genesis_hash, req, history).value();
  }
};

// Built once (a million accounts take seconds), for both benchmarks.
const Setup& TheSetup() {
  static const Setup* setup = new Setup();
  return *setup;
}

void BM_VerifyAccountBundle(benchmark::State& state) {
  const Setup& setup = TheSetup();
  double total_ms = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto facts = VerifyProofBundle(setup.anchor, setup.bundle);
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
    if (!facts) state.SkipWithError(facts.error().message.c_str());
    benchmark::DoNotOptimize(facts);
  }
  state.counters["bundle_verify_ms"] = n ? total_ms / static_cast<double>(n) : 0;
  state.counters["bundle_bytes"] = static_cast<double>(setup.bundle.size());
}
BENCHMARK(BM_VerifyAccountBundle)->Unit(benchmark::kMillisecond);

void BM_VerifyAccountBundleAfter10Epochs(benchmark::State& state) {
  const Setup& setup = TheSetup();
  double total_ms = 0;
  int64_t n = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto facts = VerifyProofBundle(setup.anchor, setup.bundle10);
    total_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    ++n;
    if (!facts || facts->epoch != kEpochs)
      state.SkipWithError(facts ? "not epoch 10" : facts.error().message.c_str());
    benchmark::DoNotOptimize(facts);
  }
  state.counters["bundle10_verify_ms"] = n ? total_ms / static_cast<double>(n) : 0;
  state.counters["bundle10_bytes"] = static_cast<double>(setup.bundle10.size());
}
BENCHMARK(BM_VerifyAccountBundleAfter10Epochs)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
