// The members of a local consortium written by tools::InitLocalnet, read back from its files
// (localnet.json, governance-keys.json), and the temporary directory such a consortium lives in:
// what the integration harness and the cluster benchmarks both start from.
//
// Thread safety: the functions are safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "tools/rpc_client.h"
#include "util/status.h"

namespace cl::test_support {

// One member as listed in DIR/localnet.json, with its key from DIR/governance-keys.json.
struct LocalnetMember {
  uint32_t member_id = 0;
  std::string name;
  std::filesystem::path home;
  bool validator = false;
  tools::RpcEndpoint rpc;
  std::string p2p;  // host:port
  // Also controls the member's issuer account (banks).
  crypto::PrivateKey governance = crypto::PrivateKey::Generate();
};

// A new directory $TMPDIR/<prefix>-XXXXXX (/tmp when TMPDIR is unset or empty).
Result<std::filesystem::path> MakeTempDir(std::string_view prefix);

// The members of the consortium in `dir`, in localnet.json order. An error names the file or the
// member that could not be read.
Result<std::vector<LocalnetMember>> ReadLocalnetMembers(const std::filesystem::path& dir);

}  // namespace cl::test_support
