// A running validator (one of four, in this process), or an observer, whose state database fails
// at the next write of a block's commit stops at once: exit code 3 and one line naming the
// operation ("committing block H"), the database and its directory (node/storage_failure.h).
// Before, a failed commit went to the node's general fatal path: the driver finished its pass
// (handling messages, persisting and sending votes), RPC kept answering, and the process exited 1
// some hundreds of milliseconds later.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keystore.h"
#include "genesis/genesis.h"
#include "ledger/fault_env.h"
#include "node/config.h"
#include "node/node.h"
#include "node/storage_failure.h"
#include "tools/localnet.h"

namespace cl::node {
namespace {

namespace fs = std::filesystem;

// What the child of the death test exits with when the process was not stopped at the failure.
constexpr int kRanOnAndWrote = 2;  // the node wrote to a database after the failed write
constexpr int kHaltedLater = 1;  // the node halted by its general fatal path, writing nothing more
constexpr int kRanOn = 0;        // the node never stopped
constexpr int kSetupFailed = 20;

std::string ReadLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// Runs a local consortium of four validators and an observer in this process (tools/localnet.h),
// member `faulty_index` (3: a validator, 4: the observer) through `env`; once it has committed
// block 1, arms the fault on its state database (which only a block's commit writes) and waits for
// it to stop. Runs in a death test's child; returns only by exiting.
[[noreturn]] void RunUntilTheStateDatabaseFails(ledger::FaultKind kind, size_t faulty_index) {
  std::string pattern = (fs::temp_directory_path() / "node_storage_test.XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) std::_Exit(kSetupFailed);
  const fs::path dir = pattern;
  tools::LocalnetOptions options;
  options.dir = dir;
  options.chain_id = "node-storage-test";
  options.observers = 1;
  if (!tools::InitLocalnet(options)) std::_Exit(kSetupFailed);
  ledger::FaultEnv env;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<fs::path> homes;
  for (const auto& entry : fs::directory_iterator(dir))
    if (fs::exists(entry.path() / "config.toml")) homes.push_back(entry.path());
  std::sort(homes.begin(), homes.end());
  if (homes.size() != 5) std::_Exit(kSetupFailed);  // bank-1..4, then the partner
  for (size_t i = 0; i < homes.size(); ++i) {
    auto config = LoadNodeConfig(homes[i]);
    if (!config) std::_Exit(kSetupFailed);
    if (i == faulty_index) config->storage_env = &env;
    auto genesis = genesis::LoadGenesisFile(config->genesis_file.string());
    if (!genesis) std::_Exit(kSetupFailed);
    auto key = crypto::ReadKeystoreFile(config->key_file, ReadLine(config->passphrase_file));
    if (!key) std::_Exit(kSetupFailed);
    auto node = Node::Open(*config, std::move(*genesis), std::move(*key));
    if (!node || !(*node)->Start()) std::_Exit(kSetupFailed);
    nodes.push_back(std::move(*node));
  }
  Node& faulty = *nodes[faulty_index];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (faulty.ledger().height() < 1) {
    if (std::chrono::steady_clock::now() > deadline) std::_Exit(kSetupFailed);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  env.Arm(kind, 0, /*disk_full_fit_bytes=*/5, "/state/");
  while (!faulty.halted()) {
    if (std::chrono::steady_clock::now() > deadline) std::_Exit(kRanOn);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // Let the node's driver finish whatever it does after halting.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::_Exit(env.counts().changes_after_fault > 0 ? kRanOnAndWrote : kHaltedLater);
}

TEST(NodeStorageDeathTest, AFailedCommitStopsTheProcessAtOnceNamingTheBlockAndTheDatabase) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (ledger::FaultKind kind : {ledger::FaultKind::kAppendError, ledger::FaultKind::kSyncError,
                                 ledger::FaultKind::kDiskFull, ledger::FaultKind::kTornWrite}) {
    SCOPED_TRACE(std::string(ledger::FaultKindName(kind)));
    EXPECT_EXIT(RunUntilTheStateDatabaseFails(kind, 3),
                ::testing::ExitedWithCode(kStorageFailureExitCode),
                "storage failure while committing block [0-9]+: state database "
                "/[^ ]*node_storage_test[^ ]*/data/state: write failed: IO error: [^ ]*: injected "
                "fault");
  }
}

// An observer commits the blocks a sync reply brings: the same stop, naming that operation.
TEST(NodeStorageDeathTest, AnObserversFailedCommitStopsTheProcessAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (ledger::FaultKind kind : {ledger::FaultKind::kAppendError, ledger::FaultKind::kTornWrite}) {
    SCOPED_TRACE(std::string(ledger::FaultKindName(kind)));
    EXPECT_EXIT(RunUntilTheStateDatabaseFails(kind, 4),
                ::testing::ExitedWithCode(kStorageFailureExitCode),
                "storage failure while committing a block from a sync reply: state database "
                "/[^ ]*node_storage_test[^ ]*/data/state: write failed: IO error: [^ ]*: injected "
                "fault");
  }
}

}  // namespace
}  // namespace cl::node
