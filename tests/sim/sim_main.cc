// consensus_sim: runs the deterministic cluster simulator for a chosen seed or range of seeds.
//   consensus_sim --n 4 --scenario byzantine --seed 17 [--attack same-digest]
//   consensus_sim --n 7 --scenario mixed --from 1 --to 100000 [--bug a..h] [--all-scenarios]
//   consensus_sim --mix --from 1 --to 1000000 --jobs 2 [--failures FILE] [--progress-s 5]
// --mix: each seed draws its scenario, n (4..7) and whether attacks join any scenario (MixOptions);
// the seeds are shared among --jobs threads; progress (seeds done, rate, failures, ETA) is printed
// every few seconds, and each failure's message and replay command is printed and appended to the
// failures file. Exit code 0 when every run passed.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/sim/cluster.h"

namespace {

uint64_t Mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What --mix runs for a seed. n: 4 in half the seeds, 5, 6 and 7 in a sixth each (a run at n = 7
// costs 3.5 times one at n = 4: O(n^2) messages). Scenario: the six short ones (1.5-4 s of faults)
// in 15 seeds of 16, byzantine and mixed twice as often as the others; the four targeted ones
// (15-20 s of fault, 3-4 times the cost; mixed runs pause a replica too) in 1 of 16. In a third of
// the runs of the scenarios without Byzantine members, up to f members make attacks the seed
// draws (--attack any). One seed in eight also changes the validator set (--reconfigure: 15-30 s
// of faults and one to three epochs). Everything else is drawn from the seed inside the run, so the
// replay command printed with a failure (n, scenario, attack, seed) reproduces it.
cl::sim::SimOptions MixOptions(uint64_t seed, const cl::sim::SimOptions& base) {
  using cl::sim::Scenario;
  static constexpr Scenario kShort[] = {
      Scenario::kClean,     Scenario::kLossy,     Scenario::kCrash, Scenario::kPartition,
      Scenario::kByzantine, Scenario::kByzantine, Scenario::kMixed, Scenario::kMixed};
  static constexpr Scenario kTargeted[] = {Scenario::kPause, Scenario::kIsolatePrimary,
                                           Scenario::kIsolateBackup, Scenario::kFlapLink};
  uint64_t h = Mix64(seed ^ 0x6d69782d73656564ULL);
  cl::sim::SimOptions o = base;
  o.seed = seed;
  uint64_t n_draw = h % 6;
  o.n = n_draw < 3 ? 4 : static_cast<uint32_t>(n_draw + 2);
  h = Mix64(h);
  o.scenario = h % 16 == 0 ? kTargeted[(h >> 8) % 4] : kShort[(h >> 8) % 8];
  h = Mix64(h);
  bool has_byzantine = o.scenario == Scenario::kByzantine || o.scenario == Scenario::kMixed;
  o.attack = !has_byzantine && h % 3 == 0 ? "any" : "";
  h = Mix64(h);
  o.reconfigure = base.reconfigure || h % 8 == 0;
  return o;
}

int RunMix(const cl::sim::SimOptions& base, uint64_t from, uint64_t to, uint32_t jobs,
           const std::string& failures_path, double progress_s) {
  constexpr uint64_t kChunk = 16;  // seeds a worker takes at once
  std::atomic<uint64_t> next{from}, done{0}, failed{0};
  std::mutex out_mu;
  std::ofstream failures_file(failures_path, std::ios::app);
  if (!failures_file) {
    std::fprintf(stderr, "cannot open %s\n", failures_path.c_str());
    return 2;
  }
  auto worker = [&]() {
    for (;;) {
      uint64_t first = next.fetch_add(kChunk);
      if (first > to) return;
      uint64_t last = std::min(to, first + kChunk - 1);
      for (uint64_t seed = first; seed <= last; ++seed) {
        cl::sim::SimResult r = cl::sim::RunSimulation(MixOptions(seed, base));
        if (!r.ok) {
          ++failed;
          std::lock_guard<std::mutex> lock(out_mu);
          std::printf("FAIL %s\n", r.failure.c_str());
          std::fflush(stdout);
          failures_file << r.failure << "\n" << std::flush;
        }
        ++done;
      }
    }
  };
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (uint32_t j = 0; j < jobs; ++j)
    threads.emplace_back(worker);
  uint64_t total = to - from + 1;
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto report = [&](const char* what) {
    double secs = elapsed();
    uint64_t d = done.load();
    double rate = secs > 0 ? static_cast<double>(d) / secs : 0;
    double eta = rate > 0 ? static_cast<double>(total - d) / rate : 0;
    std::lock_guard<std::mutex> lock(out_mu);
    std::printf("%s %llu/%llu seeds, %.0f seeds/s, %llu failed, %.0f s elapsed, ETA %.0f s\n", what,
                static_cast<unsigned long long>(d), static_cast<unsigned long long>(total), rate,
                static_cast<unsigned long long>(failed.load()), secs, eta);
    std::fflush(stdout);
  };
  double next_report = progress_s;
  while (done.load() < total) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (elapsed() >= next_report) {
      report("progress");
      next_report += progress_s;
    }
  }
  for (std::thread& t : threads)
    t.join();
  report("done");
  if (failed.load() > 0) std::printf("failures written to %s\n", failures_path.c_str());
  return failed.load() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using cl::sim::Scenario;
  cl::sim::SimOptions opt;
  uint64_t from = 1, to = 1;
  bool mix = false;
  uint32_t jobs = 1;
  std::string failures_path = "consensus_sim_failures.txt";
  double progress_s = 5;
  std::vector<Scenario> scenarios;
  std::vector<uint32_t> sizes;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value after %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--n") {
      sizes.push_back(static_cast<uint32_t>(std::stoul(next())));
    } else if (a == "--scenario") {
      Scenario s;
      if (!cl::sim::ParseScenario(next(), &s)) {
        std::fprintf(stderr,
                     "unknown scenario (clean lossy crash partition byzantine mixed pause "
                     "isolate-primary isolate-backup flap-link)\n");
        return 2;
      }
      scenarios.push_back(s);
    } else if (a == "--all-scenarios") {
      scenarios = {Scenario::kClean,     Scenario::kLossy,          Scenario::kCrash,
                   Scenario::kPartition, Scenario::kByzantine,      Scenario::kMixed,
                   Scenario::kPause,     Scenario::kIsolatePrimary, Scenario::kIsolateBackup,
                   Scenario::kFlapLink};
    } else if (a == "--seed") {
      from = to = std::stoull(next());
    } else if (a == "--from") {
      from = std::stoull(next());
    } else if (a == "--to") {
      to = std::stoull(next());
    } else if (a == "--bug") {
      std::string b = next();
      if (b == "a")
        opt.bugs.quorum_2f = true;
      else if (b == "b")
        opt.bugs.drop_prepared_in_view_change = true;
      else if (b == "c")
        opt.bugs.accept_outside_watermarks = true;
      else if (b == "d")
        opt.bugs.skip_payload_digest_check = true;
      else if (b == "e")
        opt.bugs.accept_unverified_state_reply = true;
      else if (b == "f")
        opt.bugs.skip_view_change_signature = true;
      else if (b == "g")
        opt.bugs.skip_payload_size_check = true;
      else if (b == "h")
        opt.bugs.epoch_one_block_early = true;
      else
        return 2;
    } else if (a == "--payload-bytes") {
      opt.payload_bytes = std::stoull(next());
    } else if (a == "--mix") {
      mix = true;
    } else if (a == "--jobs") {
      jobs = std::max<uint32_t>(1, static_cast<uint32_t>(std::stoul(next())));
    } else if (a == "--failures") {
      failures_path = next();
    } else if (a == "--progress-s") {
      progress_s = std::stod(next());
    } else if (a == "--attack") {
      opt.attack = next();
      auto names = cl::sim::AttackNames();
      if (opt.attack != "any" && std::find(names.begin(), names.end(), opt.attack) == names.end()) {
        std::fprintf(stderr, "unknown attack\n");
        return 2;
      }
    } else if (a == "--real-crypto") {
      opt.real_crypto = true;
    } else if (a == "--reconfigure") {
      opt.reconfigure = true;
    } else if (a == "-v" || a == "--verbose") {
      opt.verbose = true;
    } else {
      std::fprintf(
          stderr,
          "usage: consensus_sim [--n N]... [--scenario S]... [--all-scenarios] "
          "(--seed X | --from A --to B) [--bug a..h] [--payload-bytes B] [--attack NAME|any] "
          "[--real-crypto] [--reconfigure] [--mix --jobs J --failures FILE --progress-s S]\n");
      return 2;
    }
  }
  if (to < from) {
    std::fprintf(stderr, "--to is below --from\n");
    return 2;
  }
  if (mix) return RunMix(opt, from, to, jobs, failures_path, progress_s);
  if (scenarios.empty()) scenarios.push_back(Scenario::kMixed);
  if (sizes.empty()) sizes.push_back(4);
  auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0, failures = 0;
  for (uint64_t seed = from; seed <= to; ++seed) {
    for (uint32_t n : sizes) {
      for (Scenario s : scenarios) {
        opt.n = n;
        opt.scenario = s;
        opt.seed = seed;
        cl::sim::SimResult r = cl::sim::RunSimulation(opt);
        ++runs;
        if (!r.ok) {
          ++failures;
          std::printf("FAIL %s\n", r.failure.c_str());
        } else if (opt.verbose || from == to) {
          std::printf(
              "ok seed %llu n=%u %s: height %llu, views %llu, dropped %llu, %llu ms simulated, "
              "recovered %llu ms after the heal, %llu deliveries, %llu ticks, %llu epochs\n",
              static_cast<unsigned long long>(seed), n, cl::sim::ScenarioName(s),
              static_cast<unsigned long long>(r.max_height),
              static_cast<unsigned long long>(r.view_changes),
              static_cast<unsigned long long>(r.dropped_invalid),
              static_cast<unsigned long long>(r.sim_time_ms),
              static_cast<unsigned long long>(r.recovered_after_heal_ms),
              static_cast<unsigned long long>(r.deliveries),
              static_cast<unsigned long long>(r.ticks), static_cast<unsigned long long>(r.epochs));
        }
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu runs, %llu failed, %.1f s\n", static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures), secs);
  return failures == 0 ? 0 : 1;
}
