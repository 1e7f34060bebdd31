// A JSON-RPC call to a node that accepted the connection but does not answer (stopped with
// SIGSTOP: the kernel still completes the TCP handshake and takes the request) returns an error
// within its timeout, instead of blocking until the node runs again.
//
// Found by ledger-soak (scripts/soak.sh --duration 45 --seed 120): a submit_tx with a 2 s timeout,
// sent to a validator the nemesis had just paused for 11.6 s, returned "admitted" 11.9 s later,
// when the node was continued. tools::RpcCall sets beast::tcp_stream::expires_after, but uses the
// synchronous connect, write and read, which that expiry does not apply to (Boost.Beast applies
// it to asynchronous operations only). Every caller of RpcCall (ledgerctl, the integration
// harness's bounded waits, ledger-soak's clients) can hang on a stopped or wedged node.
//
// DISABLED until tools/rpc_client.cc is fixed (it fails today: the call takes kResumeAfterMs);
// run it with --gtest_also_run_disabled_tests --gtest_filter='RpcTimeout.*'.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "tests/integration/harness.h"

namespace cl::integration {
namespace {

constexpr uint32_t kCallTimeoutMs = 1'000;
// The node is continued after this long whatever happens, so the test ends even with the bug.
constexpr uint32_t kResumeAfterMs = 8'000;
// The call must give up well before the node is continued.
constexpr uint32_t kCallBoundMs = 3'000;

TEST(RpcTimeout, CallToAPausedNodeReturnsWithinItsTimeout) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  IT_ASSERT_OK(c.GetStatus(0));

  const pid_t pid = c.member(0).pid;
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // kill returns before every thread has stopped: wait until the kernel reports each of the
  // process's threads stopped (state T in /proc/PID/task/TID/stat), or one still running may
  // answer the call.
  ASSERT_TRUE(WaitUntil(
      [pid] {
        std::error_code ec;
        for (const auto& task :
             std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
          std::ifstream stat(task.path() / "stat");
          std::string text((std::istreambuf_iterator<char>(stat)),
                           std::istreambuf_iterator<char>());
          const size_t paren = text.rfind(')');
          if (paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'T')
            return false;
        }
        return !ec;
      },
      5'000, "the node to stop"));
  std::atomic<bool> done{false};
  std::thread resume([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kResumeAfterMs);
    while (!done && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ::kill(pid, SIGCONT);
  });

  const auto start = std::chrono::steady_clock::now();
  auto answer = c.Call(0, "status", json::object{}, kCallTimeoutMs);
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  done = true;
  resume.join();

  EXPECT_LT(elapsed_ms, kCallBoundMs)
      << "a call with a " << kCallTimeoutMs << " ms timeout to a stopped node took " << elapsed_ms
      << " ms (it returned when the node was continued)";
  EXPECT_FALSE(answer.has_value()) << "a stopped node cannot answer within the timeout";
  // Once continued, the node answers again.
  IT_ASSERT_OK(c.GetStatus(0));
}

}  // namespace
}  // namespace cl::integration
