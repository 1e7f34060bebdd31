#include "node/proof_rpc.h"

#include <string>

#include "ledger/proof_bundle.h"
#include "node/ledger_app.h"
#include "node/rpc_methods.h"
#include "util/hex.h"

namespace cl::node {
namespace {

// Account and transfer ids are 16 bytes; transaction ids 32 (docs/transactions.md).
inline constexpr size_t kRecordIdBytes = 16;
inline constexpr size_t kAssetCodeMaxBytes = 64;

struct KindInfo {
  std::string_view name;
  ledger::pb::BundleKind kind;
  size_t id_bytes;  // 0: the subject is the "asset" string parameter
};

constexpr KindInfo kKinds[] = {
    {"account", ledger::pb::BUNDLE_KIND_ACCOUNT, kRecordIdBytes},
    {"transfer", ledger::pb::BUNDLE_KIND_TRANSFER, kRecordIdBytes},
    {"transaction", ledger::pb::BUNDLE_KIND_TRANSACTION, Hash32::kSize},
    {"no_account", ledger::pb::BUNDLE_KIND_NO_ACCOUNT, kRecordIdBytes},
    {"no_transfer", ledger::pb::BUNDLE_KIND_NO_TRANSFER, kRecordIdBytes},
    {"asset_supply", ledger::pb::BUNDLE_KIND_ASSET_SUPPLY, 0},
};

RpcResult GetProof(const Node& node, const json::value& params) {
  auto p = ParamsObject(params);
  if (!p) return std::unexpected(p.error());
  auto kind_name = RequireString(**p, "kind");
  if (!kind_name) return std::unexpected(kind_name.error());
  const KindInfo* info = nullptr;
  for (const KindInfo& k : kKinds)
    if (k.name == *kind_name) info = &k;
  if (info == nullptr)
    return RpcFail(kRpcInvalidParams,
                   "params.kind must be account, transfer, transaction, no_account, no_transfer "
                   "or asset_supply");
  ledger::ProofRequest req;
  req.kind = info->kind;
  if (info->id_bytes == 0) {
    auto code = RequireString(**p, "asset");
    if (!code) return std::unexpected(code.error());
    if (code->empty() || code->size() > kAssetCodeMaxBytes)
      return RpcFail(kRpcInvalidParams, "params.asset must be an asset code");
    req.subject = Bytes(code->begin(), code->end());
  } else {
    auto text = RequireString(**p, "id");
    if (!text) return std::unexpected(text.error());
    auto id = FromHex(*text);
    if (!id || id->size() != info->id_bytes)
      return RpcFail(kRpcInvalidParams,
                     "params.id must be " + std::to_string(info->id_bytes) + " bytes of hex");
    req.subject = std::move(*id);
  }
  if (p.value()->contains("height")) {
    if (info->kind == ledger::pb::BUNDLE_KIND_TRANSACTION)
      return RpcFail(kRpcInvalidParams, "a transaction is proven at its own height");
    auto h = RequireUint(**p, "height");
    if (!h) return std::unexpected(h.error());
    if (*h == 0) return RpcFail(kRpcInvalidParams, "params.height must be at least 1");
    req.height = *h;
  }
  const LedgerApp& app = node.ledger();
  // The chain of validator-set changes the bundle carries (docs/proofs.md).
  auto history = app.EpochHistory();
  if (!history) return RpcFail(kRpcInternalError, "reading the epoch history failed");
  Result<Bytes> bundle = ledger::BuildProofBundle(app.blocks(), app.tree(), app.chain_id(),
                                                  app.genesis().hash, req, *history);
  if (!bundle) {
    const ErrorCode code = bundle.error().code;
    if (code == ErrorCode::kNotFound || code == ErrorCode::kFailedPrecondition)
      return RpcFail(kRpcNotFound, bundle.error().message);
    if (code == ErrorCode::kInvalidArgument)
      return RpcFail(kRpcInvalidParams, bundle.error().message);
    return std::unexpected(StorageReadFailed(bundle.error()));
  }
  ledger::pb::ProofBundle parsed;
  parsed.ParseFromArray(bundle->data(), static_cast<int>(bundle->size()));
  ledger::pb::BlockHeader header;
  header.ParseFromString(parsed.header());
  json::object out;
  out["kind"] = std::string(info->name);
  out["height"] = header.height();
  out["bytes"] = bundle->size();
  out["bundle"] = ToHex(*bundle);
  return out;
}

}  // namespace

void RegisterProofMethods(RpcDispatcher& d, Node& node) {
  d.Register("get_proof", {[&node](const json::value& params, RpcCallContext&) -> RpcResult {
               return GetProof(node, params);
             }});
}

}  // namespace cl::node
