// Invariant assertions. Always on, in every build: a broken invariant means a bug, and the node
// must stop before it writes anything wrong. Never use these for input from users or peers; return
// an Error instead.
#pragma once

namespace cl::detail {
[[noreturn]] void AssertFailed(const char* expr, const char* file, int line, const char* message);
}  // namespace cl::detail

#define LEDGER_ASSERT(cond)                                      \
  do {                                                           \
    if (!(cond)) [[unlikely]]                                    \
      ::cl::detail::AssertFailed(#cond, __FILE__, __LINE__, ""); \
  } while (0)

#define LEDGER_ASSERT_MSG(cond, message)                                \
  do {                                                                  \
    if (!(cond)) [[unlikely]]                                           \
      ::cl::detail::AssertFailed(#cond, __FILE__, __LINE__, (message)); \
  } while (0)

#define LEDGER_UNREACHABLE() ::cl::detail::AssertFailed("unreachable", __FILE__, __LINE__, "")
