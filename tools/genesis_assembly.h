// `ledgerctl genesis assemble`: a coordinator builds the genesis file from the members' public
// descriptors (tools/member.h) and a parameters file holding everything a genesis has that is not
// member data (docs/operations.md, "Forming a consortium on several machines"):
//
//   chain_id = "eurobank-net"                       # required
//   genesis_time = 2026-12-07T17:00:00Z             # required (so assembly is reproducible)
//   governance_threshold = 3                        # required, 1..members
//   [consensus]                                     # optional; each field defaults as in genesis.h
//   max_block_txs = 5000
//   max_block_bytes = 8388608
//   block_interval_ms = 500
//   view_change_timeout_ms = 4000
//   [[assets]]                                      # code, scale, issuer (a member name),
//   issuer_account
//   [[accounts]]                                    # id, asset, custodian (a member name),
//   controller,
//                                                   # balance, and optionally flags and limits
//
// An account's controller is "governance" (its custodian's governance keys, from the descriptor),
// one public key in hex, or { threshold = k, keys = [...] }. Amounts are decimal strings.
//
// Members get ids 1..n in the order their descriptors are given; validators are the members with
// the validator role, in id order. The same inputs always give the same bytes, so any founder can
// re-assemble and compare. Every refusal is one line naming the file and field it comes from. The
// result is checked with genesis::LoadGenesis before it is returned.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "genesis/genesis.h"
#include "tools/member.h"
#include "util/status.h"

namespace cl::tools {

inline constexpr size_t kMaxParamsFileBytes = 16 * 1024 * 1024;
// The name of an account controller that stands for its custodian's governance keys.
inline constexpr std::string_view kGovernanceController = "governance";

struct ConsortiumParams {
  std::string chain_id;
  uint64_t genesis_time_ms = 0;
  uint64_t governance_threshold = 0;
  genesis::ConsensusParams consensus;
  // In the genesis file's JSON shape, except that "issuer" and "custodian" are member names and a
  // controller may be kGovernanceController. Field values are type-checked; their contents are
  // checked when the genesis is assembled and loaded.
  boost::json::array assets;
  boost::json::array accounts;
};

// Parses a params file (TOML). Unknown fields are refused naming them: "FILE: consensus.foo:
// unknown field".
Result<ConsortiumParams> ParseConsortiumParams(std::string_view toml_text, std::string_view file);
Result<ConsortiumParams> ReadConsortiumParams(const std::filesystem::path& path);

// One descriptor and the file it came from (named in errors).
struct DescriptorFile {
  std::string file;
  MemberDescriptor descriptor;
};

// The members' descriptors, as a genesis needs them: distinct names, keys and p2p addresses; at
// least genesis::kMinValidators validators; limits of genesis.h.
Status CheckDescriptors(const std::vector<DescriptorFile>& members);

// The genesis file's text (ends with a newline), loadable by genesis::LoadGenesis.
Result<std::string> AssembleGenesis(const std::vector<DescriptorFile>& members,
                                    const ConsortiumParams& params, std::string_view params_file);

struct AssembleFilesOptions {
  std::vector<std::filesystem::path> member_files;
  std::filesystem::path params_file;
  std::filesystem::path out;  // genesis.json; refused when it exists
  std::filesystem::path
      peers_out;  // optional peers.toml (tools/node_init.h); refused when it exists
};

// Reads the descriptors and params, assembles, and writes the genesis (and the peers file). Returns
// the genesis as the node loads it (its hash is Genesis::hash).
Result<genesis::Genesis> AssembleGenesisFiles(const AssembleFilesOptions& options);

}  // namespace cl::tools
