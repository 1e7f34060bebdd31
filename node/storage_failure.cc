#include "node/storage_failure.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cl::node {

bool IsStorageFailure(const Error& error) {
  return error.storage_failure;
}

std::string StorageFailureLine(std::string_view operation, const Error& error) {
  std::string line = "storage failure while ";
  line.append(operation);
  line.append(": ");
  line.append(error.message);
  // The operating system's texts for ENFILE and EMFILE (strerror), which LevelDB puts in its
  // message. Nothing is wrong with the disk then: a table file could not be opened.
  const std::string_view message = error.message;
  if (message.find("Too many open files in system") != std::string_view::npos) {
    line.append(
        "; stopping (the system ran out of file descriptors: raise fs.file-max or stop what "
        "holds them, then restart the node)");
  } else if (message.find("Too many open files") != std::string_view::npos) {
    line.append(
        "; stopping (the process ran out of file descriptors: raise its limit, ulimit -n or "
        "LimitNOFILE= in a systemd unit, or lower rpc.max_connections, then restart the node)");
  } else {
    line.append("; stopping (free space or replace the disk, then restart the node)");
  }
  return line;
}

void StopOnStorageFailure(std::string_view operation, const Error& error) {
  const std::string line = StorageFailureLine(operation, error);
  spdlog::critical("{}", line);
  spdlog::default_logger()->flush();
  std::fprintf(stderr, "ledgerd: %s\n", line.c_str());
  std::fflush(stderr);
  // _Exit: no atexit handlers, no static destructors, no database close; the databases are
  // reopened by the restart, as after a crash.
  std::_Exit(kStorageFailureExitCode);
}

}  // namespace cl::node
