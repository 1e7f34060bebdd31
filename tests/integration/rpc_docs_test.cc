// docs/rpc.md stays true to the server: every request example in its "Methods" section is sent to a
// live node of a local consortium, and the response must have the documented shape (the same keys
// at every level, the same JSON kinds). Values (hashes, heights, times) differ from run to run.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

struct Example {
  std::string method;  // the section's "### name"
  std::string request;
  std::string response;
};

std::string ReadDocs() {
  fs::path repo = fs::path(LEDGER_VECTORS_DIR).parent_path().parent_path();
  std::ifstream in(repo / "docs" / "rpc.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The request/response pairs of "## Methods": in each "### " section, the first ```json block is
// the request and the next one its response.
std::vector<Example> ParseExamples(const std::string& docs) {
  std::vector<Example> out;
  size_t start = docs.find("\n## Methods");
  size_t end = docs.find("\n## ", start + 1);
  std::istringstream in(docs.substr(start, end - start));
  std::string line, section, block;
  std::vector<std::string> blocks;
  bool in_block = false;
  auto flush = [&] {
    if (!section.empty() && blocks.size() >= 2) out.push_back({section, blocks[0], blocks[1]});
    blocks.clear();
  };
  while (std::getline(in, line)) {
    if (line.starts_with("### ")) {
      flush();
      section = line.substr(4);
    } else if (line == "```json") {
      in_block = true;
      block.clear();
    } else if (line == "```" && in_block) {
      in_block = false;
      blocks.push_back(block);
    } else if (in_block) {
      block += line + "\n";
    }
  }
  flush();
  return out;
}

std::string Kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "bool";
    case json::kind::null:
      return "null";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "?";
}

// Empty when `live` has the shape of `documented`; else where they differ.
std::string ShapeDiff(const json::value& documented, const json::value& live,
                      const std::string& at) {
  if (Kind(documented) != Kind(live))
    return at + ": documented " + Kind(documented) + ", got " + Kind(live);
  if (documented.is_object()) {
    for (const auto& [key, value] : documented.get_object()) {
      if (!live.get_object().contains(key)) return at + "." + std::string(key) + ": missing";
      std::string d = ShapeDiff(value, live.get_object().at(key), at + "." + std::string(key));
      if (!d.empty()) return d;
    }
    for (const auto& [key, value] : live.get_object()) {
      (void)value;
      if (!documented.get_object().contains(key))
        return at + "." + std::string(key) + ": not documented";
    }
  }
  if (documented.is_array() && !documented.get_array().empty() && !live.get_array().empty())
    return ShapeDiff(documented.get_array()[0], live.get_array()[0], at + "[0]");
  return "";
}

std::string Substitute(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    size_t pos;
    while ((pos = text.find(name)) != std::string::npos)
      text.replace(pos, name.size(), value);
  }
  return text;
}

TEST(RpcDocs, EveryDocumentedMethodAnswersWithTheDocumentedShape) {
  auto examples = ParseExamples(ReadDocs());
  std::set<std::string> methods;
  for (const Example& e : examples)
    methods.insert(e.method);
  for (const char* m : {"status", "submit_tx", "submit_txs", "get_tx", "get_block", "get_account",
                        "get_transfer", "get_asset", "get_validators", "get_proof"})
    ASSERT_TRUE(methods.contains(m)) << "docs/rpc.md has no example for " << m;

  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  TxFactory f(c.chain_id());

  // The documents' objects: Alice's wallet a11ce..01 at Bank 1, funded by the issuer, and the
  // transfer 7a00..01 of 25.00 back to the issuer account, whose envelope is $TX_HEX.
  Wallet alice = TxFactory::NewWallet(1);
  alice.id = *FromHex("a11ce000000000000000000000000001");
  SignedTx open = f.OpenAndFund({alice}, c.member(0).governance, 100'000);
  ASSERT_TRUE(Submit(c, 0, open).has_value());
  ASSERT_TRUE(WaitCommitted(c, 0, {open.tx_id}));
  ledger::pb::Operation op = TxFactory::TransferOp(*FromHex("7a000000000000000000000000000001"),
                                                   alice.id, TxFactory::IssuerAccount(1), 2500);
  op.mutable_transfer()->set_purpose("SUPP");
  op.mutable_transfer()->set_memo("invoice 7");
  SignedTx payment = f.Sign({op}, {alice.key});

  std::map<std::string, std::string> values = {{"$TX_HEX", payment.hex}, {"$TX_ID", payment.tx_id}};
  for (const Example& e : examples) {
    SCOPED_TRACE("docs/rpc.md example for " + e.method);
    if (e.method == "get_tx" || e.method == "get_block" || e.method == "get_transfer" ||
        e.method == "get_proof") {
      // These document a committed transaction; wait for it (and for the block's execution
      // certificate, which forms once 2f+1 validators executed it).
      ASSERT_TRUE(WaitCommitted(c, 0, {payment.tx_id}));
      auto states = GetTxs(c, 0, {payment.tx_id});
      ASSERT_TRUE(states.has_value());
      values["$TX_HEIGHT"] = std::to_string((*states)[0].height);
      ASSERT_TRUE(WaitUntil(
          [&] {
            auto b = c.Block(0, (*states)[0].height);
            return b.has_value() && b->contains("execution_certificate");
          },
          kCommitTimeoutMs, "the execution certificate"));
    }
    std::string request = Substitute(e.request, values);
    auto reply = RawPost(c.member(0).rpc, request);
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    boost::system::error_code ec;
    json::value live = json::parse(reply->body, ec);
    ASSERT_FALSE(ec) << reply->body;
    json::value documented = json::parse(e.response, ec);
    ASSERT_FALSE(ec) << "docs/rpc.md: the response example for " << e.method << " is not JSON";
    EXPECT_EQ(ShapeDiff(documented, live, "response"), "") << reply->body;
  }
}

}  // namespace
}  // namespace cl::integration
