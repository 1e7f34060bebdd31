// Proof bundles (docs/proofs.md): the offline verification time of an account bundle and its size,
// with 1,000,000 accounts in the state tree and n = 4 validators (3 signatures per certificate).
// Figures: bundle_verify_ms, bundle_bytes.
#include <benchmark/benchmark.h>

#include <chrono>

#include "crypto/sha256.h"
#include "ledger/block.h"
#include "ledger/block_store.h"
#include "ledger/ledger_state.h"
#include "ledger/memory_store.h"
#include "ledger/proof_bundle.h"
#include "ledger/state_tree.h"

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

Bytes SignCert(const std::vector<crypto::PrivateKey>& keys, crypto::Domain tag, const Bytes& body) {
  pb::BundleCertificate cert;
  cert.set_body(ToString(body));
  Hash32 digest = crypto::SignedDigest(tag, kChain, body);
  for (uint32_t i = 0; i < 3; ++i) {
    pb::BundleSigner* s = cert.add_signers();
    s->set_replica(i);
    s->set_signature(ToString(keys[i].Sign(digest).span()));
  }
  return SerializeRecord(cert);
}

struct Setup {
  std::vector<crypto::PrivateKey> keys;
  TrustAnchor anchor;
  Bytes bundle;

  Setup() {
    for (size_t i = 0; i < kValidators; ++i)
      keys.push_back(crypto::PrivateKey::Generate());
    anchor.chain_id = kChain;
    anchor.genesis_hash = crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan("bench"));
    std::vector<Bytes> vkeys;
    for (const auto& k : keys) {
      anchor.validators.push_back(k.GetPublicKey());
      vkeys.emplace_back(anchor.validators.back().bytes.begin(),
                         anchor.validators.back().bytes.end());
    }
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

    pb::BlockHeader header;
    header.set_chain_id(kChain);
    header.set_height(kHeight);
    header.set_prev_header_hash(ToString(anchor.genesis_hash.span()));
    header.set_timestamp_ms(1'700'000'000'000);
    header.set_validator_set_hash(ToString(MerkleRoot(vkeys).span()));
    Bytes block = EncodeBlock(header, {}, {});
    DecodedBlock decoded = DecodeBlock(block, kChain).value();
    pb::ReceiptList receipts;
    pb::BundleVoteBody vote;
    vote.set_seq(kHeight);
    vote.set_digest(ToString(decoded.header_hash.span()));
    pb::BundleExecutionVoteBody ev;
    ev.set_height(kHeight);
    ev.set_block_digest(ToString(decoded.header_hash.span()));
    ev.set_state_root(ToString(state_root.span()));
    ev.set_result_root(ToString(ReceiptRoot(receipts).span()));
    pb::ExecutedBlock executed;
    executed.set_height(kHeight);
    WriteBatch bb;
    blocks.AddCommitted(decoded, block,
                        SignCert(keys, crypto::Domain::kCommit, SerializeRecord(vote)), receipts,
                        executed, &bb);
    blocks.AddExecutionCertificate(
        kHeight, SignCert(keys, crypto::Domain::kExecutionVote, SerializeRecord(ev)), &bb);
    (void)kv.Write(bb, true);
    ProofRequest req;
    req.kind = pb::BUNDLE_KIND_ACCOUNT;
    std::string id = AccountId(kAccounts / 2);
    req.subject = Bytes(id.begin(), id.end());
    bundle = BuildProofBundle(blocks, tree, kChain, anchor.genesis_hash, req, {}).value();
  }
};

void BM_VerifyAccountBundle(benchmark::State& state) {
  static Setup setup;
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

}  // namespace

BENCHMARK_MAIN();
