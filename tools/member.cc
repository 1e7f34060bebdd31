#include "tools/member.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <set>

#include "genesis/json_keys.h"
#include "genesis/member_name.h"
#include "ledger/transaction.h"
#include "tools/files.h"
#include "tools/passphrase.h"
#include "util/text.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The fields of a version-1 descriptor, in the order RenderMemberDescriptor writes them.
constexpr std::array<std::string_view, 6> kDescriptorFields = {
    "format", "name", "roles", "node_key", "governance", "p2p_address"};
// Canonical role order: the consensus role first.
constexpr std::array<std::string_view, 4> kRoleOrder = {"validator", "observer", "issuer",
                                                        "compliance"};

std::unexpected<Error> Bad(std::string_view file, std::string_view field, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(file) + ": " + std::string(field) + ": " + std::string(what));
}

// Errors carry no prefix: the caller names the file and field, or the command-line option.
Status CheckName(std::string_view name) {
  return genesis::CheckMemberName(name);
}

Result<node::HostPort> P2pAddress(std::string_view text) {
  auto address = node::ParseHostPort(text);
  if (!address) return std::unexpected(address.error());
  if (address->port == 0) return MakeError(ErrorCode::kInvalidArgument, "the port must not be 0");
  return *address;
}

// Prefixes an error with where the input came from: "member.json: name: must be 1..64 bytes".
std::unexpected<Error> At(std::string_view where, const Error& error) {
  return MakeError(error.code, std::string(where) + ": " + error.message);
}

Result<crypto::PublicKey> Key(const json::value& v, std::string_view file,
                              const std::string& field) {
  if (!v.is_string()) return Bad(file, field, "must be a hex string");
  auto key = crypto::PublicKey::FromHex(std::string_view(v.as_string()));
  if (!key) return Bad(file, field, "not a 33-byte compressed secp256k1 public key in hex");
  return *key;
}

Result<std::vector<std::string>> Roles(const json::value& v, std::string_view file) {
  if (!v.is_array()) return Bad(file, "roles", "must be an array of strings");
  std::string joined;
  for (const json::value& role : v.as_array()) {
    if (!role.is_string() || role.as_string().empty() ||
        role.as_string().find(',') != json::string::npos)
      return Bad(file, "roles", "must be an array of role names");
    joined += (joined.empty() ? "" : ",") + std::string(role.as_string());
  }
  auto roles = ParseRoles(joined);
  if (!roles) return Bad(file, "roles", roles.error().message);
  return roles;
}

Status Governance(const json::value& v, std::string_view file, MemberDescriptor& out) {
  if (!v.is_object()) return Bad(file, "governance", "must be an object {threshold, keys}");
  const json::object& o = v.as_object();
  for (const auto& kv : o) {
    if (kv.key() != "threshold" && kv.key() != "keys")
      return Bad(file, "governance." + EscapeText(kv.key()), "unknown field");
  }
  const json::value* keys = o.if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return Bad(file, "governance.keys", "must be an array");
  if (keys->as_array().empty() || keys->as_array().size() > ledger::kMaxControllerKeys)
    return Bad(file, "governance.keys", "must hold 1..16 keys");
  for (size_t i = 0; i < keys->as_array().size(); ++i) {
    const std::string field = "governance.keys[" + std::to_string(i) + "]";
    auto key = Key(keys->as_array()[i], file, field);
    if (!key) return std::unexpected(key.error());
    if (std::find(out.governance_keys.begin(), out.governance_keys.end(), *key) !=
        out.governance_keys.end())
      return Bad(file, field, "duplicate key");
    out.governance_keys.push_back(*key);
  }
  const json::value* threshold = o.if_contains("threshold");
  if (threshold == nullptr || !threshold->is_number())
    return Bad(file, "governance.threshold", "must be an integer");
  boost::system::error_code ec;
  const auto t = threshold->to_number<uint64_t>(ec);
  if (ec || t == 0 || t > out.governance_keys.size())
    return Bad(file, "governance.threshold", "must be between 1 and the number of keys");
  out.governance_threshold = static_cast<uint32_t>(t);
  return OkStatus();
}

Status CheckFields(const json::object& o, std::string_view file) {
  for (const auto& kv : o) {
    if (std::find(kDescriptorFields.begin(), kDescriptorFields.end(), std::string_view(kv.key())) ==
        kDescriptorFields.end())
      return Bad(file, EscapeText(kv.key()), "unknown field");
  }
  for (std::string_view field : kDescriptorFields) {
    if (!o.contains(field)) return Bad(file, field, "missing");
  }
  return OkStatus();
}

Status CheckFormat(const json::value& v, std::string_view file) {
  boost::system::error_code ec;
  const auto format = v.is_number() ? v.to_number<uint64_t>(ec) : 0;
  if (!v.is_number() || ec || format != kMemberDescriptorFormat)
    return Bad(file, "format",
               "must be " + std::to_string(kMemberDescriptorFormat) +
                   " (a member descriptor of another version of ledgerctl?)");
  return OkStatus();
}

// The node key and the governance keys are different keys: one key in two places would let a
// stolen node key sign governance operations.
Status CheckKeysDistinct(const MemberDescriptor& d, std::string_view file) {
  for (const crypto::PublicKey& key : d.governance_keys) {
    if (key == d.node_key)
      return Bad(file, "governance.keys",
                 "the node key " + key.ToHex() + " is also a governance key");
  }
  return OkStatus();
}

Result<MemberDescriptor> DescriptorFrom(const json::object& o, std::string_view file) {
  LEDGER_TRY(CheckFields(o, file));
  LEDGER_TRY(CheckFormat(o.at("format"), file));
  MemberDescriptor d;
  if (!o.at("name").is_string()) return Bad(file, "name", "must be a string");
  d.name = std::string(o.at("name").as_string());
  if (auto st = CheckName(d.name); !st) return At(std::string(file) + ": name", st.error());
  auto roles = Roles(o.at("roles"), file);
  if (!roles) return std::unexpected(roles.error());
  d.roles = std::move(*roles);
  auto node_key = Key(o.at("node_key"), file, "node_key");
  if (!node_key) return std::unexpected(node_key.error());
  d.node_key = *node_key;
  LEDGER_TRY(Governance(o.at("governance"), file, d));
  LEDGER_TRY(CheckKeysDistinct(d, file));
  if (!o.at("p2p_address").is_string()) return Bad(file, "p2p_address", "must be a string");
  auto address = P2pAddress(std::string_view(o.at("p2p_address").as_string()));
  if (!address) return At(std::string(file) + ": p2p_address", address.error());
  d.p2p_address = *address;
  return d;
}

// Removes what InitMember wrote when it fails part-way.
void RemoveMemberFiles(const fs::path& dir) {
  std::error_code ec;
  for (std::string_view file : {kNodeKeyFile, kGovernanceKeyFile, kMemberDescriptorFile})
    fs::remove(dir / file, ec);
}

Result<MemberDescriptor> WriteMemberFiles(const MemberInitOptions& o, MemberDescriptor d) {
  crypto::KeystoreWriteOptions key_options;
  key_options.scrypt = o.scrypt;
  const crypto::PrivateKey node_key = crypto::PrivateKey::Generate();
  const crypto::PrivateKey governance_key = crypto::PrivateKey::Generate();
  LEDGER_TRY(crypto::WriteKeystoreFile(o.dir / kNodeKeyFile, node_key, o.passphrase, key_options));
  LEDGER_TRY(crypto::WriteKeystoreFile(o.dir / kGovernanceKeyFile, governance_key, o.passphrase,
                                       key_options));
  d.node_key = node_key.GetPublicKey();
  d.governance_keys = {governance_key.GetPublicKey()};
  d.governance_threshold = 1;
  LEDGER_TRY(
      WriteTextFile(o.dir / kMemberDescriptorFile, RenderMemberDescriptor(d), kPublicFileMode));
  return d;
}

}  // namespace

bool MemberDescriptor::HasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

Result<std::vector<std::string>> ParseRoles(std::string_view text) {
  std::set<std::string_view> given;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view role = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (std::find(kRoleOrder.begin(), kRoleOrder.end(), role) == kRoleOrder.end())
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown role '" + EscapeText(role) +
                           "' (validator or observer, plus issuer, compliance)");
    if (!given.insert(role).second)
      return MakeError(ErrorCode::kInvalidArgument, "role '" + EscapeText(role) + "' given twice");
  }
  if (given.contains("validator") == given.contains("observer"))
    return MakeError(ErrorCode::kInvalidArgument,
                     "exactly one of validator and observer is required");
  std::vector<std::string> roles;
  for (std::string_view role : kRoleOrder) {
    if (given.contains(role)) roles.emplace_back(role);
  }
  return roles;
}

Result<MemberDescriptor> ParseMemberDescriptor(std::string_view text, std::string_view file) {
  if (text.size() > kMaxMemberDescriptorBytes)
    return Bad(file, "$", "larger than " + std::to_string(kMaxMemberDescriptorBytes) + " bytes");
  boost::system::error_code ec;
  json::value root = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return Bad(file, "$", "not valid JSON: " + ec.message());
  if (!root.is_object()) return Bad(file, "$", "must be a JSON object");
  if (auto duplicate = genesis::FindDuplicateJsonKey(text))
    return Bad(file, duplicate->substr(2), "field given twice");  // "$.name" -> "name"
  return DescriptorFrom(root.as_object(), file);
}

Result<MemberDescriptor> ReadMemberDescriptor(const fs::path& path) {
  auto text = ReadTextFile(path, kMaxMemberDescriptorBytes);
  if (!text) return std::unexpected(text.error());
  return ParseMemberDescriptor(*text, path.string());
}

std::string RenderMemberDescriptor(const MemberDescriptor& d) {
  json::array roles;
  for (const std::string& role : d.roles)
    roles.emplace_back(role);
  json::array keys;
  for (const crypto::PublicKey& key : d.governance_keys)
    keys.emplace_back(key.ToHex());
  const json::object governance{{"threshold", d.governance_threshold}, {"keys", std::move(keys)}};
  const std::string p2p = d.p2p_address.ToString();
  return "{\n  \"format\": " + std::to_string(kMemberDescriptorFormat) +
         ",\n  \"name\": " + json::serialize(json::string(d.name)) +
         ",\n  \"roles\": " + json::serialize(roles) +
         ",\n  \"node_key\": " + json::serialize(json::string(d.node_key.ToHex())) +
         ",\n  \"governance\": " + json::serialize(governance) +
         ",\n  \"p2p_address\": " + json::serialize(json::string(p2p)) + "\n}\n";
}

Result<MemberDescriptor> InitMember(const MemberInitOptions& o) {
  MemberDescriptor d;
  d.name = o.name;
  if (auto st = CheckName(d.name); !st) return At("--name", st.error());
  auto roles = ParseRoles(o.roles);
  if (!roles) return At("--roles", roles.error());
  d.roles = std::move(*roles);
  auto address = P2pAddress(o.p2p_address);
  if (!address) return At("--p2p-address", address.error());
  d.p2p_address = *address;
  if (o.passphrase.size() < kMinNewPassphraseBytes)
    return MakeError(ErrorCode::kInvalidArgument,
                     "passphrase: " + std::to_string(o.passphrase.size()) +
                         " bytes; a new keystore's passphrase must be at least " +
                         std::to_string(kMinNewPassphraseBytes) + " bytes");
  LEDGER_TRY(o.scrypt.Validate());
  LEDGER_TRY(CreateFreshDirectory(o.dir));
  auto written = WriteMemberFiles(o, std::move(d));
  if (!written) RemoveMemberFiles(o.dir);
  return written;
}

}  // namespace cl::tools
