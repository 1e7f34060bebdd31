// Writing a file so that readers (and a crash) see either no file or the whole file: the keystore
// writer's method, shared with the operator commands' outputs (tools/files.h).
//
//   1. a temporary file ".NAME.tmp-<random>" in the same directory, created with O_EXCL and
//      O_NOFOLLOW and the final mode (so a secret is never readable by others, even briefly, and
//      nothing is written through a symlink planted at the temporary name);
//   2. the contents written and fsynced;
//   3. renamed to the final name without replacing anything there (renameat2 RENAME_NOREPLACE, or
//      link + unlink where the filesystem lacks it), unless replacing is allowed; a symlink at the
//      final name, even a dangling one, counts as something there;
//   4. the directory fsynced, so that the rename survives a crash.
// On any error nothing is left at the final name (or the old file is intact) and the temporary file
// is removed.
//
// Thread safety: free function; concurrent writers of one path are serialised by the rename (one
// wins, the others get kAlreadyExists).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "util/status.h"

namespace cl {

// kAlreadyExists ("PATH: exists") when the path exists and !allow_overwrite; kPermissionDenied or
// kIoError naming the file and the system's error otherwise.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode, bool allow_overwrite);

}  // namespace cl
