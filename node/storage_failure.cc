#include "node/storage_failure.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cl::node {

bool IsStorageFailure(const Error& error) {
  return error.storage_failure;
}

void StopOnStorageFailure(std::string_view operation, const Error& error) {
  std::string line = "storage failure while ";
  line.append(operation);
  line.append(": ");
  line.append(error.message);
  line.append("; stopping (free space or replace the disk, then restart the node)");
  spdlog::critical("{}", line);
  spdlog::default_logger()->flush();
  std::fprintf(stderr, "ledgerd: %s\n", line.c_str());
  std::fflush(stderr);
  // _Exit: no atexit handlers, no static destructors, no database close; the databases are
  // reopened by the restart, as after a crash.
  std::_Exit(kStorageFailureExitCode);
}

}  // namespace cl::node
