#include "util/assert.h"

#include <cstdio>
#include <cstdlib>

namespace cl::detail {

void AssertFailed(const char* expr, const char* file, int line, const char* message) {
  std::fprintf(stderr, "invariant violated: %s at %s:%d %s\n", expr, file, line, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace cl::detail
