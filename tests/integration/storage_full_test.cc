// A validator's disk fills up under load (docs/testing.md, "Storage faults"): its data directory is
// a small tmpfs that the test fills with a filler file. The validator stops at its next write with
// one log line naming the database and the operation (exit code 3); the other three keep
// committing: every transaction a node acknowledged as committed, the full one included, and
// every transaction the others admitted, is committed on them. Then the filler is deleted and the
// validator restarted: it catches up and holds the same chain and state roots as the others.
//
// Needs root (mount). When mount(2) is refused (EPERM: not root, or no CAP_SYS_ADMIN in a
// container) the test is skipped and says so.
#include <sys/mount.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

constexpr char kTmpfsSize[] = "size=16m";
constexpr int kStorageFailureExitCode = 3;  // node/storage_failure.h
constexpr uint32_t kStopOnFullDiskTimeoutMs = 20'000;

// Mounts a tmpfs on `dir` (created) and unmounts it when destroyed, after killing the process that
// uses it (a lazy unmount in any case, so a failing test never leaves the mount behind).
class TmpfsMount {
 public:
  TmpfsMount(Cluster& cluster, size_t member, fs::path dir)
      : cluster_(cluster), member_(member), dir_(std::move(dir)) {}
  ~TmpfsMount() {
    if (!mounted_) return;
    cluster_.Kill(member_);
    if (::umount2(dir_.c_str(), MNT_DETACH) != 0)
      ADD_FAILURE() << "umount " << dir_ << ": " << std::strerror(errno);
  }
  // 0 on success, else errno.
  int Mount() {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return ec.value();
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, kTmpfsSize) != 0) return errno;
    mounted_ = true;
    return 0;
  }

 private:
  Cluster& cluster_;
  const size_t member_;
  const fs::path dir_;
  bool mounted_ = false;
};

// Writes `path` until the file system refuses (ENOSPC); returns the bytes written.
size_t FillFileSystem(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::setvbuf(f, nullptr, _IONBF, 0);
  const std::string chunk(4096, 'f');
  size_t written = 0;
  while (true) {
    const size_t n = std::fwrite(chunk.data(), 1, chunk.size(), f);
    written += n;
    if (n < chunk.size()) break;
  }
  std::fclose(f);
  return written;
}

// The ids among `ids` that member i reports committed.
std::vector<std::string> CommittedOn(const Cluster& c, size_t i,
                                     const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  auto states = GetTxs(c, i, ids);
  if (!states) return out;
  for (size_t k = 0; k < ids.size(); ++k)
    if ((*states)[k].status == "committed") out.push_back(ids[k]);
  return out;
}

TEST(StorageFull, AValidatorOnAFullDiskStopsLosesNothingAndCatchesUpAfterSpaceIsFreed) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  const std::vector<size_t> validators = c.validators();
  // Validator 3 is not the primary of view 0, so the others need no view change when it stops.
  const size_t full = validators[3];
  const fs::path data_dir = c.member(full).home / "data";
  TmpfsMount tmpfs(c, full, data_dir);
  if (const int err = tmpfs.Mount(); err != 0) {
    if (err == EPERM)
      GTEST_SKIP() << "mount -t tmpfs refused (EPERM): this test needs root or CAP_SYS_ADMIN";
    FAIL() << "mount -t tmpfs on " << data_dir << ": " << std::strerror(err);
  }
  IT_ASSERT_OK(c.StartAll());
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  TxFactory f(c.chain_id());
  std::vector<Wallet> payers, payees;
  std::vector<std::string> setup_ids;
  ASSERT_TRUE(OpenPayersAndPayees(c, f, validators, 1'000'000, payers, payees, setup_ids));
  ASSERT_TRUE(WaitCommitted(c, full, setup_ids));

  PaymentLoad load(c, f, payers, payees);
  load.Begin();
  ASSERT_TRUE(WaitUntil([&] { return load.AdmittedIds().size() >= 40; }, kCommitTimeoutMs,
                        "40 admitted transactions"));
  {
    const std::vector<std::string> admitted = load.AdmittedIds();
    ASSERT_TRUE(WaitCommitted(c, full, {admitted.begin(), admitted.begin() + 20}));
  }
  // What the validator acknowledges as committed, before the fill and until it stops.
  std::vector<std::string> acknowledged_by_full = CommittedOn(c, full, load.AdmittedIds());
  ASSERT_GE(acknowledged_by_full.size(), 20u);

  const size_t filler_bytes = FillFileSystem(data_dir / "filler");
  ASSERT_GT(filler_bytes, 0u);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::vector<std::string> committed = CommittedOn(c, full, load.AdmittedIds());
        if (committed.size() > acknowledged_by_full.size()) acknowledged_by_full = committed;
        return !c.Running(full);
      },
      kStopOnFullDiskTimeoutMs, "the validator on the full disk stops"));
  load.SetAlive(full, false);
  const int status = c.member(full).last_wait_status;
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status << "\n" << c.LogTail(full);
  EXPECT_EQ(WEXITSTATUS(status), kStorageFailureExitCode) << c.LogTail(full);
  const std::string log = c.LogTail(full, 200);
  const bool names_a_database =
      log.find("storage failure while ") != std::string::npos &&
      (log.find("chain database " + data_dir.string()) != std::string::npos ||
       log.find("state database " + (data_dir / "state").string()) != std::string::npos);
  EXPECT_TRUE(names_a_database) << "no storage failure line naming the database:\n" << log;
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  if (const size_t at = log.find("storage failure while "); at != std::string::npos)
    std::printf("the full validator's line: %s\n", log.substr(at, log.find('\n', at) - at).c_str());

  // The others keep committing; everything anyone acknowledged is committed on them.
  std::vector<size_t> healthy(validators.begin(), validators.begin() + 3);
  const uint64_t height_at_stop = HeightOf(c, healthy[0]);
  ASSERT_TRUE(WaitHeight(c, healthy, height_at_stop + 5));
  load.Stop();
  const std::vector<std::string> admitted = load.AdmittedByOthersThan(full);
  ASSERT_GT(admitted.size(), 30u);
  for (size_t v : healthy) {
    EXPECT_TRUE(WaitCommitted(c, v, acknowledged_by_full)) << c.member(v).name;
    EXPECT_TRUE(WaitCommitted(c, v, admitted)) << c.member(v).name;
  }

  // Space freed, restarted: it catches up, with the same chain and state roots.
  fs::remove(data_dir / "filler");
  IT_ASSERT_OK(c.Start(full));
  const uint64_t target = HeightOf(c, healthy[0]) + 2;
  ASSERT_TRUE(WaitHeight(c, validators, target));
  EXPECT_TRUE(SameChain(c, validators, 1, target));
  EXPECT_TRUE(WaitCommitted(c, full, admitted));
  std::printf("filler %zu bytes; the full validator acknowledged %zu transactions; %zu admitted\n",
              filler_bytes, acknowledged_by_full.size(), admitted.size());
}

}  // namespace
}  // namespace cl::integration

namespace cl::integration {
namespace {

// A database LevelDB finds damaged when it opens: the node refuses to start, with one line naming
// the database and its directory, and exit status 2.
TEST(StorageFull, ANodeRefusesToStartOnADamagedDatabaseNamingIt) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.Start(0));
  auto stopped = c.Terminate(0);
  IT_ASSERT_OK(stopped);
  const fs::path state_dir = c.member(0).home / "data" / "state";
  {
    std::ofstream current(state_dir / "CURRENT", std::ios::binary | std::ios::trunc);
    current << "garbage without a newline";
  }
  IT_ASSERT_OK(c.Spawn(0));
  ASSERT_TRUE(WaitUntil([&] { return !c.Running(0); }, kStartTimeoutMs, "ledgerd exits"));
  const int status = c.member(0).last_wait_status;
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string log = c.LogTail(0, 5);
  EXPECT_NE(log.find("ledgerd: opening state database " + state_dir.string() + ": Corruption"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace cl::integration
