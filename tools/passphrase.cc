#include "tools/passphrase.h"

#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "crypto/keystore.h"
#include "tools/files.h"

namespace cl::tools {
namespace {

// A passphrase file holds one line; anything much larger is not one.
inline constexpr size_t kMaxPassphraseFileBytes = 2 * crypto::kMaxPassphraseBytes;

Status CheckPassphrase(const std::string& passphrase, const std::string& where) {
  if (passphrase.empty())
    return MakeError(ErrorCode::kInvalidArgument, where + ": empty passphrase");
  if (passphrase.size() > crypto::kMaxPassphraseBytes)
    return MakeError(ErrorCode::kInvalidArgument, where + ": passphrase longer than " +
                                                      std::to_string(crypto::kMaxPassphraseBytes) +
                                                      " bytes");
  return OkStatus();
}

// The terminal's settings from before echo went off, for a signal that ends the process while it
// is off (Ctrl-C at the prompt): the handler puts them back, then dies of the signal as before.
termios g_terminal_before_prompt{};
volatile sig_atomic_t g_echo_off = 0;
constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void RestoreTerminalAndDie(int signal_number) {
  if (g_echo_off != 0) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_terminal_before_prompt);
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

// Installs RestoreTerminalAndDie for the fatal signals while it lives; puts back the handlers it
// found.
class EchoGuard {
 public:
  explicit EchoGuard(const termios& saved) {
    g_terminal_before_prompt = saved;
    struct sigaction action {};
    action.sa_handler = RestoreTerminalAndDie;
    ::sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kFatalSignals); ++i)
      ::sigaction(kFatalSignals[i], &action, &previous_[i]);
    g_echo_off = 1;
  }
  ~EchoGuard() {
    g_echo_off = 0;
    for (size_t i = 0; i < std::size(kFatalSignals); ++i)
      ::sigaction(kFatalSignals[i], &previous_[i], nullptr);
  }
  EchoGuard(const EchoGuard&) = delete;
  EchoGuard& operator=(const EchoGuard&) = delete;

 private:
  struct sigaction previous_[std::size(kFatalSignals)]{};
};

// Reads one line from the terminal on stdin with echo off; restores the terminal afterwards, also
// when a signal ends the process meanwhile.
Result<std::string> ReadHiddenLine(const char* prompt) {
  termios saved{};
  if (::tcgetattr(STDIN_FILENO, &saved) != 0)
    return MakeError(ErrorCode::kIoError, "cannot read the terminal's settings");
  const EchoGuard guard(saved);
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  // Echo goes off (dropping anything typed ahead, which was echoed) before the prompt shows, so
  // nothing typed after the prompt is ever echoed.
  if (::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
    return MakeError(ErrorCode::kIoError, "cannot turn the terminal's echo off");
  std::fputs(prompt, stderr);
  std::fflush(stderr);
  std::string line;
  const bool read = static_cast<bool>(std::getline(std::cin, line));
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!read) return MakeError(ErrorCode::kIoError, "no passphrase read from the terminal");
  return line;
}

// A passphrase file that group or others may read protects nothing from them: say so (one line),
// and go on, since refusing would only teach people to pass the passphrase some worse way.
void WarnIfOthersMayRead(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return;
  char mode[8];
  std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
  std::fprintf(stderr,
               "ledgerctl: warning: %s: the passphrase file has mode %s: group or others may read "
               "it; chmod 600 it\n",
               file.c_str(), mode);
}

}  // namespace

Result<std::string> ReadPassphraseFile(const std::filesystem::path& file) {
  auto text = ReadTextFile(file, kMaxPassphraseFileBytes);
  if (!text) return std::unexpected(text.error());
  WarnIfOthersMayRead(file);
  std::string passphrase = text->substr(0, text->find('\n'));
  LEDGER_TRY(CheckPassphrase(passphrase, file.string()));
  return passphrase;
}

Result<std::string> PromptPassphrase(bool confirm) {
  if (::isatty(STDIN_FILENO) == 0)
    return MakeError(ErrorCode::kFailedPrecondition,
                     "stdin is not a terminal: give the passphrase with --passphrase-file FILE");
  auto first = ReadHiddenLine("passphrase: ");
  if (!first) return std::unexpected(first.error());
  LEDGER_TRY(CheckPassphrase(*first, "terminal"));
  if (!confirm) return first;
  auto second = ReadHiddenLine("passphrase again: ");
  if (!second) return std::unexpected(second.error());
  if (*first != *second)
    return MakeError(ErrorCode::kInvalidArgument, "the two passphrases differ; nothing written");
  return first;
}

Result<std::string> GetPassphrase(const std::string& file, bool confirm) {
  if (!file.empty()) return ReadPassphraseFile(file);
  return PromptPassphrase(confirm);
}

}  // namespace cl::tools
