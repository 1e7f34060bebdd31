// Errors are values. A function that can fail returns Result<T> (std::expected<T, Error>) or Status
// (Result<void>). Exceptions never cross a module boundary. Bad input from users or peers is an
// Error with a message; a broken invariant is LEDGER_ASSERT (util/assert.h).
//
// Thread safety: plain values, safe to copy across threads.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace cl {

// Stable error categories. The numeric values appear in logs and RPC error data: do not renumber.
enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // malformed input: bad encoding, out-of-range field
  kNotFound = 2,
  kCorruption = 3,  // stored or received bytes fail an integrity check
  kIoError = 4,     // the operating system refused
  kPermissionDenied = 5,
  kAlreadyExists = 6,
  kResourceExhausted = 7,  // a stated limit was reached
  kFailedPrecondition = 8,
  kUnauthenticated = 9,  // a signature or MAC does not verify
  kUnavailable = 10,
  kInternal = 11,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // Set only by a disk-backed store (ledger/leveldb_store.h) for a failure of the storage itself:
  // the operating system refused, or bytes on disk fail their checks. The node stops on these
  // (node/storage_failure.h); a kCorruption from a logical check (the executor, the state tree's
  // invariants) leaves it false and takes the ordinary fatal path.
  bool storage_failure = false;

  // "invalid_argument: what went wrong"
  std::string ToString() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}
inline Status OkStatus() {
  return {};
}

}  // namespace cl

// Propagates the error of an expression yielding Result/Status: LEDGER_TRY(DoThing());
#define LEDGER_TRY(expr)                                                         \
  do {                                                                           \
    auto&& ledger_try_result_ = (expr);                                          \
    if (!ledger_try_result_) return std::unexpected(ledger_try_result_.error()); \
  } while (0)
