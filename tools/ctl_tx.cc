// ledgerctl: building, signing and submitting transactions (`tx <op>`, `tx build --file`,
// `submit`), and queries (`account`, `transfer`, `asset`, `block`, `tx ID`, `validators`).
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "tools/ctl.h"
#include "tools/tx_builder.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

inline constexpr uint32_t kWaitPollIntervalMs = 20;
inline constexpr double kDefaultWaitTimeoutS = 30.0;
inline constexpr const char* kDefaultRpcUrl = "http://127.0.0.1:8545";

struct Connection {
  std::string rpc_url = kDefaultRpcUrl;
  std::string token;
};

void AddConnectionOptions(CLI::App* cmd, Connection& c) {
  cmd->add_option("--rpc", c.rpc_url, "node RPC address (default http://127.0.0.1:8545)");
  cmd->add_option("--token", c.token, "bearer token for write methods");
}

Result<RpcEndpoint> Endpoint(const Connection& c) {
  auto endpoint = ParseRpcUrl(c.rpc_url);
  if (!endpoint) return std::unexpected(endpoint.error());
  endpoint->bearer_token = c.token;
  return endpoint;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kIoError, path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
    ++i;
  return s.substr(i);
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Submits an envelope; with wait, polls get_tx until the transaction is committed, or was pending
// and is no longer (dropped without committing). Prints one JSON object; returns false (after a
// one-line error) when it was not committed.
bool SubmitEnvelope(CtlContext& context, const RpcEndpoint& endpoint, const std::string& tx_hex,
                    bool wait, double timeout_s, json::object extra) {
  double start = NowMs();
  auto admitted = RpcCall(endpoint, "submit_tx", json::object{{"tx", tx_hex}});
  if (!admitted) {
    Fail(context, "submit: " + admitted.error().message);
    return false;
  }
  json::object out = std::move(extra);
  std::string tx_id;
  if (const auto* obj = admitted->if_object()) {
    if (const auto* id = obj->if_contains("tx_id"); id && id->is_string())
      tx_id = std::string(id->get_string());
    if (const auto* st = obj->if_contains("status")) out["admission"] = *st;
  }
  out["tx_id"] = tx_id;
  if (!wait) {
    PrintJson(out);
    return true;
  }
  double deadline = start + timeout_s * 1000.0;
  bool seen_pending = false;
  int unknown_after_pending = 0;
  while (true) {
    auto got = RpcCall(endpoint, "get_tx", json::object{{"tx_id", tx_id}});
    if (!got) {
      Fail(context, "get_tx: " + got.error().message);
      return false;
    }
    const json::object& r = got->as_object();
    std::string status = r.contains("status") ? std::string(r.at("status").as_string()) : "";
    if (status == "committed") {
      out["finality_ms"] = static_cast<int64_t>(NowMs() - start + 0.5);
      out["height"] = r.at("height");
      if (r.contains("receipt")) out["receipt"] = r.at("receipt");
      PrintJson(out);
      std::string receipt_status;
      if (r.contains("receipt")) {
        const json::object& receipt = r.at("receipt").as_object();
        receipt_status = std::string(receipt.at("status").as_string());
      }
      if (receipt_status != "committed") {
        std::string codes;
        if (r.contains("receipt"))
          for (const auto& op : r.at("receipt").as_object().at("results").as_array())
            codes +=
                (codes.empty() ? "" : ",") + std::string(op.as_object().at("name").as_string());
        Fail(context, "transaction " + tx_id + " " +
                          (receipt_status.empty() ? "has no receipt" : receipt_status) +
                          (codes.empty() ? "" : " (" + codes + ")"));
        return false;
      }
      return true;
    }
    // get_tx says only committed, pending or unknown (docs/rpc.md). Pending and then unknown twice
    // in a row: the node dropped it without committing (its validity bound passed, or it
    // restarted).
    if (status == "pending") {
      seen_pending = true;
      unknown_after_pending = 0;
    } else if (status == "unknown" && seen_pending && ++unknown_after_pending >= 2) {
      out["status"] = "unknown";
      PrintJson(out);
      Fail(context, "transaction " + tx_id +
                        " is no longer pending and did not commit (its validity bound passed, or "
                        "the node restarted); it may be submitted again");
      return false;
    }
    if (NowMs() > deadline) {
      Fail(context, "transaction " + tx_id + " not committed within " +
                        std::to_string(static_cast<int>(timeout_s)) + " s (last status " + status +
                        ")");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kWaitPollIntervalMs));
  }
}

// Options shared by every transaction-building command.
struct TxFlags {
  Connection conn;
  std::vector<std::string> key_files;
  std::vector<std::string> secrets;
  std::string passphrase_file;
  uint64_t valid_until_height = 0;
  uint64_t nonce = 0;
  std::string chain_id;
  bool submit = false;
  bool wait = false;
  double timeout_s = kDefaultWaitTimeoutS;
};

void AddTxFlags(CLI::App* cmd, TxFlags& f) {
  AddConnectionOptions(cmd, f.conn);
  cmd->add_option("--key", f.key_files, "signing key file (keystore); repeatable for k-of-n");
  cmd->add_option("--passphrase-file", f.passphrase_file, "passphrase of the --key files");
  cmd->add_option("--secret", f.secrets, "signing secret key in hex (DEVELOPMENT); repeatable");
  cmd->add_option("--valid-until-height", f.valid_until_height,
                  "last height for inclusion (default: current height + 1000, via RPC)");
  cmd->add_option("--chain-id", f.chain_id, "chain id (default: read via RPC status)");
  cmd->add_option("--nonce", f.nonce, "body nonce (default random)");
  cmd->add_flag("--submit", f.submit, "submit instead of printing the envelope");
  cmd->add_flag("--wait", f.wait, "with --submit: wait for finality and print the receipt");
  cmd->add_option("--wait-timeout-s", f.timeout_s, "with --wait: give up after this many seconds");
}

Result<std::vector<crypto::PrivateKey>> LoadKeys(const TxFlags& f) {
  std::vector<crypto::PrivateKey> keys;
  std::string passphrase;
  if (!f.key_files.empty()) {
    if (f.passphrase_file.empty())
      return MakeError(ErrorCode::kInvalidArgument, "--key needs --passphrase-file");
    auto text = ReadFile(f.passphrase_file);
    if (!text) return std::unexpected(text.error());
    passphrase = text->substr(0, text->find('\n'));
  }
  for (const auto& path : f.key_files) {
    auto key = crypto::ReadKeystoreFile(path, passphrase);
    if (!key) return MakeError(ErrorCode::kInvalidArgument, path + ": " + key.error().message);
    keys.push_back(*key);
  }
  for (size_t i = 0; i < f.secrets.size(); ++i) {
    auto bytes = FromHex(f.secrets[i]);
    if (!bytes) return MakeError(ErrorCode::kInvalidArgument, "--secret: not hex");
    auto key = crypto::PrivateKey::FromBytes(*bytes);
    if (!key)
      return MakeError(ErrorCode::kInvalidArgument, "--secret: not a 32-byte secp256k1 secret");
    keys.push_back(*key);
  }
  return keys;
}

// Builds, signs and prints or submits a transaction of `ops`.
void RunTx(CtlContext& context, const TxFlags& f, Result<std::vector<ledger::pb::Operation>> ops) {
  if (!ops) return Fail(context, ops.error().message);
  auto keys = LoadKeys(f);
  if (!keys) return Fail(context, keys.error().message);
  BodyOptions body_options{f.chain_id, f.valid_until_height, 0, f.nonce};
  std::optional<RpcEndpoint> endpoint;
  if (body_options.chain_id.empty() || body_options.valid_until_height == 0 || f.submit) {
    auto e = Endpoint(f.conn);
    if (!e) return Fail(context, e.error().message);
    endpoint = *e;
  }
  if (body_options.chain_id.empty() || body_options.valid_until_height == 0) {
    auto status = RpcCall(*endpoint, "status", json::object{});
    if (!status) return Fail(context, "status: " + status.error().message);
    const json::object& s = status->as_object();
    if (body_options.chain_id.empty())
      body_options.chain_id = std::string(s.at("chain_id").as_string());
    if (body_options.valid_until_height == 0)
      body_options.valid_until_height =
          s.at("height").to_number<uint64_t>() + kDefaultValidityBlocks;
  }
  json::array op_summary;
  for (const auto& op : *ops) {
    json::object o{{"op", OperationName(op)}};
    Bytes id = OperationId(op);
    if (!id.empty()) o["id"] = ToHex(id);
    op_summary.push_back(std::move(o));
  }
  auto body = BuildBody(body_options, std::move(*ops));
  if (!body) return Fail(context, body.error().message);
  auto signed_tx = SignBody(*body, *keys);
  if (!signed_tx) return Fail(context, signed_tx.error().message);
  std::string hex = ToHex(signed_tx->envelope);
  json::object extra{{"operations", std::move(op_summary)},
                     {"valid_until_height", body_options.valid_until_height}};
  if (!f.submit) {
    extra["tx_id"] = signed_tx->tx_id.ToHex();
    extra["tx"] = hex;
    PrintJson(extra);
    return;
  }
  SubmitEnvelope(context, *endpoint, hex, f.wait, f.timeout_s, std::move(extra));
}

// One `ledgerctl tx <op>` command: flags map onto the legs-file fields of docs/cli.md.
struct OpCommand {
  std::string op;
  TxFlags flags;
  std::map<std::string, std::string> strings;  // json field -> value (empty = not given)
  std::map<std::string, bool> bools;
  std::vector<std::string> controller_keys;
  uint32_t threshold = 1;
  std::string controller_field;  // "controller", "issuer_controller", "governance" or ""
};

std::vector<std::unique_ptr<OpCommand>>& OpCommands() {
  static std::vector<std::unique_ptr<OpCommand>> commands;
  return commands;
}

std::string FieldFlag(const std::string& field) {
  std::string flag = "--" + field;
  for (char& c : flag)
    if (c == '_') c = '-';
  return flag;
}

void AddOpCommand(CLI::App* tx, CtlContext& context, const std::string& op, const std::string& help,
                  std::vector<std::pair<std::string, std::string>> fields,
                  std::vector<std::pair<std::string, std::string>> flags = {},
                  std::string controller_field = "", std::string controller_flag = "") {
  OpCommands().push_back(std::make_unique<OpCommand>());
  OpCommand& c = *OpCommands().back();
  c.op = op;
  c.controller_field = controller_field;
  CLI::App* cmd = tx->add_subcommand(op, help);
  for (const auto& [field, desc] : fields)
    cmd->add_option(FieldFlag(field), c.strings[field], desc);
  for (const auto& [field, desc] : flags)
    cmd->add_flag(FieldFlag(field), c.bools[field], desc);
  if (!controller_field.empty()) {
    cmd->add_option(controller_flag, c.controller_keys,
                    "public key (hex) of the controller; repeatable for k-of-n")
        ->required();
    cmd->add_option("--threshold", c.threshold, "k of the k-of-n controller (default 1)");
  }
  AddTxFlags(cmd, c.flags);
  cmd->callback([&context, &c] {
    json::object leg{{"op", c.op}};
    for (const auto& [field, value] : c.strings)
      if (!value.empty()) leg[field] = value;
    for (const auto& [field, value] : c.bools)
      if (value) leg[field] = true;
    if (!c.controller_field.empty()) {
      json::array keys;
      for (const auto& k : c.controller_keys)
        keys.push_back(json::string(k));
      leg[c.controller_field] = json::object{{"threshold", c.threshold}, {"keys", std::move(keys)}};
    }
    auto built = OperationFromJson(leg, "");
    if (!built) {
      // Field names in errors read as flags on the command line.
      std::string message = built.error().message;
      size_t colon = message.find(':');
      if (colon != std::string::npos) {
        std::string field = message.substr(0, colon);
        if (field.find(' ') == std::string::npos && field.find('.') == std::string::npos)
          message = FieldFlag(field) + message.substr(colon);
      }
      return Fail(context, message);
    }
    std::vector<ledger::pb::Operation> ops{std::move(*built)};
    RunTx(context, c.flags, std::move(ops));
  });
}

void RegisterBuilders(CLI::App* tx, CtlContext& context) {
  AddOpCommand(tx, context, "create-account", "open an account (signed by the custodian)",
               {{"id", "account id, 32 hex digits (default random)"},
                {"asset", "asset code, e.g. USD.1"},
                {"custodian", "member id of the custodian bank"},
                {"overdraft_limit", "minor units the balance may go below zero"},
                {"max_per_transfer", "limit per transfer, minor units (0 = none)"},
                {"max_outflow_per_day", "daily outflow limit, minor units (0 = none)"}},
               {{"debits_must_not_exceed_credits", "never below zero, whatever the overdraft"}},
               "controller", "--controller-key");
  AddOpCommand(tx, context, "freeze", "freeze an account's debits and/or credits (both by default)",
               {{"account", "account id"}},
               {{"debits", "freeze debits"}, {"credits", "freeze credits"}});
  AddOpCommand(tx, context, "unfreeze", "clear both freeze flags", {{"account", "account id"}});
  AddOpCommand(tx, context, "change-controller", "replace an account's controller",
               {{"account", "account id"}}, {}, "controller", "--controller-key");
  AddOpCommand(tx, context, "close-account", "close an account with zero balance",
               {{"account", "account id"}});
  AddOpCommand(tx, context, "transfer", "move funds; a hold with --timeout-s",
               {{"id", "transfer id (default random)"},
                {"debit", "debit account id"},
                {"credit", "credit account id"},
                {"amount", "minor units, decimal string"},
                {"uetr", "ISO 20022 UETR (UUID)"},
                {"end_to_end_id", "end-to-end id (<= 35 bytes)"},
                {"purpose", "purpose code (<= 4 characters)"},
                {"memo", "memo text (<= 140 bytes)"},
                {"timeout_s", "make it a pending hold that expires after this many seconds"},
                {"hash_lock", "SHA-256 hash lock, 64 hex digits (needs --timeout-s)"},
                {"preimage", "preimage in hex: the hash lock is its SHA-256"}});
  AddOpCommand(tx, context, "post", "post a pending hold (full, or partial with --amount)",
               {{"id", "post id (default random)"},
                {"pending_id", "the hold's transfer id"},
                {"amount", "minor units to post (default: the full hold)"},
                {"preimage", "preimage in hex, for a hash-locked hold"}});
  AddOpCommand(tx, context, "void", "release a pending hold",
               {{"id", "void id (default random)"}, {"pending_id", "the hold's transfer id"}});
  AddOpCommand(tx, context, "create-asset", "create an asset and its issuer account (governance)",
               {{"code", "asset code, e.g. CNY"},
                {"scale", "decimal places of the minor unit"},
                {"issuer", "issuer member id"},
                {"issuer_account", "issuer account id, 32 hex digits"}},
               {}, "issuer_controller", "--issuer-key");
  AddOpCommand(tx, context, "add-member", "add a consortium member (governance)",
               {{"id", "member id"},
                {"name", "member name"},
                {"roles", "comma-separated: validator,observer,issuer,compliance"},
                {"node_key", "node public key (hex)"}},
               {}, "governance", "--governance-key");
  AddOpCommand(tx, context, "change-roles", "replace a member's roles (governance)",
               {{"id", "member id"}, {"roles", "comma-separated role names"}});
  AddOpCommand(tx, context, "remove-member", "remove a member from the consortium (governance)",
               {{"id", "member id"}});
  AddOpCommand(tx, context, "rotate-node-key", "replace a member's node key (governance)",
               {{"id", "member id"}, {"node_key", "the new node public key (hex)"}});
  AddOpCommand(tx, context, "set-governance-threshold",
               "set how many members a governance quorum needs (governance)",
               {{"threshold", "number of members"}});

  // tx build --file legs.json
  static TxFlags build_flags;
  static std::string legs_file;
  auto* build = tx->add_subcommand("build", "a (linked) multi-leg transaction from a JSON file");
  build->add_option("--file", legs_file, "legs file (docs/cli.md)")->required();
  AddTxFlags(build, build_flags);
  build->callback([&context] {
    auto text = ReadFile(legs_file);
    if (!text) return Fail(context, text.error().message);
    auto ops = ParseLegs(*text);
    if (!ops) return Fail(context, legs_file + ": " + ops.error().message);
    RunTx(context, build_flags, std::move(ops));
  });
}

// A query: one RPC method, params from positional args.
void Query(CtlContext& context, const Connection& conn, const std::string& method,
           json::object params) {
  auto endpoint = Endpoint(conn);
  if (!endpoint) return Fail(context, endpoint.error().message);
  auto result = RpcCall(*endpoint, method, params);
  if (!result) return Fail(context, method + ": " + result.error().message);
  PrintJson(*result);
}

}  // namespace

void RegisterTxCommands(CLI::App& app, CtlContext& context) {
  // tx: builders, and `tx ID` as a query.
  static Connection tx_conn;
  static std::string tx_id;
  auto* tx =
      app.add_subcommand("tx", "build and sign transactions (tx <op> ...), or look one up (tx ID)");
  tx->require_subcommand(0, 1);
  tx->add_option("tx_id", tx_id, "transaction id to look up (64 hex digits)");
  AddConnectionOptions(tx, tx_conn);
  RegisterBuilders(tx, context);
  tx->callback([&context, tx] {
    if (!tx->get_subcommands().empty()) return;
    if (tx_id.empty())
      return Fail(context, "tx: give a transaction id or an operation (see --help)");
    Query(context, tx_conn, "get_tx", json::object{{"tx_id", tx_id}});
  });

  // submit
  static Connection submit_conn;
  static std::string submit_hex, submit_file;
  static bool submit_wait = false;
  static double submit_timeout_s = kDefaultWaitTimeoutS;
  auto* submit = app.add_subcommand("submit", "submit a signed envelope (hex) and print its tx id");
  submit->add_option("tx", submit_hex, "envelope hex");
  submit->add_option("--file", submit_file,
                     "file holding the envelope hex (or a `tx` JSON output)");
  submit->add_flag("--wait", submit_wait,
                   "wait until committed; print the receipt and finality time");
  submit->add_option("--timeout-s", submit_timeout_s,
                     "with --wait: give up after this many seconds");
  AddConnectionOptions(submit, submit_conn);
  submit->callback([&context] {
    std::string hex = submit_hex;
    if (!submit_file.empty()) {
      if (!hex.empty()) return Fail(context, "give either HEX or --file, not both");
      auto text = ReadFile(submit_file);
      if (!text) return Fail(context, text.error().message);
      hex = Trim(*text);
      if (!hex.empty() && hex.front() == '{') {  // the JSON that `tx <op>` prints
        boost::system::error_code ec;
        json::value v = json::parse(hex, ec);
        const json::value* t = ec ? nullptr : v.as_object().if_contains("tx");
        if (t == nullptr || !t->is_string())
          return Fail(context, submit_file + ": JSON without a \"tx\" string");
        hex = std::string(t->get_string());
      }
    }
    if (hex.empty()) return Fail(context, "give the envelope hex or --file");
    if (!FromHex(hex)) return Fail(context, "the envelope is not hex");
    auto endpoint = Endpoint(submit_conn);
    if (!endpoint) return Fail(context, endpoint.error().message);
    SubmitEnvelope(context, *endpoint, hex, submit_wait, submit_timeout_s, json::object{});
  });

  // pubkey: the public key of a secret or key file (for controllers).
  static TxFlags key_flags;
  auto* pubkey =
      app.add_subcommand("pubkey", "public key and address of --secret HEX or --key FILE");
  pubkey->add_option("--key", key_flags.key_files, "key file (keystore)");
  pubkey->add_option("--passphrase-file", key_flags.passphrase_file, "passphrase of --key");
  pubkey->add_option("--secret", key_flags.secrets, "secret key in hex");
  pubkey->callback([&context] {
    auto keys = LoadKeys(key_flags);
    if (!keys) return Fail(context, keys.error().message);
    if (keys->size() != 1) return Fail(context, "give exactly one --secret or --key");
    crypto::PublicKey pub = (*keys)[0].GetPublicKey();
    PrintJson(json::object{{"public_key", pub.ToHex()}, {"address", pub.ToAddress().ToHex()}});
  });

  // Queries.
  static Connection q_conn;
  static std::string account_id, transfer_id, asset_code;
  static uint64_t account_height = 0, block_height = 0;
  auto* account = app.add_subcommand("account", "an account's record and balance");
  account->add_option("id", account_id, "account id (32 hex digits)")->required();
  account->add_option("--height", account_height, "read at this height (default latest)");
  AddConnectionOptions(account, q_conn);
  account->callback([&context] {
    json::object p{{"id", account_id}};
    if (account_height != 0) p["height"] = account_height;
    Query(context, q_conn, "get_account", std::move(p));
  });
  auto* transfer = app.add_subcommand("transfer", "a transfer, hold, post or void by id");
  transfer->add_option("id", transfer_id, "transfer id (32 hex digits)")->required();
  AddConnectionOptions(transfer, q_conn);
  transfer->callback([&context] {
    Query(context, q_conn, "get_transfer", json::object{{"id", transfer_id}});
  });
  auto* asset = app.add_subcommand("asset", "an asset and its supply");
  asset->add_option("code", asset_code, "asset code")->required();
  AddConnectionOptions(asset, q_conn);
  asset->callback([&context] {
    Query(context, q_conn, "get_asset", json::object{{"code", asset_code}});
  });
  auto* block = app.add_subcommand("block", "a committed block with its certificates");
  block->add_option("height", block_height, "block height")->required();
  AddConnectionOptions(block, q_conn);
  block->callback([&context] {
    Query(context, q_conn, "get_block", json::object{{"height", block_height}});
  });
  auto* validators = app.add_subcommand("validators", "the validator set");
  AddConnectionOptions(validators, q_conn);
  validators->callback([&context] { Query(context, q_conn, "get_validators", json::object{}); });
}

}  // namespace cl::tools
