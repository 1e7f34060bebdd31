#include "node/rpc_methods.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <map>
#include <mutex>

#include "consensus/consensus.pb.h"
#include "ledger/ledger_state.h"
#include "ledger/result_code.h"
#include "node/node.h"
#include "util/hex.h"
#include "util/quorum.h"

namespace cl::node {
namespace {

std::string Hex(const std::string& bytes) {
  return ToHex(AsSpan(bytes));
}

// A signed 128-bit-safe decimal of credits - debits for u64 totals.
std::string SignedDifference(uint64_t plus, uint64_t minus) {
  if (plus >= minus) return std::to_string(plus - minus);
  return "-" + std::to_string(minus - plus);
}

std::expected<Bytes, RpcError> HexParam(const json::object& params, std::string_view field,
                                        size_t exact_bytes) {
  auto text = RequireString(params, field);
  if (!text) return std::unexpected(text.error());
  auto bytes = FromHex(*text);
  if (!bytes || (exact_bytes != 0 && bytes->size() != exact_bytes))
    return std::unexpected(RpcError{
        kRpcInvalidParams,
        "params." + std::string(field) + " must be " +
            (exact_bytes ? std::to_string(exact_bytes) + " bytes of " : std::string()) + "hex",
        nullptr});
  return *bytes;
}

// "height" is optional everywhere: the latest committed height by default.
std::expected<uint64_t, RpcError> HeightParam(const json::object& params, const Node& node) {
  uint64_t latest = node.ledger().height();
  if (!params.contains("height")) return latest;
  auto h = RequireUint(params, "height");
  if (!h) return std::unexpected(h.error());
  if (*h > latest)
    return std::unexpected(
        RpcError{kRpcNotFound,
                 "height " + std::to_string(*h) + " is above the latest " + std::to_string(latest),
                 nullptr});
  return *h;
}

template <class Record>
std::expected<std::optional<Record>, RpcError> ReadRecord(const Node& node, const Bytes& key,
                                                          uint64_t height) {
  auto raw = node.ledger().tree().Get(key, height);
  if (!raw)
    return std::unexpected(raw.error().code == ErrorCode::kNotFound
                               ? RpcError{kRpcNotFound, raw.error().message, nullptr}
                               : StorageReadFailed(raw.error()));
  if (!raw->has_value()) return std::optional<Record>();
  Record record;
  if (!record.ParseFromArray((*raw)->data(), static_cast<int>((*raw)->size())))
    return std::unexpected(RpcError{kRpcInternalError, "stored record does not parse", nullptr});
  return std::optional<Record>(std::move(record));
}

json::object RenderController(const ledger::pb::Controller& c) {
  json::array keys;
  for (const std::string& k : c.keys())
    keys.push_back(json::value(Hex(k)));
  return json::object{{"threshold", c.threshold()}, {"keys", std::move(keys)}};
}

const char* StatusName(AdmitStatus s) {
  switch (s) {
    case AdmitStatus::kAdmitted:
      return "admitted";
    case AdmitStatus::kDuplicate:
      return "duplicate";
    case AdmitStatus::kRejected:
      return "rejected";
    case AdmitStatus::kFull:
      return "mempool_full";
    case AdmitStatus::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

json::object RenderAdmit(const AdmitResult& r) {
  json::object out{{"tx_id", r.tx_id.ToHex()}, {"status", StatusName(r.status)}};
  if (!r.reason.empty()) out["reason"] = r.reason;
  return out;
}

std::expected<std::vector<Bytes>, RpcError> TxList(const json::object& params) {
  const json::value* txs = params.if_contains("txs");
  if (txs == nullptr || !txs->is_array())
    return std::unexpected(RpcError{kRpcInvalidParams, "params.txs must be an array", nullptr});
  if (txs->as_array().size() > kMaxAdmitBatch)
    return std::unexpected(RpcError{
        kRpcLimitExceeded, "at most " + std::to_string(kMaxAdmitBatch) + " transactions", nullptr});
  std::vector<Bytes> out;
  for (const json::value& v : txs->as_array()) {
    if (!v.is_string())
      return std::unexpected(
          RpcError{kRpcInvalidParams, "params.txs entries must be hex", nullptr});
    auto bytes = FromHex(v.get_string());
    if (!bytes)
      return std::unexpected(
          RpcError{kRpcInvalidParams, "params.txs entries must be hex", nullptr});
    out.push_back(std::move(*bytes));
  }
  return out;
}

// A failed read of the node's own database is an internal error, never a wrong answer ("no such
// block", "unknown", a field left out): docs/rpc.md, docs/operations.md "Storage failures".
RpcError ReadFailed(const Error& error) {
  return StorageReadFailed(error);
}

std::expected<json::object, RpcError> RenderBlockSummary(const Node& node, uint64_t height) {
  json::object out{{"height", height}};
  auto executed = node.ledger().blocks().GetExecuted(height);
  if (!executed) return std::unexpected(ReadFailed(executed.error()));
  if (executed->has_value()) {
    const auto& e = **executed;
    out["digest"] = Hex(e.header_hash());
    out["state_root"] = Hex(e.state_root());
    out["receipt_root"] = Hex(e.receipt_root());
    out["timestamp_ms"] = e.timestamp_ms();
  }
  return out;
}

}  // namespace

json::object RenderAccount(const ledger::pb::AccountRecord& a) {
  return json::object{
      {"id", Hex(a.id())},
      {"asset", a.asset()},
      {"controller", RenderController(a.controller())},
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

json::object RenderTransfer(const ledger::pb::TransferRecord& r) {
  static const char* kStates[] = {"posted", "pending", "posted_pending",
                                  "voided", "expired", "void"};
  const auto& t = r.transfer();
  json::object out{
      {"id", Hex(t.id())},
      {"debit_account", Hex(t.debit_account())},
      {"credit_account", Hex(t.credit_account())},
      {"amount", std::to_string(t.amount())},
      {"state", r.state() >= 0 && r.state() < 6 ? kStates[r.state()] : "unknown"},
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

json::object RenderReceipt(const ledger::pb::Receipt& r) {
  json::array results;
  for (const auto& op : r.results()) {
    auto code = static_cast<ledger::ResultCode>(op.code());
    json::object o{{"code", op.code()}, {"name", std::string(ledger::ResultCodeName(code))}};
    if (op.original_height() != 0) o["original_height"] = op.original_height();
    if (code == ledger::ResultCode::kLinkedOperationFailed)
      o["failed_op_index"] = op.failed_op_index();
    results.push_back(std::move(o));
  }
  auto status = static_cast<ledger::TxStatus>(r.status());
  auto code = static_cast<ledger::ResultCode>(r.code());
  return json::object{{"tx_id", Hex(r.tx_id())},
                      {"height", r.height()},
                      {"status", std::string(ledger::TxStatusName(status))},
                      {"code", r.code()},
                      {"code_name", std::string(ledger::ResultCodeName(code))},
                      {"results", std::move(results)}};
}

// A read method over a record keyed by a 16-byte id ("id", optional "height").
template <class Record>
RpcHandler ReadById(const Node& node, Bytes (*key)(std::string_view),
                    json::object (*render)(const Record&), const char* not_found) {
  return [&node, key, render, not_found](const json::value& params, RpcCallContext&) -> RpcResult {
    auto p = ParamsObject(params);
    if (!p) return std::unexpected(p.error());
    auto id = HexParam(**p, "id", 16);
    if (!id) return std::unexpected(id.error());
    auto height = HeightParam(**p, node);
    if (!height) return std::unexpected(height.error());
    auto rec = ReadRecord<Record>(node, key(AsStringView(*id)), *height);
    if (!rec) return std::unexpected(rec.error());
    if (!rec->has_value()) return RpcFail(kRpcNotFound, not_found);
    json::object out = render(**rec);
    out["at_height"] = *height;
    return out;
  };
}

// get_tx's answer (docs/rpc.md "get_tx"): committed (with the receipt), pending (in this node's
// mempool), or unknown. A refusal at admission is answered to the submitter only and never recorded
// against the transaction id: the id covers the body, not the signatures, so a refused copy (for
// example one with a bad signature, sent by anyone) says nothing about the transaction itself,
// which may still commit.
std::expected<json::object, RpcError> TxStatus(const Node& node, const Hash32& id) {
  json::object out{{"tx_id", id.ToHex()}};
  auto location = node.ledger().blocks().FindTx(id);
  if (!location) return std::unexpected(ReadFailed(location.error()));
  if (location->has_value()) {
    auto receipts = node.ledger().blocks().GetReceipts((*location)->height());
    if (!receipts) return std::unexpected(ReadFailed(receipts.error()));
    out["status"] = "committed";
    out["height"] = (*location)->height();
    out["index"] = (*location)->index();
    if (receipts->has_value() &&
        (*location)->index() < static_cast<uint32_t>((**receipts).receipts_size()))
      out["receipt"] = RenderReceipt((**receipts).receipts((*location)->index()));
    return out;
  }
  if (auto pooled = node.mempool().Find(id)) {
    out["status"] = "pending";
    out["pending_ms"] = node.mempool().AgeMs(*pooled);
    out["valid_until_height"] = pooled->tx.body().valid_until_height();
    out["valid_until_time_ms"] = pooled->tx.body().valid_until_time_ms();
    return out;
  }
  out["status"] = "unknown";
  return out;
}

RpcError StorageReadFailed(const Error& error) {
  // Ids count from 1 in each run of the node; the log line carries the time as well.
  static std::atomic<uint64_t> last_error_id{0};
  const uint64_t id = last_error_id.fetch_add(1, std::memory_order_relaxed) + 1;
  spdlog::error("rpc: storage read failed (error id {}): {}", id, error.message);
  return RpcError{kRpcInternalError, "storage read failed (error id " + std::to_string(id) + ")",
                  nullptr};
}

void RegisterRpcMethods(RpcDispatcher& d, Node& node) {
  d.Register("status", {[&node](const json::value&, RpcCallContext&) -> RpcResult {
               auto status = node.GetStatus();
               if (!status) return std::unexpected(ReadFailed(status.error()));
               const NodeStatus& s = *status;
               json::object out{
                   {"chain_id", node.ledger().chain_id()},
                   {"member", s.member},
                   {"role", s.role == Role::kValidator ? "validator" : "observer"},
                   {"height", s.height},
                   {"last_block_digest", s.last_block_digest.ToHex()},
                   {"last_block_time_ms", s.last_block_time_ms},
                   {"state_root", s.state_root.ToHex()},
                   {"view", s.committed_view},
                   {"primary", s.committed_primary},
                   {"in_view_change", s.in_view_change},
                   {"mempool_txs", s.mempool_txs},
                   {"oldest_pending_ms", s.oldest_pending_ms},
                   {"peers_connected", s.peers_connected},
                   {"gossip_bad_signature_batches", s.gossip_invalid_signature_batches},
                   {"genesis_hash", node.ledger().genesis().hash.ToHex()},
               };
               if (s.role == Role::kValidator)
                 out["replica"] = json::object{{"view", s.replica_view},
                                               {"primary", s.replica_primary},
                                               {"in_view_change", s.in_view_change}};
               else
                 out["replica"] = nullptr;
               return out;
             }});

  auto submit = [&node](std::vector<Bytes> txs) {
    std::vector<ByteSpan> spans(txs.begin(), txs.end());
    std::vector<AdmitResult> results = node.Submit(spans);
    // "unavailable" carries the failed read's message, with the data directory's paths: the
    // client gets the error id, the log the detail.
    for (AdmitResult& r : results) {
      if (r.status == AdmitStatus::kUnavailable)
        r.reason = StorageReadFailed(Error{ErrorCode::kIoError, r.reason}).message;
    }
    return results;
  };

  d.Register("submit_tx", {[submit](const json::value& params, RpcCallContext&) -> RpcResult {
                             auto p = ParamsObject(params);
                             if (!p) return std::unexpected(p.error());
                             auto tx = HexParam(**p, "tx", 0);
                             if (!tx) return std::unexpected(tx.error());
                             auto r = submit({std::move(*tx)})[0];
                             if (r.status == AdmitStatus::kRejected)
                               return RpcFail(kRpcTxRejected, r.reason, RenderAdmit(r));
                             if (r.status == AdmitStatus::kFull)
                               return RpcFail(kRpcMempoolFull, r.reason, RenderAdmit(r));
                             if (r.status == AdmitStatus::kUnavailable)
                               return RpcFail(kRpcInternalError, r.reason, RenderAdmit(r));
                             return RenderAdmit(r);
                           },
                           true});

  d.Register("submit_txs", {[submit](const json::value& params, RpcCallContext&) -> RpcResult {
                              auto p = ParamsObject(params);
                              if (!p) return std::unexpected(p.error());
                              auto txs = TxList(**p);
                              if (!txs) return std::unexpected(txs.error());
                              json::array out;
                              for (const AdmitResult& r : submit(std::move(*txs)))
                                out.push_back(RenderAdmit(r));
                              return json::object{{"results", std::move(out)}};
                            },
                            true});

  d.Register("get_tx", {[&node](const json::value& params, RpcCallContext&) -> RpcResult {
               auto p = ParamsObject(params);
               if (!p) return std::unexpected(p.error());
               auto id_bytes = HexParam(**p, "tx_id", 32);
               if (!id_bytes) return std::unexpected(id_bytes.error());
               auto status = TxStatus(node, *Hash32::FromSpan(*id_bytes));
               if (!status) return std::unexpected(status.error());
               return *status;
             }});

  d.Register("get_block", {[&node](const json::value& params, RpcCallContext&) -> RpcResult {
               auto p = ParamsObject(params);
               if (!p) return std::unexpected(p.error());
               auto height = HeightParam(**p, node);
               if (!height) return std::unexpected(height.error());
               if (*height == 0) return RpcFail(kRpcNotFound, "height 0 is genesis");
               const ledger::BlockStore& blocks = node.ledger().blocks();
               auto summary = RenderBlockSummary(node, *height);
               if (!summary) return std::unexpected(summary.error());
               json::object out = std::move(*summary);
               auto payload = blocks.GetBlock(*height);
               if (!payload) return std::unexpected(ReadFailed(payload.error()));
               if (!payload->has_value()) return RpcFail(kRpcNotFound, "no block at that height");
               auto decoded = ledger::DecodeBlock(**payload, node.ledger().chain_id());
               out["null_block"] = !decoded.has_value();
               if (decoded) {
                 const auto& h = decoded->header;
                 out["header"] = json::object{{"hex", ToHex(decoded->header_bytes)},
                                              {"prev_header_hash", Hex(h.prev_header_hash())},
                                              {"tx_root", Hex(h.tx_root())},
                                              {"tx_count", h.tx_count()},
                                              {"validator_set_hash", Hex(h.validator_set_hash())},
                                              {"proposer", h.proposer()},
                                              {"timestamp_ms", h.timestamp_ms()}};
                 json::array ids;
                 for (const Hash32& id : decoded->tx_ids)
                   ids.push_back(json::value(id.ToHex()));
                 out["tx_ids"] = std::move(ids);
               }
               auto commit = blocks.GetCommitCertificate(*height);
               if (!commit) return std::unexpected(ReadFailed(commit.error()));
               if (commit->has_value()) out["commit_certificate"] = ToHex(**commit);
               auto exec = blocks.GetExecutionCertificate(*height);
               if (!exec) return std::unexpected(ReadFailed(exec.error()));
               if (exec->has_value()) out["execution_certificate"] = ToHex(**exec);
               return out;
             }});

  d.Register("get_account", {ReadById<ledger::pb::AccountRecord>(
                                node, &ledger::keys::Account, &RenderAccount, "no such account")});
  d.Register("get_transfer",
             {ReadById<ledger::pb::TransferRecord>(node, &ledger::keys::Transfer, &RenderTransfer,
                                                   "no such transfer")});

  d.Register(
      "get_asset", {[&node](const json::value& params, RpcCallContext&) -> RpcResult {
        auto p = ParamsObject(params);
        if (!p) return std::unexpected(p.error());
        auto code = RequireString(**p, "code");
        if (!code) return std::unexpected(code.error());
        auto height = HeightParam(**p, node);
        if (!height) return std::unexpected(height.error());
        auto rec = ReadRecord<ledger::pb::AssetRecord>(node, ledger::keys::Asset(*code), *height);
        if (!rec) return std::unexpected(rec.error());
        if (!rec->has_value()) return RpcFail(kRpcNotFound, "no such asset");
        json::object out{{"code", (*rec)->code()},
                         {"scale", (*rec)->scale()},
                         {"issuer", (*rec)->issuer()},
                         {"issuer_account", Hex((*rec)->issuer_account())},
                         {"created_height", (*rec)->created_height()},
                         {"at_height", *height}};
        auto issuer = ReadRecord<ledger::pb::AccountRecord>(
            node, ledger::keys::Account((*rec)->issuer_account()), *height);
        if (issuer && issuer->has_value()) {
          // The issuer account's balance is minus the supply.
          out["supply"] = SignedDifference((*issuer)->debits_posted(), (*issuer)->credits_posted());
        }
        return out;
      }});

  d.Register("get_validators", {[&node](const json::value&, RpcCallContext&) -> RpcResult {
               // The set of the next height (docs/consensus.md "Epochs"), with each member's name.
               const uint64_t next = node.ledger().height() + 1;
               const ledger::pb::EpochRecord record = node.ledger().epoch_record();
               const ledger::pb::ValidatorSetRecord& set = ledger::SetForHeight(record, next);
               auto members = node.ledger().Members();
               if (!members) return std::unexpected(ReadFailed(members.error()));
               json::array out;
               for (int i = 0; i < set.validators_size(); ++i) {
                 const ledger::pb::EpochValidator& v = set.validators(i);
                 std::string name;
                 for (const auto& m : *members)
                   if (m.id() == v.member()) name = m.name();
                 out.push_back(json::object{{"index", i},
                                            {"member_id", v.member()},
                                            {"name", name},
                                            {"node_key", Hex(v.node_key())}});
               }
               return json::object{
                   {"validators", std::move(out)},
                   {"validator_set_hash", node.ledger().validator_set_hash().ToHex()},
                   {"quorum", QuorumSize(static_cast<uint32_t>(set.validators_size()))},
                   {"epoch", set.epoch()}};
             }});

  RegisterSubscriptionMethods(
      d,
      [](const json::value& params) -> std::expected<std::string, RpcError> {
        auto p = ParamsObject(params);
        if (!p) return std::unexpected(p.error());
        auto topic = RequireString(**p, "topic");
        if (!topic) return std::unexpected(topic.error());
        if (*topic == "blocks") return std::string("blocks");
        if (*topic == "tx") {
          auto id = HexParam(**p, "tx_id", 32);
          if (!id) return std::unexpected(id.error());
          return "tx:" + ToHex(*id);
        }
        if (*topic == "account") {
          auto id = HexParam(**p, "id", 16);
          if (!id) return std::unexpected(id.error());
          return "account:" + ToHex(*id);
        }
        return std::unexpected(
            RpcError{kRpcInvalidParams, "params.topic must be blocks, tx or account", nullptr});
      },
      // A tx subscription answers with the transaction's current status at once, so a client that
      // subscribes after the commit is not left waiting for a notification that already went out.
      // A status that cannot be read is the internal error (the subscription is then not kept).
      [&node](const std::string& topic) -> std::expected<std::optional<json::value>, RpcError> {
        constexpr std::string_view kTxPrefix = "tx:";
        if (!topic.starts_with(kTxPrefix)) return std::nullopt;
        auto bytes = FromHex(std::string_view(topic).substr(kTxPrefix.size()));
        if (!bytes) return std::nullopt;
        auto id = Hash32::FromSpan(*bytes);
        if (!id) return std::nullopt;
        auto status = TxStatus(node, *id);
        if (!status) return std::unexpected(status.error());
        return json::value(std::move(*status));
      });
}

void PublishCommit(RpcServer& server, const Node& node, const CommitResult& result) {
  // A block summary that cannot be read is not published (subscribers are told nothing rather than
  // something wrong); the tx notifications below need no read and still go out.
  if (auto summary = RenderBlockSummary(node, result.height)) {
    json::object block = std::move(*summary);
    block["tx_count"] = result.tx_ids.size();
    block["null_block"] = result.null_block;
    server.Publish("blocks", block);
  }
  // The same shape as get_tx's committed answer (and a tx subscription's first notification).
  for (int i = 0; i < result.receipts.receipts_size(); ++i) {
    const ledger::pb::Receipt& r = result.receipts.receipts(i);
    const std::string topic = "tx:" + Hex(r.tx_id());
    if (!server.HasSubscribers(topic)) continue;
    server.Publish(topic, json::object{{"tx_id", Hex(r.tx_id())},
                                       {"status", "committed"},
                                       {"height", result.height},
                                       {"index", i},
                                       {"receipt", RenderReceipt(r)}});
  }
  // Account topics need the block's operations: parse them only when someone listens.
  if (result.tx_ids.empty() || !server.HasSubscribers("account:")) return;
  // Account topics: each transfer-like operation of the block, with its result.
  auto payload = node.ledger().blocks().GetBlock(result.height);
  if (!payload || !payload->has_value()) return;
  auto decoded = ledger::DecodeBlock(**payload, node.ledger().chain_id());
  if (!decoded) return;
  for (size_t i = 0;
       i < decoded->txs.size() && i < static_cast<size_t>(result.receipts.receipts_size()); ++i) {
    auto parsed = ledger::ParseTransaction(decoded->txs[i], node.ledger().chain_id());
    if (!parsed) continue;
    const auto& receipt = result.receipts.receipts(static_cast<int>(i));
    for (int k = 0; k < parsed->body.operations_size(); ++k) {
      const auto& op = parsed->body.operations(k);
      if (!op.has_transfer()) continue;
      const auto& t = op.transfer();
      uint32_t code = k < receipt.results_size() ? receipt.results(k).code() : receipt.code();
      json::object note{
          {"transfer_id", Hex(t.id())},
          {"debit_account", Hex(t.debit_account())},
          {"credit_account", Hex(t.credit_account())},
          {"amount", std::to_string(t.amount())},
          {"pending", t.pending()},
          {"height", result.height},
          {"code", code},
          {"code_name",
           std::string(ledger::ResultCodeName(static_cast<ledger::ResultCode>(code)))}};
      server.Publish("account:" + Hex(t.debit_account()), note);
      server.Publish("account:" + Hex(t.credit_account()), note);
    }
  }
}

}  // namespace cl::node
