// `ledgerctl localnet init`: writes a local consortium for development and tests — a genesis, and
// one home directory per member with its config, encrypted node key and passphrase file — on
// loopback ports that were free when it ran.
//
//   DIR/genesis.json
//   DIR/localnet.json        members, roles, RPC and p2p addresses (for scripts)
//   DIR/governance-keys.json the members' governance secrets, mode 0600: DEVELOPMENT ONLY
//   DIR/<member-slug>/       config.toml, node.key, passphrase, genesis.json
#pragma once

#include <filesystem>
#include <set>
#include <string>

#include "util/status.h"

namespace cl::tools {

struct LocalnetOptions {
  std::filesystem::path dir;
  std::string chain_id = "localnet";
  uint32_t validators = 4;
  uint32_t observers = 1;
  std::string host = "127.0.0.1";
  uint16_t base_port = 0;       // 0: pick free ports; else base_port + 2*i (p2p), + 2*i + 1 (rpc)
  uint64_t scrypt_n = 1 << 12;  // development keys: quick to open
};

Status InitLocalnet(const LocalnetOptions& options);

// A port on `host` (an IPv4 address) that can be bound now, below the kernel's ephemeral range and
// not in `taken`, which it joins. Another process may still take it before it is bound.
Result<uint16_t> FreePort(const std::string& host, std::set<uint16_t>& taken);

// "Bank 1" -> "bank-1".
std::string MemberSlug(const std::string& name);

}  // namespace cl::tools
