// Executor throughput: execute_transfers_per_s = simple immediate transfers per second on one core
// over 1,000,000 accounts, signature checks excluded (transactions are verified before timing),
// state tree update and LevelDB commit (synced, one batch per block) included.
// Blocks of 10,000 transfers in 157 transactions of up to 64 operations; random account pairs.
// Storage as in a node (node/ledger_app.h): the state tree in a LevelDB of its own, the flat index
// of latest values in the chain's LevelDB; each block writes the tree's batch, then the index's,
// both synced. State reads at the latest version go through LatestStateIndex (flat values +
// cache). Each block
// is also executed once through plain tree walks (the reads before the index), alternating which
// runs first; both outcomes must agree, and the walk figure is reported as
// execute_transfers_per_s_tree_reads (same commit cost, walk-based execution).
// execute_cpu_transfers_per_s* count execution alone in thread CPU time (no commit).
// EXECUTOR_BENCH_PHASES=1 prints each block's execute (indexed, tree-walk; wall and CPU) / tree /
// write seconds, and the commit's CPU in all of the process's threads, to stderr;
// execute_commit_cpu_transfers_per_s counts execution (thread CPU) plus that commit CPU, the
// figure least moved by other load on the machine. EXECUTOR_BENCH_BATCH=1 prints each block's
// write batch per key family (records and bytes). EXECUTOR_BENCH_NO_WALK=1 skips the tree-walk
// run (and its figures), for profiling the indexed path alone.
// After the timed blocks, the write floor: every block's two batches are written again into fresh
// stores by LevelDB alone (write_floor_transfers_per_s, and execute_and_write_floor_transfers_per_s
// with execution's CPU added: ceilings for one core whatever the tree update costs).
// EXECUTOR_BENCH_FLOOR_SPLIT=1 also prints the floor's parts: the tree's batches alone, the
// index's alone, and the tree's bytes packed into 64 KB records (as few large records would be).
// Last, one core's signature verify rate in the same run (executor_run_verify_per_s) and
// execute_commit_cpu_verify_ratio: execute_commit_cpu_transfers_per_s against it, i.e. how many
// simple transfers one core executes and commits in the time it checks one signature.
// The accounts are committed through the index, whose value cache keeps the records it commits
// (as a node's does from genesis on), so execution reads accounts from memory. With
// EXECUTOR_BENCH_COLD_CACHE=1 the blocks run on a fresh index instead (a restarted node: every
// account's first read is a LevelDB Get).
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "ledger/executor.h"
#include "ledger/genesis_state.h"
#include "ledger/ledger_state.h"
#include "ledger/leveldb_store.h"
#include "ledger/tree_state.h"
#include "util/canonical_proto.h"

namespace cl::ledger {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kAccounts = 1'000'000;
constexpr size_t kTransfersPerBlock = 10'000;
constexpr size_t kBuildBatchAccounts = 100'000;
constexpr uint64_t kStartBalance = 1'000'000'000;
constexpr const char* kChain = "bench";

std::string Id(uint64_t n) {
  Bytes b(8, 0);
  AppendU64BE(b, n);
  return ToString(b);
}

// CPU seconds of the calling thread: execution is single-threaded, and on a loaded machine its
// wall time mostly measures waiting for a core.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds of the whole process (every thread: the tree's second Apply thread, LevelDB's
// background flush), for a load-independent view of what the commit costs.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

crypto::PrivateKey OwnerKey() {
  Bytes secret(32, 0);
  secret[31] = 7;
  return *crypto::PrivateKey::FromBytes(secret);
}

// Signatures one core verifies per second (thread CPU time), measured in the calling run so that
// the executor's figures can be set against the signature check a one-transfer transaction pays.
double VerifyPerCpuSecond(const crypto::PrivateKey& key) {
  constexpr int kSignatures = 2000;
  const crypto::PublicKey pub = key.GetPublicKey();
  std::vector<Hash32> digests(kSignatures);
  std::vector<crypto::Signature> sigs(kSignatures);
  for (int i = 0; i < kSignatures; ++i) {
    digests[i] = crypto::Sha256Of(AsSpan(std::to_string(i)));
    sigs[i] = key.Sign(digests[i]);
  }
  const double cpu0 = ThreadCpuSeconds();
  int valid = 0;
  for (int i = 0; i < kSignatures; ++i)
    valid += crypto::Verify(pub, digests[i], sigs[i]) ? 1 : 0;
  const double cpu = ThreadCpuSeconds() - cpu0;
  return valid == kSignatures ? kSignatures / cpu : 0;
}

using BlockBatches = std::vector<std::pair<WriteBatch, WriteBatch>>;  // the tree's, the chain's

// Writes the blocks' batches again, synced, into fresh stores under `dir` with the node's options
// (kBoth: each block's two batches into two stores, as LedgerApp does; or one part alone, or the
// tree's bytes packed into 64 KB records) and returns the process CPU seconds it took, LevelDB's
// background thread included; nullopt when a write fails. The stores are closed before it returns
// (their background work done), so runs one after another do not overlap.
enum class FloorPart { kBoth, kTree, kChainBatch, kTreePacked };
std::optional<double> WriteFloorPart(const fs::path& dir, const BlockBatches& blocks,
                                     FloorPart which) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  auto store = LevelDbStore::Open(dir / "a", LevelDbOptions{});
  if (!store) return std::nullopt;
  std::unique_ptr<LevelDbStore> second;  // the chain's store, for kBoth only
  if (which == FloorPart::kBoth) {
    auto opened = LevelDbStore::Open(dir / "b", LevelDbOptions{});
    if (!opened) return std::nullopt;
    second = std::move(*opened);
  }
  constexpr size_t kPackedRecordBytes = 64 * 1024;
  uint64_t packed_records = 0;
  WriteBatch packed;
  Bytes record;
  auto add_packed = [&] {
    Bytes key(8, 0);
    AppendU64BE(key, ++packed_records);
    packed.Put(key, record);
    record.clear();
  };
  const double cpu0 = ProcessCpuSeconds();
  for (const auto& [tree_part, chain_part] : blocks) {
    const WriteBatch* batch = which == FloorPart::kChainBatch ? &chain_part : &tree_part;
    if (which == FloorPart::kTreePacked) {
      packed.Clear();
      tree_part.ForEach([&](ByteSpan key, std::optional<ByteSpan> value) {
        record.insert(record.end(), key.begin(), key.end());
        if (value) record.insert(record.end(), value->begin(), value->end());
        if (record.size() >= kPackedRecordBytes) add_packed();
      });
      if (!record.empty()) add_packed();
      batch = &packed;
    }
    if (!(*store)->Write(*batch, true).has_value()) return std::nullopt;
    if (second != nullptr && !second->Write(chain_part, true).has_value()) {
      return std::nullopt;
    }
  }
  const double cpu = ProcessCpuSeconds() - cpu0;
  store->reset();
  second.reset();
  return cpu;
}

void BM_ExecuteTransfers(benchmark::State& state) {
  char tmpl[] = "/tmp/cl_executor_bench_XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  auto store = LevelDbStore::Open(dir / "db", LevelDbOptions{});
  auto state_store = LevelDbStore::Open(dir / "state", LevelDbOptions{});
  if (!store || !state_store) {
    state.SkipWithError((store ? state_store.error() : store.error()).ToString().c_str());
    return;
  }
  StateTree tree(state_store->get());
  // The tree's batch, then the chain's (here only the index), as LedgerApp writes them.
  WriteBatch tree_batch;
  auto write_both = [&](const WriteBatch& chain_batch) {
    return (*state_store)->Write(tree_batch, true).has_value() &&
           (*store)->Write(chain_batch, true).has_value();
  };
  auto index_owner = std::make_unique<LatestStateIndex>(store->get(), tree);
  LatestStateIndex& index = *index_owner;
  crypto::PrivateKey owner = OwnerKey();
  pb::Controller controller;
  controller.set_threshold(1);
  controller.add_keys(ToString(owner.GetPublicKey().span()));

  // Genesis: one member and asset; the issuer account backs every account's starting balance.
  GenesisState g;
  g.governance_threshold = 1;
  pb::MemberRecord m;
  m.set_id(1);
  m.set_name("Bank");
  m.set_node_key(ToString(owner.GetPublicKey().span()));
  *m.mutable_governance() = controller;
  g.members.push_back(m);
  pb::AssetRecord asset;
  asset.set_code("USD");
  asset.set_issuer(1);
  asset.set_issuer_account(Id(0xFFFFFFFF00ULL));
  g.assets.push_back(asset);
  GenesisAccount issuer;
  issuer.record.set_id(asset.issuer_account());
  issuer.record.set_asset("USD");
  *issuer.record.mutable_controller() = controller;
  issuer.record.set_custodian(1);
  issuer.record.set_issuer(true);
  issuer.negative = true;
  issuer.balance = kAccounts * kStartBalance;
  g.accounts.push_back(issuer);
  // The 1,000,000 accounts are written straight into the tree in batches (BuildGenesisState would
  // hold them all in one map); the issuer's debits are set to match their credits.
  std::vector<StateChange> base;
  {
    GenesisState small = g;
    small.accounts[0].balance = 0;
    small.accounts[0].negative = false;
    auto changes = BuildGenesisState(small);
    if (!changes) {
      state.SkipWithError(changes.error().ToString().c_str());
      return;
    }
    base = *changes;
    pb::AccountRecord rec = issuer.record;
    rec.set_debits_posted(issuer.balance);
    for (auto& c : base) {
      if (c.key == keys::Account(rec.id())) c.value = SerializeRecord(rec);
    }
  }
  uint64_t version = 0;
  {
    WriteBatch batch;
    tree_batch.Clear();
    auto root = CommitChanges(tree, version, base, &tree_batch, &batch, &index);
    if (!root || !write_both(batch)) {
      state.SkipWithError("genesis commit failed");
      return;
    }
  }
  for (uint64_t startid = 1; startid <= kAccounts; startid += kBuildBatchAccounts) {
    std::vector<StateChange> changes;
    for (uint64_t i = startid; i < startid + kBuildBatchAccounts && i <= kAccounts; ++i) {
      pb::AccountRecord a;
      a.set_id(Id(i));
      a.set_asset("USD");
      *a.mutable_controller() = controller;
      a.set_custodian(1);
      a.set_credits_posted(kStartBalance);
      changes.push_back(StateChange{keys::Account(a.id()), SerializeRecord(a)});
    }
    std::sort(changes.begin(), changes.end(),
              [](const StateChange& x, const StateChange& y) { return BytesLess()(x.key, y.key); });
    WriteBatch batch;
    tree_batch.Clear();
    auto root = CommitChanges(tree, ++version, changes, &tree_batch, &batch, &index);
    if (!root || !write_both(batch)) {
      state.SkipWithError("account build failed");
      return;
    }
  }

  LatestStateIndex* block_index = &index;
  std::unique_ptr<LatestStateIndex> cold_index;
  if (getenv("EXECUTOR_BENCH_COLD_CACHE")) {
    cold_index = std::make_unique<LatestStateIndex>(store->get(), tree);
    if (!cold_index->enabled()) {
      state.SkipWithError("a reopened index is not enabled");
      return;
    }
    block_index = cold_index.get();
    index_owner.reset();  // its cache's memory; not used from here on
  }
  uint64_t rng = 42, next_transfer = 1ULL << 40, transfers = 0;
  uint64_t time_ms = 1'700'000'000'000;
  WriteBatch block_batch;
  // Every block's two batches, kept (outside the timed region) for the write floor below.
  BlockBatches written_batches;
  double commit_cpu_total = 0;
  double seconds = 0, walk_total_seconds = 0, execute_cpu_total = 0, walk_cpu_total = 0;
  for (auto _ : state) {
    // Build and verify the block's transactions outside the timed region.
    std::vector<VerifiedTx> txs;
    for (size_t done = 0; done < kTransfersPerBlock;) {
      pb::TxBody body;
      body.set_chain_id(kChain);
      body.set_valid_until_height(version + 10);
      body.set_nonce(next_transfer);
      for (size_t k = 0; k < kMaxOpsPerTx && done < kTransfersPerBlock; ++k, ++done) {
        uint64_t from = 1 + SplitMix(rng) % kAccounts;
        uint64_t to = 1 + SplitMix(rng) % kAccounts;
        if (to == from) to = from % kAccounts + 1;
        auto* t = body.add_operations()->mutable_transfer();
        t->set_id(Id(next_transfer++));
        t->set_debit_account(Id(from));
        t->set_credit_account(Id(to));
        t->set_amount(1 + SplitMix(rng) % 100);
      }
      auto tx = VerifyEnvelope(SignTransaction(body, std::vector{owner}), kChain);
      if (!tx) {
        state.SkipWithError(tx.error().ToString().c_str());
        return;
      }
      txs.push_back(std::move(*tx));
    }
    time_ms += 500;
    const BlockInfo info{kChain, version + 1, time_ms};
    // The walk-based run, before or after the timed one (alternating), for the comparison.
    double walk_seconds = 0, walk_cpu = 0;
    Result<BlockOutcome> walk_out = MakeError(ErrorCode::kInternal, "not run");
    auto run_walk = [&] {
      auto t0 = std::chrono::steady_clock::now();
      double c0 = ThreadCpuSeconds();
      TreeStateReader walk_reader(tree, version);
      walk_out = ExecuteBlock(walk_reader, info, txs);
      walk_cpu = ThreadCpuSeconds() - c0;
      walk_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const bool walk = getenv("EXECUTOR_BENCH_NO_WALK") == nullptr;
    if (walk && version % 2 == 0) run_walk();
    auto start = std::chrono::steady_clock::now();
    double cpu0 = ThreadCpuSeconds();
    TreeStateReader reader(tree, version, block_index);
    auto out = ExecuteBlock(reader, info, txs);
    auto executed = std::chrono::steady_clock::now();
    const double execute_cpu = ThreadCpuSeconds() - cpu0;
    if (walk && version % 2 != 0) run_walk();
    if (!out || (walk && (!walk_out || out->changes != walk_out->changes))) {
      state.SkipWithError("indexed and tree-walk execution disagree or failed");
      return;
    }
    auto commit_start = std::chrono::steady_clock::now();
    const double commit_cpu0 = ProcessCpuSeconds();
    WriteBatch& batch = block_batch;  // reused, as the node does
    batch.Clear();
    tree_batch.Clear();
    auto root = CommitChanges(tree, version + 1, out->changes, &tree_batch, &batch, block_index);
    auto applied = std::chrono::steady_clock::now();
    if (!root || !write_both(batch)) {
      state.SkipWithError("block commit failed");
      return;
    }
    auto written = std::chrono::steady_clock::now();
    const double commit_cpu = ProcessCpuSeconds() - commit_cpu0;
    written_batches.emplace_back(tree_batch, batch);
    commit_cpu_total += commit_cpu;
    const double execute_s = std::chrono::duration<double>(executed - start).count();
    const double commit_s = std::chrono::duration<double>(written - commit_start).count();
    if (getenv("EXECUTOR_BENCH_BATCH")) {
      std::map<std::string, std::pair<size_t, size_t>> fam;
      auto count = [&](ByteSpan k, std::optional<ByteSpan> v) {
        std::string f(reinterpret_cast<const char*>(k.data()), std::min<size_t>(3, k.size()));
        if (f.size() >= 3 && f[2] != 'N') f.resize(2);
        auto& e = fam[f];
        e.first++;
        e.second += k.size() + (v ? v->size() : 0);
      };
      tree_batch.ForEach(count);
      batch.ForEach(count);
      for (auto& [f, e] : fam)
        fprintf(stderr, "  %s: %zu records %zu bytes\n", f.c_str(), e.first, e.second);
    }
    if (getenv("EXECUTOR_BENCH_PHASES")) {
      fprintf(stderr,
              "execute %.3f s (cpu %.3f s), with tree walks instead %.3f s (cpu %.3f s); tree %.3f "
              "s, write %.3f s; commit process cpu %.3f s\n",
              execute_s, execute_cpu, walk_seconds, walk_cpu,
              std::chrono::duration<double>(applied - commit_start).count(),
              std::chrono::duration<double>(written - applied).count(), commit_cpu);
    }
    ++version;
    seconds += execute_s + commit_s;
    walk_total_seconds += walk_seconds + commit_s;
    execute_cpu_total += execute_cpu;
    walk_cpu_total += walk_cpu;
    transfers += kTransfersPerBlock;
    state.SetIterationTime(execute_s + commit_s);
  }
  state.counters["execute_transfers_per_s"] = static_cast<double>(transfers) / seconds;
  // Execution alone in thread CPU time (indexed, and with tree walks), free of the machine's load.
  state.counters["execute_cpu_transfers_per_s"] =
      static_cast<double>(transfers) / execute_cpu_total;
  // Execution (thread CPU) plus the commit's CPU in every thread of the process.
  state.counters["execute_commit_cpu_transfers_per_s"] =
      static_cast<double>(transfers) / (execute_cpu_total + commit_cpu_total);
  if (walk_cpu_total > 0) {  // the tree-walk run was not skipped
    state.counters["execute_transfers_per_s_tree_reads"] =
        static_cast<double>(transfers) / walk_total_seconds;
    state.counters["execute_cpu_transfers_per_s_tree_reads"] =
        static_cast<double>(transfers) / walk_cpu_total;
  }
  store->reset();
  state_store->reset();
  // The write floor: the same batches written again by LevelDB alone (no execution, no tree), into
  // empty stores, so a little cheaper than in the run above. What storing the blocks' records
  // costs, whatever the tree and the executor do.
  auto floor_cpu = WriteFloorPart(dir / "floor", written_batches, FloorPart::kBoth);
  if (!floor_cpu) {
    state.SkipWithError("write floor: a write failed");
    fs::remove_all(dir);
    return;
  }
  if (getenv("EXECUTOR_BENCH_FLOOR_SPLIT")) {
    auto tree_cpu = WriteFloorPart(dir / "floor_tree", written_batches, FloorPart::kTree);
    auto chain_cpu = WriteFloorPart(dir / "floor_chain", written_batches, FloorPart::kChainBatch);
    auto packed_cpu = WriteFloorPart(dir / "floor_packed", written_batches, FloorPart::kTreePacked);
    if (!tree_cpu || !chain_cpu || !packed_cpu) {
      state.SkipWithError("write floor split: a write failed");
      fs::remove_all(dir);
      return;
    }
    const double blocks = static_cast<double>(written_batches.size());
    fprintf(stderr,
            "write floor per block (CPU): both stores %.1f ms; the tree's batch alone %.1f ms, the "
            "index's alone %.1f ms, the tree's bytes in 64 KB records %.1f ms\n",
            *floor_cpu / blocks * 1e3, *tree_cpu / blocks * 1e3, *chain_cpu / blocks * 1e3,
            *packed_cpu / blocks * 1e3);
  }
  // The reason for the target: execution far below the cost of signature checks. The
  // one-core figure (execution and commit, CPU of all threads) against one core's verify rate,
  // both from this run.
  const double verify_per_s = VerifyPerCpuSecond(owner);
  if (verify_per_s == 0) {
    state.SkipWithError("a signature did not verify");
    fs::remove_all(dir);
    return;
  }
  state.counters["executor_run_verify_per_s"] = verify_per_s;
  state.counters["execute_commit_cpu_verify_ratio"] =
      static_cast<double>(transfers) / (execute_cpu_total + commit_cpu_total) / verify_per_s;
  // Transfers per second if writing the records were all a block cost, and if execution plus
  // writing were (a tree update costing nothing): ceilings on execute_transfers_per_s for one core.
  state.counters["write_floor_transfers_per_s"] = static_cast<double>(transfers) / *floor_cpu;
  state.counters["execute_and_write_floor_transfers_per_s"] =
      static_cast<double>(transfers) / (execute_cpu_total + *floor_cpu);
  fs::remove_all(dir);
}
// The executor alone over an in-memory map of the same 1,000,000 accounts (no tree, no disk): how
// much of a block's time is the ledger rules themselves. Reported as execute_only_transfers_per_s.
void BM_ExecuteTransfersInMemory(benchmark::State& state) {
  crypto::PrivateKey owner = OwnerKey();
  pb::Controller controller;
  controller.set_threshold(1);
  controller.add_keys(ToString(owner.GetPublicKey().span()));
  BytesMap<Bytes> entries;
  for (uint64_t i = 1; i <= kAccounts; ++i) {
    pb::AccountRecord a;
    a.set_id(Id(i));
    a.set_asset("USD");
    *a.mutable_controller() = controller;
    a.set_custodian(1);
    a.set_credits_posted(kStartBalance);
    entries.emplace(keys::Account(a.id()), SerializeRecord(a));
  }
  MapStateReader reader(std::move(entries));
  uint64_t rng = 42, next_transfer = 1ULL << 40, transfers = 0, height = 1;
  uint64_t time_ms = 1'700'000'000'000;
  double seconds = 0;
  for (auto _ : state) {
    std::vector<VerifiedTx> txs;
    for (size_t done = 0; done < kTransfersPerBlock;) {
      pb::TxBody body;
      body.set_chain_id(kChain);
      body.set_valid_until_height(height + 10);
      body.set_nonce(next_transfer);
      for (size_t k = 0; k < kMaxOpsPerTx && done < kTransfersPerBlock; ++k, ++done) {
        uint64_t from = 1 + SplitMix(rng) % kAccounts;
        uint64_t to = 1 + SplitMix(rng) % kAccounts;
        if (to == from) to = from % kAccounts + 1;
        auto* t = body.add_operations()->mutable_transfer();
        t->set_id(Id(next_transfer++));
        t->set_debit_account(Id(from));
        t->set_credit_account(Id(to));
        t->set_amount(1 + SplitMix(rng) % 100);
      }
      txs.push_back(*VerifyEnvelope(SignTransaction(body, std::vector{owner}), kChain));
    }
    auto start = std::chrono::steady_clock::now();
    time_ms += 500;
    auto out = ExecuteBlock(reader, BlockInfo{kChain, height++, time_ms}, txs);
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!out) {
      state.SkipWithError(out.error().ToString().c_str());
      return;
    }
    reader.Apply(out->changes);
    seconds += elapsed;
    transfers += kTransfersPerBlock;
    state.SetIterationTime(elapsed);
  }
  state.counters["execute_only_transfers_per_s"] = static_cast<double>(transfers) / seconds;
}
BENCHMARK(BM_ExecuteTransfersInMemory)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

BENCHMARK(BM_ExecuteTransfers)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(10);

// Admission's parse of one transfer transaction with range(0) operations. range(1): 0 = protobuf's
// own parse of the envelope and its body; 1 = the strict parse of both (util/canonical_proto.h:
// parse, unknown-field walk, re-encode and compare), so 1 minus 0 is what strictness costs; 2 = all
// of ParseTransaction (strict parse, key decoding, field checks, two digests). Compare with
// crypto_bench's BM_EcdsaVerify: admission verifies at least one signature per transaction.
void BM_ParseTransaction(benchmark::State& state) {
  const size_t ops = static_cast<size_t>(state.range(0));
  const int64_t mode = state.range(1);
  pb::TxBody body;
  body.set_chain_id(kChain);
  body.set_valid_until_height(10);
  body.set_nonce(1);
  for (size_t k = 0; k < ops; ++k) {
    auto* t = body.add_operations()->mutable_transfer();
    t->set_id(Id(100 + k));
    t->set_debit_account(Id(1));
    t->set_credit_account(Id(2));
    t->set_amount(1 + k);
  }
  const Bytes envelope = SignTransaction(body, std::vector{OwnerKey()});
  for (auto _ : state) {
    if (mode == 2) {
      auto parsed = ParseTransaction(envelope, kChain);
      benchmark::DoNotOptimize(parsed);
      continue;
    }
    pb::TxEnvelope env;
    pb::TxBody parsed;
    bool ok = false;
    if (mode == 1) {
      ok = ParseCanonical(env, envelope, "envelope").has_value() &&
           ParseCanonical(parsed, env.body(), "envelope.body").has_value();
    } else {
      ok = env.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())) &&
           parsed.ParseFromString(env.body());
    }
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseTransaction)->ArgsProduct({{1, 64}, {0, 1, 2}});

}  // namespace
}  // namespace cl::ledger

BENCHMARK_MAIN();
