#include "tools/localnet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <set>

#include "crypto/keystore.h"
#include "genesis/genesis.h"
#include "node/config.h"
#include "tools/files.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// Ports handed out below the kernel's usual ephemeral range (32768-60999 on Linux): a port taken
// from that range (bind to port 0) and released can be reused at once as the source port of any
// outgoing connection on the machine (the nodes dial each other all the time), and the node that
// binds it a moment later fails with "Address already in use". Ports here are only ever taken by
// listeners; a random start makes parallel `localnet init`s (parallel tests) unlikely to collide.
inline constexpr uint16_t kLocalnetPortLow = 20'000;
inline constexpr uint16_t kLocalnetPortHigh = 32'767;
inline constexpr int kLocalnetPortTries = 256;

// Whether host:port can be bound now.
Result<bool> CanBind(const std::string& host, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return MakeError(ErrorCode::kIoError, "socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return MakeError(ErrorCode::kInvalidArgument, "host must be an IPv4 address: " + host);
  }
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// A port free now (see kLocalnetPortLow) and not in `taken` (the ports already handed to this
// consortium: none is bound yet, so CanBind alone would hand one out twice), which it joins.
// Another process may still take it before the node binds it; the node then fails with a clear
// error naming the address.
Result<uint16_t> FreePort(const std::string& host, std::set<uint16_t>& taken) {
  static std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pick(kLocalnetPortLow, kLocalnetPortHigh);
  for (int i = 0; i < kLocalnetPortTries; ++i) {
    const auto port = static_cast<uint16_t>(pick(rng));
    if (taken.contains(port)) continue;
    auto ok = CanBind(host, port);
    if (!ok) return std::unexpected(ok.error());
    if (*ok) {
      taken.insert(port);
      return port;
    }
  }
  return MakeError(ErrorCode::kIoError, "no free port on " + host + " in " +
                                            std::to_string(kLocalnetPortLow) + "-" +
                                            std::to_string(kLocalnetPortHigh));
}

std::string MemberSlug(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  return out;
}

Status InitLocalnet(const LocalnetOptions& o) {
  if (o.validators < 4)
    return MakeError(ErrorCode::kInvalidArgument, "--validators must be at least 4 (n = 3f+1)");
  if (o.validators + o.observers > 64)
    return MakeError(ErrorCode::kInvalidArgument, "at most 64 nodes in a local consortium");
  std::error_code ec;
  if (fs::exists(o.dir / "genesis.json", ec))
    return MakeError(ErrorCode::kAlreadyExists,
                     o.dir.string() + " already holds a consortium; remove it or choose another");
  fs::create_directories(o.dir, ec);
  if (ec) return MakeError(ErrorCode::kIoError, o.dir.string() + ": " + ec.message());

  uint64_t now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  auto consortium = genesis::GenerateLocalConsortium(o.chain_id, o.validators, o.observers, now_ms);
  if (!consortium) return std::unexpected(consortium.error());
  LEDGER_TRY(WriteTextFile(o.dir / "genesis.json", consortium->genesis_json,
                           fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                               fs::perms::others_read));

  struct Member {
    std::string name, slug;
    bool validator;
    uint16_t p2p, rpc;
  };
  std::vector<Member> members;
  std::set<uint16_t> taken_ports;
  for (size_t i = 0; i < consortium->keys.size(); ++i) {
    Member m;
    m.name = consortium->keys[i].name;
    m.slug = MemberSlug(m.name);
    m.validator = i < o.validators;
    if (o.base_port != 0) {
      m.p2p = static_cast<uint16_t>(o.base_port + 2 * i);
      m.rpc = static_cast<uint16_t>(o.base_port + 2 * i + 1);
    } else {
      auto p2p = FreePort(o.host, taken_ports);
      auto rpc = FreePort(o.host, taken_ports);
      if (!p2p) return std::unexpected(p2p.error());
      if (!rpc) return std::unexpected(rpc.error());
      m.p2p = *p2p;
      m.rpc = *rpc;
    }
    members.push_back(m);
  }

  json::array summary;
  json::array governance;
  for (size_t i = 0; i < members.size(); ++i) {
    const Member& m = members[i];
    const genesis::MemberKeys& keys = consortium->keys[i];
    fs::path home = o.dir / m.slug;
    fs::create_directories(home, ec);
    if (ec) return MakeError(ErrorCode::kIoError, home.string() + ": " + ec.message());
    std::string passphrase;
    {
      uint8_t random[16];
      crypto::RandomBytes(random, sizeof(random));
      passphrase = ToHex(ByteSpan(random, sizeof(random)));
    }
    LEDGER_TRY(WriteTextFile(home / "passphrase", passphrase + "\n",
                             fs::perms::owner_read | fs::perms::owner_write));
    auto node_key = crypto::PrivateKey::FromBytes(keys.node_secret);
    if (!node_key) return std::unexpected(node_key.error());
    crypto::KeystoreWriteOptions key_options;
    key_options.scrypt.n = o.scrypt_n;
    LEDGER_TRY(crypto::WriteKeystoreFile(home / "node.key", *node_key, passphrase, key_options));
    LEDGER_TRY(WriteTextFile(home / "genesis.json", consortium->genesis_json,
                             fs::perms::owner_read | fs::perms::owner_write |
                                 fs::perms::group_read | fs::perms::others_read));

    node::NodeConfig config;
    config.home = home;
    config.member = m.name;
    config.genesis_file = home / "genesis.json";
    config.key_file = home / "node.key";
    config.passphrase_file = home / "passphrase";
    config.data_dir = home / "data";
    config.p2p_listen = {o.host, m.p2p};
    config.rpc_listen = {o.host, m.rpc};
    for (size_t j = 0; j < members.size(); ++j) {
      if (j == i || !members[j].validator) continue;
      config.peers.push_back({members[j].name, {o.host, members[j].p2p}});
    }
    LEDGER_TRY(
        WriteTextFile(home / "config.toml", node::RenderNodeConfig(config),
                      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));

    summary.push_back(json::object{{"member_id", keys.member_id},
                                   {"name", m.name},
                                   {"home", home.string()},
                                   {"role", m.validator ? "validator" : "observer"},
                                   {"p2p", o.host + ":" + std::to_string(m.p2p)},
                                   {"rpc", "http://" + o.host + ":" + std::to_string(m.rpc)}});
    governance.push_back(json::object{{"member_id", keys.member_id},
                                      {"name", m.name},
                                      {"governance_secret", ToHex(keys.governance_secret)}});
  }
  LEDGER_TRY(WriteTextFile(
      o.dir / "localnet.json",
      json::serialize(json::object{{"chain_id", o.chain_id}, {"members", std::move(summary)}}) +
          "\n",
      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
          fs::perms::others_read));
  LEDGER_TRY(WriteTextFile(o.dir / "governance-keys.json",
                           json::serialize(json::object{{"warning", "development only"},
                                                        {"members", std::move(governance)}}) +
                               "\n",
                           fs::perms::owner_read | fs::perms::owner_write));
  return OkStatus();
}

}  // namespace cl::tools
