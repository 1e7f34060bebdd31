#include "tests/support/localnet_members.h"

#include <stdlib.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/hex.h"

namespace cl::test_support {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

Result<json::value> ParseJsonFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec) return MakeError(ErrorCode::kInvalidArgument, path.string() + ": " + ec.message());
  return v;
}

}  // namespace

Result<fs::path> MakeTempDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr)
    return MakeError(ErrorCode::kIoError, "mkdtemp " + pattern + ": " + std::strerror(errno));
  return fs::path(buf.data());
}

Result<std::vector<LocalnetMember>> ReadLocalnetMembers(const fs::path& dir) {
  auto localnet = ParseJsonFile(dir / "localnet.json");
  if (!localnet) return std::unexpected(localnet.error());
  auto governance = ParseJsonFile(dir / "governance-keys.json");
  if (!governance) return std::unexpected(governance.error());
  std::vector<LocalnetMember> members;
  try {
    const json::array& gov = governance->at("members").as_array();
    for (const json::value& v : localnet->at("members").as_array()) {
      LocalnetMember m;
      m.member_id = static_cast<uint32_t>(v.at("member_id").to_number<uint64_t>());
      m.name = json::value_to<std::string>(v.at("name"));
      m.home = json::value_to<std::string>(v.at("home"));
      m.validator = v.at("role").as_string() == "validator";
      m.p2p = json::value_to<std::string>(v.at("p2p"));
      auto rpc = tools::ParseRpcUrl(json::value_to<std::string>(v.at("rpc")));
      if (!rpc) return std::unexpected(rpc.error());
      m.rpc = *rpc;
      bool found = false;
      for (const json::value& g : gov) {
        if (g.at("member_id").to_number<uint64_t>() != m.member_id) continue;
        auto secret = FromHex(json::value_to<std::string>(g.at("governance_secret")));
        if (!secret) return std::unexpected(secret.error());
        auto key = crypto::PrivateKey::FromBytes(*secret);
        if (!key) return std::unexpected(key.error());
        m.governance = *key;
        found = true;
      }
      if (!found) return MakeError(ErrorCode::kNotFound, "no governance key for member " + m.name);
      members.push_back(std::move(m));
    }
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("localnet files: ") + e.what());
  }
  return members;
}

}  // namespace cl::test_support
