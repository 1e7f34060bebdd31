#include "tools/audit_report.h"

#include <boost/json.hpp>
#include <ctime>

#include "ledger/result_code.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

namespace json = boost::json;
namespace pb = ledger::pb;

std::string Hex(const std::string& bytes) {
  return ToHex(AsSpan(bytes));
}

std::string SignedDifference(uint64_t plus, uint64_t minus) {
  if (plus >= minus) return std::to_string(plus - minus);
  return "-" + std::to_string(minus - plus);
}

std::string Utc(uint64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// docs/rpc.md get_transfer `state`.
std::string_view TransferStateName(pb::TransferState s) {
  switch (s) {
    case pb::TRANSFER_STATE_POSTED:
      return "posted";
    case pb::TRANSFER_STATE_PENDING:
      return "pending";
    case pb::TRANSFER_STATE_POSTED_PENDING:
      return "posted_pending";
    case pb::TRANSFER_STATE_VOIDED:
      return "voided";
    case pb::TRANSFER_STATE_EXPIRED:
      return "expired";
    case pb::TRANSFER_STATE_VOID:
      return "void";
    default:
      return "unknown";
  }
}

std::string_view StatusName(const pb::Receipt& r) {
  return ledger::TxStatusName(static_cast<ledger::TxStatus>(r.status()));
}
std::string_view CodeName(uint32_t code) {
  return ledger::ResultCodeName(static_cast<ledger::ResultCode>(code));
}

// The RPC's renderings (node/rpc_methods.cc RenderAccount, RenderTransfer, RenderReceipt and
// get_asset), key for key; the audit tool does not link node/.
json::object RenderAccount(const pb::AccountRecord& a) {
  json::array keys;
  for (const std::string& k : a.controller().keys())
    keys.push_back(json::value(Hex(k)));
  return json::object{
      {"id", Hex(a.id())},
      {"asset", a.asset()},
      {"controller",
       json::object{{"threshold", a.controller().threshold()}, {"keys", std::move(keys)}}},
      {"custodian", a.custodian()},
      {"flags", a.flags()},
      {"issuer", a.issuer()},
      {"balance", SignedDifference(a.credits_posted(), a.debits_posted())},
      {"debits_posted", std::to_string(a.debits_posted())},
      {"credits_posted", std::to_string(a.credits_posted())},
      {"debits_pending", std::to_string(a.debits_pending())},
      {"credits_pending", std::to_string(a.credits_pending())},
      {"overdraft_limit", std::to_string(a.overdraft_limit())},
      {"max_per_transfer", std::to_string(a.max_per_transfer())},
      {"max_outflow_per_day", std::to_string(a.max_outflow_per_day())},
      {"debits_frozen", a.debits_frozen()},
      {"credits_frozen", a.credits_frozen()},
      {"closed", a.closed()},
      {"created_height", a.created_height()},
  };
}

json::object RenderTransfer(const pb::TransferRecord& r) {
  const pb::Transfer& t = r.transfer();
  json::object out{
      {"id", Hex(t.id())},
      {"debit_account", Hex(t.debit_account())},
      {"credit_account", Hex(t.credit_account())},
      {"amount", std::to_string(t.amount())},
      {"state", TransferStateName(r.state())},
      {"height", r.height()},
  };
  if (!t.uetr().empty()) out["uetr"] = Hex(t.uetr());
  if (!t.end_to_end_id().empty()) out["end_to_end_id"] = t.end_to_end_id();
  if (!t.purpose().empty()) out["purpose"] = t.purpose();
  if (!t.memo().empty()) out["memo"] = Hex(t.memo());
  if (t.pending()) {
    out["timeout_s"] = t.timeout_s();
    out["deadline_s"] = r.deadline_s();
  }
  if (!t.hash_lock().empty()) out["hash_lock"] = Hex(t.hash_lock());
  if (r.resolved_height() != 0) out["resolved_height"] = r.resolved_height();
  if (r.posted_amount() != 0) out["posted_amount"] = std::to_string(r.posted_amount());
  if (!r.pending_id().empty()) out["pending_id"] = Hex(r.pending_id());
  return out;
}

json::object RenderReceipt(const pb::Receipt& r) {
  json::array results;
  for (const pb::OpResult& op : r.results()) {
    json::object o{{"code", op.code()}, {"name", CodeName(op.code())}};
    if (op.original_height() != 0) o["original_height"] = op.original_height();
    if (op.code() == static_cast<uint32_t>(ledger::ResultCode::kLinkedOperationFailed))
      o["failed_op_index"] = op.failed_op_index();
    results.push_back(std::move(o));
  }
  return json::object{{"tx_id", Hex(r.tx_id())},         {"height", r.height()},
                      {"status", StatusName(r)},         {"code", r.code()},
                      {"code_name", CodeName(r.code())}, {"results", std::move(results)}};
}

json::object RenderAsset(const pb::AssetRecord& a) {
  return json::object{{"code", a.code()},
                      {"scale", a.scale()},
                      {"issuer", a.issuer()},
                      {"issuer_account", Hex(a.issuer_account())},
                      {"created_height", a.created_height()}};
}

// The subject as shown: an asset code (checked against the asset-code rule) as text, every id as
// hex.
std::string ShownSubject(const ledger::VerifiedFacts& f) {
  const std::string subject = ToString(f.subject);
  return f.kind == pb::BUNDLE_KIND_ASSET_SUPPLY ? subject : Hex(subject);
}

std::string TransactionStatement(const ledger::VerifiedFacts& f) {
  const pb::Receipt& r = *f.receipt;
  std::string s = "transaction " + ShownSubject(f) + " was included at index " +
                  std::to_string(f.tx_index) + " of " + std::to_string(f.tx_count);
  if (r.code() != static_cast<uint32_t>(ledger::ResultCode::kOk))
    return s + " and not executed (receipt status " + std::string(StatusName(r)) + ", code " +
           std::string(CodeName(r.code())) + ")";
  s += " and executed with receipt status " + std::string(StatusName(r)) + " (operations:";
  for (const pb::OpResult& op : r.results())
    s += " " + std::string(CodeName(op.code()));
  return s + ")";
}

}  // namespace

std::string_view BundleKindName(pb::BundleKind k) {
  switch (k) {
    case pb::BUNDLE_KIND_ACCOUNT:
      return "account";
    case pb::BUNDLE_KIND_TRANSFER:
      return "transfer";
    case pb::BUNDLE_KIND_TRANSACTION:
      return "transaction";
    case pb::BUNDLE_KIND_NO_ACCOUNT:
      return "no_account";
    case pb::BUNDLE_KIND_NO_TRANSFER:
      return "no_transfer";
    case pb::BUNDLE_KIND_ASSET_SUPPLY:
      return "asset_supply";
    default:
      return "unknown";
  }
}

json::array EpochChainJson(const ledger::VerifiedFacts& f) {
  json::array out;
  for (const ledger::VerifiedEpochChange& c : f.epoch_changes) {
    out.push_back(json::object{{"epoch", c.epoch},
                               {"height", c.height},
                               {"activation_height", c.activation_height},
                               {"validators", c.validators},
                               {"validator_set_hash", c.set_hash.ToHex()},
                               {"signers", c.signers},
                               {"previous_validators", c.previous_validators}});
  }
  return out;
}

std::string AuditStatement(const ledger::VerifiedFacts& f) {
  // The epoch is named once the set has changed (a genesis-epoch statement reads as it always did).
  const std::string at = " at height " + std::to_string(f.height) +
                         (f.epoch == 0 ? std::string() : " in epoch " + std::to_string(f.epoch)) +
                         " (block time " + Utc(f.timestamp_ms) + ")";
  const std::string subject = ShownSubject(f);
  switch (f.kind) {
    case pb::BUNDLE_KIND_ACCOUNT:
      return "account " + subject + " (asset " + f.account->asset() +
             ") held a posted balance of " + f.amount + at;
    case pb::BUNDLE_KIND_TRANSFER:
      return "transfer " + subject + " existed in state " +
             std::string(TransferStateName(f.transfer->state())) + " (applied at height " +
             std::to_string(f.transfer->height()) + ")" + at;
    case pb::BUNDLE_KIND_TRANSACTION:
      return TransactionStatement(f) + at;
    case pb::BUNDLE_KIND_NO_ACCOUNT:
      return "account " + subject + " did not exist" + at;
    case pb::BUNDLE_KIND_NO_TRANSFER:
      return "transfer " + subject + " did not exist" + at;
    case pb::BUNDLE_KIND_ASSET_SUPPLY:
      return "asset " + subject + " had a net supply of " + f.amount + " (issuer account " +
             Hex(f.account->id()) + ")" + at;
    default:
      return "";
  }
}

std::string AuditJson(const ledger::VerifiedFacts& f) {
  json::object j{{"ok", true},
                 {"kind", BundleKindName(f.kind)},
                 {"subject", ShownSubject(f)},
                 {"height", f.height},
                 {"timestamp_ms", f.timestamp_ms},
                 {"time", Utc(f.timestamp_ms)},
                 {"digest", f.header_hash.ToHex()},
                 {"state_root", f.state_root.ToHex()},
                 {"receipt_root", f.receipt_root.ToHex()},
                 {"epoch", f.epoch},
                 {"epochs", EpochChainJson(f)}};
  // Each record as the RPC read of it at this height answers (with its `at_height`).
  switch (f.kind) {
    case pb::BUNDLE_KIND_ACCOUNT: {
      json::object account = RenderAccount(*f.account);
      account["at_height"] = f.height;
      j["account"] = std::move(account);
      j["balance"] = f.amount;
      break;
    }
    case pb::BUNDLE_KIND_TRANSFER: {
      json::object transfer = RenderTransfer(*f.transfer);
      transfer["at_height"] = f.height;
      j["transfer"] = std::move(transfer);
      break;
    }
    case pb::BUNDLE_KIND_ASSET_SUPPLY: {
      json::object asset = RenderAsset(*f.asset);
      asset["at_height"] = f.height;
      asset["supply"] = f.amount;
      json::object issuer = RenderAccount(*f.account);
      issuer["at_height"] = f.height;
      j["asset"] = std::move(asset);
      j["account"] = std::move(issuer);
      j["supply"] = f.amount;
      break;
    }
    case pb::BUNDLE_KIND_TRANSACTION:
      j["tx_id"] = Hex(f.receipt->tx_id());
      j["index"] = f.tx_index;
      j["tx_count"] = f.tx_count;
      j["receipt"] = RenderReceipt(*f.receipt);
      break;
    default:
      break;
  }
  json::array checks;
  for (const std::string& c : f.checks)
    checks.push_back(json::value(c));
  j["checks"] = std::move(checks);
  j["statement"] = AuditStatement(f);
  return json::serialize(j);
}

std::string AuditFailureJson(const std::string& message) {
  return json::serialize(json::object{{"ok", false}, {"error", message}});
}

}  // namespace cl::tools
