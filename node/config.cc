#include "node/config.h"

#include <arpa/inet.h>

#include <toml++/toml.h>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "node/toml_text.h"
#include "util/text.h"

namespace cl::node {
namespace {

namespace fs = std::filesystem;

// Collects the first error with "file: field: reason".
class ConfigReader {
 public:
  ConfigReader(const toml::table& root, std::string file) : root_(root), file_(std::move(file)) {}

  std::unexpected<Error> Fail(std::string_view field, std::string_view reason) const {
    return MakeError(ErrorCode::kInvalidArgument,
                     file_ + ": " + std::string(field) + ": " + std::string(reason));
  }

  // Every key of every section must be known.
  Status CheckKnown(const std::map<std::string, std::set<std::string>>& known) const {
    for (const auto& [section, node] : root_) {
      std::string name(section.str());
      auto it = known.find(name);
      if (it == known.end()) return Fail(name, "unknown section");
      const toml::table* table = node.as_table();
      if (table == nullptr) return Fail(name, "must be a table");
      for (const auto& [key, value] : *table) {
        (void)value;
        if (!it->second.contains(std::string(key.str())))
          return Fail(name + "." + std::string(key.str()), "unknown field");
      }
    }
    return OkStatus();
  }

  const toml::node* Find(std::string_view section, std::string_view key) const {
    const toml::table* table = root_[section].as_table();
    if (table == nullptr) return nullptr;
    return table->get(key);
  }

  Status String(std::string_view section, std::string_view key, std::string* out,
                bool required = false) const {
    const toml::node* n = Find(section, key);
    std::string field = std::string(section) + "." + std::string(key);
    if (n == nullptr) return required ? Status(Fail(field, "missing")) : OkStatus();
    const auto* s = n->as_string();
    if (s == nullptr) return Fail(field, "must be a string");
    *out = s->get();
    if (required && out->empty()) return Fail(field, "must not be empty");
    return OkStatus();
  }

  template <class T>
  Status Unsigned(std::string_view section, std::string_view key, T* out, uint64_t min,
                  uint64_t max) const {
    const toml::node* n = Find(section, key);
    if (n == nullptr) return OkStatus();
    std::string field = std::string(section) + "." + std::string(key);
    const auto* v = n->as_integer();
    if (v == nullptr) return Fail(field, "must be an integer");
    int64_t value = v->get();
    if (value < 0 || static_cast<uint64_t>(value) < min || static_cast<uint64_t>(value) > max)
      return Fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    *out = static_cast<T>(value);
    return OkStatus();
  }

  Status Address(std::string_view section, std::string_view key, HostPort* out) const {
    std::string text;
    LEDGER_TRY(String(section, key, &text));
    if (text.empty()) return OkStatus();
    auto hp = ParseHostPort(text);
    if (!hp) return Fail(std::string(section) + "." + std::string(key), hp.error().message);
    *out = *hp;
    return OkStatus();
  }

  Status StringList(std::string_view section, std::string_view key, std::vector<std::string>* out,
                    size_t max_items) const {
    const toml::node* n = Find(section, key);
    if (n == nullptr) return OkStatus();
    std::string field = std::string(section) + "." + std::string(key);
    const toml::array* array = n->as_array();
    if (array == nullptr) return Fail(field, "must be an array of strings");
    if (array->size() > max_items)
      return Fail(field, "at most " + std::to_string(max_items) + " entries");
    for (const toml::node& item : *array) {
      const auto* s = item.as_string();
      if (s == nullptr || s->get().empty()) return Fail(field, "entries must be non-empty strings");
      out->push_back(s->get());
    }
    return OkStatus();
  }

  const std::string& file() const { return file_; }

 private:
  const toml::table& root_;
  std::string file_;
};

fs::path Resolve(const fs::path& home, const std::string& value) {
  fs::path p(value);
  return p.is_absolute() ? p : home / p;
}

std::string Quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

bool IsIpv4Literal(std::string_view host) {
  in_addr addr{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &addr) == 1;
}

bool IsIpv6Literal(std::string_view host) {
  in6_addr addr{};
  return ::inet_pton(AF_INET6, std::string(host).c_str(), &addr) == 1;
}

// RFC 1123 host names: labels of 1..kMaxDnsLabelBytes letters, digits and hyphens, neither starting
// nor ending with a hyphen, joined by dots; kMaxDnsNameBytes in all.
bool IsDnsName(std::string_view host) {
  constexpr size_t kMaxDnsNameBytes = 253;
  constexpr size_t kMaxDnsLabelBytes = 63;
  if (host.empty() || host.size() > kMaxDnsNameBytes) return false;
  while (true) {
    const size_t dot = host.find('.');
    const std::string_view label = host.substr(0, dot);
    if (label.empty() || label.size() > kMaxDnsLabelBytes || label.front() == '-' ||
        label.back() == '-')
      return false;
    for (char c : label) {
      const bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text) {
  // The text may come from a file another party wrote (a member descriptor, a peers file): it is
  // echoed only escaped.
  const std::string shown = "'" + EscapeText(text) + "'";
  std::string_view host;
  std::string_view port;
  const bool bracketed = text.starts_with("[");
  if (bracketed) {
    size_t close = text.find("]:");
    if (close == std::string_view::npos)
      return MakeError(ErrorCode::kInvalidArgument, "expected [ipv6]:port, got " + shown);
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon)
      return MakeError(ErrorCode::kInvalidArgument, "expected host:port, got " + shown);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || port.empty() || ec != std::errc() || ptr != port.data() + port.size() ||
      value > 65535)
    return MakeError(ErrorCode::kInvalidArgument,
                     "expected host:port with a port in 0..65535, got " + shown);
  if (bracketed ? !IsIpv6Literal(host) : !IsIpv4Literal(host) && !IsDnsName(host))
    return MakeError(ErrorCode::kInvalidArgument,
                     "the host must be an IP address or a DNS name (letters, digits, hyphens, "
                     "dots), got " +
                         shown);
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

Result<NodeConfig> ParseNodeConfig(std::string_view text, const fs::path& home,
                                   const fs::path& config_file) {
  const std::string file = config_file.string();
  auto parsed = ParseTomlText(text, file);
  if (!parsed) return std::unexpected(parsed.error());
  const toml::table& root = *parsed;
  ConfigReader r(root, file);
  LEDGER_TRY(r.CheckKnown({
      {"node", {"member", "genesis", "key_file", "passphrase_file", "data_dir"}},
      {"p2p", {"listen", "peers"}},
      {"rpc",
       {"listen", "max_body_bytes", "max_connections", "max_connections_per_address",
        "idle_timeout_ms", "bearer_tokens"}},
      {"mempool", {"max_txs"}},
      {"consensus", {"max_block_delay_ms", "view_timeout_ms"}},
      {"storage", {"retain_versions"}},
      {"log", {"level"}},
  }));

  NodeConfig c;
  c.home = home;
  c.config_file = config_file;
  LEDGER_TRY(r.String("node", "member", &c.member, /*required=*/true));
  std::string genesis = "genesis.json", key = "node.key", passphrase, data = "data";
  LEDGER_TRY(r.String("node", "genesis", &genesis));
  LEDGER_TRY(r.String("node", "key_file", &key));
  LEDGER_TRY(r.String("node", "passphrase_file", &passphrase));
  LEDGER_TRY(r.String("node", "data_dir", &data));
  c.genesis_file = Resolve(home, genesis);
  c.key_file = Resolve(home, key);
  if (!passphrase.empty()) c.passphrase_file = Resolve(home, passphrase);
  c.data_dir = Resolve(home, data);

  LEDGER_TRY(r.Address("p2p", "listen", &c.p2p_listen));
  if (const toml::node* peers = r.Find("p2p", "peers")) {
    const toml::array* array = peers->as_array();
    if (array == nullptr) return r.Fail("p2p.peers", "must be an array of tables");
    if (array->size() > kMaxPeers)
      return r.Fail("p2p.peers", "at most " + std::to_string(kMaxPeers) + " peers");
    for (size_t i = 0; i < array->size(); ++i) {
      std::string field = "p2p.peers[" + std::to_string(i) + "]";
      const toml::table* peer = (*array)[i].as_table();
      if (peer == nullptr) return r.Fail(field, "must be a table {member, address}");
      const auto* member = peer->get_as<std::string>("member");
      const auto* address = peer->get_as<std::string>("address");
      if (member == nullptr || member->get().empty())
        return r.Fail(field + ".member", "missing or not a string");
      if (address == nullptr) return r.Fail(field + ".address", "missing or not a string");
      if (peer->size() != 2) return r.Fail(field, "only member and address are allowed");
      auto hp = ParseHostPort(address->get());
      if (!hp) return r.Fail(field + ".address", hp.error().message);
      c.peers.push_back(PeerConfig{member->get(), *hp});
    }
  }

  LEDGER_TRY(r.Address("rpc", "listen", &c.rpc_listen));
  LEDGER_TRY(r.Unsigned("rpc", "max_body_bytes", &c.rpc_max_body_bytes, 1024, 64u << 20));
  LEDGER_TRY(r.Unsigned("rpc", "max_connections", &c.rpc_max_connections, 1, 100'000));
  LEDGER_TRY(r.Unsigned("rpc", "max_connections_per_address", &c.rpc_max_connections_per_address, 1,
                        100'000));
  LEDGER_TRY(r.Unsigned("rpc", "idle_timeout_ms", &c.rpc_idle_timeout_ms, 100, 3'600'000));
  LEDGER_TRY(r.StringList("rpc", "bearer_tokens", &c.rpc_bearer_tokens, kMaxBearerTokens));
  LEDGER_TRY(r.Unsigned("mempool", "max_txs", &c.mempool_max_txs, 1, 10'000'000));
  LEDGER_TRY(
      r.Unsigned("consensus", "max_block_delay_ms", &c.consensus_max_block_delay_ms, 1, 60'000));
  LEDGER_TRY(r.Unsigned("consensus", "view_timeout_ms", &c.consensus_view_timeout_ms, 50, 600'000));
  LEDGER_TRY(r.Unsigned("storage", "retain_versions", &c.retain_versions, 0, UINT64_MAX >> 1));
  LEDGER_TRY(r.String("log", "level", &c.log_level));
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.contains(c.log_level))
    return r.Fail("log.level", "must be one of trace, debug, info, warn, error");
  return c;
}

Result<NodeConfig> LoadNodeConfig(const fs::path& home) {
  fs::path file = home / "config.toml";
  std::error_code ec;
  if (!fs::is_directory(home, ec))
    return MakeError(ErrorCode::kNotFound, home.string() + ": home directory does not exist");
  auto size = fs::file_size(file, ec);
  if (ec) return MakeError(ErrorCode::kNotFound, file.string() + ": cannot read: " + ec.message());
  if (size > kMaxConfigBytes)
    return MakeError(ErrorCode::kInvalidArgument, file.string() + ": larger than 1 MiB");
  std::ifstream in(file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return MakeError(ErrorCode::kIoError, file.string() + ": read failed");
  return ParseNodeConfig(text, home, file);
}

std::string RenderNodeConfig(const NodeConfig& c) {
  auto rel = [&](const fs::path& p) { return Quote(p.lexically_relative(c.home).string()); };
  std::ostringstream out;
  out << "[node]\n"
      << "member = " << Quote(c.member) << "\n"
      << "genesis = " << rel(c.genesis_file) << "\n"
      << "key_file = " << rel(c.key_file) << "\n";
  if (!c.passphrase_file.empty()) out << "passphrase_file = " << rel(c.passphrase_file) << "\n";
  out << "data_dir = " << rel(c.data_dir) << "\n\n"
      << "[p2p]\n"
      << "listen = " << Quote(c.p2p_listen.ToString()) << "\n"
      << "peers = [\n";
  for (const PeerConfig& p : c.peers)
    out << "  { member = " << Quote(p.member) << ", address = " << Quote(p.address.ToString())
        << " },\n";
  out << "]\n\n"
      << "[rpc]\n"
      << "listen = " << Quote(c.rpc_listen.ToString()) << "\n"
      << "max_body_bytes = " << c.rpc_max_body_bytes << "\n"
      << "max_connections = " << c.rpc_max_connections << "\n"
      << "max_connections_per_address = " << c.rpc_max_connections_per_address << "\n"
      << "idle_timeout_ms = " << c.rpc_idle_timeout_ms << "\n"
      << "bearer_tokens = [";
  for (size_t i = 0; i < c.rpc_bearer_tokens.size(); ++i)
    out << (i ? ", " : "") << Quote(c.rpc_bearer_tokens[i]);
  out << "]\n\n"
      << "[mempool]\nmax_txs = " << c.mempool_max_txs << "\n\n"
      << "[consensus]\nmax_block_delay_ms = " << c.consensus_max_block_delay_ms << "\n"
      << "view_timeout_ms = " << c.consensus_view_timeout_ms << "\n\n"
      << "[storage]\nretain_versions = " << c.retain_versions << "\n\n"
      << "[log]\nlevel = " << Quote(c.log_level) << "\n";
  return out.str();
}

}  // namespace cl::node
