#include "tools/genesis_assembly.h"

#include <toml++/toml.h>
#include <charconv>
#include <chrono>
#include <map>

#include "genesis/member_name.h"
#include "node/toml_text.h"
#include "tools/files.h"
#include "tools/node_init.h"
#include "util/assert.h"
#include "util/text.h"

namespace cl::tools {
namespace {

namespace json = boost::json;

// The value kinds a params entry may hold, and how each reaches the genesis JSON.
enum class Kind { kString, kInteger, kStringArray, kController };
struct FieldSpec {
  std::string_view name;
  Kind kind;
};
constexpr FieldSpec kAssetFields[] = {{"code", Kind::kString},
                                      {"scale", Kind::kInteger},
                                      {"issuer", Kind::kString},
                                      {"issuer_account", Kind::kString}};
constexpr FieldSpec kAccountFields[] = {{"id", Kind::kString},
                                        {"asset", Kind::kString},
                                        {"custodian", Kind::kString},
                                        {"controller", Kind::kController},
                                        {"balance", Kind::kString},
                                        {"flags", Kind::kStringArray},
                                        {"overdraft_limit", Kind::kString},
                                        {"max_per_transfer", Kind::kString},
                                        {"max_outflow_per_day", Kind::kString}};
constexpr std::string_view kTopLevelFields[] = {"chain_id",  "genesis_time", "governance_threshold",
                                                "consensus", "assets",       "accounts"};

std::unexpected<Error> Bad(std::string_view file, std::string_view field, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument,
                   std::string(file) + ": " + std::string(field) + ": " + std::string(what));
}

Result<json::value> StringArray(const toml::node& n, std::string_view file,
                                const std::string& field) {
  const toml::array* array = n.as_array();
  if (array == nullptr) return Bad(file, field, "must be an array of strings");
  json::array out;
  for (const toml::node& item : *array) {
    const auto* s = item.as_string();
    if (s == nullptr) return Bad(file, field, "must be an array of strings");
    out.emplace_back(s->get());
  }
  return out;
}

Result<json::value> Controller(const toml::node& n, std::string_view file,
                               const std::string& field) {
  if (const auto* s = n.as_string()) return json::value(s->get());
  const toml::table* table = n.as_table();
  if (table == nullptr)
    return Bad(file, field, "must be \"governance\", a public key, or { threshold, keys }");
  json::object out;
  for (const auto& [key, value] : *table) {
    const std::string sub = field + "." + EscapeText(key.str());
    if (key.str() == "threshold") {
      const auto* threshold = value.as_integer();
      if (threshold == nullptr || threshold->get() < 0) return Bad(file, sub, "must be an integer");
      out["threshold"] = threshold->get();
    } else if (key.str() == "keys") {
      auto keys = StringArray(value, file, sub);
      if (!keys) return std::unexpected(keys.error());
      out["keys"] = std::move(*keys);
    } else {
      return Bad(file, sub, "unknown field");
    }
  }
  return out;
}

Result<json::value> Value(const toml::node& n, Kind kind, std::string_view file,
                          const std::string& field) {
  switch (kind) {
    case Kind::kString:
      if (const auto* s = n.as_string()) return json::value(s->get());
      return Bad(file, field, "must be a string (amounts are decimal strings: \"1000\")");
    case Kind::kInteger:
      if (const auto* i = n.as_integer(); i != nullptr && i->get() >= 0)
        return json::value(i->get());
      return Bad(file, field, "must be a non-negative integer");
    case Kind::kStringArray:
      return StringArray(n, file, field);
    case Kind::kController:
      return Controller(n, file, field);
  }
  return Bad(file, field, "unreachable");
}

// An array of tables ([[assets]], [[accounts]]) to JSON objects with the same field names.
template <size_t N>
Result<json::array> Entries(const toml::node& n, const FieldSpec (&spec)[N], std::string_view file,
                            std::string_view section) {
  const toml::array* array = n.as_array();
  if (array == nullptr)
    return Bad(file, section, "must be an array of tables ([[" + std::string(section) + "]])");
  json::array out;
  for (size_t i = 0; i < array->size(); ++i) {
    const std::string path = std::string(section) + "[" + std::to_string(i) + "]";
    const toml::table* table = (*array)[i].as_table();
    if (table == nullptr) return Bad(file, path, "must be a table");
    json::object entry;
    for (const auto& [key, value] : *table) {
      const std::string field = path + "." + EscapeText(key.str());
      const FieldSpec* found = nullptr;
      for (const FieldSpec& f : spec) {
        if (f.name == key.str()) found = &f;
      }
      if (found == nullptr) return Bad(file, field, "unknown field");
      auto v = Value(value, found->kind, file, field);
      if (!v) return std::unexpected(v.error());
      entry[key.str()] = std::move(*v);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

// A TOML offset date-time ("2026-12-07T17:00:00Z") as milliseconds since the Unix epoch.
Result<uint64_t> TimeMs(const toml::node& n, std::string_view file) {
  const auto* dt = n.as_date_time();
  if (dt == nullptr || !dt->get().offset.has_value())
    return Bad(file, "genesis_time",
               "must be a date-time with a UTC offset, e.g. 2026-12-07T17:00:00Z");
  const toml::date_time& v = dt->get();
  using namespace std::chrono;
  const sys_days day_point =
      year_month_day{year{v.date.year}, month{v.date.month}, day{v.date.day}};
  const int64_t seconds = int64_t{day_point.time_since_epoch().count()} * 86'400 +
                          int64_t{v.time.hour} * 3'600 + int64_t{v.time.minute} * 60 +
                          v.time.second - int64_t{v.offset->minutes} * 60;
  if (seconds < 0) return Bad(file, "genesis_time", "must not be before 1970");
  return static_cast<uint64_t>(seconds) * 1'000 + v.time.nanosecond / 1'000'000;
}

Status CheckTopLevel(const toml::table& root, std::string_view file) {
  for (const auto& [key, value] : root) {
    (void)value;
    if (std::find(std::begin(kTopLevelFields), std::end(kTopLevelFields), key.str()) ==
        std::end(kTopLevelFields))
      return Bad(file, EscapeText(key.str()), "unknown field");
  }
  for (std::string_view required : {"chain_id", "genesis_time", "governance_threshold"}) {
    if (!root.contains(required)) return Bad(file, required, "missing");
  }
  return OkStatus();
}

Status Consensus(const toml::node& n, std::string_view file, genesis::ConsensusParams& out) {
  const toml::table* table = n.as_table();
  if (table == nullptr) return Bad(file, "consensus", "must be a table ([consensus])");
  uint64_t max_block_txs = out.max_block_txs;
  const std::pair<std::string_view, uint64_t*> fields[] = {
      {"max_block_txs", &max_block_txs},
      {"max_block_bytes", &out.max_block_bytes},
      {"block_interval_ms", &out.block_interval_ms},
      {"view_change_timeout_ms", &out.view_change_timeout_ms}};
  for (const auto& [key, value] : *table) {
    const std::string field = "consensus." + EscapeText(key.str());
    auto it = std::find_if(std::begin(fields), std::end(fields),
                           [&](const auto& f) { return f.first == key.str(); });
    if (it == std::end(fields)) return Bad(file, field, "unknown field");
    const auto* i = value.as_integer();
    if (i == nullptr || i->get() < 0) return Bad(file, field, "must be a non-negative integer");
    *it->second = static_cast<uint64_t>(i->get());
  }
  // Ranges are genesis::LoadGenesis's; a value past uint32 is out of every range it accepts.
  out.max_block_txs = static_cast<uint32_t>(std::min<uint64_t>(max_block_txs, UINT32_MAX));
  return OkStatus();
}

Result<ConsortiumParams> ParamsFrom(const toml::table& root, std::string_view file) {
  LEDGER_TRY(CheckTopLevel(root, file));
  ConsortiumParams p;
  const auto* chain = root.get_as<std::string>("chain_id");
  if (chain == nullptr) return Bad(file, "chain_id", "must be a string");
  p.chain_id = chain->get();
  auto time = TimeMs(*root.get("genesis_time"), file);
  if (!time) return std::unexpected(time.error());
  p.genesis_time_ms = *time;
  const auto* threshold = root.get_as<int64_t>("governance_threshold");
  if (threshold == nullptr || threshold->get() < 0)
    return Bad(file, "governance_threshold", "must be a non-negative integer");
  p.governance_threshold = static_cast<uint64_t>(threshold->get());
  if (const toml::node* n = root.get("consensus")) LEDGER_TRY(Consensus(*n, file, p.consensus));
  if (const toml::node* n = root.get("assets")) {
    auto assets = Entries(*n, kAssetFields, file, "assets");
    if (!assets) return std::unexpected(assets.error());
    p.assets = std::move(*assets);
  }
  if (const toml::node* n = root.get("accounts")) {
    auto accounts = Entries(*n, kAccountFields, file, "accounts");
    if (!accounts) return std::unexpected(accounts.error());
    p.accounts = std::move(*accounts);
  }
  return p;
}

// --- Assembly ------------------------------------------------------------------------------------

std::string MemberNames(const std::vector<DescriptorFile>& members) {
  std::string out;
  for (const DescriptorFile& m : members)
    out += (out.empty() ? "" : ", ") + EscapeText(m.descriptor.name);
  return out;
}

// Each key, name and address belongs to one member only.
Status CheckDistinct(const std::vector<DescriptorFile>& members) {
  std::map<std::string, const DescriptorFile*> names, addresses;
  std::map<crypto::PublicKey, std::pair<const DescriptorFile*, std::string>> keys;
  for (const DescriptorFile& m : members) {
    const MemberDescriptor& d = m.descriptor;
    if (auto [it, fresh] = names.emplace(genesis::MemberNameKey(d.name), &m); !fresh)
      return Bad(m.file, "name",
                 "'" + EscapeText(d.name) + "' is also the name in " + it->second->file +
                     (it->second->descriptor.name == d.name
                          ? std::string()
                          : " ('" + EscapeText(it->second->descriptor.name) +
                                "'; names are compared ignoring ASCII case and repeated spaces)"));
    const std::string address = d.p2p_address.ToString();
    if (auto [it, fresh] = addresses.emplace(address, &m); !fresh)
      return Bad(m.file, "p2p_address",
                 address + " is also the address of '" + EscapeText(it->second->descriptor.name) +
                     "' (" + it->second->file + ")");
    std::vector<std::pair<crypto::PublicKey, std::string>> own = {{d.node_key, "node_key"}};
    for (const crypto::PublicKey& key : d.governance_keys)
      own.emplace_back(key, "governance.keys");
    for (const auto& [key, field] : own) {
      if (auto [it, fresh] = keys.emplace(key, std::make_pair(&m, field)); !fresh)
        return Bad(m.file, field,
                   key.ToHex() + " is also the " + it->second.second + " of '" +
                       EscapeText(it->second.first->descriptor.name) + "' (" +
                       it->second.first->file + ")");
    }
  }
  return OkStatus();
}

Result<uint32_t> MemberId(const std::vector<DescriptorFile>& members, const json::object& entry,
                          std::string_view key, std::string_view file, const std::string& path) {
  const json::value* name = entry.if_contains(key);
  const std::string field = path + "." + std::string(key);
  if (name == nullptr) return Bad(file, field, "missing");
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].descriptor.name == name->as_string()) return static_cast<uint32_t>(i + 1);
  }
  return Bad(file, field,
             "'" + EscapeText(std::string_view(name->as_string())) +
                 "' is not one of the members (" + MemberNames(members) + ")");
}

json::object GovernanceJson(const MemberDescriptor& d) {
  json::array keys;
  for (const crypto::PublicKey& key : d.governance_keys)
    keys.emplace_back(key.ToHex());
  return json::object{{"threshold", d.governance_threshold}, {"keys", std::move(keys)}};
}

json::array MembersJson(const std::vector<DescriptorFile>& members) {
  json::array out;
  for (size_t i = 0; i < members.size(); ++i) {
    const MemberDescriptor& d = members[i].descriptor;
    json::array roles;
    for (const std::string& role : d.roles)
      roles.emplace_back(role);
    out.push_back(json::object{{"id", i + 1},
                               {"name", d.name},
                               {"roles", std::move(roles)},
                               {"node_key", d.node_key.ToHex()},
                               {"governance", GovernanceJson(d)}});
  }
  return out;
}

Result<json::array> AssetsJson(const std::vector<DescriptorFile>& members,
                               const ConsortiumParams& params, std::string_view file) {
  json::array out;
  for (size_t i = 0; i < params.assets.size(); ++i) {
    const std::string path = "assets[" + std::to_string(i) + "]";
    json::object asset = params.assets[i].as_object();
    auto issuer = MemberId(members, asset, "issuer", file, path);
    if (!issuer) return std::unexpected(issuer.error());
    const DescriptorFile& m = members[*issuer - 1];
    if (!m.descriptor.HasRole("issuer"))
      return Bad(
          file, path + ".issuer",
          "'" + EscapeText(m.descriptor.name) + "' does not have the issuer role in " + m.file);
    asset["issuer"] = *issuer;
    out.push_back(std::move(asset));
  }
  return out;
}

Result<json::array> AccountsJson(const std::vector<DescriptorFile>& members,
                                 const ConsortiumParams& params, std::string_view file) {
  json::array out;
  for (size_t i = 0; i < params.accounts.size(); ++i) {
    const std::string path = "accounts[" + std::to_string(i) + "]";
    json::object account = params.accounts[i].as_object();
    auto custodian = MemberId(members, account, "custodian", file, path);
    if (!custodian) return std::unexpected(custodian.error());
    account["custodian"] = *custodian;
    const json::value* controller = account.if_contains("controller");
    if (controller != nullptr && controller->is_string() &&
        controller->as_string() == kGovernanceController)
      account["controller"] = GovernanceJson(members[*custodian - 1].descriptor);
    out.push_back(std::move(account));
  }
  return out;
}

// One top-level field per line, one member, asset or account per line: readable and diffable.
std::string RenderGenesis(const json::object& root) {
  std::string out = "{\n";
  size_t field = 0;
  for (const auto& [key, value] : root) {
    out += "  " + json::serialize(json::string(key)) + ": ";
    if (value.is_array() && !value.as_array().empty()) {
      out += "[\n";
      const json::array& items = value.as_array();
      for (size_t i = 0; i < items.size(); ++i)
        out += "    " + json::serialize(items[i]) + (i + 1 < items.size() ? ",\n" : "\n");
      out += "  ]";
    } else {
      out += json::serialize(value);
    }
    out += ++field < root.size() ? ",\n" : "\n";
  }
  return out + "}\n";
}

// LoadGenesis names a JSON path of the assembled file; name the input it came from instead:
// "$.members[2].name: ..." is the third descriptor's, "$.accounts[0].balance: ..." the params
// file's (whose fields have the genesis file's names).
Error MapGenesisError(const Error& error, const std::vector<DescriptorFile>& members,
                      std::string_view params_file) {
  constexpr std::string_view kPrefix = "genesis: $.";
  std::string_view message = error.message;
  if (!message.starts_with(kPrefix))
    return Error{error.code, "the assembled genesis is refused: " + error.message};
  message.remove_prefix(kPrefix.size());
  constexpr std::string_view kMember = "members[";
  if (message.starts_with(kMember)) {
    const size_t close = message.find(']');
    size_t index = members.size();
    const char* digits = message.data() + kMember.size();
    std::from_chars(digits, message.data() + std::min(close, message.size()), index);
    std::string_view rest = close == std::string_view::npos ? "" : message.substr(close + 1);
    if (rest.starts_with(".")) rest.remove_prefix(1);
    if (index < members.size())
      return Error{error.code, members[index].file + ": " + std::string(rest)};
  }
  return Error{error.code, std::string(params_file) + ": " + std::string(message)};
}

}  // namespace

Result<ConsortiumParams> ParseConsortiumParams(std::string_view text, std::string_view file) {
  if (text.size() > kMaxParamsFileBytes) return Bad(file, "$", "larger than 16 MiB");
  auto root = node::ParseTomlText(text, std::string(file));
  if (!root) return std::unexpected(root.error());
  return ParamsFrom(*root, file);
}

Result<ConsortiumParams> ReadConsortiumParams(const std::filesystem::path& path) {
  auto text = ReadTextFile(path, kMaxParamsFileBytes);
  if (!text) return std::unexpected(text.error());
  return ParseConsortiumParams(*text, path.string());
}

Status CheckDescriptors(const std::vector<DescriptorFile>& members) {
  if (members.size() > genesis::kMaxMembers)
    return MakeError(ErrorCode::kInvalidArgument,
                     "--members: at most " + std::to_string(genesis::kMaxMembers) + " members");
  LEDGER_TRY(CheckDistinct(members));
  std::string validators;
  size_t count = 0;
  for (const DescriptorFile& m : members) {
    if (!m.descriptor.validator()) continue;
    validators += (count++ == 0 ? "" : ", ") + EscapeText(m.descriptor.name);
  }
  if (count < genesis::kMinValidators)
    return MakeError(ErrorCode::kInvalidArgument,
                     "--members: " + std::to_string(count) + " validators (" + validators +
                         ") among " + std::to_string(members.size()) +
                         " members; a consortium needs at least 4 (PBFT: n = 3f+1, f >= 1)");
  if (count > genesis::kMaxValidators)
    return MakeError(ErrorCode::kInvalidArgument, "--members: " + std::to_string(count) +
                                                      " validators; at most " +
                                                      std::to_string(genesis::kMaxValidators));
  return OkStatus();
}

Result<std::string> AssembleGenesis(const std::vector<DescriptorFile>& members,
                                    const ConsortiumParams& params, std::string_view params_file) {
  LEDGER_TRY(CheckDescriptors(members));
  auto assets = AssetsJson(members, params, params_file);
  if (!assets) return std::unexpected(assets.error());
  auto accounts = AccountsJson(members, params, params_file);
  if (!accounts) return std::unexpected(accounts.error());
  const genesis::ConsensusParams& c = params.consensus;
  json::object root;
  root["chain_id"] = params.chain_id;
  root["genesis_time_ms"] = params.genesis_time_ms;
  root["governance_threshold"] = params.governance_threshold;
  root["consensus"] = json::object{{"max_block_txs", c.max_block_txs},
                                   {"max_block_bytes", c.max_block_bytes},
                                   {"block_interval_ms", c.block_interval_ms},
                                   {"view_change_timeout_ms", c.view_change_timeout_ms}};
  root["members"] = MembersJson(members);
  root["assets"] = std::move(*assets);
  root["accounts"] = std::move(*accounts);
  std::string text = RenderGenesis(root);
  auto loaded = genesis::LoadGenesis(text);
  if (!loaded) return std::unexpected(MapGenesisError(loaded.error(), members, params_file));
  return text;
}

}  // namespace cl::tools

namespace cl::tools {
namespace {

// --out and --peers-out must be two files: the second write would fail on the first's file.
Status RefuseOneFileForBoth(const std::filesystem::path& out, const std::filesystem::path& peers) {
  std::error_code ec;
  const auto out_path = std::filesystem::weakly_canonical(std::filesystem::absolute(out), ec);
  const auto peers_path = std::filesystem::weakly_canonical(std::filesystem::absolute(peers), ec);
  if (out == peers || (!ec && out_path == peers_path))
    return MakeError(ErrorCode::kInvalidArgument,
                     "--peers-out: " + peers.string() + " is also --out; give two files");
  return OkStatus();
}

}  // namespace

Result<genesis::Genesis> AssembleGenesisFiles(const AssembleFilesOptions& o) {
  if (o.member_files.empty())
    return MakeError(ErrorCode::kInvalidArgument, "--members: no member descriptors given");
  if (!o.peers_out.empty()) LEDGER_TRY(RefuseOneFileForBoth(o.out, o.peers_out));
  LEDGER_TRY(RefuseExisting(o.out));
  if (!o.peers_out.empty()) LEDGER_TRY(RefuseExisting(o.peers_out));
  std::vector<DescriptorFile> members;
  std::vector<MemberDescriptor> descriptors;
  for (const std::filesystem::path& file : o.member_files) {
    auto d = ReadMemberDescriptor(file);
    if (!d) return std::unexpected(d.error());
    members.push_back(DescriptorFile{file.string(), *d});
    descriptors.push_back(std::move(*d));
  }
  auto params = ReadConsortiumParams(o.params_file);
  if (!params) return std::unexpected(params.error());
  auto text = AssembleGenesis(members, *params, o.params_file.string());
  if (!text) return std::unexpected(text.error());
  auto loaded = genesis::LoadGenesis(*text);
  LEDGER_ASSERT(loaded.has_value());  // AssembleGenesis returns only text that loads
  // Both files or neither: a genesis left behind made the rerun refuse "exists".
  const std::string peers = RenderPeersFile(descriptors);
  std::vector<NewFile> outputs = {{o.out, *text, kPublicFileMode}};
  if (!o.peers_out.empty()) outputs.push_back({o.peers_out, peers, kPublicFileMode});
  LEDGER_TRY(WriteNewFiles(outputs));
  return std::move(*loaded);
}

}  // namespace cl::tools
