#include "node/config.h"

#include <gtest/gtest.h>

namespace cl::node {
namespace {

const char* kValid = R"(
[node]
member = "bank-a"
passphrase_file = "passphrase"

[p2p]
listen = "127.0.0.1:30001"
peers = [
  { member = "bank-b", address = "127.0.0.1:30002" },
  { member = "bank-c", address = "[::1]:30003" },
]

[rpc]
listen = "127.0.0.1:31001"
bearer_tokens = ["t1"]

[log]
level = "debug"
)";

Result<NodeConfig> Parse(std::string_view text) {
  return ParseNodeConfig(text, "/srv/n1", "/srv/n1/config.toml");
}

std::string ErrorOf(std::string_view text) {
  auto c = Parse(text);
  EXPECT_FALSE(c.has_value());
  return c ? "" : c.error().message;
}

TEST(NodeConfig, ParsesAValidFileAndResolvesPathsAgainstHome) {
  auto c = Parse(kValid);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->member, "bank-a");
  EXPECT_EQ(c->genesis_file, "/srv/n1/genesis.json");
  EXPECT_EQ(c->key_file, "/srv/n1/node.key");
  EXPECT_EQ(c->passphrase_file, "/srv/n1/passphrase");
  EXPECT_EQ(c->data_dir, "/srv/n1/data");
  EXPECT_EQ(c->p2p_listen.port, 30001);
  ASSERT_EQ(c->peers.size(), 2u);
  EXPECT_EQ(c->peers[1].address.host, "::1");
  EXPECT_EQ(c->rpc_bearer_tokens, std::vector<std::string>{"t1"});
  EXPECT_EQ(c->log_level, "debug");
}

TEST(NodeConfig, RenderThenParseGivesTheSameConfig) {
  auto c = Parse(kValid);
  ASSERT_TRUE(c.has_value());
  auto again = Parse(RenderNodeConfig(*c));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(RenderNodeConfig(*again), RenderNodeConfig(*c));
}

TEST(NodeConfig, ErrorsNameTheFileAndField) {
  EXPECT_EQ(ErrorOf("[node]\n"), "/srv/n1/config.toml: node.member: missing");
  EXPECT_EQ(ErrorOf("[node]\nmember = 5\n"), "/srv/n1/config.toml: node.member: must be a string");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[rpc]\nlisten = \"8545\"\n"),
            "/srv/n1/config.toml: rpc.listen: expected host:port, got '8545'");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[rpc]\nlisten = \"h:70000\"\n"),
            "/srv/n1/config.toml: rpc.listen: expected host:port with a port in 0..65535, got "
            "'h:70000'");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\nmemebr = \"b\"\n"),
            "/srv/n1/config.toml: node.memebr: unknown field");
  EXPECT_EQ(ErrorOf("[nodes]\n"), "/srv/n1/config.toml: nodes: unknown section");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[mempool]\nmax_txs = 0\n"),
            "/srv/n1/config.toml: mempool.max_txs: must be between 1 and 10000000");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[rpc]\nidle_timeout_ms = 10\n"),
            "/srv/n1/config.toml: rpc.idle_timeout_ms: must be between 100 and 3600000");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[log]\nlevel = \"loud\"\n"),
            "/srv/n1/config.toml: log.level: must be one of trace, debug, info, warn, error");
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[p2p]\npeers = [{ member = \"b\" }]\n"),
            "/srv/n1/config.toml: p2p.peers[0].address: missing or not a string");
}

TEST(NodeConfig, MaxConnectionsPerAddressDefaultsTo64IsCheckedAndRendered) {
  auto c = Parse(kValid);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->rpc_max_connections_per_address, 64u);
  EXPECT_NE(RenderNodeConfig(*c).find("max_connections_per_address = 64\n"), std::string::npos);
  auto set = Parse("[node]\nmember = \"a\"\n[rpc]\nmax_connections_per_address = 300\n");
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->rpc_max_connections_per_address, 300u);
  EXPECT_EQ(ErrorOf("[node]\nmember = \"a\"\n[rpc]\nmax_connections_per_address = 0\n"),
            "/srv/n1/config.toml: rpc.max_connections_per_address: must be between 1 and 100000");
}

TEST(NodeConfig, SyntaxErrorNamesLineAndColumn) {
  std::string e = ErrorOf("[node]\nmember = \n");
  EXPECT_TRUE(e.starts_with("/srv/n1/config.toml:2:")) << e;
}

TEST(NodeConfig, MissingHomeIsAClearError) {
  auto c = LoadNodeConfig("/nonexistent/home/dir");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message, "/nonexistent/home/dir: home directory does not exist");
}

TEST(HostPort, ParsesAndRejects) {
  EXPECT_EQ(ParseHostPort("localhost:80")->port, 80);
  EXPECT_FALSE(ParseHostPort("localhost").has_value());
  EXPECT_FALSE(ParseHostPort(":80").has_value());
  EXPECT_FALSE(ParseHostPort("a:b").has_value());
  EXPECT_FALSE(ParseHostPort("::1:80").has_value());
  EXPECT_EQ(ParseHostPort("[::1]:80")->host, "::1");
}

// A host is an IP literal or a DNS hostname (RFC 1123: letters, digits, hyphens, dots; labels of
// 1..63 characters, not starting or ending with a hyphen; at most 253 in all). Anything else comes
// from a file someone else wrote and is refused, escaped (review finding 5).
TEST(HostPort, HostIsAnIpLiteralOrADnsName) {
  EXPECT_EQ(ParseHostPort("10.0.0.4:26656")->host, "10.0.0.4");
  EXPECT_EQ(ParseHostPort("bank-a.example.com:1")->host, "bank-a.example.com");
  EXPECT_EQ(ParseHostPort("[fe80::1]:1")->host, "fe80::1");
  EXPECT_EQ(ParseHostPort(std::string(63, 'a') + ".b:1")->host.size(), 65u);
  auto refused = [](const std::string& text) {
    auto hp = ParseHostPort(text);
    return hp ? std::string("(accepted)") : hp.error().message;
  };
  EXPECT_EQ(refused("bank a:1"),
            "the host must be an IP address or a DNS name (letters, digits, hyphens, dots), got "
            "'bank a:1'");
  EXPECT_NE(refused("-bank.example:1"), "(accepted)");
  EXPECT_NE(refused("bank-.example:1"), "(accepted)");
  EXPECT_NE(refused("bank..example:1"), "(accepted)");
  EXPECT_NE(refused("bank_a:1"), "(accepted)");
  EXPECT_NE(refused(std::string(64, 'a') + ":1"), "(accepted)");
  EXPECT_NE(refused(std::string(127, 'a') + "." + std::string(127, 'a') + ":1"), "(accepted)");
  EXPECT_NE(refused("[bank.example]:1"), "(accepted)");
  EXPECT_EQ(refused("\x1b]0;pwned\x07 10.0.0.4 \n:26656"),
            "the host must be an IP address or a DNS name (letters, digits, hyphens, dots), got "
            "'\\u001b]0;pwned\\u0007 10.0.0.4 \\u000a:26656'");
  EXPECT_EQ(refused("\x1b[2J"), "expected host:port, got '\\u001b[2J'");
}

}  // namespace
}  // namespace cl::node
