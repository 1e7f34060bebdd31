// config (fuzz_entries.h): a node's config.toml through the parser and its checks.
#include "node/config.h"
#include "tests/fuzz/fuzz_entries.h"
#include "util/assert.h"

namespace cl::fuzz {
namespace {

constexpr std::string_view kHome = "/srv/fuzz-node";
constexpr std::string_view kFile = "/srv/fuzz-node/config.toml";

}  // namespace

int FuzzConfig(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = node::ParseNodeConfig(text, kHome, kFile);
  if (!config) {
    LEDGER_ASSERT(!config.error().message.empty());
    return 0;
  }
  // What the node reads, it can write back (ledgerctl renders configs) and read again unchanged.
  const std::string rendered = node::RenderNodeConfig(*config);
  auto again = node::ParseNodeConfig(rendered, kHome, kFile);
  LEDGER_ASSERT(again.has_value());
  LEDGER_ASSERT(node::RenderNodeConfig(*again) == rendered);
  return 0;
}

std::vector<Bytes> ConfigSeeds() {
  return {ToBytes(R"([node]
member = "Bank 1"
passphrase_file = "passphrase"
genesis_file = "genesis.json"
key_file = "node.key"
data_dir = "/var/lib/ledger"

[p2p]
listen = "127.0.0.1:30001"
peers = [
  { member = "Bank 2", address = "127.0.0.1:30002" },
  { member = "Bank 3", address = "[::1]:30003" },
]

[rpc]
listen = "127.0.0.1:31001"
bearer_tokens = ["t1"]
max_body_bytes = 1048576

[mempool]
max_txs = 1000

[consensus]
max_block_delay_ms = 200
view_timeout_ms = 2000

[storage]
retain_versions = 0

[log]
level = "debug"
)"),
          ToBytes("[node]\nmember = \"Partner 1\"\n")};
}

}  // namespace cl::fuzz
