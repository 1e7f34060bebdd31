// ledgerctl member init | genesis assemble | genesis inspect | node init: forming a consortium on
// several machines (docs/operations.md). The work is in tools/member.h, tools/genesis_assembly.h,
// tools/genesis_inspect.h and tools/node_init.h; the callbacks only read options and print.
#include <iostream>

#include "genesis/genesis.h"
#include "tools/ctl.h"
#include "tools/files.h"
#include "tools/genesis_assembly.h"
#include "tools/genesis_inspect.h"
#include "tools/member.h"
#include "tools/node_init.h"
#include "tools/passphrase.h"

namespace cl::tools {
namespace {

void RegisterMemberInit(CLI::App& app, CtlContext& context) {
  auto* member = app.add_subcommand("member", "this member's keys and public descriptor");
  member->require_subcommand(1);
  auto* init = member->add_subcommand(
      "init", "create DIR with the node and governance keystores and DIR/member.json");
  static MemberInitOptions options;
  static std::string dir, passphrase_file;
  init->add_option("--name", options.name, "the member's name in genesis, e.g. \"Bank A\"")
      ->required();
  init->add_option("--roles", options.roles,
                   "validator or observer, optionally with issuer, compliance: validator,issuer")
      ->required();
  init->add_option("--dir", dir, "directory to create (refused when it is not empty)")->required();
  init->add_option("--p2p-address", options.p2p_address,
                   "host:port this member's node will listen on for consortium peers")
      ->required();
  init->add_option("--passphrase-file", passphrase_file,
                   "file whose first line is the keystores' passphrase (default: ask twice)");
  init->callback([&context] {
    options.dir = dir;
    auto passphrase = GetPassphrase(passphrase_file, /*confirm=*/true);
    if (!passphrase) return Fail(context, passphrase.error().message);
    options.passphrase = *passphrase;
    auto descriptor = InitMember(options);
    options.passphrase.clear();
    if (!descriptor) return Fail(context, descriptor.error().message);
    std::cout << RenderMemberDescriptor(*descriptor);
  });
}

void RegisterGenesis(CLI::App& app, CtlContext& context) {
  auto* genesis_cmd = app.add_subcommand("genesis", "assemble or inspect a consortium's genesis");
  genesis_cmd->require_subcommand(1);

  auto* assemble = genesis_cmd->add_subcommand(
      "assemble", "build genesis.json from member descriptors and a parameters file");
  static std::vector<std::string> member_files;
  static std::string params_file, out, peers_out;
  assemble->add_option("--members", member_files, "member.json files; ids 1..n in this order")
      ->required();
  assemble->add_option("--params", params_file, "consortium parameters (TOML)")->required();
  assemble->add_option("--out", out, "genesis file to write (refused when it exists)")->required();
  assemble->add_option("--peers-out", peers_out,
                       "also write the peers file (member p2p addresses) here");
  assemble->callback([&context] {
    AssembleFilesOptions options;
    options.member_files.assign(member_files.begin(), member_files.end());
    options.params_file = params_file;
    options.out = out;
    options.peers_out = peers_out;
    auto g = AssembleGenesisFiles(options);
    if (!g) return Fail(context, g.error().message);
    json::object result{{"genesis", out},
                        {"genesis_hash", g->hash.ToHex()},
                        {"chain_id", g->chain_id},
                        {"members", g->state.members.size()},
                        {"validators", g->validators.size()}};
    if (!peers_out.empty()) result["peers"] = peers_out;
    PrintJson(result);
  });

  auto* inspect = genesis_cmd->add_subcommand(
      "inspect", "print the genesis hash, members, validator set and every parameter");
  static std::string inspect_file;
  inspect->add_option("file", inspect_file, "genesis file")->required();
  inspect->callback([&context] {
    auto text = ReadTextFile(inspect_file, genesis::kMaxGenesisFileBytes);
    if (!text) return Fail(context, text.error().message);
    auto report = InspectGenesis(*text, inspect_file);
    if (!report) return Fail(context, report.error().message);
    std::cout << *report;
  });
}

void RegisterNodeInit(CLI::App& app, CtlContext& context) {
  auto* node_cmd = app.add_subcommand("node", "a node's home directory");
  node_cmd->require_subcommand(1);
  auto* init = node_cmd->add_subcommand(
      "init", "write HOME (config.toml, node.key, genesis.json) for ledgerd --home HOME");
  static NodeInitOptions options;
  static std::string home, member_dir, genesis_file, peers_file, passphrase_file;
  init->add_option("--home", home, "home directory to create (refused when it is not empty)")
      ->required();
  init->add_option("--member-dir", member_dir, "this member's directory (member init --dir)")
      ->required();
  init->add_option("--genesis", genesis_file, "the consortium's genesis file")->required();
  init->add_option("--peers", peers_file, "the peers file (TOML: [[peers]] member, address)")
      ->required();
  init->add_option("--passphrase-file", passphrase_file,
                   "file whose first line is the keystores' passphrase (default: ask); "
                   "config.toml then names it as node.passphrase_file");
  init->add_option("--rpc-listen", options.rpc_listen, "host:port for JSON-RPC");
  init->add_option("--p2p-listen", options.p2p_listen,
                   "host:port to listen on for peers (default: the descriptor's p2p_address)");
  init->add_option("--expect-genesis-hash", options.expect_genesis_hash,
                   "the genesis hash the founders compared; refuse a genesis file with another");
  init->callback([&context] {
    options.home = home;
    options.member_dir = member_dir;
    options.genesis_file = genesis_file;
    options.peers_file = peers_file;
    options.passphrase_file = passphrase_file;
    auto passphrase = GetPassphrase(passphrase_file, /*confirm=*/false);
    if (!passphrase) return Fail(context, passphrase.error().message);
    options.passphrase = *passphrase;
    auto config = InitNode(options);
    options.passphrase.clear();
    if (!config) return Fail(context, config.error().message);
    PrintJson(json::object{
        {"home", config->home.string()},
        {"member", config->member},
        {"p2p_listen", config->p2p_listen.ToString()},
        {"rpc_listen", config->rpc_listen.ToString()},
        {"peers", config->peers.size()},
        {"passphrase", config->passphrase_file.empty()
                           ? std::string("set LEDGERD_KEY_PASSPHRASE before starting ledgerd")
                           : config->passphrase_file.string()}});
  });
}

}  // namespace

void RegisterConsortiumCommands(CLI::App& app, CtlContext& context) {
  RegisterMemberInit(app, context);
  RegisterGenesis(app, context);
  RegisterNodeInit(app, context);
}

}  // namespace cl::tools
