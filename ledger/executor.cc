#include "ledger/executor.h"

#include <algorithm>
#include <cstring>

#include "crypto/sha256.h"
#include "ledger/epoch.h"
#include "ledger/invariant.h"
#include "ledger/ledger_state.h"
#include "util/assert.h"

// Declares `var` bound to the value of a Result expression, or returns its error.
#define LEDGER_ASSIGN(var, expr)                                              \
  auto var##_result = (expr);                                                 \
  if (!var##_result) return std::unexpected(std::move(var##_result.error())); \
  auto& var = *var##_result

namespace cl::ledger {
namespace {

__extension__ typedef unsigned __int128 Uint128;  // wide enough for any sum of two u64 totals

struct OpOutcome {
  ResultCode code = ResultCode::kOk;
  uint64_t original_height = 0;
};

OpOutcome Code(ResultCode code) {
  return OpOutcome{code, 0};
}
bool Succeeded(const OpOutcome& o) {
  return o.code == ResultCode::kOk || o.code == ResultCode::kAlreadyApplied;
}

bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) {
  return !__builtin_add_overflow(a, b, out);
}

bool SameController(const pb::Controller& a, const pb::Controller& b) {
  if (a.threshold() != b.threshold() || a.keys_size() != b.keys_size()) return false;
  for (int i = 0; i < a.keys_size(); ++i) {
    if (a.keys(i) != b.keys(i)) return false;
  }
  return true;
}

// Keys a block touches beside its operations' (hold index, sweep buckets): a sizing hint only.
constexpr size_t kReservedBlockKeys = 64;

bool IsHold(const pb::TransferRecord& rec) {
  return rec.transfer().pending() && rec.pending_id().empty();
}

// An account a transfer reads and writes. Decoded flat (AccountFields, no protobuf) when stored in
// the canonical encoding, as every record this node writes is; otherwise parsed by protobuf into
// `msg`, which the write then goes through, so that it keeps whatever protobuf keeps.
struct TransferAccount {
  AccountFields f;
  const pb::AccountRecord* proto = nullptr;  // &msg when parsed by protobuf
  pb::AccountRecord msg;
};

class BlockExecutor {
 public:
  BlockExecutor(LedgerState& state, const BlockInfo& block)
      : st_(state), block_(block), now_s_(block.timestamp_ms / 1000) {}

  Result<uint64_t> ExpireHolds();
  // At the start of a block: the scheduled validator set takes over at its activation height.
  Status ActivateEpoch();
  Result<pb::Receipt> ExecuteTx(const VerifiedTx& tx);

 private:
  Result<OpOutcome> Apply(const pb::Operation& op);
  Result<OpOutcome> CreateAccount(const pb::CreateAccount& op);
  Result<OpOutcome> SetFreeze(const pb::SetAccountFreeze& op);
  Result<OpOutcome> ChangeControllerOp(const pb::ChangeController& op);
  Result<OpOutcome> CloseAccount(const pb::CloseAccount& op);
  Result<OpOutcome> TransferOp(const pb::Transfer& op);
  Result<OpOutcome> PostPending(const pb::PostPending& op);
  Result<OpOutcome> VoidPending(const pb::VoidPending& op);
  Result<OpOutcome> CreateAsset(const pb::CreateAsset& op);
  Result<OpOutcome> AddMember(const pb::AddMember& op);
  Result<OpOutcome> ChangeRoles(const pb::ChangeMemberRoles& op);
  Result<OpOutcome> RemoveMemberOp(const pb::RemoveMember& op);
  Result<OpOutcome> RotateNodeKey(const pb::RotateNodeKey& op);
  Result<OpOutcome> SetThreshold(const pb::SetGovernanceThreshold& op);
  // Schedules the validator set that the members make once `changed` replaces its record (an
  // epoch, docs/consensus.md "Epochs"), or returns the code that refuses it. kOk, writing
  // nothing, when the set stays as it is.
  Result<ResultCode> ScheduleSetChange(const pb::MemberRecord& changed);

  bool Signed(const pb::Controller& c) const { return ControllerSatisfied(c, tx_->signers()); }
  bool Signed(const TransferAccount& a) const {
    return a.proto != nullptr
               ? Signed(a.proto->controller())
               : ControllerSatisfied(a.f.controller_threshold, a.f.controller_keys, tx_->signers());
  }
  // Reads an account for TransferOp into *out; false when absent.
  Result<bool> ReadTransferAccount(const Bytes& key, TransferAccount* out,
                                   LedgerState::KeyRef* ref);
  void WriteTransferAccount(LedgerState::KeyRef ref, TransferAccount& a);
  Result<bool> MemberApproves(uint32_t member_id) const;
  Result<bool> ComplianceApproves() const;
  Result<bool> GovernanceApproves() const;
  // Whether a member other than `id` (current or removed) has `node_key` or one of
  // `governance_keys` as its node key or one of its governance keys.
  Result<bool> KeyInUse(
      uint32_t id, const std::string& node_key,
      const google::protobuf::RepeatedPtrField<std::string>& governance_keys) const;
  // A member's record, or nullopt when it does not exist or was removed.
  Result<std::optional<pb::MemberRecord>> ActiveMember(uint32_t id) const;
  ResultCode CheckDebit(const AccountFields& a, uint64_t amount) const;
  ResultCode CheckCredit(const AccountFields& a, uint64_t amount) const;
  ResultCode CheckOutflow(AccountFields& a, uint64_t amount) const;
  // Removes a live hold's pending amounts from both accounts and marks it resolved as `state`.
  Status ReleaseHold(pb::TransferRecord& hold, pb::TransferState state, uint64_t posted_amount);
  Status IndexHold(std::string_view hold_id, uint64_t deadline_s);
  Result<pb::HoldIndexMeta> Meta() const;

  LedgerState& st_;
  const BlockInfo& block_;
  const uint64_t now_s_;
  const VerifiedTx* tx_ = nullptr;
  // Reused by TransferOp (parsing into them keeps their allocations from one transfer to the
  // next); no other operation touches them, and TransferOp does not nest.
  pb::TransferRecord scratch_existing_;
  TransferAccount scratch_debit_;
  TransferAccount scratch_credit_;
  pb::TransferRecord scratch_record_;
  // TransferOp's keys, rebuilt in place (the buffers keep their capacity).
  Bytes transfer_key_, debit_key_, credit_key_;
};

// `prefix || id` into *buf, the same bytes as keys::Account / keys::Transfer, without allocating
// once the buffer has grown.
const Bytes& KeyInto(Bytes* buf, uint8_t prefix, std::string_view id) {
  buf->resize(1 + id.size());
  (*buf)[0] = prefix;
  if (!id.empty()) std::memcpy(buf->data() + 1, id.data(), id.size());
  return *buf;
}

Result<pb::HoldIndexMeta> BlockExecutor::Meta() const {
  LEDGER_ASSIGN(meta, st_.GetRecord<pb::HoldIndexMeta>(keys::HoldMeta()));
  return meta.value_or(pb::HoldIndexMeta());
}

Result<std::optional<pb::MemberRecord>> BlockExecutor::ActiveMember(uint32_t id) const {
  LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(id)));
  if (member && member->removed_height() != 0) return std::optional<pb::MemberRecord>();
  return std::move(member);
}

Result<bool> BlockExecutor::MemberApproves(uint32_t member_id) const {
  LEDGER_ASSIGN(member, ActiveMember(member_id));
  return member.has_value() && Signed(member->governance());
}

Result<bool> BlockExecutor::ComplianceApproves() const {
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  if (!gov) return false;
  for (uint32_t id : gov->members()) {
    LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(id)));
    if (member && (member->roles() & pb::ROLE_COMPLIANCE) && Signed(member->governance())) {
      return true;
    }
  }
  return false;
}

// The quorum counts distinct keys, not members: each member's approval must come from keys that
// no member counted before it (in member id order) used. Genesis and add_member refuse a governance
// key that another member has, so with a state they built no key is shared and this is simply
// "threshold members signed"; the rule keeps one signature from counting twice in any state.
Result<bool> BlockExecutor::GovernanceApproves() const {
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  if (!gov || gov->threshold() == 0) return false;
  uint32_t approvals = 0;
  std::vector<std::string> used;  // keys that already counted for a member
  for (uint32_t id : gov->members()) {
    LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(id)));
    if (!member) continue;
    const pb::Controller& c = member->governance();
    std::vector<std::string> signing;  // this member's keys that signed and are still unused
    for (const std::string& k : c.keys()) {
      // Stored keys were validated when stored; compare bytes, as ControllerSatisfied does.
      if (k.size() != crypto::kPublicKeyBytes) continue;
      crypto::PublicKey key;
      std::copy(k.begin(), k.end(), key.bytes.begin());
      if (!tx_->SignedBy(key)) continue;
      if (std::find(used.begin(), used.end(), k) != used.end()) continue;
      signing.push_back(k);
    }
    if (c.threshold() == 0 || signing.size() < c.threshold()) continue;
    ++approvals;
    used.insert(used.end(), signing.begin(), signing.end());
  }
  return approvals >= gov->threshold();
}

Result<bool> BlockExecutor::KeyInUse(
    uint32_t id, const std::string& node_key,
    const google::protobuf::RepeatedPtrField<std::string>& governance_keys) const {
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  if (!gov) return false;
  std::vector<std::string_view> mine(governance_keys.begin(), governance_keys.end());
  mine.push_back(node_key);
  auto taken = [&mine](const std::string& k) {
    return std::find(mine.begin(), mine.end(), k) != mine.end();
  };
  // A node key rotated away is never used again (review finding: it could be taken by another
  // member, or come back, while it still signed in the set in force).
  for (std::string_view k : mine) {
    LEDGER_ASSIGN(retired, st_.Get(keys::RetiredKey(k)));
    if (retired) return true;
  }
  std::vector<uint32_t> ids(gov->members().begin(), gov->members().end());
  ids.insert(ids.end(), gov->removed().begin(), gov->removed().end());
  for (uint32_t other : ids) {
    if (other == id) continue;
    LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(other)));
    if (!member) continue;
    if (taken(member->node_key())) return true;
    for (const std::string& k : member->governance().keys()) {
      if (taken(k)) return true;
    }
  }
  return false;
}

// Held funds are unspendable: the floor applies to posted debits plus pending debits.
ResultCode BlockExecutor::CheckDebit(const AccountFields& a, uint64_t amount) const {
  uint64_t debits = 0;
  if (!CheckedAdd(a.debits_posted, a.debits_pending, &debits) ||
      !CheckedAdd(debits, amount, &debits)) {
    return ResultCode::kOverflow;
  }
  if (a.issuer) return ResultCode::kOk;
  // Exact in 128 bits, as the invariant computes it: credits plus overdraft may exceed u64.
  Uint128 allowed = a.credits_posted;
  if (!(a.flags & pb::ACCOUNT_FLAG_DEBITS_MUST_NOT_EXCEED_CREDITS)) allowed += a.overdraft_limit;
  return debits > allowed ? ResultCode::kInsufficientFunds : ResultCode::kOk;
}

ResultCode BlockExecutor::CheckCredit(const AccountFields& a, uint64_t amount) const {
  uint64_t credits = 0;
  if (!CheckedAdd(a.credits_posted, a.credits_pending, &credits) ||
      !CheckedAdd(credits, amount, &credits)) {
    return ResultCode::kOverflow;
  }
  return ResultCode::kOk;
}

// Counts `amount` against the debit account's daily outflow (holds count when placed).
ResultCode BlockExecutor::CheckOutflow(AccountFields& a, uint64_t amount) const {
  uint64_t day = now_s_ / kSecondsPerDay;
  uint64_t today = a.outflow_day == day ? a.outflow_today : 0;
  if (!CheckedAdd(today, amount, &today)) return ResultCode::kOverflow;
  if (a.max_outflow_per_day != 0 && today > a.max_outflow_per_day) {
    return ResultCode::kExceedsDailyOutflow;
  }
  a.outflow_day = day;
  a.outflow_today = today;
  return ResultCode::kOk;
}

Result<bool> BlockExecutor::ReadTransferAccount(const Bytes& key, TransferAccount* out,
                                                LedgerState::KeyRef* ref) {
  LEDGER_ASSIGN(raw, st_.ReadRaw(key, ref));
  if (!raw->has_value()) return false;
  out->proto = nullptr;
  if (DecodeAccountFields(**raw, &out->f)) return true;
  if (!out->msg.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size()))) {
    return MakeError(ErrorCode::kCorruption, "state record does not parse");
  }
  out->proto = &out->msg;
  out->f = AccountFieldsOf(out->msg);
  return true;
}

// Writes what TransferOp changes: balances and the daily outflow.
void BlockExecutor::WriteTransferAccount(LedgerState::KeyRef ref, TransferAccount& a) {
  if (a.proto == nullptr) {
    Bytes encoded;
    EncodeAccountFields(a.f, &encoded);
    st_.PutBytes(ref, std::move(encoded));
    return;
  }
  a.msg.set_debits_posted(a.f.debits_posted);
  a.msg.set_credits_posted(a.f.credits_posted);
  a.msg.set_debits_pending(a.f.debits_pending);
  a.msg.set_credits_pending(a.f.credits_pending);
  a.msg.set_outflow_day(a.f.outflow_day);
  a.msg.set_outflow_today(a.f.outflow_today);
  st_.PutRecord(ref, a.msg);
}

Result<OpOutcome> BlockExecutor::Apply(const pb::Operation& op) {
  switch (op.kind_case()) {
    case pb::Operation::kCreateAccount:
      return CreateAccount(op.create_account());
    case pb::Operation::kSetFreeze:
      return SetFreeze(op.set_freeze());
    case pb::Operation::kChangeController:
      return ChangeControllerOp(op.change_controller());
    case pb::Operation::kCloseAccount:
      return CloseAccount(op.close_account());
    case pb::Operation::kTransfer:
      return TransferOp(op.transfer());
    case pb::Operation::kPostPending:
      return PostPending(op.post_pending());
    case pb::Operation::kVoidPending:
      return VoidPending(op.void_pending());
    case pb::Operation::kCreateAsset:
      return CreateAsset(op.create_asset());
    case pb::Operation::kAddMember:
      return AddMember(op.add_member());
    case pb::Operation::kChangeRoles:
      return ChangeRoles(op.change_roles());
    case pb::Operation::kRemoveMember:
      return RemoveMemberOp(op.remove_member());
    case pb::Operation::kRotateNodeKey:
      return RotateNodeKey(op.rotate_node_key());
    case pb::Operation::kSetGovernanceThreshold:
      return SetThreshold(op.set_governance_threshold());
    case pb::Operation::KIND_NOT_SET:
      break;
  }
  return Code(ResultCode::kInvalidField);  // unreachable for a VerifiedTx
}

Result<OpOutcome> BlockExecutor::CreateAccount(const pb::CreateAccount& op) {
  LEDGER_ASSIGN(custodian, ActiveMember(op.custodian()));
  if (!custodian) return Code(ResultCode::kMemberNotFound);
  if (!Signed(custodian->governance())) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(asset, st_.GetRecord<pb::AssetRecord>(keys::Asset(op.asset())));
  if (!asset) return Code(ResultCode::kAssetNotFound);
  // An overdraft lets the account pay out money that nobody paid in: it is credit in the asset,
  // which only the asset's issuer grants (its governance signature, or it keeps the account).
  // No operation changes the limit later.
  if (op.overdraft_limit() != 0 && op.custodian() != asset->issuer()) {
    LEDGER_ASSIGN(by_issuer, MemberApproves(asset->issuer()));
    if (!by_issuer) return Code(ResultCode::kUnauthorized);
  }
  LEDGER_ASSIGN(existing, st_.GetAccount(op.id()));
  if (existing) {
    bool same = !existing->issuer() && existing->asset() == op.asset() &&
                SameController(existing->controller(), op.controller()) &&
                existing->custodian() == op.custodian() && existing->flags() == op.flags() &&
                existing->overdraft_limit() == op.overdraft_limit() &&
                existing->max_per_transfer() == op.max_per_transfer() &&
                existing->max_outflow_per_day() == op.max_outflow_per_day();
    if (!same) return Code(ResultCode::kIdExistsWithDifferentFields);
    return OpOutcome{ResultCode::kAlreadyApplied, existing->created_height()};
  }
  pb::AccountRecord rec;
  rec.set_id(op.id());
  rec.set_asset(op.asset());
  *rec.mutable_controller() = op.controller();
  rec.set_custodian(op.custodian());
  rec.set_flags(op.flags());
  rec.set_overdraft_limit(op.overdraft_limit());
  rec.set_max_per_transfer(op.max_per_transfer());
  rec.set_max_outflow_per_day(op.max_outflow_per_day());
  rec.set_created_height(block_.height);
  st_.PutAccount(rec);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::SetFreeze(const pb::SetAccountFreeze& op) {
  LEDGER_ASSIGN(account, st_.GetAccount(op.account()));
  if (!account) return Code(ResultCode::kAccountNotFound);
  LEDGER_ASSIGN(by_custodian, MemberApproves(account->custodian()));
  if (!by_custodian) {
    LEDGER_ASSIGN(by_compliance, ComplianceApproves());
    if (!by_compliance) return Code(ResultCode::kUnauthorized);
  }
  if (account->closed()) return Code(ResultCode::kAccountClosed);
  account->set_debits_frozen(op.debits_frozen());
  account->set_credits_frozen(op.credits_frozen());
  st_.PutAccount(*account);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::ChangeControllerOp(const pb::ChangeController& op) {
  LEDGER_ASSIGN(account, st_.GetAccount(op.account()));
  if (!account) return Code(ResultCode::kAccountNotFound);
  if (!Signed(account->controller())) {
    // The custodian bank may rotate a customer's lost keys.
    LEDGER_ASSIGN(by_custodian, MemberApproves(account->custodian()));
    if (!by_custodian) return Code(ResultCode::kUnauthorized);
  }
  if (account->closed()) return Code(ResultCode::kAccountClosed);
  *account->mutable_controller() = op.controller();
  st_.PutAccount(*account);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::CloseAccount(const pb::CloseAccount& op) {
  LEDGER_ASSIGN(account, st_.GetAccount(op.account()));
  if (!account) return Code(ResultCode::kAccountNotFound);
  if (!Signed(account->controller())) {
    LEDGER_ASSIGN(by_custodian, MemberApproves(account->custodian()));
    if (!by_custodian) return Code(ResultCode::kUnauthorized);
  }
  if (account->closed()) return Code(ResultCode::kAccountClosed);
  if (account->issuer()) return Code(ResultCode::kIssuerAccountCannotClose);
  if (account->debits_posted() != account->credits_posted() || account->debits_pending() != 0 ||
      account->credits_pending() != 0) {
    return Code(ResultCode::kBalanceNotZero);
  }
  account->set_closed(true);
  st_.PutAccount(*account);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::TransferOp(const pb::Transfer& op) {
  // The hot path: records are parsed into the executor's reused messages (see ReadRecord).
  pb::TransferRecord& existing = scratch_existing_;
  LedgerState::KeyRef transfer_ref, debit_ref, credit_ref;  // each key looked up once
  LEDGER_ASSIGN(exists, st_.ReadRecord(KeyInto(&transfer_key_, keys::kTransfer, op.id()), &existing,
                                       &transfer_ref));
  if (exists) {
    if (!existing.pending_id().empty() ||
        SerializeRecord(existing.transfer()) != SerializeRecord(op)) {
      return Code(ResultCode::kIdExistsWithDifferentFields);
    }
    return OpOutcome{ResultCode::kAlreadyApplied, existing.height()};
  }
  if (op.debit_account() == op.credit_account()) return Code(ResultCode::kSameAccount);
  TransferAccount& debit_account = scratch_debit_;
  TransferAccount& credit_account = scratch_credit_;
  // The views in debit and credit point into the records' stored bytes, which stay alive (in the
  // state or its undo journal) until this operation has written both.
  LEDGER_ASSIGN(has_debit,
                ReadTransferAccount(KeyInto(&debit_key_, keys::kAccount, op.debit_account()),
                                    &debit_account, &debit_ref));
  LEDGER_ASSIGN(has_credit,
                ReadTransferAccount(KeyInto(&credit_key_, keys::kAccount, op.credit_account()),
                                    &credit_account, &credit_ref));
  if (!has_debit || !has_credit) return Code(ResultCode::kAccountNotFound);
  AccountFields& debit = debit_account.f;
  AccountFields& credit = credit_account.f;
  if (!Signed(debit_account)) return Code(ResultCode::kUnauthorized);
  if (debit.closed || credit.closed) return Code(ResultCode::kAccountClosed);
  if (debit.asset != credit.asset) return Code(ResultCode::kAssetMismatch);
  if (debit.debits_frozen) return Code(ResultCode::kDebitsFrozen);
  if (credit.credits_frozen) return Code(ResultCode::kCreditsFrozen);
  if (debit.max_per_transfer != 0 && op.amount() > debit.max_per_transfer) {
    return Code(ResultCode::kExceedsMaxPerTransfer);
  }
  if (ResultCode c = CheckDebit(debit, op.amount()); c != ResultCode::kOk) return Code(c);
  if (ResultCode c = CheckCredit(credit, op.amount()); c != ResultCode::kOk) return Code(c);
  if (ResultCode c = CheckOutflow(debit, op.amount()); c != ResultCode::kOk) return Code(c);

  // The checks above bound every sum below; the adds cannot overflow.
  pb::TransferState state = pb::TRANSFER_STATE_POSTED;
  uint64_t deadline_s = 0;
  if (op.pending()) {
    debit.debits_pending += op.amount();
    credit.credits_pending += op.amount();
    state = pb::TRANSFER_STATE_PENDING;
    deadline_s = now_s_ + op.timeout_s();
    LEDGER_TRY(IndexHold(op.id(), deadline_s));
  } else {
    debit.debits_posted += op.amount();
    credit.credits_posted += op.amount();
  }
  WriteTransferAccount(debit_ref, debit_account);
  WriteTransferAccount(credit_ref, credit_account);
  Bytes record;
  if (EncodeNewTransferRecord(op, state, block_.height, deadline_s, &record)) {
    st_.PutBytes(transfer_ref, std::move(record));
  } else {  // unknown fields in the operation: protobuf keeps them in the record
    pb::TransferRecord& rec = scratch_record_;
    rec.Clear();
    *rec.mutable_transfer() = op;
    rec.set_height(block_.height);
    rec.set_state(state);
    rec.set_deadline_s(deadline_s);
    st_.PutRecord(transfer_ref, rec);
  }
  return Code(ResultCode::kOk);
}

Status BlockExecutor::IndexHold(std::string_view hold_id, uint64_t deadline_s) {
  uint64_t second = deadline_s;
  Bytes count_key = keys::ExpiryCount(second);
  LEDGER_ASSIGN(raw, st_.Get(count_key));
  uint32_t count = 0;
  if (raw) {
    if (raw->size() != 4) return MakeError(ErrorCode::kCorruption, "expiry count record");
    count = LoadU32BE(raw->data());
  }
  st_.Put(keys::ExpiryItem(second, count), ToBytes(hold_id));
  Bytes new_count;
  AppendU32BE(new_count, count + 1);
  st_.Put(count_key, new_count);
  LEDGER_ASSIGN(meta, Meta());
  // When every indexed bucket has been swept, none lies between the sweep mark and now: move the
  // mark up so the next sweep does not walk an idle stretch second by second.
  if (meta.swept_through_s() >= meta.max_deadline_s() && now_s_ > 0) {
    meta.set_swept_through_s(std::max(meta.swept_through_s(), now_s_ - 1));
  }
  meta.set_live_holds(meta.live_holds() + 1);
  meta.set_max_deadline_s(std::max(meta.max_deadline_s(), second));
  st_.PutRecord(keys::HoldMeta(), meta);
  return OkStatus();
}

Status BlockExecutor::ReleaseHold(pb::TransferRecord& hold, pb::TransferState state,
                                  uint64_t posted_amount) {
  LEDGER_ASSERT(hold.state() == pb::TRANSFER_STATE_PENDING);
  const pb::Transfer& t = hold.transfer();
  LEDGER_ASSIGN(debit, st_.GetAccount(t.debit_account()));
  LEDGER_ASSIGN(credit, st_.GetAccount(t.credit_account()));
  if (!debit || !credit) return MakeError(ErrorCode::kCorruption, "hold names a missing account");
  LEDGER_ASSERT(debit->debits_pending() >= t.amount());
  LEDGER_ASSERT(credit->credits_pending() >= t.amount());
  LEDGER_ASSERT(posted_amount <= t.amount());
  debit->set_debits_pending(debit->debits_pending() - t.amount());
  credit->set_credits_pending(credit->credits_pending() - t.amount());
  // Posting moves at most the held amount, which CheckDebit/CheckCredit admitted when it was held.
  debit->set_debits_posted(debit->debits_posted() + posted_amount);
  credit->set_credits_posted(credit->credits_posted() + posted_amount);
  st_.PutAccount(*debit);
  st_.PutAccount(*credit);
  hold.set_state(state);
  hold.set_resolved_height(block_.height);
  hold.set_posted_amount(posted_amount);
  st_.PutTransfer(hold);
  LEDGER_ASSIGN(meta, Meta());
  LEDGER_ASSERT(meta.live_holds() > 0);
  meta.set_live_holds(meta.live_holds() - 1);
  st_.PutRecord(keys::HoldMeta(), meta);
  return OkStatus();
}

ResultCode HoldResolvedCode(const pb::TransferRecord& hold) {
  switch (hold.state()) {
    case pb::TRANSFER_STATE_POSTED_PENDING:
      return ResultCode::kPendingAlreadyPosted;
    case pb::TRANSFER_STATE_VOIDED:
      return ResultCode::kPendingAlreadyVoided;
    case pb::TRANSFER_STATE_EXPIRED:
      return ResultCode::kPendingExpired;
    default:
      return ResultCode::kOk;
  }
}

Result<OpOutcome> BlockExecutor::PostPending(const pb::PostPending& op) {
  LEDGER_ASSIGN(existing, st_.GetTransfer(op.id()));
  if (existing) {
    bool same = existing->state() == pb::TRANSFER_STATE_POSTED &&
                existing->pending_id() == op.pending_id() && existing->preimage() == op.preimage();
    if (same) {
      // The record keeps the amount posted; amount 0 asked for all of the hold.
      uint64_t requested = op.amount();
      if (requested == 0) {
        LEDGER_ASSIGN(hold, st_.GetTransfer(op.pending_id()));
        if (!hold) return MakeError(ErrorCode::kCorruption, "post names a missing hold");
        requested = hold->transfer().amount();
      }
      same = existing->transfer().amount() == requested;
    }
    if (!same) return Code(ResultCode::kIdExistsWithDifferentFields);
    return OpOutcome{ResultCode::kAlreadyApplied, existing->height()};
  }
  LEDGER_ASSIGN(hold, st_.GetTransfer(op.pending_id()));
  if (!hold || !IsHold(*hold)) return Code(ResultCode::kPendingNotFound);
  const pb::Transfer& t = hold->transfer();
  LEDGER_ASSIGN(debit, st_.GetAccount(t.debit_account()));
  LEDGER_ASSIGN(credit, st_.GetAccount(t.credit_account()));
  if (!debit || !credit) return MakeError(ErrorCode::kCorruption, "hold names a missing account");
  bool locked = !t.hash_lock().empty();
  // The payer may post any hold; the payee may post a hash-locked hold with the preimage.
  if (!Signed(debit->controller()) && !(locked && Signed(credit->controller()))) {
    return Code(ResultCode::kUnauthorized);
  }
  if (ResultCode c = HoldResolvedCode(*hold); c != ResultCode::kOk) return Code(c);
  if (locked &&
      crypto::Sha256Of(AsSpan(op.preimage())) != Hash32::FromSpan(AsSpan(t.hash_lock()))) {
    return Code(ResultCode::kPreimageMismatch);
  }
  uint64_t amount = op.amount() == 0 ? t.amount() : op.amount();
  if (amount > t.amount()) return Code(ResultCode::kAmountExceedsPending);
  if (debit->debits_frozen()) return Code(ResultCode::kDebitsFrozen);
  if (credit->credits_frozen()) return Code(ResultCode::kCreditsFrozen);
  LEDGER_TRY(ReleaseHold(*hold, pb::TRANSFER_STATE_POSTED_PENDING, amount));
  pb::TransferRecord rec;
  rec.mutable_transfer()->set_id(op.id());
  rec.mutable_transfer()->set_debit_account(t.debit_account());
  rec.mutable_transfer()->set_credit_account(t.credit_account());
  rec.mutable_transfer()->set_amount(amount);
  rec.set_state(pb::TRANSFER_STATE_POSTED);
  rec.set_height(block_.height);
  rec.set_pending_id(op.pending_id());
  rec.set_preimage(op.preimage());
  st_.PutTransfer(rec);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::VoidPending(const pb::VoidPending& op) {
  LEDGER_ASSIGN(existing, st_.GetTransfer(op.id()));
  if (existing) {
    if (existing->state() != pb::TRANSFER_STATE_VOID || existing->pending_id() != op.pending_id()) {
      return Code(ResultCode::kIdExistsWithDifferentFields);
    }
    return OpOutcome{ResultCode::kAlreadyApplied, existing->height()};
  }
  LEDGER_ASSIGN(hold, st_.GetTransfer(op.pending_id()));
  if (!hold || !IsHold(*hold)) return Code(ResultCode::kPendingNotFound);
  const pb::Transfer& t = hold->transfer();
  LEDGER_ASSIGN(debit, st_.GetAccount(t.debit_account()));
  LEDGER_ASSIGN(credit, st_.GetAccount(t.credit_account()));
  if (!debit || !credit) return MakeError(ErrorCode::kCorruption, "hold names a missing account");
  bool locked = !t.hash_lock().empty();
  // The payee may always give a hold back; the payer only when it is not an escrow (hash-locked),
  // which otherwise runs until its timeout.
  if (!Signed(credit->controller()) && !(!locked && Signed(debit->controller()))) {
    return Code(ResultCode::kUnauthorized);
  }
  if (ResultCode c = HoldResolvedCode(*hold); c != ResultCode::kOk) return Code(c);
  LEDGER_TRY(ReleaseHold(*hold, pb::TRANSFER_STATE_VOIDED, 0));
  pb::TransferRecord rec;
  rec.mutable_transfer()->set_id(op.id());
  rec.mutable_transfer()->set_debit_account(t.debit_account());
  rec.mutable_transfer()->set_credit_account(t.credit_account());
  rec.mutable_transfer()->set_amount(t.amount());
  rec.set_state(pb::TRANSFER_STATE_VOID);
  rec.set_height(block_.height);
  rec.set_pending_id(op.pending_id());
  st_.PutTransfer(rec);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::CreateAsset(const pb::CreateAsset& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(existing, st_.GetRecord<pb::AssetRecord>(keys::Asset(op.code())));
  if (existing) {
    // The issuer controller is compared with the issuer account's controller as it is now (as
    // create_account compares its controller): after a change_controller a retry is refused.
    LEDGER_ASSIGN(account, st_.GetAccount(existing->issuer_account()));
    if (existing->scale() == op.scale() && existing->issuer() == op.issuer() &&
        existing->issuer_account() == op.issuer_account() && account &&
        SameController(account->controller(), op.issuer_controller())) {
      return OpOutcome{ResultCode::kAlreadyApplied, existing->created_height()};
    }
    return Code(ResultCode::kAssetExists);
  }
  LEDGER_ASSIGN(issuer, ActiveMember(op.issuer()));
  if (!issuer) return Code(ResultCode::kMemberNotFound);
  // An asset is credit of its issuer: a quorum cannot create one in a member's name without it.
  if (!Signed(issuer->governance())) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(account, st_.GetAccount(op.issuer_account()));
  if (account) return Code(ResultCode::kIdExistsWithDifferentFields);
  pb::AssetRecord asset;
  asset.set_code(op.code());
  asset.set_scale(op.scale());
  asset.set_issuer(op.issuer());
  asset.set_issuer_account(op.issuer_account());
  asset.set_created_height(block_.height);
  st_.PutRecord(keys::Asset(op.code()), asset);
  pb::AccountRecord rec;
  rec.set_id(op.issuer_account());
  rec.set_asset(op.code());
  *rec.mutable_controller() = op.issuer_controller();
  rec.set_custodian(op.issuer());
  rec.set_issuer(true);
  rec.set_created_height(block_.height);
  st_.PutAccount(rec);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::AddMember(const pb::AddMember& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(existing, st_.GetRecord<pb::MemberRecord>(keys::Member(op.id())));
  if (existing) {
    if (existing->name() == op.name() && existing->roles() == op.roles() &&
        existing->node_key() == op.node_key() &&
        SameController(existing->governance(), op.governance())) {
      return OpOutcome{ResultCode::kAlreadyApplied, existing->created_height()};
    }
    return Code(ResultCode::kMemberExists);
  }
  // One key, one member: a shared governance key would let one signature approve for two members,
  // and a shared node key would make two validators one.
  LEDGER_ASSIGN(in_use, KeyInUse(op.id(), op.node_key(), op.governance().keys()));
  if (in_use) return Code(ResultCode::kKeyInUse);
  pb::MemberRecord rec;
  rec.set_id(op.id());
  rec.set_name(op.name());
  rec.set_roles(op.roles());
  rec.set_node_key(op.node_key());
  *rec.mutable_governance() = op.governance();
  rec.set_created_height(block_.height);
  LEDGER_ASSIGN(set_change, ScheduleSetChange(rec));
  if (set_change != ResultCode::kOk) return Code(set_change);
  st_.PutRecord(keys::Member(op.id()), rec);
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  pb::GovernanceRecord g = gov.value_or(pb::GovernanceRecord());
  std::vector<uint32_t> ids(g.members().begin(), g.members().end());
  ids.insert(std::upper_bound(ids.begin(), ids.end(), op.id()), op.id());
  g.clear_members();
  for (uint32_t id : ids)
    g.add_members(id);
  st_.PutRecord(keys::Governance(), g);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::ChangeRoles(const pb::ChangeMemberRoles& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(op.id())));
  if (!member) return Code(ResultCode::kMemberNotFound);
  if (member->removed_height() != 0) return Code(ResultCode::kMemberRemoved);
  member->set_roles(op.roles());
  LEDGER_ASSIGN(set_change, ScheduleSetChange(*member));
  if (set_change != ResultCode::kOk) return Code(set_change);
  st_.PutRecord(keys::Member(op.id()), *member);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::RemoveMemberOp(const pb::RemoveMember& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(op.id())));
  if (!member) return Code(ResultCode::kMemberNotFound);
  if (member->removed_height() != 0)
    return OpOutcome{ResultCode::kAlreadyApplied, member->removed_height()};
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  LEDGER_ASSERT(gov.has_value());
  // The quorum must stay reachable by the members that remain.
  if (gov->threshold() > static_cast<uint32_t>(gov->members_size()) - 1)
    return Code(ResultCode::kThresholdOutOfRange);
  member->set_roles(pb::ROLE_NONE);
  member->set_removed_height(block_.height);
  LEDGER_ASSIGN(set_change, ScheduleSetChange(*member));
  if (set_change != ResultCode::kOk) return Code(set_change);
  st_.PutRecord(keys::Member(op.id()), *member);
  std::vector<uint32_t> members;
  for (uint32_t id : gov->members()) {
    if (id != op.id()) members.push_back(id);
  }
  std::vector<uint32_t> removed(gov->removed().begin(), gov->removed().end());
  removed.insert(std::upper_bound(removed.begin(), removed.end(), op.id()), op.id());
  gov->clear_members();
  gov->clear_removed();
  for (uint32_t id : members)
    gov->add_members(id);
  for (uint32_t id : removed)
    gov->add_removed(id);
  st_.PutRecord(keys::Governance(), *gov);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::RotateNodeKey(const pb::RotateNodeKey& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(member, st_.GetRecord<pb::MemberRecord>(keys::Member(op.id())));
  if (!member) return Code(ResultCode::kMemberNotFound);
  if (member->removed_height() != 0) return Code(ResultCode::kMemberRemoved);
  if (member->node_key() == op.node_key()) {
    uint64_t since =
        member->key_changed_height() != 0 ? member->key_changed_height() : member->created_height();
    return OpOutcome{ResultCode::kAlreadyApplied, since};
  }
  LEDGER_ASSIGN(in_use, KeyInUse(op.id(), op.node_key(), {}));
  if (in_use) return Code(ResultCode::kKeyInUse);
  Bytes owner;
  AppendU32BE(owner, op.id());
  st_.Put(keys::RetiredKey(member->node_key()), std::move(owner));
  member->set_node_key(op.node_key());
  member->set_key_changed_height(block_.height);
  LEDGER_ASSIGN(set_change, ScheduleSetChange(*member));
  if (set_change != ResultCode::kOk) return Code(set_change);
  st_.PutRecord(keys::Member(op.id()), *member);
  return Code(ResultCode::kOk);
}

Result<OpOutcome> BlockExecutor::SetThreshold(const pb::SetGovernanceThreshold& op) {
  LEDGER_ASSIGN(approved, GovernanceApproves());
  if (!approved) return Code(ResultCode::kUnauthorized);
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  LEDGER_ASSERT(gov.has_value());
  if (op.threshold() == 0 || op.threshold() > static_cast<uint32_t>(gov->members_size()))
    return Code(ResultCode::kThresholdOutOfRange);
  gov->set_threshold(op.threshold());
  st_.PutRecord(keys::Governance(), *gov);
  return Code(ResultCode::kOk);
}

Result<ResultCode> BlockExecutor::ScheduleSetChange(const pb::MemberRecord& changed) {
  LEDGER_ASSIGN(gov, st_.GetRecord<pb::GovernanceRecord>(keys::Governance()));
  LEDGER_ASSERT(gov.has_value());
  std::vector<pb::MemberRecord> members;
  bool seen = false;
  for (uint32_t id : gov->members()) {
    if (id == changed.id()) {
      members.push_back(changed);
      seen = true;
      continue;
    }
    LEDGER_ASSIGN(m, st_.GetRecord<pb::MemberRecord>(keys::Member(id)));
    if (!m) return MakeError(ErrorCode::kCorruption, "governance names a missing member");
    members.push_back(std::move(*m));
  }
  if (!seen) members.push_back(changed);  // add_member
  pb::ValidatorSetRecord set = ValidatorsOfMembers(members);
  LEDGER_ASSIGN(record, ReadEpochRecord([this](const Bytes& key) { return st_.Get(key); }));
  const pb::ValidatorSetRecord& latest = record.has_next() ? record.next() : record.current();
  auto same = [](const pb::ValidatorSetRecord& a, const pb::ValidatorSetRecord& b) {
    if (a.validators_size() != b.validators_size()) return false;
    for (int i = 0; i < a.validators_size(); ++i) {
      if (a.validators(i).member() != b.validators(i).member() ||
          a.validators(i).node_key() != b.validators(i).node_key()) {
        return false;
      }
    }
    return true;
  };
  if (same(set, latest)) return ResultCode::kOk;
  if (record.has_next()) return ResultCode::kEpochChangePending;
  if (static_cast<uint32_t>(set.validators_size()) < kMinValidators)
    return ResultCode::kTooFewValidators;
  if (static_cast<uint32_t>(set.validators_size()) > kMaxValidatorsPerSet)
    return ResultCode::kTooManyValidators;
  set.set_epoch(record.current().epoch() + 1);
  set.set_activation_height(block_.height + kEpochActivationDelay);
  set.set_changed_height(block_.height);
  *record.mutable_next() = std::move(set);
  st_.PutRecord(keys::Epoch(), record);
  return ResultCode::kOk;
}

Status BlockExecutor::ActivateEpoch() {
  LEDGER_ASSIGN(record, st_.GetRecord<pb::EpochRecord>(keys::Epoch()));
  if (!record || !record->has_next() || record->next().activation_height() > block_.height)
    return OkStatus();
  // Usually the activation height itself; later when the block at that height was a null block
  // (nothing executes for one). The set for each height is SetForHeight's either way.
  pb::ValidatorSetRecord next = std::move(*record->mutable_next());
  record->clear_next();
  *record->mutable_current() = std::move(next);
  st_.PutRecord(keys::Epoch(), *record);
  return OkStatus();
}

// Sweeps every expiry bucket whose second the block time has passed, up to the latest deadline
// ever indexed, so an idle ledger reads nothing and a gap reads at most one bucket per second.
Result<uint64_t> BlockExecutor::ExpireHolds() {
  LEDGER_ASSIGN(meta, Meta());
  if (now_s_ == 0) return uint64_t{0};
  uint64_t last = std::min(now_s_ - 1, meta.max_deadline_s());
  if (last <= meta.swept_through_s()) return uint64_t{0};
  uint64_t expired = 0;
  for (uint64_t s = meta.swept_through_s() + 1; s <= last; ++s) {
    Bytes count_key = keys::ExpiryCount(s);
    LEDGER_ASSIGN(raw, st_.Get(count_key));
    if (!raw) continue;
    if (raw->size() != 4) return MakeError(ErrorCode::kCorruption, "expiry count record");
    uint32_t count = LoadU32BE(raw->data());
    for (uint32_t i = 0; i < count; ++i) {
      Bytes item_key = keys::ExpiryItem(s, i);
      LEDGER_ASSIGN(id, st_.Get(item_key));
      if (!id) return MakeError(ErrorCode::kCorruption, "expiry index item missing");
      LEDGER_ASSIGN(hold, st_.GetTransfer(AsStringView(*id)));
      if (!hold) return MakeError(ErrorCode::kCorruption, "expiry index names a missing hold");
      if (hold->state() == pb::TRANSFER_STATE_PENDING) {
        LEDGER_ASSERT(hold->deadline_s() == s);
        LEDGER_TRY(ReleaseHold(*hold, pb::TRANSFER_STATE_EXPIRED, 0));
        ++expired;
      }
      st_.Delete(item_key);
    }
    st_.Delete(count_key);
  }
  LEDGER_ASSIGN(meta_now, Meta());
  meta_now.set_swept_through_s(last);
  st_.PutRecord(keys::HoldMeta(), meta_now);
  st_.ReleaseSavepoints();
  return expired;
}

Result<pb::Receipt> BlockExecutor::ExecuteTx(const VerifiedTx& tx) {
  tx_ = &tx;
  pb::Receipt receipt;
  receipt.set_tx_id(std::string(AsStringView(tx.tx_id().span())));
  receipt.set_height(block_.height);
  receipt.set_status(static_cast<uint32_t>(TxStatus::kRejected));
  const pb::TxBody& body = tx.body();
  if (body.chain_id() != block_.chain_id) {
    return MakeError(ErrorCode::kInvalidArgument, "block holds a transaction of another chain");
  }
  Bytes seen_key = keys::TxSeen(tx.tx_id());
  LEDGER_ASSIGN(seen, st_.Get(seen_key));
  if (seen) {
    receipt.set_code(static_cast<uint32_t>(ResultCode::kTxDuplicate));
    return receipt;
  }
  if (block_.height > body.valid_until_height() ||
      (body.valid_until_time_ms() != 0 && block_.timestamp_ms > body.valid_until_time_ms())) {
    receipt.set_code(static_cast<uint32_t>(ResultCode::kTxExpired));
    return receipt;
  }
  Bytes height_bytes;
  AppendU64BE(height_bytes, block_.height);
  st_.Put(seen_key, height_bytes);
  st_.ReleaseSavepoints();

  const int n = body.operations_size();
  std::vector<OpOutcome> outcomes(static_cast<size_t>(n));
  size_t applied_chains = 0, failed_chains = 0;
  for (int first = 0; first < n;) {
    int last = first;
    while (last < n - 1 && body.operations(last).linked())
      ++last;
    size_t savepoint = st_.Savepoint();
    int failed = -1;
    for (int i = first; i <= last; ++i) {
      LEDGER_ASSIGN(outcome, Apply(body.operations(i)));
      outcomes[static_cast<size_t>(i)] = outcome;
      if (!Succeeded(outcome)) {
        failed = i;
        break;
      }
    }
    if (failed >= 0) {
      st_.RollbackTo(savepoint);
      ++failed_chains;
    } else {
      ++applied_chains;
    }
    st_.ReleaseSavepoints();
    for (int i = first; i <= last; ++i) {
      auto* r = receipt.add_results();
      if (failed >= 0 && i != failed) {
        r->set_code(static_cast<uint32_t>(ResultCode::kLinkedOperationFailed));
        r->set_failed_op_index(static_cast<uint32_t>(failed));
      } else {
        r->set_code(static_cast<uint32_t>(outcomes[static_cast<size_t>(i)].code));
        r->set_original_height(outcomes[static_cast<size_t>(i)].original_height);
      }
    }
    first = last + 1;
  }
  TxStatus status = failed_chains == 0    ? TxStatus::kCommitted
                    : applied_chains == 0 ? TxStatus::kRejected
                                          : TxStatus::kPartial;
  receipt.set_status(static_cast<uint32_t>(status));
  return receipt;
}

}  // namespace

Result<BlockOutcome> ExecuteBlock(const StateReader& state, const BlockInfo& block,
                                  std::span<const VerifiedTx> txs) {
  if (block.height == 0) return MakeError(ErrorCode::kInvalidArgument, "block height 0 is genesis");
  LedgerState st(state);
  // Most operations touch about three keys (two accounts and a transfer), each transaction one.
  size_t ops = 0;
  for (const VerifiedTx& tx : txs)
    ops += static_cast<size_t>(tx.body().operations_size());
  st.Reserve(3 * ops + txs.size() + kReservedBlockKeys);
  BlockExecutor exec(st, block);
  BlockOutcome out;
  LEDGER_TRY(exec.ActivateEpoch());
  LEDGER_ASSIGN(expired, exec.ExpireHolds());
  out.holds_expired = expired;
  out.receipts.reserve(txs.size());
  for (const VerifiedTx& tx : txs) {
    LEDGER_ASSIGN(receipt, exec.ExecuteTx(tx));
    out.receipts.push_back(std::move(receipt));
  }
  // The writes are sorted once, for the invariant check and for the changes.
  LEDGER_ASSIGN(writes, st.SortedWrites());
  LEDGER_TRY(CheckBlockWrites(writes));
  out.changes = st.MoveChanges(writes);
  return out;
}

Hash32 ReceiptHash(const pb::Receipt& receipt) {
  return crypto::TaggedHash(crypto::Domain::kReceipt, SerializeRecord(receipt));
}

}  // namespace cl::ledger
