// `ledgerctl localnet init` hands every endpoint of a consortium its own port: none of them is
// bound when the next is picked, so a port free for one endpoint must not be handed to another (an
// integration cluster once got one port for a bank's RPC and a partner's p2p, and the bank failed
// to start with "Address already in use").
#include "tools/localnet.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace cl::tools {
namespace {

namespace fs = std::filesystem;

TEST(Localnet, EveryEndpointOfAConsortiumGetsItsOwnPort) {
  std::string pattern = (fs::temp_directory_path() / "localnet-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path root = pattern;
  // 20 consortia of 24 members (48 endpoints): without the check, two endpoints of one consortium
  // share a port in about 8% of them.
  for (int round = 0; round < 20; ++round) {
    LocalnetOptions o;
    o.dir = root / std::to_string(round);
    o.validators = 16;
    o.observers = 8;
    o.scrypt_n = 1 << 10;
    auto st = InitLocalnet(o);
    ASSERT_TRUE(st.has_value()) << st.error().message;
    std::ifstream in(o.dir / "localnet.json");
    std::stringstream text;
    text << in.rdbuf();
    boost::json::value v = boost::json::parse(text.str());
    std::set<std::string> ports;
    size_t endpoints = 0;
    for (const auto& m : v.at("members").as_array()) {
      for (const char* key : {"p2p", "rpc"}) {
        std::string addr(m.at(key).as_string());
        ports.insert(addr.substr(addr.rfind(':') + 1));
        ++endpoints;
      }
    }
    EXPECT_EQ(endpoints, 48u);
    ASSERT_EQ(ports.size(), endpoints) << "round " << round << ": a port handed out twice";
  }
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace cl::tools
