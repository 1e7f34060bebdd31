// consensus_sim: runs the deterministic cluster simulator for a chosen seed or range of seeds.
//   consensus_sim --n 4 --scenario byzantine --seed 17
//   consensus_sim --n 7 --scenario mixed --from 1 --to 100000 [--bug a|b|c] [--all-scenarios]
// Exit code 0 when every run passed; every failure prints its seed and the command that replays it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"

int main(int argc, char** argv) {
  using cl::sim::Scenario;
  cl::sim::SimOptions opt;
  uint64_t from = 1, to = 1;
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
      else
        return 2;
    } else if (a == "--payload-bytes") {
      opt.payload_bytes = std::stoull(next());
    } else if (a == "--real-crypto") {
      opt.real_crypto = true;
    } else if (a == "-v" || a == "--verbose") {
      opt.verbose = true;
    } else {
      std::fprintf(stderr,
                   "usage: consensus_sim [--n N]... [--scenario S]... [--all-scenarios] "
                   "(--seed X | --from A --to B) [--bug a|b|c] [--payload-bytes B]\n");
      return 2;
    }
  }
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
              "recovered %llu ms after the heal\n",
              static_cast<unsigned long long>(seed), n, cl::sim::ScenarioName(s),
              static_cast<unsigned long long>(r.max_height),
              static_cast<unsigned long long>(r.view_changes),
              static_cast<unsigned long long>(r.dropped_invalid),
              static_cast<unsigned long long>(r.sim_time_ms),
              static_cast<unsigned long long>(r.recovered_after_heal_ms));
        }
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu runs, %llu failed, %.1f s\n", static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(failures), secs);
  return failures == 0 ? 0 : 1;
}
