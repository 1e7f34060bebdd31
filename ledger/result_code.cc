#include "ledger/result_code.h"

namespace cl::ledger {

std::string_view ResultCodeName(ResultCode code) {
  switch (code) {
    case ResultCode::kOk:
      return "ok";
    case ResultCode::kAlreadyApplied:
      return "already_applied";
    case ResultCode::kLinkedOperationFailed:
      return "linked_operation_failed";
    case ResultCode::kUnauthorized:
      return "unauthorized";
    case ResultCode::kInvalidField:
      return "invalid_field";
    case ResultCode::kIdExistsWithDifferentFields:
      return "id_exists_with_different_fields";
    case ResultCode::kAccountNotFound:
      return "account_not_found";
    case ResultCode::kAssetNotFound:
      return "asset_not_found";
    case ResultCode::kMemberNotFound:
      return "member_not_found";
    case ResultCode::kAssetMismatch:
      return "asset_mismatch";
    case ResultCode::kSameAccount:
      return "same_account";
    case ResultCode::kInsufficientFunds:
      return "insufficient_funds";
    case ResultCode::kDebitsFrozen:
      return "debits_frozen";
    case ResultCode::kCreditsFrozen:
      return "credits_frozen";
    case ResultCode::kAccountClosed:
      return "account_closed";
    case ResultCode::kOverflow:
      return "overflow";
    case ResultCode::kExceedsMaxPerTransfer:
      return "exceeds_max_per_transfer";
    case ResultCode::kExceedsDailyOutflow:
      return "exceeds_daily_outflow";
    case ResultCode::kPendingNotFound:
      return "pending_not_found";
    case ResultCode::kPendingAlreadyPosted:
      return "pending_already_posted";
    case ResultCode::kPendingAlreadyVoided:
      return "pending_already_voided";
    case ResultCode::kPendingExpired:
      return "pending_expired";
    case ResultCode::kPreimageMismatch:
      return "preimage_mismatch";
    case ResultCode::kAmountExceedsPending:
      return "amount_exceeds_pending";
    case ResultCode::kBalanceNotZero:
      return "balance_not_zero";
    case ResultCode::kAssetExists:
      return "asset_exists";
    case ResultCode::kMemberExists:
      return "member_exists";
    case ResultCode::kIssuerAccountCannotClose:
      return "issuer_account_cannot_close";
    case ResultCode::kKeyInUse:
      return "key_in_use";
    case ResultCode::kEpochChangePending:
      return "epoch_change_pending";
    case ResultCode::kTooFewValidators:
      return "too_few_validators";
    case ResultCode::kTooManyValidators:
      return "too_many_validators";
    case ResultCode::kMemberRemoved:
      return "member_removed";
    case ResultCode::kThresholdOutOfRange:
      return "threshold_out_of_range";
    case ResultCode::kTxExpired:
      return "tx_expired";
    case ResultCode::kTxDuplicate:
      return "tx_duplicate";
  }
  return "unknown";
}

std::string_view TxStatusName(TxStatus status) {
  switch (status) {
    case TxStatus::kCommitted:
      return "committed";
    case TxStatus::kPartial:
      return "partial";
    case TxStatus::kRejected:
      return "rejected";
  }
  return "unknown";
}

}  // namespace cl::ledger
