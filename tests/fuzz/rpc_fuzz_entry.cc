// rpc (fuzz_entries.h): an HTTP request body into the node's JSON-RPC dispatcher.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

#include "ledger/leveldb_store.h"
#include "node/node.h"
#include "node/node.pb.h"
#include "node/observer_sync.h"
#include "node/proof_rpc.h"
#include "node/rpc_methods.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "util/assert.h"
#include "util/hex.h"

namespace cl::fuzz {
namespace {

namespace json = boost::json;

constexpr uint32_t kMember = 4;  // "Partner 1", an observer

std::filesystem::path& TempHome() {
  static std::filesystem::path home;
  return home;
}

// The fixed chain (CertifiedChain), committed as an observer's sync would, into LevelDB stores in
// data_dir, before the node opens them.
void CommitFixedChain(const std::filesystem::path& data_dir) {
  const Consortium& c = FixedConsortium();
  auto store = ledger::LevelDbStore::Open(data_dir, ledger::LevelDbOptions{});
  auto state_store =
      ledger::LevelDbStore::Open(data_dir / node::kStateStoreDir, ledger::LevelDbOptions{});
  LEDGER_ASSERT(store.has_value() && state_store.has_value());
  auto app = node::LedgerApp::Open(store->get(), state_store->get(), c.genesis);
  LEDGER_ASSERT(app.has_value());
  node::pb::SyncReply reply;
  for (const consensus::pb::CertifiedBlock& block : CertifiedChain())
    *reply.add_blocks() = block;
  const node::SyncRequestSent request{c.validator_keys[0], 1, 16};
  auto outcome = node::ApplySyncReply(**app, consensus::ValidatorSet(c.validator_keys), &request,
                                      c.validator_keys[0], reply, VerifyBlockTxs,
                                      [](const node::CommitResult&) {});
  LEDGER_ASSERT(outcome.committed == static_cast<size_t>(reply.blocks_size()));
}

// The node and its dispatcher, made once per process: opening LevelDB per input would make the
// target a hundred times slower. Submitted transactions stay pooled across inputs (at most
// mempool.max_txs of them; the fuzzer cannot sign new ones, so only the seeds' few).
struct Served {
  std::unique_ptr<node::Node> node;
  node::RpcDispatcher dispatcher;
};

Served& Serve() {
  static Served* served = [] {
    const Consortium& c = FixedConsortium();
    // Under $TMPDIR (scripts/fuzz.sh points it into its working directory, which it removes: a
    // fuzzer that stops on a crash, or libFuzzer's merge, exits without running atexit).
    std::string dir = (std::filesystem::temp_directory_path() / "ledger-rpc-fuzz-XXXXXX").string();
    LEDGER_ASSERT(mkdtemp(dir.data()) != nullptr);
    TempHome() = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(TempHome(), ec);
    });
    node::NodeConfig config;
    config.home = TempHome();
    config.config_file = TempHome() / "config.toml";
    config.member = c.genesis.state.members[kMember].name();
    config.data_dir = TempHome() / "data";
    config.mempool_max_txs = 64;
    CommitFixedChain(config.data_dir);
    auto opened = node::Node::Open(std::move(config), c.genesis, c.node_keys[kMember]);
    LEDGER_ASSERT(opened.has_value());
    auto* s = new Served();
    s->node = std::move(*opened);
    node::RegisterRpcMethods(s->dispatcher, *s->node);
    node::RegisterProofMethods(s->dispatcher, *s->node);
    return s;
  }();
  return *served;
}

// One response object: JSON-RPC 2.0 with exactly one of result and error.
void CheckResponse(const json::value& v) {
  LEDGER_ASSERT(v.is_object());
  const json::object& o = v.as_object();
  const json::value* version = o.if_contains("jsonrpc");
  LEDGER_ASSERT(version != nullptr && version->is_string() && version->as_string() == "2.0");
  LEDGER_ASSERT(o.contains("id"));
  LEDGER_ASSERT(o.contains("result") != o.contains("error"));
  if (const json::value* error = o.if_contains("error")) {
    LEDGER_ASSERT(error->is_object() && error->as_object().contains("code") &&
                  error->as_object().contains("message"));
  }
}

}  // namespace

int FuzzRpc(const uint8_t* data, size_t size) {
  Served& s = Serve();
  node::RpcCallContext context;  // as over HTTP with no bearer token configured
  context.authorized_for_writes = true;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string response = s.dispatcher.HandleText(body, context);
  if (response.empty()) return 0;  // notifications only
  boost::system::error_code ec;
  const json::value parsed = json::parse(response, ec);
  LEDGER_ASSERT(!ec);
  if (parsed.is_array()) {
    LEDGER_ASSERT(!parsed.as_array().empty());
    for (const json::value& one : parsed.as_array())
      CheckResponse(one);
  } else {
    CheckResponse(parsed);
  }
  return 0;
}

std::vector<Bytes> RpcSeeds() {
  const std::string tx = ToHex(CreateAccountTx(7));
  const std::string tx2 = ToHex(CreateAccountTx(8));
  const std::string issuer = "ff000000000000000000000000000001";
  const std::string account = "00000000000000000000000000000001";
  const std::string committed_id =
      ledger::ParseTransaction(CreateAccountTx(1), kFuzzChainId)->tx_id.ToHex();
  auto request = [](int id, std::string_view method, std::string params) {
    return "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"" +
           std::string(method) + "\",\"params\":" + params + "}";
  };
  std::vector<std::string> texts = {
      request(1, "status", "{}"),
      request(2, "submit_tx", "{\"tx\":\"" + tx + "\"}"),
      request(3, "submit_txs", "{\"txs\":[\"" + tx2 + "\",\"00\"]}"),
      request(4, "get_block", "{\"height\":2}"),
      request(5, "get_account", "{\"id\":\"" + account + "\"}"),
      request(6, "get_account", "{\"id\":\"" + issuer + "\",\"height\":1}"),
      request(7, "get_transfer", "{\"id\":\"77000000000000000000000000000001\"}"),
      request(8, "get_asset", "{\"code\":\"USD.1\"}"),
      request(9, "get_validators", "{}"),
      request(10, "get_proof", "{\"kind\":\"account\",\"id\":\"" + account + "\"}"),
      request(11, "get_proof", "{\"kind\":\"asset_supply\",\"asset\":\"USD.1\",\"height\":2}"),
      "[" + request(12, "get_tx", "{\"tx_id\":\"" + committed_id + "\"}") + "," +
          request(13, "subscribe", "{\"topic\":\"blocks\"}") +
          ",{\"jsonrpc\":\"2.0\",\"method\":\"status\"}]",
  };
  std::vector<Bytes> seeds;
  for (const std::string& t : texts)
    seeds.push_back(ToBytes(t));
  return seeds;
}

}  // namespace cl::fuzz
