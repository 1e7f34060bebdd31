// What the node does when its storage fails (docs/operations.md, "Storage failures"): it stops at
// once. A write or fsync that failed may have left the data half on disk, and LevelDB and the
// stores refuse writes after it anyway (ledger/leveldb_store.h), so the node cannot make anything
// durable until it restarts; running on would send votes or answer clients about state that is
// not on disk. The process exits from the thread that saw the failure, before that thread does
// anything else (no vote sent, no commit announced, no destructor that writes), and a restart
// reopens the databases, which hold every block whole or not at all.
//
// Thread safety: StopOnStorageFailure may be called from any thread; it does not return.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace cl::node {

// ledgerd's exit code after a storage failure (2: configuration or startup, 1: other fatal).
inline constexpr int kStorageFailureExitCode = 3;

// A failure of the storage itself, as the disk-backed store marked it (Error::storage_failure): an
// I/O error from the operating system or data on disk that fails its checks. Anything else (an
// execution that differs from the certified one, a kCorruption from a logical check, a broken
// invariant) is not, whatever its code.
bool IsStorageFailure(const Error& error);

// The line StopOnStorageFailure prints: "storage failure while <operation>: <error>; stopping
// (<what the operator does>)". The error names the database and its directory.
std::string StorageFailureLine(std::string_view operation, const Error& error);

// Logs StorageFailureLine on the log and on stderr, then ends the process with
// kStorageFailureExitCode.
[[noreturn]] void StopOnStorageFailure(std::string_view operation, const Error& error);

}  // namespace cl::node
