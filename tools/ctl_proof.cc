// ledgerctl proof: fetches a proof bundle with the `get_proof` RPC and writes it to a file for
// `ledger-audit verify` (docs/proofs.md).
#include <fstream>
#include <string>

#include "tools/ctl.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

inline constexpr const char* kDefaultProofRpcUrl = "http://127.0.0.1:8545";

struct ProofOptions {
  std::string kind;
  std::string subject;
  std::string out;
  std::string rpc_url = kDefaultProofRpcUrl;
  uint64_t height = 0;
};

void RunProof(CtlContext& context, const ProofOptions& o) {
  auto endpoint = ParseRpcUrl(o.rpc_url);
  if (!endpoint) return Fail(context, endpoint.error().message);
  json::object params{{"kind", o.kind}};
  if (o.kind == "asset_supply")
    params["asset"] = o.subject;
  else
    params["id"] = o.subject;
  if (o.height != 0) params["height"] = o.height;
  auto result = RpcCall(*endpoint, "get_proof", params);
  if (!result) return Fail(context, result.error().message);
  const json::object* obj = result->if_object();
  const json::value* field = obj != nullptr ? obj->if_contains("bundle") : nullptr;
  const json::string* hex = field != nullptr ? field->if_string() : nullptr;
  if (hex == nullptr) return Fail(context, "get_proof: reply has no bundle");
  auto bytes = FromHex(std::string_view(hex->data(), hex->size()));
  if (!bytes) return Fail(context, "get_proof: bundle is not hex");
  std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes->data()),
            static_cast<std::streamsize>(bytes->size()));
  out.close();
  if (!out) return Fail(context, o.out + ": cannot write");
  json::object summary{{"kind", o.kind}, {"file", o.out}, {"bytes", bytes->size()}};
  if (const json::value* h = obj->if_contains("height")) summary["height"] = *h;
  PrintJson(summary);
}

}  // namespace

void RegisterProofCommands(CLI::App& app, CtlContext& context) {
  static ProofOptions o;
  auto* cmd = app.add_subcommand(
      "proof",
      "write a proof bundle for ledger-audit (KIND: account, transfer, transaction, "
      "no_account, no_transfer, asset_supply)");
  cmd->add_option("kind", o.kind, "what to prove")
      ->required()
      ->check(CLI::IsMember(
          {"account", "transfer", "transaction", "no_account", "no_transfer", "asset_supply"}));
  cmd->add_option("subject", o.subject, "account/transfer id (32 hex), tx id (64 hex), asset code")
      ->required();
  cmd->add_option("--out", o.out, "bundle file to write")->required();
  cmd->add_option("--height", o.height, "prove at this height (default: latest certified)");
  cmd->add_option("--rpc", o.rpc_url, "node RPC address (default http://127.0.0.1:8545)");
  cmd->callback([&context] { RunProof(context, o); });
}

}  // namespace cl::tools
