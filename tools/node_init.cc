#include "tools/node_init.h"

#include <toml++/toml.h>
#include <algorithm>
#include <set>
#include <sstream>

#include "crypto/keystore.h"
#include "genesis/genesis.h"
#include "node/toml_text.h"
#include "tools/files.h"
#include "util/hex.h"
#include "util/text.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;
namespace pb = ledger::pb;

std::unexpected<Error> Bad(std::string_view file, std::string_view field, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(file) + ": " + std::string(field) + ": " + std::string(what));
}

bool SameKey(const std::string& genesis_key, const crypto::PublicKey& key) {
  return genesis_key == std::string(key.bytes.begin(), key.bytes.end());
}

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

Result<PeerEntry> Peer(const toml::node& n, std::string_view file, const std::string& path) {
  const toml::table* table = n.as_table();
  if (table == nullptr) return Bad(file, path, "must be a table { member, address }");
  for (const auto& [key, value] : *table) {
    (void)value;
    if (key.str() != "member" && key.str() != "address")
      return Bad(file, path + "." + EscapeText(key.str()), "unknown field");
  }
  const auto* member = table->get_as<std::string>("member");
  if (member == nullptr || member->get().empty())
    return Bad(file, path + ".member", "missing or not a non-empty string");
  const auto* address = table->get_as<std::string>("address");
  if (address == nullptr) return Bad(file, path + ".address", "missing or not a string");
  auto host_port = node::ParseHostPort(address->get());
  if (!host_port) return Bad(file, path + ".address", host_port.error().message);
  if (host_port->port == 0) return Bad(file, path + ".address", "the port must not be 0");
  return PeerEntry{member->get(), *host_port};
}

Result<std::vector<PeerEntry>> PeersFrom(const toml::table& root, std::string_view file) {
  for (const auto& [key, value] : root) {
    (void)value;
    if (key.str() != "peers") return Bad(file, EscapeText(key.str()), "unknown field");
  }
  const toml::array* array = root["peers"].as_array();
  if (array == nullptr) return Bad(file, "peers", "missing: expected [[peers]] tables");
  if (array->size() > genesis::kMaxMembers)
    return Bad(file, "peers", "at most " + std::to_string(genesis::kMaxMembers) + " entries");
  std::vector<PeerEntry> peers;
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = "peers[" + std::to_string(i) + "]";
    auto peer = Peer((*array)[i], file, path);
    if (!peer) return std::unexpected(peer.error());
    if (!names.insert(peer->member).second)
      return Bad(file, path + ".member", "'" + EscapeText(peer->member) + "' is listed twice");
    peers.push_back(std::move(*peer));
  }
  return peers;
}

// What InitNode reads before it writes anything.
struct Inputs {
  MemberDescriptor descriptor;
  std::string genesis_text;
  genesis::Genesis genesis;
  const pb::MemberRecord* member = nullptr;  // this member in `genesis`
  std::vector<PeerEntry> peers;
};

Status LoadGenesisInput(const fs::path& path, Inputs& in) {
  auto text = ReadTextFile(path, genesis::kMaxGenesisFileBytes);
  if (!text) return std::unexpected(text.error());
  auto g = genesis::LoadGenesis(*text);
  if (!g) return MakeError(g.error().code, path.string() + ": " + g.error().message);
  in.genesis_text = std::move(*text);
  in.genesis = std::move(*g);
  return OkStatus();
}

// The genesis the founders compared (docs/operations.md, step 3) is the one this home gets.
Status CheckExpectedGenesisHash(const NodeInitOptions& o, const Inputs& in) {
  if (o.expect_genesis_hash.empty()) return OkStatus();
  auto expected = Hash32FromHex(o.expect_genesis_hash);
  if (!expected)
    return MakeError(ErrorCode::kInvalidArgument,
                     "--expect-genesis-hash: must be 64 hex digits (a genesis hash)");
  if (*expected != in.genesis.hash)
    return MakeError(ErrorCode::kInvalidArgument,
                     o.genesis_file.string() + ": genesis hash " + in.genesis.hash.ToHex() +
                         " is not the expected " + expected->ToHex() +
                         " (--expect-genesis-hash): this is not the genesis the founders compared");
  return OkStatus();
}

std::vector<std::string> RoleNames(uint32_t roles) {
  std::vector<std::string> out;
  const std::pair<uint32_t, const char*> names[] = {{pb::ROLE_VALIDATOR, "validator"},
                                                    {pb::ROLE_OBSERVER, "observer"},
                                                    {pb::ROLE_ISSUER, "issuer"},
                                                    {pb::ROLE_COMPLIANCE, "compliance"}};
  for (const auto& [bit, name] : names) {
    if (roles & bit) out.emplace_back(name);
  }
  return out;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items)
    out += (out.empty() ? "" : ", ") + item;
  return out;
}

// Genesis must list this member exactly as its descriptor says: a different key means the genesis
// was assembled from someone else's descriptor (or a tampered one).
Status CheckMemberInGenesis(const fs::path& descriptor_file, const fs::path& genesis_file,
                            Inputs& in) {
  const MemberDescriptor& d = in.descriptor;
  std::vector<std::string> names;
  for (const pb::MemberRecord& m : in.genesis.state.members) {
    names.push_back(EscapeText(m.name()));
    if (m.name() == d.name) in.member = &m;
  }
  if (in.member == nullptr)
    return Bad(genesis_file.string(), "members",
               "no member named '" + EscapeText(d.name) + "' (members: " + Join(names) + ")");
  const std::string given = "genesis gives '" + EscapeText(d.name) + "' ";
  if (!SameKey(in.member->node_key(), d.node_key))
    return Bad(descriptor_file.string(), "node_key",
               d.node_key.ToHex() + " differs from the node key " + given +
                   ToHex(AsSpan(in.member->node_key())) + " in " + genesis_file.string());
  std::vector<std::string> keys;
  for (const crypto::PublicKey& key : d.governance_keys)
    keys.push_back(std::string(key.bytes.begin(), key.bytes.end()));
  const pb::Controller& gov = in.member->governance();
  if (gov.threshold() != d.governance_threshold ||
      !std::is_permutation(keys.begin(), keys.end(), gov.keys().begin(), gov.keys().end()))
    return Bad(descriptor_file.string(), "governance",
               "differs from the governance keys " + given + "in " + genesis_file.string());
  if (RoleNames(in.member->roles()) != d.roles)
    return Bad(descriptor_file.string(), "roles",
               Join(d.roles) + " differ from the roles " + given + "(" +
                   Join(RoleNames(in.member->roles())) + ") in " + genesis_file.string());
  return OkStatus();
}

// The keystore must hold the node key genesis lists for this member.
Status CheckNodeKeystore(const fs::path& key_file, const std::string& passphrase,
                         const fs::path& genesis_file, const Inputs& in) {
  auto key = crypto::ReadKeystoreFile(key_file, passphrase);
  if (!key) return std::unexpected(key.error());
  const crypto::PublicKey pub = key->GetPublicKey();
  if (!SameKey(in.member->node_key(), pub))
    return MakeError(ErrorCode::kInvalidArgument,
                     key_file.string() + ": holds node key " + pub.ToHex() + ", but " +
                         genesis_file.string() + " gives '" + EscapeText(in.member->name()) +
                         "' node key " + ToHex(AsSpan(in.member->node_key())));
  return OkStatus();
}

// Every peer is a genesis member, every validator but this node is reachable, and this node's own
// entry (if listed) is the address its descriptor announced.
Status CheckPeers(const fs::path& peers_file, const Inputs& in) {
  const std::string file = peers_file.string();
  for (size_t i = 0; i < in.peers.size(); ++i) {
    const PeerEntry& p = in.peers[i];
    const bool member =
        std::any_of(in.genesis.state.members.begin(), in.genesis.state.members.end(),
                    [&](const pb::MemberRecord& m) { return m.name() == p.member; });
    const std::string field = "peers[" + std::to_string(i) + "]";
    if (!member)
      return Bad(file, field + ".member",
                 "'" + EscapeText(p.member) + "' is not a member in genesis");
    if (p.member == in.descriptor.name &&
        p.address.ToString() != in.descriptor.p2p_address.ToString())
      return Bad(file, field + ".address",
                 p.address.ToString() + " is not the p2p_address of this member's descriptor (" +
                     in.descriptor.p2p_address.ToString() + ")");
  }
  for (const genesis::Validator& v : in.genesis.validators) {
    const bool listed = std::any_of(in.peers.begin(), in.peers.end(),
                                    [&](const PeerEntry& p) { return p.member == v.name; });
    if (!listed && v.name != in.descriptor.name)
      return Bad(file, "peers", "no address for the validator '" + EscapeText(v.name) + "'");
  }
  return OkStatus();
}

Result<Inputs> ReadInputs(const NodeInitOptions& o) {
  Inputs in;
  const fs::path descriptor_file = o.member_dir / kMemberDescriptorFile;
  auto descriptor = ReadMemberDescriptor(descriptor_file);
  if (!descriptor) return std::unexpected(descriptor.error());
  in.descriptor = std::move(*descriptor);
  LEDGER_TRY(LoadGenesisInput(o.genesis_file, in));
  LEDGER_TRY(CheckExpectedGenesisHash(o, in));
  LEDGER_TRY(CheckMemberInGenesis(descriptor_file, o.genesis_file, in));
  LEDGER_TRY(CheckNodeKeystore(o.member_dir / kNodeKeyFile, o.passphrase, o.genesis_file, in));
  auto peers_text = ReadTextFile(o.peers_file, kMaxPeersFileBytes);
  if (!peers_text) return std::unexpected(peers_text.error());
  auto peers = ParsePeersFile(*peers_text, o.peers_file.string());
  if (!peers) return std::unexpected(peers.error());
  in.peers = std::move(*peers);
  LEDGER_TRY(CheckPeers(o.peers_file, in));
  return in;
}

Result<node::NodeConfig> BuildConfig(const NodeInitOptions& o, const Inputs& in) {
  node::NodeConfig c;
  c.home = fs::absolute(o.home);
  c.config_file = c.home / "config.toml";
  c.member = in.descriptor.name;
  c.genesis_file = c.home / "genesis.json";
  c.key_file = c.home / kNodeKeyFile;
  if (!o.passphrase_file.empty()) c.passphrase_file = fs::absolute(o.passphrase_file);
  c.data_dir = c.home / "data";
  c.p2p_listen = in.descriptor.p2p_address;
  if (!o.p2p_listen.empty()) {
    auto listen = node::ParseHostPort(o.p2p_listen);
    if (!listen)
      return MakeError(ErrorCode::kInvalidArgument, "--p2p-listen: " + listen.error().message);
    c.p2p_listen = *listen;
  }
  auto rpc = node::ParseHostPort(o.rpc_listen);
  if (!rpc) return MakeError(ErrorCode::kInvalidArgument, "--rpc-listen: " + rpc.error().message);
  c.rpc_listen = *rpc;
  for (const genesis::Validator& v : in.genesis.validators) {
    if (v.name == c.member) continue;
    for (const PeerEntry& p : in.peers) {
      if (p.member == v.name) c.peers.push_back(node::PeerConfig{p.member, p.address});
    }
  }
  if (c.peers.size() > node::kMaxPeers)
    return MakeError(ErrorCode::kInvalidArgument,
                     "more than " + std::to_string(node::kMaxPeers) + " validator peers");
  return c;
}

Status WriteHome(const NodeInitOptions& o, const Inputs& in, const node::NodeConfig& config) {
  const std::string rendered = node::RenderNodeConfig(config);
  // What ledgerd will read must parse back to this configuration.
  auto reparsed = node::ParseNodeConfig(rendered, config.home, config.config_file);
  if (!reparsed) return std::unexpected(reparsed.error());
  auto key_bytes = ReadTextFile(o.member_dir / kNodeKeyFile, crypto::kMaxKeystoreFileBytes);
  if (!key_bytes) return std::unexpected(key_bytes.error());
  std::error_code ec;
  const bool home_existed = fs::exists(fs::symlink_status(config.home, ec));
  LEDGER_TRY(CreateFreshDirectory(config.home));
  // All three or none: a half-filled home (with the key in it) is neither usable nor refused by a
  // rerun as anything but "not empty". The key is created with mode 0600, never through a symlink.
  Status written = WriteNewFiles({{config.key_file, *key_bytes, kSecretFileMode},
                                  {config.genesis_file, in.genesis_text, kPublicFileMode},
                                  {config.config_file, rendered, kPublicFileMode}});
  if (!written && !home_existed) fs::remove(config.home, ec);  // only when empty: ours
  return written;
}

}  // namespace

Result<std::vector<PeerEntry>> ParsePeersFile(std::string_view text, std::string_view file) {
  if (text.size() > kMaxPeersFileBytes) return Bad(file, "$", "larger than 1 MiB");
  auto root = node::ParseTomlText(text, std::string(file));
  if (!root) return std::unexpected(root.error());
  return PeersFrom(*root, file);
}

std::string RenderPeersFile(const std::vector<MemberDescriptor>& members) {
  std::string out =
      "# Where each member's node listens for consortium peers (docs/operations.md, \"Forming a\n"
      "# consortium on several machines\"). Sessions are authenticated with the node keys in\n"
      "# genesis; this file only says where to dial.\n";
  for (const MemberDescriptor& m : members) {
    out += "\n[[peers]]\nmember = " + Quote(m.name) +
           "\naddress = " + Quote(m.p2p_address.ToString()) + "\n";
  }
  return out;
}

Result<node::NodeConfig> InitNode(const NodeInitOptions& o) {
  auto in = ReadInputs(o);
  if (!in) return std::unexpected(in.error());
  auto config = BuildConfig(o, *in);
  if (!config) return std::unexpected(config.error());
  LEDGER_TRY(WriteHome(o, *in, *config));
  return config;
}

}  // namespace cl::tools
