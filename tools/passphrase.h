// Where an operator command gets the passphrase of the keystores it writes or opens: the first line
// of --passphrase-file, or typed at the terminal with echo off. Without a file and without a
// terminal on stdin the command refuses: a passphrase piped in by accident (or an empty one) must
// not end up protecting a bank's keys.
//
// Thread safety: PromptPassphrase changes the terminal's echo setting and, while echo is off, the
// handlers of SIGINT, SIGTERM, SIGHUP and SIGQUIT (they put the terminal back, then end the process
// as the signal would have); call it from one thread.
#pragma once

#include <filesystem>
#include <string>

#include "util/status.h"

namespace cl::tools {

// A new keystore's passphrase has at least this many bytes (`member init`); existing keystores are
// opened with whatever passphrase they were made with.
inline constexpr size_t kMinNewPassphraseBytes = 12;

// The first line of `file` (without its newline); refused when empty or longer than
// crypto::kMaxPassphraseBytes. The file may be a pipe. When group or others have any access to a
// regular file, one warning line goes to stderr and the passphrase is used.
Result<std::string> ReadPassphraseFile(const std::filesystem::path& file);

// Reads a passphrase from the terminal on stdin, echo off, prompting on stderr; with `confirm` it
// asks twice and refuses two different answers. kFailedPrecondition when stdin is not a terminal.
Result<std::string> PromptPassphrase(bool confirm);

// ReadPassphraseFile(file) when a file is given, else PromptPassphrase(confirm).
Result<std::string> GetPassphrase(const std::string& file, bool confirm);

}  // namespace cl::tools
