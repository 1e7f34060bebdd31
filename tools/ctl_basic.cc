// ledgerctl keygen | localnet init | status | rpc
#include <cstdio>
#include <iostream>

#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "tools/ctl.h"
#include "tools/localnet.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

void PrettyPrint(std::ostream& os, const json::value& v, std::string indent = "") {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        os << "{}";
        return;
      }
      os << "{\n";
      size_t i = 0;
      for (const auto& [key, value] : obj) {
        os << indent << "  " << json::serialize(json::string(key)) << ": ";
        PrettyPrint(os, value, indent + "  ");
        if (++i < obj.size()) os << ",";
        os << "\n";
      }
      os << indent << "}";
      return;
    }
    case json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        os << "[]";
        return;
      }
      os << "[\n";
      for (size_t i = 0; i < arr.size(); ++i) {
        os << indent << "  ";
        PrettyPrint(os, arr[i], indent + "  ");
        if (i + 1 < arr.size()) os << ",";
        os << "\n";
      }
      os << indent << "]";
      return;
    }
    default:
      os << json::serialize(v);
  }
}

}  // namespace

void Fail(CtlContext& context, const std::string& message, int code) {
  std::fprintf(stderr, "ledgerctl: %s\n", message.c_str());
  context.exit_code = code;
}

void PrintJson(const json::value& value) {
  PrettyPrint(std::cout, value);
  std::cout << "\n";
}

void RegisterBasicCommands(CLI::App& app, CtlContext& context) {
  // keygen
  auto* keygen = app.add_subcommand("keygen", "generate a secp256k1 key");
  static std::string out_file, passphrase_file;
  keygen->add_option("--out", out_file, "write an encrypted key file (keystore) here");
  keygen->add_option("--passphrase-file", passphrase_file, "file holding the passphrase for --out");
  keygen->callback([&context] {
    crypto::PrivateKey key = crypto::PrivateKey::Generate();
    json::object out{{"public_key", key.GetPublicKey().ToHex()},
                     {"address", key.GetPublicKey().ToAddress().ToHex()}};
    if (out_file.empty()) {
      out["secret_key"] = ToHex(key.secret());
    } else {
      std::ifstream in(passphrase_file);
      std::string passphrase;
      if (passphrase_file.empty() || !std::getline(in, passphrase) || passphrase.empty())
        return Fail(context, "--out needs --passphrase-file with a non-empty first line");
      auto written = crypto::WriteKeystoreFile(out_file, key, passphrase);
      if (!written) return Fail(context, written.error().message);
      out["key_file"] = out_file;
    }
    PrintJson(out);
  });

  // localnet init
  auto* localnet = app.add_subcommand("localnet", "local consortium for development and tests");
  localnet->require_subcommand(1);
  auto* init = localnet->add_subcommand("init", "write genesis, keys and configs");
  static LocalnetOptions options;
  static std::string dir;
  init->add_option("--dir", dir, "directory to create")->required();
  init->add_option("--validators", options.validators, "bank validators (>= 4)");
  init->add_option("--observers", options.observers, "partner observers");
  init->add_option("--chain-id", options.chain_id, "chain id");
  init->add_option("--base-port", options.base_port,
                   "ports base, base+1, ... (default: free ports chosen now)");
  init->callback([&context] {
    options.dir = dir;
    auto status = InitLocalnet(options);
    if (!status) return Fail(context, status.error().message);
    std::printf("local consortium written to %s (see %s/localnet.json)\n", dir.c_str(),
                dir.c_str());
  });

  // status / rpc
  static std::string rpc_url = "http://127.0.0.1:8545";
  static std::string token;
  auto* status = app.add_subcommand("status", "a node's status");
  status->add_option("--rpc", rpc_url, "node RPC address");
  status->callback([&context] {
    auto endpoint = ParseRpcUrl(rpc_url);
    if (!endpoint) return Fail(context, endpoint.error().message);
    auto result = RpcCall(*endpoint, "status", json::object{});
    if (!result) return Fail(context, result.error().message);
    PrintJson(*result);
  });
  auto* rpc =
      app.add_subcommand("rpc", "call any JSON-RPC method: ledgerctl rpc METHOD [PARAMS_JSON]");
  static std::string method, params_text = "{}";
  rpc->add_option("method", method, "method name")->required();
  rpc->add_option("params", params_text, "params as JSON");
  rpc->add_option("--rpc", rpc_url, "node RPC address");
  rpc->add_option("--token", token, "bearer token for write methods");
  rpc->callback([&context] {
    auto endpoint = ParseRpcUrl(rpc_url);
    if (!endpoint) return Fail(context, endpoint.error().message);
    endpoint->bearer_token = token;
    boost::system::error_code ec;
    json::value params = json::parse(params_text, ec);
    if (ec) return Fail(context, "params are not JSON: " + ec.message());
    auto result = RpcCall(*endpoint, method, params);
    if (!result) return Fail(context, result.error().message);
    PrintJson(*result);
  });
}

}  // namespace cl::tools
