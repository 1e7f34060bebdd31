// The node's home directory and its TOML configuration.
//
//   DIR/config.toml      this file (see docs/operations.md for every field)
//   DIR/node.key         the node's encrypted key (crypto/keystore.h)
//   DIR/genesis.json     the consortium's genesis file (path configurable)
//   DIR/data/            LevelDB: blocks, state, consensus votes
//
// Every problem is reported as one line naming the file and the field, e.g.
//   "/srv/n1/config.toml: rpc.listen: expected host:port, got '8545'".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "util/status.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace cl::node {

inline constexpr size_t kMaxConfigBytes = 1u << 20;
inline constexpr size_t kMaxPeers = 64;
inline constexpr size_t kMaxBearerTokens = 64;

struct HostPort {
  std::string host;
  uint16_t port = 0;
  // Brackets IPv6 hosts, so ParseHostPort reads the result back.
  std::string ToString() const {
    bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

// "host:port" with a numeric port in [0, 65535]; IPv6 hosts in brackets: "[::1]:80".
Result<HostPort> ParseHostPort(std::string_view text);

struct PeerConfig {
  std::string member;  // the member id in genesis whose node key the peer must present
  HostPort address;
};

struct NodeConfig {
  std::filesystem::path home;
  std::filesystem::path config_file;

  // [node]
  std::string member;                     // this node's member id in genesis
  std::filesystem::path genesis_file;     // resolved against home
  std::filesystem::path key_file;         // resolved against home
  std::filesystem::path passphrase_file;  // empty: read LEDGERD_KEY_PASSPHRASE from the environment
  std::filesystem::path data_dir;         // resolved against home

  // [p2p]
  HostPort p2p_listen{"127.0.0.1", 26656};
  std::vector<PeerConfig> peers;

  // [rpc]
  HostPort rpc_listen{"127.0.0.1", 8545};
  size_t rpc_max_body_bytes = 8u << 20;
  size_t rpc_max_connections = 256;
  size_t rpc_max_connections_per_address = 64;  // from one remote IP address, loopback included
  uint32_t rpc_idle_timeout_ms = 60'000;  // an HTTP request (and its answer) must complete in it
  std::vector<std::string> rpc_bearer_tokens;

  // [mempool]
  size_t mempool_max_txs = 100'000;

  // [consensus]
  uint32_t consensus_max_block_delay_ms =
      200;  // the primary proposes at least this often when busy
  uint32_t consensus_view_timeout_ms = 2'000;

  // [storage]
  uint64_t retain_versions = 100'000;  // state versions kept for proofs; 0 keeps all

  // [log]
  std::string log_level = "info";  // trace, debug, info, warn, error

  // Not from the file: the Env both databases reach the disk through (nullptr: LevelDB's
  // default). Tests set a ledger::FaultEnv here. Not owned.
  leveldb::Env* storage_env = nullptr;
};

// Reads DIR/config.toml. Unknown keys are errors too (a typo must not silently change behaviour).
Result<NodeConfig> LoadNodeConfig(const std::filesystem::path& home);
// Parses config text as if read from config_file under home (for tests and `ledgerctl`).
Result<NodeConfig> ParseNodeConfig(std::string_view text, const std::filesystem::path& home,
                                   const std::filesystem::path& config_file);
// Renders a config as TOML that ParseNodeConfig reads back to an equal config.
std::string RenderNodeConfig(const NodeConfig& config);

}  // namespace cl::node
