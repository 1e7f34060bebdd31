// `ledgerctl member init`: a member of a consortium that is being formed makes its own keys on its
// own machine and publishes only public material (DESIGN decision 16).
//
//   DIR/node.key        the node key, in an encrypted keystore (docs/keystore.md), mode 0600
//   DIR/governance.key  the governance key, same passphrase, mode 0600
//   DIR/member.json     the member descriptor: public, the only file that leaves DIR
//
// The descriptor (docs/operations.md, "Forming a consortium on several machines") is strict JSON:
//   {"format": 1, "name": "Bank A", "roles": ["validator", "issuer"], "node_key": "02…",
//    "governance": {"threshold": 1, "keys": ["03…"]}, "p2p_address": "10.0.0.1:26656"}
// Unknown fields, a format other than 1, a key that is not a compressed secp256k1 point, or a key
// used twice are refused with one line naming the file and the field.
//
// Thread safety: free functions; InitMember writes only into its own directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "node/config.h"
#include "util/status.h"

namespace cl::tools {

// The descriptor's "format" field. A different layout gets a new number; readers refuse others.
inline constexpr uint64_t kMemberDescriptorFormat = 1;
inline constexpr size_t kMaxMemberDescriptorBytes = 16 * 1024;
inline constexpr std::string_view kNodeKeyFile = "node.key";
inline constexpr std::string_view kGovernanceKeyFile = "governance.key";
inline constexpr std::string_view kMemberDescriptorFile = "member.json";

struct MemberDescriptor {
  std::string name;                // 1..64 bytes, no control characters
  std::vector<std::string> roles;  // "validator" or "observer" first, then "issuer", "compliance"
  crypto::PublicKey node_key;
  uint32_t governance_threshold = 1;
  std::vector<crypto::PublicKey> governance_keys;  // 1..16 distinct keys
  node::HostPort p2p_address;                      // where its node listens for consortium peers

  bool validator() const { return !roles.empty() && roles.front() == "validator"; }
  bool HasRole(std::string_view role) const;
};

// "validator,issuer" -> {"validator", "issuer"}: exactly one of validator and observer, plus
// optionally issuer and compliance, each at most once; returned in the canonical order.
Result<std::vector<std::string>> ParseRoles(std::string_view comma_separated);

// Parses a descriptor's text; errors read "<file>: <field>: <what>".
Result<MemberDescriptor> ParseMemberDescriptor(std::string_view text, std::string_view file);
Result<MemberDescriptor> ReadMemberDescriptor(const std::filesystem::path& path);
// Canonical text (one field per line, fields in the order above, trailing newline).
std::string RenderMemberDescriptor(const MemberDescriptor& descriptor);

struct MemberInitOptions {
  std::filesystem::path dir;
  std::string name;
  std::string roles;        // as for ParseRoles
  std::string p2p_address;  // host:port, port non-zero
  std::string passphrase;   // protects both keystores
  crypto::ScryptParams scrypt;
};

// Creates DIR (refusing a non-empty one), fresh node and governance keys in keystores, and the
// descriptor. On an error after DIR was created, the files written so far are removed.
Result<MemberDescriptor> InitMember(const MemberInitOptions& options);

}  // namespace cl::tools
