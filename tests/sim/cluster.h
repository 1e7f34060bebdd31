// Deterministic cluster simulator for the PBFT replica, in the spirit of TigerBeetle's VOPR: n
// replicas in one process, one seed, a simulated clock, a network with latency, loss, duplication,
// reordering and healing partitions, crashes and restarts that keep only what the replica
// persisted, and up to f Byzantine replicas. Every run checks safety, validity, certificate
// validity and liveness after the faults heal; a failure message names the seed and the command
// that replays it.
//
// Thread safety: a simulation is single-threaded; separate simulations share nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "consensus/replica.h"

namespace cl::sim {

enum class Scenario {
  kClean,      // latency only
  kLossy,      // loss, duplication, reordering
  kCrash,      // crashes and restarts of any replicas (all restarted before the heal)
  kPartition,  // partitions that heal, with loss
  kByzantine,  // up to f Byzantine replicas, lossy network
  kMixed,      // Byzantine + partitions + crashes + loss
  // Process pauses (SIGSTOP/SIGCONT) under load: a paused replica gets no input and no ticks; on
  // resume all its timers fire at once, then the input queued meanwhile arrives. Lossy network.
  kPause,
  kIsolatePrimary,  // the current primary is cut off from everyone for 20 s
  kIsolateBackup,   // one backup is cut off from everyone for 20 s
  kFlapLink,        // the link between two replicas goes down and up at random for 15 s
};

const char* ScenarioName(Scenario s);
bool ParseScenario(const std::string& name, Scenario* out);

struct SimOptions {
  uint32_t n = 4;
  Scenario scenario = Scenario::kClean;
  uint64_t seed = 1;
  consensus::PlantedBugs bugs;
  bool verbose = false;
  // Off only to show that a planted bug breaks safety itself, not just a certificate check.
  bool check_certificates = true;
  // 0: small payloads (a few dozen bytes). Otherwise every non-empty payload has this size, and
  // the replicas' max_block_bytes is set to it (at most consensus::kMaxPayloadBytes).
  uint64_t payload_bytes = 0;
  // Sign and verify with secp256k1 ECDSA as the node does, instead of the simulator's cheap scheme
  // with the same accept/reject semantics (cluster.cc, SimKeys). About 5 times slower.
  bool real_crypto = false;
  // "": Byzantine members only in the byzantine and mixed scenarios, attacks drawn from the seed.
  // An attack name (AttackNames()) adds up to f Byzantine members making that attack to any
  // scenario; "any": the seed draws the attacks, in any scenario.
  std::string attack;
  // Validator-set changes (docs/consensus.md "Epochs"): a universe of up to n + 3 (at most 10)
  // nodes, the first n validators at genesis, the rest observers; one to three changes add,
  // remove or replace validators (4..10 of them) while the scenario's faults run, each taking
  // over 65 blocks after the block that commits it. Safety, validity and every certificate are
  // checked against the set of each height's epoch.
  bool reconfigure = false;
};

// silent bad-signatures garbage far-future equivocate conflicting-votes same-digest forged-sync
// future-flood oversize
std::vector<std::string> AttackNames();

// Liveness bound: after the heal (the end of every fault but Byzantine behaviour), within
// kLivenessBoundMs of simulated time, every honest replica must deliver kLivenessBlocks blocks
// beyond the highest height any honest replica had at the heal AND all honest replicas must be in
// one and the same view, none of them in a view change (a replica left alone in a view change no
// longer votes, and the consortium has silently lost fault tolerance).
inline constexpr uint64_t kLivenessBlocks = 3;
inline constexpr uint64_t kLivenessBoundMs = 60'000;

struct SimResult {
  bool ok = true;
  std::string failure;  // first violation, with the seed and the replay command
  uint64_t max_height = 0;
  uint64_t view_changes = 0;
  uint64_t dropped_invalid = 0;   // inputs honest replicas dropped as invalid
  uint64_t dropped_oversize = 0;  // messages larger than a p2p frame carries (never delivered)
  uint64_t sim_time_ms = 0;
  uint64_t deliveries = 0;  // messages delivered (events; some to crashed or cut-off replicas)
  uint64_t ticks = 0;       // timer events
  uint64_t recovered_after_heal_ms = 0;  // when the liveness condition was first met
  uint64_t epochs = 0;                   // validator-set changes that took effect
};

SimResult RunSimulation(const SimOptions& options);

// "build/tests/sim/consensus_sim --n 4 --scenario byzantine --seed 17 [--bug a]"
std::string ReplayCommand(const SimOptions& options);

}  // namespace cl::sim
