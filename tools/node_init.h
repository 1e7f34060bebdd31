// `ledgerctl node init`: a member turns its own directory (tools/member.h), the genesis file every
// founder checked, and the consortium's peers file into a node home that `ledgerd --home HOME`
// runs (node/config.h):
//
//   HOME/config.toml    node.member = the member's name; p2p.listen = its p2p address;
//                       p2p.peers = every validator but itself, at the addresses of the peers file
//   HOME/node.key       the member's node keystore, copied byte for byte
//   HOME/genesis.json   the genesis file, copied byte for byte (its hash is over the bytes)
//
// Before writing anything it checks that genesis lists this member with the descriptor's keys and
// roles, that the keystore (opened with the passphrase) holds the node key genesis lists, and that
// the peers file names only genesis members and gives an address for every validator.
//
// The peers file (peers.toml; `genesis assemble --peers-out` writes it from the descriptors):
//   [[peers]]
//   member = "Bank A"              # a member's name in genesis
//   address = "10.0.0.1:26656"     # where its node listens (its descriptor's p2p_address)
// Nothing else is allowed. It is not part of genesis: a wrong address only fails to connect,
// since every session is authenticated with the node key genesis gives the member.
//
// Thread safety: free functions; InitNode writes only into HOME.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "node/config.h"
#include "tools/member.h"
#include "util/status.h"

namespace cl::tools {

inline constexpr size_t kMaxPeersFileBytes = 1 << 20;

struct PeerEntry {
  std::string member;
  node::HostPort address;
};

// Parses a peers file (TOML); errors read "FILE: peers[2].address: ...".
Result<std::vector<PeerEntry>> ParsePeersFile(std::string_view toml_text, std::string_view file);
// The peers file for these members, in the given order.
std::string RenderPeersFile(const std::vector<MemberDescriptor>& members);

struct NodeInitOptions {
  std::filesystem::path home;
  std::filesystem::path member_dir;
  std::filesystem::path genesis_file;
  std::filesystem::path peers_file;
  std::string passphrase;  // of the member's keystores
  // Written to config.toml as node.passphrase_file when set; otherwise ledgerd reads the
  // passphrase from LEDGERD_KEY_PASSPHRASE.
  std::filesystem::path passphrase_file;
  std::string rpc_listen = "127.0.0.1:8545";
  std::string p2p_listen;  // empty: the descriptor's p2p_address
  // The genesis hash the founders compared out of band (64 hex digits); when set, a genesis file
  // with another hash is refused before anything is written.
  std::string expect_genesis_hash;
};

// Checks everything above, then creates HOME (refusing a non-empty one) and writes it. Returns the
// configuration written.
Result<node::NodeConfig> InitNode(const NodeInitOptions& options);

}  // namespace cl::tools
