// ledger-soak: a local consortium of real ledgerd processes under a load of signed transactions,
// while a seeded nemesis kills (SIGKILL), pauses (SIGSTOP/SIGCONT) and cleanly restarts
// validators and observers at random, never more than f validators at once. At the end it heals
// every node, waits until all reach one height, and checks: every acknowledged transaction is
// committed (same height, same receipt) on every node; every node has the same chain and state
// root; per asset, the accounts' balances add up to the supply the node reports and equal what the
// committed receipts imply; the chain never stalled longer than a bound; no node crashed, every
// clean stop exited 0, every healed node caught up. docs/testing.md ("Soak: real processes under
// a nemesis") describes it; scripts/soak.sh builds and runs it.
//
// Not a CTest test: a run lasts minutes to hours. Exit code 0 only when every check passes. The
// consortium's directory (node logs and data) is kept on failure and printed.
//
// Threads: the main thread owns every process (the harness's death signal follows the spawning
// thread) and runs the nemesis and the monitor; the workload has a submitter and a tracker thread.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/soak/workload.h"
#include "util/hex.h"

namespace cl::soak {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr uint32_t kStatusTimeoutMs = 1'000;     // the monitor's status poll of one node
constexpr uint32_t kCheckRpcTimeoutMs = 10'000;  // calls of the final checks
constexpr uint32_t kTickMs = 100;                // main loop period
constexpr uint32_t kPollEveryMs = 1'000;         // status of every node
constexpr uint32_t kProgressEveryMs = 30'000;    // progress line
constexpr uint32_t kStopTimeoutMs = 15'000;      // SIGTERM to exit, else SIGKILL and a failure
constexpr uint32_t kRespawnRetryMs = 5'000;      // after a spawn that failed
constexpr uint64_t kChainCountBatch = 200;       // get_block calls per monitor poll
constexpr size_t kRpcBatch = 200;                // under the server's batch limit
constexpr size_t kMismatchesShown = 5;           // per check and node
constexpr size_t kLogTailLines = 20;             // printed for a crashed node

std::atomic<bool> g_interrupted{false};

struct Options {
  double duration_s = 300;
  std::optional<uint64_t> seed;
  uint32_t validators = 4;
  uint32_t observers = 2;
  double rate = 20;
  double nemesis_min_s = 3;
  double nemesis_max_s = 15;
  double down_max_s = 20;   // a killed node stays down up to this long
  double pause_max_s = 12;  // a paused node stays stopped up to this long (base view timeout: 2 s)
  double max_stall_s = 30;
  // Validators the nemesis may fault at once; -1 means f. More than f is for checking that the
  // liveness check fails (the chain must then stall).
  int max_faulty_validators = -1;
  double recover_timeout_s = 120;
  double drain_timeout_s = 90;
  double converge_timeout_s = 180;
  std::string summary;
  bool keep = false;
};

enum class Action { kKill, kPause, kRestart };
constexpr std::array<const char*, 3> kActionNames{"kill", "pause", "restart"};

enum class NodeState { kUp, kPaused, kDead, kStopping, kRecovering };

struct NodeTrack {
  NodeState state = NodeState::kUp;
  Clock::time_point heal_at;       // paused or dead: when the nemesis heals it
  Clock::time_point since;         // stopping / recovering: since when
  uint64_t recover_height = 0;     // recovering: caught up once at this height
  bool recover_late = false;       // a slow recovery was already recorded as a failure
  std::optional<uint64_t> height;  // last status answer
  uint64_t fault_number = 0;       // the nemesis action that faulted it
};

struct Check {
  explicit Check(std::string check_name) : name(std::move(check_name)) {}
  std::string name;
  bool passed = true;
  std::vector<std::string> details;
  void Fail(std::string detail) {
    passed = false;
    details.push_back(std::move(detail));
  }
};

double SecondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

class Soak {
 public:
  Soak(Cluster& cluster, Workload& workload, const Options& options, uint64_t seed)
      : c_(cluster),
        load_(workload),
        o_(options),
        seed_(seed),
        rng_(seed),
        nodes_(cluster.size()),
        f_((options.validators - 1) / 3),
        max_faulty_(options.max_faulty_validators < 0
                        ? f_
                        : static_cast<uint32_t>(options.max_faulty_validators)),
        start_(Clock::now()),
        last_progress_(start_) {}

  void Run();
  bool Finish();  // heal, converge, check, summarize; true when every check passed

 private:
  void Log(const std::string& line) const {
    std::fputs(fmt::format("[{:7.1f}s] {}\n", SecondsBetween(start_, Clock::now()), line).c_str(),
               stdout);
    std::fflush(stdout);
  }
  const std::string& Name(size_t i) const { return c_.member(i).name; }
  std::string Role(size_t i) const { return c_.member(i).validator ? "validator" : "observer"; }
  size_t FaultyValidators() const;
  void Tick(bool nemesis);
  void Nemesis();
  void Heal(size_t i, const char* how);
  void Respawn(size_t i);
  void WatchProcesses();
  void Poll();
  void CountChainTxs(size_t node);
  void Progress();
  void Failure(const std::string& what);
  void HealAll();
  bool Converge();
  void CheckTransactions(Check& acked, Check& agree, std::vector<Workload::FinalState>& finals);
  void CheckChain(Check& chain);
  void CheckBalances(Check& supply, const std::vector<TxRecord>& records,
                     const std::vector<Workload::FinalState>& finals);
  json::object Summary(const std::vector<Check>& checks, bool passed) const;

  Cluster& c_;
  Workload& load_;
  const Options o_;
  const uint64_t seed_;
  std::mt19937_64 rng_;  // the nemesis's stream
  std::vector<NodeTrack> nodes_;
  const uint32_t f_;
  const uint32_t max_faulty_;
  const Clock::time_point start_;
  Clock::time_point run_end_;
  Clock::time_point next_action_ = start_;
  Clock::time_point next_poll_ = start_;
  Clock::time_point next_progress_ = start_ + std::chrono::milliseconds(kProgressEveryMs);
  bool tracking_stalls_ = true;
  // Liveness: the highest height any node reported and when it last grew.
  uint64_t max_height_ = 0;
  Clock::time_point last_progress_;
  double longest_stall_s_ = 0;
  double longest_stall_at_s_ = 0;  // when the longest stall began, from the start
  std::string longest_stall_faults_;
  double longest_recovery_s_ = 0;
  double longest_ack_s_ = 0;  // from first submission to acknowledgement, over every tx
  std::string slowest_ack_;   // that transaction
  // The chain's committed transactions, counted block by block.
  uint64_t counted_height_ = 0;
  uint64_t chain_txs_ = 0;
  // Nemesis.
  uint64_t actions_ = 0;
  std::array<uint64_t, 3> actions_by_kind_{};
  uint64_t skipped_ = 0;
  std::vector<std::string> failures_;  // crashes, unclean stops, late recoveries
  uint64_t final_height_ = 0;
  double run_s_ = 0;
  std::string final_state_root_;
  bool converged_ = false;
  size_t unacknowledged_at_end_ = 0;
  size_t committed_by_end_ = 0;
};

size_t Soak::FaultyValidators() const {
  size_t n = 0;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (c_.member(i).validator && nodes_[i].state != NodeState::kUp) n++;
  return n;
}

void Soak::Failure(const std::string& what) {
  failures_.push_back(what);
  Log("FAILURE: " + what);
}

void Soak::Run() {
  run_end_ = start_ + std::chrono::milliseconds(static_cast<uint64_t>(o_.duration_s * 1000));
  next_action_ =
      start_ +
      std::chrono::milliseconds(static_cast<uint64_t>(
          std::uniform_real_distribution<double>(o_.nemesis_min_s, o_.nemesis_max_s)(rng_) * 1000));
  while (Clock::now() < run_end_ && !g_interrupted) {
    Tick(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
  if (g_interrupted) Log("interrupted: ending the run early");
}

void Soak::Tick(bool nemesis) {
  const auto now = Clock::now();
  WatchProcesses();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeTrack& n = nodes_[i];
    if ((n.state == NodeState::kPaused || n.state == NodeState::kDead) && now >= n.heal_at)
      Heal(i, n.state == NodeState::kPaused ? "SIGCONT" : "restarted");
  }
  if (now >= next_poll_) {
    next_poll_ = now + std::chrono::milliseconds(kPollEveryMs);
    Poll();
  }
  if (nemesis && now >= next_action_) Nemesis();
  if (now >= next_progress_) {
    next_progress_ = now + std::chrono::milliseconds(kProgressEveryMs);
    Progress();
  }
}

void Soak::Nemesis() {
  // Every draw is made whatever the cluster's state, so a seed gives one sequence of choices.
  const uint64_t kind_draw = std::uniform_int_distribution<uint64_t>(0, 99)(rng_);
  const size_t target_draw = std::uniform_int_distribution<size_t>(0, nodes_.size() - 1)(rng_);
  const double pause_s = std::uniform_real_distribution<double>(0.5, o_.pause_max_s)(rng_);
  const double down_s = std::uniform_real_distribution<double>(1.0, o_.down_max_s)(rng_);
  const double next_s =
      std::uniform_real_distribution<double>(o_.nemesis_min_s, o_.nemesis_max_s)(rng_);
  next_action_ = Clock::now() + std::chrono::milliseconds(static_cast<uint64_t>(next_s * 1000));
  const Action action = kind_draw < 40   ? Action::kKill
                        : kind_draw < 80 ? Action::kPause
                                         : Action::kRestart;
  // The first eligible node from the drawn one on: up, and a validator only while fewer than f
  // validators are faulted (a recovering one counts as faulted until it has caught up).
  std::optional<size_t> target;
  for (size_t k = 0; k < nodes_.size() && !target; ++k) {
    const size_t i = (target_draw + k) % nodes_.size();
    if (nodes_[i].state != NodeState::kUp) continue;
    if (c_.member(i).validator && FaultyValidators() >= max_faulty_) continue;
    target = i;
  }
  const uint64_t number = ++actions_;
  if (!target) {
    skipped_++;
    Log(fmt::format("nemesis #{}: {} skipped (no node may be faulted now)", number,
                    kActionNames[static_cast<size_t>(action)]));
    return;
  }
  const size_t i = *target;
  NodeTrack& n = nodes_[i];
  actions_by_kind_[static_cast<size_t>(action)]++;
  n.fault_number = number;
  const pid_t pid = c_.member(i).pid;
  switch (action) {
    case Action::kKill:
      c_.Kill(i);
      n.state = NodeState::kDead;
      n.heal_at = Clock::now() + std::chrono::milliseconds(static_cast<uint64_t>(down_s * 1000));
      Log(fmt::format("nemesis #{}: kill -9 {} ({}, pid {}), restart in {:.1f} s", number, Name(i),
                      Role(i), pid, down_s));
      break;
    case Action::kPause:
      ::kill(pid, SIGSTOP);
      n.state = NodeState::kPaused;
      n.heal_at = Clock::now() + std::chrono::milliseconds(static_cast<uint64_t>(pause_s * 1000));
      Log(fmt::format("nemesis #{}: SIGSTOP {} ({}, pid {}), SIGCONT in {:.1f} s", number, Name(i),
                      Role(i), pid, pause_s));
      break;
    case Action::kRestart:
      ::kill(pid, SIGTERM);
      n.state = NodeState::kStopping;
      n.since = Clock::now();
      Log(fmt::format("nemesis #{}: SIGTERM {} ({}, pid {}), clean restart", number, Name(i),
                      Role(i), pid));
      break;
  }
}

void Soak::Heal(size_t i, const char* how) {
  NodeTrack& n = nodes_[i];
  if (n.state == NodeState::kPaused) {
    ::kill(c_.member(i).pid, SIGCONT);
  } else {
    auto spawned = c_.Spawn(i);
    if (!spawned) {
      Failure(fmt::format("{}: spawn failed: {}", Name(i), spawned.error().message));
      n.state = NodeState::kDead;
      n.heal_at = Clock::now() + std::chrono::milliseconds(kRespawnRetryMs);
      return;
    }
  }
  n.state = NodeState::kRecovering;
  n.since = Clock::now();
  n.recover_height = max_height_;
  n.recover_late = false;
  Log(fmt::format("nemesis #{}: {} {} (pid {}); catching up to height {}", n.fault_number, how,
                  Name(i), c_.member(i).pid, n.recover_height));
}

void Soak::Respawn(size_t i) {
  NodeTrack& n = nodes_[i];
  n.state = NodeState::kDead;
  n.heal_at = Clock::now();
  Heal(i, "restarted");
}

void Soak::WatchProcesses() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeTrack& n = nodes_[i];
    if (n.state == NodeState::kDead) continue;
    if (n.state == NodeState::kStopping) {
      if (c_.Running(i)) {
        if (SecondsBetween(n.since, Clock::now()) * 1000 < kStopTimeoutMs) continue;
        c_.Kill(i);
        Failure(fmt::format("{} did not exit within {} ms of SIGTERM (killed); log: {}", Name(i),
                            kStopTimeoutMs, c_.LogPath(i).string()));
      } else {
        const int status = c_.member(i).last_wait_status;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
          Failure(fmt::format("{} stopped by SIGTERM with {} (expected exit code 0); log: {}",
                              Name(i), DescribeWaitStatus(status), c_.LogPath(i).string()));
      }
      Respawn(i);
      continue;
    }
    if (c_.Running(i)) continue;
    Failure(fmt::format("{} crashed ({}); log: {}\n{}", Name(i),
                        DescribeWaitStatus(c_.member(i).last_wait_status), c_.LogPath(i).string(),
                        c_.LogTail(i, kLogTailLines)));
    Respawn(i);
  }
}

void Soak::Poll() {
  const auto now = Clock::now();
  std::optional<size_t> highest;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeTrack& n = nodes_[i];
    if (n.state != NodeState::kUp && n.state != NodeState::kRecovering) continue;
    auto s = c_.Call(i, "status", json::object{}, kStatusTimeoutMs);
    if (!s || !s->is_object()) {
      n.height.reset();
      continue;
    }
    n.height = s->as_object().at("height").to_number<uint64_t>();
    if (!highest || *n.height > *nodes_[*highest].height) highest = i;
    if (n.state == NodeState::kRecovering) {
      const double took = SecondsBetween(n.since, now);
      if (*n.height >= n.recover_height) {
        n.state = NodeState::kUp;
        longest_recovery_s_ = std::max(longest_recovery_s_, took);
        Log(fmt::format("recovered: {} at height {} after {:.1f} s", Name(i), *n.height, took));
      } else if (took > o_.recover_timeout_s && !n.recover_late) {
        n.recover_late = true;
        Failure(fmt::format(
            "{} did not catch up to height {} within {:.0f} s (at height {}); "
            "log: {}",
            Name(i), n.recover_height, o_.recover_timeout_s, *n.height, c_.LogPath(i).string()));
      }
    }
  }
  if (!highest) return;
  const uint64_t h = *nodes_[*highest].height;
  if (h > max_height_) {
    const double stall = SecondsBetween(last_progress_, now);
    if (tracking_stalls_ && stall > longest_stall_s_) {
      longest_stall_s_ = stall;
      longest_stall_at_s_ = SecondsBetween(start_, last_progress_);
    }
    max_height_ = h;
    last_progress_ = now;
  } else if (tracking_stalls_) {
    const double stall = SecondsBetween(last_progress_, now);
    if (stall > longest_stall_s_) {
      longest_stall_s_ = stall;
      longest_stall_at_s_ = SecondsBetween(start_, last_progress_);
      std::string faults;
      for (size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i].state != NodeState::kUp) faults += (faults.empty() ? "" : ", ") + Name(i);
      longest_stall_faults_ = faults.empty() ? "none" : faults;
    }
  }
  CountChainTxs(*highest);
}

void Soak::CountChainTxs(size_t node) {
  const uint64_t top = std::min(max_height_, counted_height_ + kChainCountBatch);
  if (top <= counted_height_) return;
  std::vector<json::value> params;
  for (uint64_t h = counted_height_ + 1; h <= top; ++h)
    params.push_back(json::object{{"height", h}});
  auto blocks = integration::BatchCall(c_.member(node).rpc, "get_block", params, kStatusTimeoutMs);
  if (!blocks) return;
  uint64_t txs = 0;
  for (const json::value& b : *blocks) {
    const json::value* result = b.as_object().if_contains("result");
    if (result == nullptr || !result->is_object()) return;  // not there yet: next poll
    txs += result->as_object().at("tx_ids").as_array().size();
  }
  chain_txs_ += txs;
  counted_height_ = top;
}

void Soak::Progress() {
  std::string heights;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeTrack& n = nodes_[i];
    std::string h;
    switch (n.state) {
      case NodeState::kPaused:
        h = "paused";
        break;
      case NodeState::kDead:
        h = "dead";
        break;
      case NodeState::kStopping:
        h = "stopping";
        break;
      default:
        h = n.height ? std::to_string(*n.height) : "?";
        if (n.state == NodeState::kRecovering) h += "(recovering)";
    }
    heights += fmt::format("{}{}={}", i == 0 ? "" : " ", c_.member(i).slug, h);
  }
  const WorkloadCounts w = load_.Counts();
  Log(
      fmt::format("progress: heights {} | chain txs {} | submitted {} acknowledged {} in flight "
                  "{} | faults {} (kill {}, pause {}, restart {}) | longest stall {:.1f} s | "
                  "failures {}",
                  heights, chain_txs_, w.submitted, w.acknowledged, w.in_flight,
                  actions_ - skipped_, actions_by_kind_[0], actions_by_kind_[1],
                  actions_by_kind_[2], longest_stall_s_, failures_.size()));
}

void Soak::HealAll() {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    NodeTrack& n = nodes_[i];
    if (n.state == NodeState::kPaused || n.state == NodeState::kDead)
      Heal(i, n.state == NodeState::kPaused ? "SIGCONT (final heal)" : "restarted (final heal)");
  }
}

bool Soak::Converge() {
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<uint64_t>(o_.converge_timeout_s * 1000));
  std::optional<uint64_t> target;
  while (Clock::now() < deadline) {
    Tick(false);
    bool all_up = true;
    for (const NodeTrack& n : nodes_)
      all_up = all_up && n.state == NodeState::kUp;
    if (all_up && !target) {
      // At least every height a node has reported and every height an acknowledgement named.
      uint64_t top = max_height_;
      for (size_t i = 0; i < nodes_.size(); ++i)
        top = std::max(top, integration::HeightOf(c_, i));
      for (const TxRecord& r : load_.Records())
        if (r.acknowledged) top = std::max(top, r.height);
      target = top;
    }
    if (target) {
      bool reached = true;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        const uint64_t h = integration::HeightOf(c_, i);
        reached = reached && h >= *target;
      }
      if (reached) {
        final_height_ = *target;
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
  return false;
}

// Asks every node about every transaction the load submitted.
void Soak::CheckTransactions(Check& acked, Check& agree,
                             std::vector<Workload::FinalState>& finals) {
  const std::vector<TxRecord> records = load_.Records();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    std::vector<Workload::FinalState> mine;
    mine.reserve(records.size());
    for (size_t offset = 0; offset < records.size(); offset += kRpcBatch) {
      std::vector<json::value> params;
      for (size_t k = offset; k < std::min(records.size(), offset + kRpcBatch); ++k)
        params.push_back(json::object{{"tx_id", records[k].tx_id}});
      auto answers = integration::BatchCall(c_.member(i).rpc, "get_tx", params, kCheckRpcTimeoutMs);
      if (!answers) {
        acked.Fail(Name(i) + ": get_tx: " + answers.error().message);
        return;
      }
      for (const json::value& a : *answers) {
        Workload::FinalState s;
        const json::value* result = a.as_object().if_contains("result");
        // Only what committed at or below the checked height counts: a node that is ahead may
        // already hold a later block, which the others will reach.
        if (result != nullptr && result->is_object() &&
            result->as_object().at("status").as_string() == "committed" &&
            result->as_object().at("height").to_number<uint64_t>() <= final_height_) {
          const json::object& o = result->as_object();
          s.height = o.at("height").to_number<uint64_t>();
          s.committed = true;
          for (const json::value& res : o.at("receipt").at("results").as_array())
            s.results.push_back(json::value_to<std::string>(res.at("name")));
        }
        mine.push_back(std::move(s));
      }
    }
    size_t lost = 0;
    size_t differ = 0;
    for (size_t k = 0; k < records.size(); ++k) {
      const TxRecord& r = records[k];
      const Workload::FinalState& s = mine[k];
      if (r.acknowledged && (!s.committed || s.height != r.height || s.results != r.results)) {
        if (lost++ < kMismatchesShown)
          acked.Fail(fmt::format("{}: acknowledged {} {} (height {}) is {}", Name(i),
                                 OpKindName(r.kind), r.tx_id, r.height,
                                 s.committed ? fmt::format("committed at height {} with results "
                                                           "{}",
                                                           s.height, fmt::join(s.results, ","))
                                             : std::string("not committed")));
      }
      if (i > 0 && (s.committed != finals[k].committed || s.height != finals[k].height ||
                    s.results != finals[k].results)) {
        if (differ++ < kMismatchesShown)
          agree.Fail(
              fmt::format("{} tx {}: {} says committed={} height {}, {} says committed={} "
                          "height {}",
                          OpKindName(r.kind), r.tx_id, Name(0), finals[k].committed,
                          finals[k].height, Name(i), s.committed, s.height));
      }
    }
    if (lost > 0) acked.Fail(fmt::format("{}: {} acknowledged transactions lost", Name(i), lost));
    if (differ > 0)
      agree.Fail(fmt::format("{}: {} transactions differ from {}", Name(i), differ, Name(0)));
    if (i == 0) {
      finals = std::move(mine);
      committed_by_end_ = static_cast<size_t>(
          std::count_if(finals.begin(), finals.end(), [](const auto& s) { return s.committed; }));
    }
  }
}

// Compares digest, state root and receipt root at every height 1..H, a batch of heights at a time
// on every node (an hour's chain does not fit comfortably in memory as whole blocks).
void Soak::CheckChain(Check& chain) {
  constexpr size_t kFieldCount = 3;
  constexpr std::array<const char*, kFieldCount> kFields{"digest", "state_root", "receipt_root"};
  size_t differences = 0;
  for (uint64_t from = 1; from <= final_height_ && chain.passed; from += kRpcBatch) {
    const uint64_t to = std::min<uint64_t>(final_height_, from + kRpcBatch - 1);
    std::vector<json::value> params;
    for (uint64_t h = from; h <= to; ++h)
      params.push_back(json::object{{"height", h}});
    std::vector<std::array<std::string, kFieldCount>> reference;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      auto blocks =
          integration::BatchCall(c_.member(i).rpc, "get_block", params, kCheckRpcTimeoutMs);
      if (!blocks) {
        chain.Fail(Name(i) + ": get_block: " + blocks.error().message);
        break;
      }
      for (size_t k = 0; k < blocks->size(); ++k) {
        const json::value* result = (*blocks)[k].as_object().if_contains("result");
        std::array<std::string, kFieldCount> mine;
        for (size_t f = 0; f < kFieldCount; ++f) {
          const json::value* v =
              result && result->is_object() ? result->as_object().if_contains(kFields[f]) : nullptr;
          mine[f] = v && v->is_string() ? std::string(v->as_string()) : "(missing)";
        }
        if (i == 0) {
          reference.push_back(mine);
          continue;
        }
        for (size_t f = 0; f < kFieldCount; ++f) {
          if (mine[f] == reference[k][f]) continue;
          if (differences++ < kMismatchesShown)
            chain.Fail(fmt::format("height {} {}: {} {}, {} {}", from + k, kFields[f], Name(0),
                                   reference[k][f], Name(i), mine[f]));
        }
      }
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto b = c_.Block(i, final_height_);
    if (!b) {
      chain.Fail(Name(i) + ": get_block: " + b.error().message);
      continue;
    }
    const std::string root = json::value_to<std::string>(b->at("state_root"));
    if (i == 0) final_state_root_ = root;
    if (root != final_state_root_)
      chain.Fail(fmt::format("state root at height {}: {} {}, {} {}", final_height_, Name(0),
                             final_state_root_, Name(i), root));
  }
}

void Soak::CheckBalances(Check& supply, const std::vector<TxRecord>& records,
                         const std::vector<Workload::FinalState>& finals) {
  const std::map<std::string, int64_t> expected =
      load_.ExpectedBalances(records, finals, final_height_);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const auto& [asset, accounts] : load_.AccountsByAsset()) {
      auto a = c_.Call(i, "get_asset", json::object{{"code", asset}, {"height", final_height_}},
                       kCheckRpcTimeoutMs);
      if (!a) {
        supply.Fail(fmt::format("{}: get_asset {}: {}", Name(i), asset, a.error().message));
        continue;
      }
      const int64_t reported = std::stoll(json::value_to<std::string>(a->at("supply")));
      int64_t holders = 0;
      int64_t debits_pending = 0;
      int64_t credits_pending = 0;
      for (size_t k = 0; k < accounts.size(); ++k) {
        auto acc = c_.Call(i, "get_account",
                           json::object{{"id", ToHex(accounts[k])}, {"height", final_height_}},
                           kCheckRpcTimeoutMs);
        if (!acc) {
          supply.Fail(fmt::format("{}: get_account {}: {}", Name(i), ToHex(accounts[k]),
                                  acc.error().message));
          continue;
        }
        const int64_t balance = std::stoll(json::value_to<std::string>(acc->at("balance")));
        debits_pending += std::stoll(json::value_to<std::string>(acc->at("debits_pending")));
        credits_pending += std::stoll(json::value_to<std::string>(acc->at("credits_pending")));
        if (k == 0 && balance != -reported)
          supply.Fail(fmt::format("{} {}: issuer balance {} but supply {}", Name(i), asset, balance,
                                  reported));
        if (k > 0) holders += balance;
        if (balance != expected.at(ToHex(accounts[k])))
          supply.Fail(fmt::format("{} {} account {}: balance {}, the committed receipts imply {}",
                                  Name(i), asset, ToHex(accounts[k]), balance,
                                  expected.at(ToHex(accounts[k]))));
      }
      if (holders != reported)
        supply.Fail(fmt::format("{} {}: the accounts hold {} but the supply is {}", Name(i), asset,
                                holders, reported));
      if (debits_pending != credits_pending)
        supply.Fail(fmt::format("{} {}: pending debits {} != pending credits {}", Name(i), asset,
                                debits_pending, credits_pending));
    }
  }
}

bool Soak::Finish() {
  tracking_stalls_ = false;
  const double run_s = SecondsBetween(start_, Clock::now());
  run_s_ = run_s;
  Log("end of the run: healing every node, stopping the load");
  HealAll();
  load_.StopSubmitting();
  const auto drain_deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<uint64_t>(o_.drain_timeout_s * 1000));
  while (load_.Counts().in_flight > 0 && Clock::now() < drain_deadline) {
    Tick(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
  }
  unacknowledged_at_end_ = load_.Counts().in_flight;
  load_.Stop();
  Log(fmt::format("load stopped; {} transactions still not acknowledged", unacknowledged_at_end_));

  std::vector<Check> checks;
  Check converge{"converged"};
  converged_ = Converge();
  if (!converged_) {
    std::string heights;
    for (size_t i = 0; i < nodes_.size(); ++i)
      heights += fmt::format(" {}={}", Name(i), integration::HeightOf(c_, i));
    converge.Fail(
        fmt::format("the nodes did not all recover and reach one height within {:.0f} s:{}",
                    o_.converge_timeout_s, heights));
    final_height_ = max_height_;
    for (size_t i = 0; i < nodes_.size(); ++i)
      final_height_ = std::min(final_height_, integration::HeightOf(c_, i));
  }
  Log(fmt::format("checking at height {}", final_height_));

  Check acked{"acknowledged_committed_everywhere"};
  Check agree{"same_tx_outcomes_everywhere"};
  Check chain{"same_chain_and_state_root"};
  Check supply{"asset_sums_and_balances"};
  Check live{"liveness"};
  Check processes{"processes"};
  Check admission{"no_refusals"};
  std::vector<Workload::FinalState> finals;
  CheckTransactions(acked, agree, finals);
  CheckChain(chain);
  CheckBalances(supply, load_.Records(), finals);
  if (longest_stall_s_ > o_.max_stall_s)
    live.Fail(
        fmt::format("the chain made no progress for {:.1f} s (from {:.1f} s; faulted then: "
                    "{}), over the bound of {:.0f} s",
                    longest_stall_s_, longest_stall_at_s_, longest_stall_faults_, o_.max_stall_s));
  // The chain may keep adding blocks while transactions do not commit: the client's view counts
  // too. Its longest wait includes the 4 s before it resubmits a transaction whose node was killed.
  for (const TxRecord& r : load_.Records()) {
    if (r.kind == OpKind::kSetup || !r.acknowledged) continue;
    const double waited = SecondsBetween(r.first_submit, r.acknowledged_at);
    if (waited <= longest_ack_s_) continue;
    longest_ack_s_ = waited;
    std::string history;
    for (const SubmitEvent& e : r.history)
      history += fmt::format("; at {:.1f} s to {}: {}", SecondsBetween(start_, e.at), Name(e.node),
                             e.answer);
    slowest_ack_ =
        fmt::format("{} {} at height {}, acknowledged at {:.1f} s{}", OpKindName(r.kind), r.tx_id,
                    r.height, SecondsBetween(start_, r.acknowledged_at), history);
  }
  if (longest_ack_s_ > o_.max_stall_s)
    live.Fail(
        fmt::format("a transaction waited {:.1f} s for its acknowledgement, over the bound of "
                    "{:.0f} s: {}",
                    longest_ack_s_, o_.max_stall_s, slowest_ack_));
  if (unacknowledged_at_end_ > 0)
    live.Fail(fmt::format("{} transactions were never acknowledged ({:.0f} s after the heal)",
                          unacknowledged_at_end_, o_.drain_timeout_s));
  for (const std::string& f : failures_)
    processes.Fail(f.substr(0, f.find('\n')));
  const WorkloadCounts w = load_.Counts();
  if (w.refused > 0) {
    admission.Fail(fmt::format("{} transactions refused at admission", w.refused));
    for (const std::string& r : w.refusals)
      admission.Fail(r);
  }
  checks = {converge, acked, agree, chain, supply, live, processes, admission};
  bool passed = true;
  for (const Check& ch : checks)
    passed = passed && ch.passed;

  // Summary.
  Log("summary:");
  std::string heights;
  for (size_t i = 0; i < nodes_.size(); ++i)
    heights += fmt::format(" {}={}", c_.member(i).slug, integration::HeightOf(c_, i));
  std::printf(
      "  duration %.0f s (asked %.0f s), seed %llu, %u validators (f=%u), %u observers, "
      "rate %.1f tx/s\n",
      run_s, o_.duration_s, static_cast<unsigned long long>(seed_), o_.validators, f_, o_.observers,
      o_.rate);
  std::printf("  heights%s; checked at %llu, state root %s\n", heights.c_str(),
              static_cast<unsigned long long>(final_height_), final_state_root_.c_str());
  std::printf(
      "  txs: submitted %zu, acknowledged %zu, committed by the end %zu, never "
      "acknowledged %zu, resubmits %zu, submit errors %zu (%.1f tx/s submitted)\n",
      w.submitted, w.acknowledged, committed_by_end_, unacknowledged_at_end_, w.resubmits,
      w.submit_errors, static_cast<double>(w.submitted) / run_s);
  std::string kinds;
  for (size_t k = 0; k < kOpKinds; ++k)
    kinds += fmt::format(" {} {}/{}", OpKindName(static_cast<OpKind>(k)), w.acknowledged_by_kind[k],
                         w.submitted_by_kind[k]);
  std::printf("  acknowledged/submitted by kind:%s\n", kinds.c_str());
  std::printf(
      "  nemesis: %llu actions (kill %llu, pause %llu, restart %llu, skipped %llu); "
      "longest stall %.1f s; longest recovery %.1f s; longest wait for an acknowledgement "
      "%.1f s (%s)\n",
      static_cast<unsigned long long>(actions_),
      static_cast<unsigned long long>(actions_by_kind_[0]),
      static_cast<unsigned long long>(actions_by_kind_[1]),
      static_cast<unsigned long long>(actions_by_kind_[2]),
      static_cast<unsigned long long>(skipped_), longest_stall_s_, longest_recovery_s_,
      longest_ack_s_, slowest_ack_.c_str());
  for (const Check& ch : checks) {
    std::printf("  check %-34s %s\n", ch.name.c_str(), ch.passed ? "passed" : "FAILED");
    for (const std::string& d : ch.details)
      std::printf("      %s\n", d.c_str());
  }
  std::printf("  result: %s\n", passed ? "PASSED" : "FAILED");

  const fs::path summary_path =
      o_.summary.empty() ? fs::temp_directory_path() / fmt::format("ledger-soak-{}.json", seed_)
                         : fs::path(o_.summary);
  std::ofstream(summary_path) << json::serialize(Summary(checks, passed)) << "\n";
  std::printf("  summary written to %s\n", summary_path.string().c_str());
  std::fflush(stdout);
  return passed;
}

json::object Soak::Summary(const std::vector<Check>& checks, bool passed) const {
  const WorkloadCounts w = load_.Counts();
  json::object heights;
  for (size_t i = 0; i < nodes_.size(); ++i)
    heights[c_.member(i).slug] = integration::HeightOf(c_, i);
  json::object by_kind;
  for (size_t k = 0; k < kOpKinds; ++k)
    by_kind[OpKindName(static_cast<OpKind>(k))] = json::object{
        {"submitted", w.submitted_by_kind[k]}, {"acknowledged", w.acknowledged_by_kind[k]}};
  json::array check_list;
  for (const Check& ch : checks) {
    json::array details;
    for (const std::string& d : ch.details)
      details.push_back(json::value(d));
    check_list.push_back(
        json::object{{"name", ch.name}, {"passed", ch.passed}, {"details", std::move(details)}});
  }
  return json::object{
      {"passed", passed},
      {"seed", seed_},
      {"duration_s", o_.duration_s},
      {"run_s", run_s_},
      {"validators", o_.validators},
      {"observers", o_.observers},
      {"rate_per_s", o_.rate},
      {"dir", c_.dir().string()},
      {"heights", std::move(heights)},
      {"checked_height", final_height_},
      {"state_root", final_state_root_},
      {"txs", json::object{{"submitted", w.submitted},
                           {"acknowledged", w.acknowledged},
                           {"committed_by_end", committed_by_end_},
                           {"never_acknowledged", unacknowledged_at_end_},
                           {"resubmits", w.resubmits},
                           {"submit_errors", w.submit_errors},
                           {"chain_txs_counted", chain_txs_},
                           {"by_kind", std::move(by_kind)}}},
      {"nemesis", json::object{{"actions", actions_},
                               {"kill", actions_by_kind_[0]},
                               {"pause", actions_by_kind_[1]},
                               {"restart", actions_by_kind_[2]},
                               {"skipped", skipped_}}},
      {"longest_stall_s", longest_stall_s_},
      {"longest_stall_at_s", longest_stall_at_s_},
      {"longest_recovery_s", longest_recovery_s_},
      {"longest_acknowledgement_s", longest_ack_s_},
      {"slowest_acknowledgement", slowest_ack_},
      {"checks", std::move(check_list)},
  };
}

void OnInterrupt(int) {
  g_interrupted = true;
}

int Main(int argc, char** argv) {
  Options o;
  uint64_t seed_arg = 0;
  CLI::App app{"ledger-soak: real ledgerd processes under load and a nemesis (docs/testing.md)"};
  app.add_option("--duration", o.duration_s, "seconds of load and faults")->capture_default_str();
  auto* seed_opt = app.add_option("--seed", seed_arg, "the nemesis's and the load's seed");
  app.add_option("--validators", o.validators)->capture_default_str()->check(CLI::Range(4, 16));
  app.add_option("--observers", o.observers)->capture_default_str()->check(CLI::Range(0, 16));
  app.add_option("--rate", o.rate, "transactions per second")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1000.0));
  app.add_option("--nemesis-min-s", o.nemesis_min_s)->capture_default_str();
  app.add_option("--nemesis-max-s", o.nemesis_max_s)->capture_default_str();
  app.add_option("--down-max-s", o.down_max_s, "longest time a killed node stays down")
      ->capture_default_str();
  app.add_option("--pause-max-s", o.pause_max_s, "longest SIGSTOP")->capture_default_str();
  app.add_option("--max-stall-s", o.max_stall_s, "longest allowed time without a new block")
      ->capture_default_str();
  app.add_option("--max-faulty-validators", o.max_faulty_validators,
                 "validators faulted at once (default f; more must make the liveness check fail)");
  app.add_option("--recover-timeout-s", o.recover_timeout_s)->capture_default_str();
  app.add_option("--converge-timeout-s", o.converge_timeout_s)->capture_default_str();
  app.add_option("--summary", o.summary,
                 "JSON summary file (default $TMPDIR/ledger-soak-SEED.json)");
  app.add_flag("--keep", o.keep, "keep the consortium directory on success too");
  CLI11_PARSE(app, argc, argv);
  if (o.nemesis_min_s <= 0 || o.nemesis_max_s < o.nemesis_min_s || o.pause_max_s < 0.5 ||
      o.down_max_s < 1) {
    std::fprintf(stderr, "ledger-soak: bad nemesis intervals\n");
    return 2;
  }
  o.seed = seed_opt->count() > 0 ? seed_arg : std::random_device{}();
  const uint64_t seed = *o.seed;

  // The harness removes its directory unless told to keep it; this program decides itself.
  ::setenv("LEDGER_IT_KEEP", "1", 1);
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C ends the program at once
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  std::printf("ledger-soak: seed %llu, %.0f s, %u validators, %u observers, %.1f tx/s\n",
              static_cast<unsigned long long>(seed), o.duration_s, o.validators, o.observers,
              o.rate);
  std::printf(
      "replay: scripts/soak.sh --duration %.0f --seed %llu --validators %u --observers %u "
      "--rate %g\n",
      o.duration_s, static_cast<unsigned long long>(seed), o.validators, o.observers, o.rate);
  auto created = Cluster::Create({.validators = o.validators, .observers = o.observers});
  if (!created) {
    std::fprintf(stderr, "ledger-soak: %s\n", created.error().message.c_str());
    return 1;
  }
  Cluster& c = **created;
  std::printf("consortium directory (node logs: <slug>.log): %s\n", c.dir().string().c_str());
  std::fflush(stdout);
  if (auto s = c.StartAll(); !s) {
    std::fprintf(stderr, "ledger-soak: %s\nkept %s\n", s.error().message.c_str(),
                 c.dir().string().c_str());
    return 1;
  }
  if (auto p = integration::WaitPeers(c, c.validators(), o.validators - 1); !p) {
    std::fprintf(stderr, "ledger-soak: %s\nkept %s\n", p.message(), c.dir().string().c_str());
    return 1;
  }
  Workload load(c, WorkloadOptions{.seed = seed ^ 0x10adu, .rate_per_s = o.rate});
  if (auto s = load.Setup(); !s) {
    std::fprintf(stderr, "ledger-soak: setup: %s\nkept %s\n", s.error().message.c_str(),
                 c.dir().string().c_str());
    return 1;
  }
  load.Begin();
  Soak soak(c, load, o, seed);
  soak.Run();
  const bool passed = soak.Finish();
  // The harness's destructor kills every node, and removes the directory unless LEDGER_IT_KEEP
  // (it then prints "kept the consortium directory DIR").
  if (passed && !o.keep) ::unsetenv("LEDGER_IT_KEEP");
  std::fflush(stdout);
  created->reset();
  return passed ? 0 : 1;
}

}  // namespace
}  // namespace cl::soak

int main(int argc, char** argv) {
  return cl::soak::Main(argc, argv);
}
