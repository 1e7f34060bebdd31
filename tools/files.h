// Small file helpers shared by ledgerctl's operator commands (localnet, member, genesis, node).
// Every error names the file. Thread safety: free functions with no shared state.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace cl::tools {

// Modes the operator commands write with: public material (descriptors, genesis, configs) is
// world-readable; secrets (keystores, passphrases) are the owner's only.
inline constexpr std::filesystem::perms kPublicFileMode =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
    std::filesystem::perms::group_read | std::filesystem::perms::others_read;
inline constexpr std::filesystem::perms kSecretFileMode =
    std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;

// Writes `text` to a new file `path` with mode `perms`, atomically (util/atomic_file.h: a
// temporary file created O_EXCL|O_NOFOLLOW with that mode, fsynced, renamed without replacing).
// kAlreadyExists "PATH: exists; remove it or choose another path" when something is at `path`,
// a dangling symlink included: nothing is ever written over a file or through a symlink.
Status WriteTextFile(const std::filesystem::path& path, std::string_view text,
                     std::filesystem::perms perms);

// One output of a command.
struct NewFile {
  std::filesystem::path path;
  std::string_view text;
  std::filesystem::perms perms;
};

// Writes every file as WriteTextFile does, in order; when one fails, the ones this call wrote are
// removed, so a command leaves all its outputs or none.
Status WriteNewFiles(const std::vector<NewFile>& files);

// kAlreadyExists "PATH: exists; remove it or choose another path" when anything is at `path`
// (a symlink counts, even a dangling one).
Status RefuseExisting(const std::filesystem::path& path);

// Reads a whole file of at most max_bytes: kNotFound "PATH: no such file" when it is missing,
// kInvalidArgument when it is larger.
Result<std::string> ReadTextFile(const std::filesystem::path& path, size_t max_bytes);

// Creates `dir` (and its parents) with mode 0700 for a command that fills it. An existing empty
// directory is accepted; an existing non-empty one (or a file) is refused with kAlreadyExists, so
// no command ever mixes its output with older files or overwrites keys.
Status CreateFreshDirectory(const std::filesystem::path& dir);

}  // namespace cl::tools
