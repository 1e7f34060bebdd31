// ledgerd: runs one consortium node from its home directory.
//
//   ledgerd --home DIR [--log-level LEVEL]
//
// Reads DIR/config.toml, the genesis file and the encrypted node key (passphrase from the file
// named in the config, else LEDGERD_KEY_PASSPHRASE), then runs until SIGINT or SIGTERM. Any problem
// with the configuration or the data directory is one line on stderr naming the file and field (or
// the database and its directory), and exit code 2; a storage failure while running is one line
// naming the database and the operation, and exit code 3 (node/storage_failure.h); any other fatal
// error while running is exit code 1.
#include <dlfcn.h>
#include <execinfo.h>
#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "crypto/keystore.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "node/node.h"

// g++ defines __SANITIZE_ADDRESS__ under -fsanitize=address; clang reports it by __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define LEDGERD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LEDGERD_ASAN 1
#endif
#endif
#ifndef LEDGERD_ASAN
#define LEDGERD_ASAN 0
#endif

namespace {

using namespace cl;

[[noreturn]] void ConfigError(const std::string& message) {
  std::fprintf(stderr, "ledgerd: %s\n", message.c_str());
  std::exit(2);
}

std::string ReadPassphrase(const node::NodeConfig& config) {
  if (!config.passphrase_file.empty()) {
    std::ifstream in(config.passphrase_file);
    if (!in)
      ConfigError(config.config_file.string() + ": node.passphrase_file: cannot read " +
                  config.passphrase_file.string());
    std::string line;
    std::getline(in, line);
    if (line.empty())
      ConfigError(config.passphrase_file.string() + ": the passphrase file is empty");
    return line;
  }
  const char* env = std::getenv("LEDGERD_KEY_PASSPHRASE");
  if (env == nullptr || *env == '\0')
    ConfigError(config.config_file.string() +
                ": node.passphrase_file is not set and LEDGERD_KEY_PASSPHRASE is empty");
  return env;
}

// A node that dies on a fault says so: the signal and a backtrace on stderr (offsets in this binary
// or a library; see docs/operations.md), then the default action (a core dump where enabled).
// Without it a crash leaves a log that simply stops. Not in sanitizer builds, whose own report is
// better.
// Writing to a closed socket must never kill the node: SIGPIPE is ignored (Asio passes
// MSG_NOSIGNAL, this covers every other descriptor).
#if !LEDGERD_ASAN
void FatalSignal(int sig) {
  static const char kHead[] = "ledgerd: fatal signal ";
  (void)!::write(STDERR_FILENO, kHead, sizeof(kHead) - 1);
  const char* name = sigabbrev_np(sig);
  if (name != nullptr) (void)!::write(STDERR_FILENO, name, strlen(name));
  static const char kTail[] = "; backtrace:\n";
  (void)!::write(STDERR_FILENO, kTail, sizeof(kTail) - 1);
  void* frames[64];
  int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  ::raise(sig);  // SA_RESETHAND restored the default action: delivered when the handler returns
}
#endif

void InstallSignalHandlers() {
  ::signal(SIGPIPE, SIG_IGN);
#if !LEDGERD_ASAN
  // Its own stack, so a stack overflow on the main thread is reported too.
  static std::vector<char> alt_stack(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  ::sigaltstack(&ss, nullptr);
  void* warm[1];
  ::backtrace(warm, 1);  // loads libgcc now, not inside the handler
  struct sigaction sa {};
  sa.sa_handler = FatalSignal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
    ::sigaction(sig, &sa, nullptr);
#endif
}

// The allocator this process runs on: jemalloc when the build linked it (LEDGER_JEMALLOC, the
// default), else the C library's malloc (or, in a sanitizer build, the sanitizer's).
std::string AllocatorName() {
  using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);
  auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "not jemalloc (the C library's malloc, or a sanitizer's)";
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  ssize_t decay_ms = 0;
  size = sizeof(decay_ms);
  std::string name = std::string("jemalloc ") + version;
  if (mallctl("opt.dirty_decay_ms", &decay_ms, &size, nullptr, 0) == 0) {
    name += ", dirty_decay_ms " + std::to_string(decay_ms);
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"ledgerd: a Consortium Ledger node"};
  std::string home;
  std::string log_level;
  cli.add_option("--home", home, "home directory (config.toml, node.key, genesis, data)")
      ->required();
  cli.add_option("--log-level", log_level, "override log.level: trace|debug|info|warn|error");
  CLI11_PARSE(cli, argc, argv);

  auto config = node::LoadNodeConfig(home);
  if (!config) ConfigError(config.error().message);
  auto level = spdlog::level::from_str(log_level.empty() ? config->log_level : log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [" + config->member + "] %v");
  spdlog::info("allocator: {}", AllocatorName());
  // Protobuf logs a line for every string field that is not UTF-8 in the bytes it parses: from
  // clients' transactions and peers' messages, so any sender could fill the log, one line per
  // message. Every such refusal is reported by the node's own checks; protobuf's lines go to debug.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char* file, int line, const std::string& message) {
        spdlog::debug("protobuf {}:{}: {}", file, line, message);
      });

  auto genesis = genesis::LoadGenesisFile(config->genesis_file.string());
  if (!genesis) ConfigError(config->genesis_file.string() + ": " + genesis.error().message);
  std::string passphrase = ReadPassphrase(*config);
  auto key = crypto::ReadKeystoreFile(config->key_file, passphrase);
  if (!key) ConfigError(key.error().message);

  InstallSignalHandlers();
  // SIGINT and SIGTERM are taken by sigtimedwait below, not by handlers.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto node = node::Node::Open(*config, std::move(*genesis), std::move(*key));
  if (!node) ConfigError(node.error().message);
  auto started = (*node)->Start();
  if (!started) ConfigError(started.error().message);

  while (true) {
    timespec timeout{0, 200'000'000};
    int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: stopping", sig);
      break;
    }
    if ((*node)->halted()) break;
  }
  bool halted = (*node)->halted();
  (*node)->Stop();
  auto result = (*node)->Wait();
  if (halted || !result) {
    std::fprintf(stderr, "ledgerd: stopped on a fatal error: %s\n",
                 result ? "see the log" : result.error().message.c_str());
    return 1;
  }
  return 0;
}
