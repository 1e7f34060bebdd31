// Result codes of ledger operations and transaction statuses, as they appear in receipts.
//
// These numbers are stored in receipts (hashed into the receipt root) and returned over RPC:
// DO NOT RENUMBER OR REUSE A VALUE; add new codes at the end. docs/ledger.md documents each code.
//
// Thread safety: constants and pure functions only.
#pragma once

#include <cstdint>
#include <string_view>

namespace cl::ledger {

enum class ResultCode : uint32_t {
  kOk = 0,
  kAlreadyApplied = 1,         // same id, same fields: applied before (see original_height)
  kLinkedOperationFailed = 2,  // another operation of its linked chain failed (failed_op_index)
  kUnauthorized = 3,           // the required approval is not among the transaction's signers
  kInvalidField = 4,           // a malformed field (bad id length, zero amount, memo too long ...)
  kIdExistsWithDifferentFields = 5,
  kAccountNotFound = 6,
  kAssetNotFound = 7,
  kMemberNotFound = 8,
  kAssetMismatch = 9,       // debit and credit accounts hold different assets
  kSameAccount = 10,        // debit and credit are the same account
  kInsufficientFunds = 11,  // the debit would take the account below its floor
  kDebitsFrozen = 12,
  kCreditsFrozen = 13,
  kAccountClosed = 14,
  kOverflow = 15,  // a u64 total would overflow
  kExceedsMaxPerTransfer = 16,
  kExceedsDailyOutflow = 17,
  kPendingNotFound = 18,  // post/void of an id that is not a hold
  kPendingAlreadyPosted = 19,
  kPendingAlreadyVoided = 20,
  kPendingExpired = 21,
  kPreimageMismatch = 22,  // missing or wrong preimage for a hash-locked hold
  kAmountExceedsPending = 23,
  kBalanceNotZero = 24,  // close of an account with a balance or pending amounts
  kAssetExists = 25,
  kMemberExists = 26,
  kIssuerAccountCannotClose = 27,
  kKeyInUse = 28,             // add_member, rotate_node_key: a key another member has or had
  kEpochChangePending = 29,   // a validator-set change is committed and not yet in force
  kTooFewValidators = 30,     // the change would leave fewer than 4 validators
  kTooManyValidators = 31,    // the change would make more than 64 validators
  kMemberRemoved = 32,        // the member was removed (its id and keys stay used)
  kThresholdOutOfRange = 33,  // governance threshold 0, or above the members not removed
  // Transaction-level codes (Receipt.code).
  kTxExpired = 100,    // past valid_until_height / valid_until_time_ms
  kTxDuplicate = 101,  // a transaction with this id was already executed
};

enum class TxStatus : uint32_t {
  kCommitted = 0,  // every operation OK or ALREADY_APPLIED
  kPartial = 1,    // some operations (or linked chains) applied, others failed
  kRejected = 2,   // nothing applied
};

std::string_view ResultCodeName(ResultCode code);
std::string_view TxStatusName(TxStatus status);

}  // namespace cl::ledger
