// docs/rpc.md stays true to the server: every request example in its "Methods" section is sent to a
// live node of a local consortium, and the response must have the documented shape (the same keys
// at every level, the same JSON kinds). Values (hashes, heights, times) differ from run to run.
// docs/transactions.md likewise: every admission refusal it lists is produced by a real submission,
// and the node sends exactly the documented text, and nothing undocumented.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "consensus/consensus.pb.h"
#include "crypto/sha256.h"
#include "ledger/transaction.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

struct Example {
  std::string method;  // the section's "### name"
  std::string request;
  std::string response;
};

std::string ReadDocs(const char* name = "rpc.md") {
  fs::path repo = fs::path(LEDGER_VECTORS_DIR).parent_path().parent_path();
  std::ifstream in(repo / "docs" / name);
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

// --- docs/transactions.md: admission refusals, exactly as the RPC sends them
// ------------------------

// Every backquoted message in the last column of the tables whose last header cell is
// "message (exactly as the RPC sends it)".
std::vector<std::string> DocumentedMessages(const std::string& docs) {
  std::vector<std::string> out;
  std::istringstream in(docs);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (!line.starts_with("|")) {
      in_table = false;
      continue;
    }
    if (line.find("| message (exactly as the RPC sends it) |") != std::string::npos) {
      in_table = true;
      continue;
    }
    if (!in_table || line.starts_with("|---")) continue;
    std::string cell = line.substr(0, line.size() - 1);  // drop the closing '|'
    cell = cell.substr(cell.rfind('|') + 1);
    for (size_t open = cell.find('`'); open != std::string::npos;) {
      size_t close = cell.find('`', open + 1);
      if (close == std::string::npos) break;
      out.push_back(cell.substr(open + 1, close - open - 1));
      open = cell.find('`', close + 1);
    }
  }
  return out;
}

// A documented message as a regular expression: `<i>` and `<n>` are numbers, `<op>` and `<field>`
// names, any other `<placeholder>` some text; everything else is literal.
std::regex PatternOf(const std::string& documented) {
  static const std::regex placeholder("<([a-z ]+)>");
  std::string pattern;
  size_t at = 0;
  auto literal = [&](std::string_view text) {
    for (char c : text) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) pattern += '\\';
      pattern += c;
    }
  };
  for (std::sregex_iterator it(documented.begin(), documented.end(), placeholder), end; it != end;
       ++it) {
    literal(std::string_view(documented).substr(at, it->position() - at));
    std::string name = (*it)[1];
    pattern += name == "i" || name == "n"        ? "[0-9]+"
               : name == "op" || name == "field" ? "[a-z_]+"
                                                 : ".+";
    at = it->position() + it->length();
  }
  literal(std::string_view(documented).substr(at));
  return std::regex(pattern);
}

ledger::pb::TxBody TransferBody(const std::string& chain_id, ledger::pb::Operation op) {
  ledger::pb::TxBody body;
  body.set_chain_id(chain_id);
  body.set_valid_until_height(1'000'000'000);
  uint64_t nonce = 0;
  crypto::RandomBytes(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce));
  body.set_nonce(nonce);
  *body.add_operations() = std::move(op);
  return body;
}

std::string Serialized(const google::protobuf::Message& m) {
  std::string out;
  EXPECT_TRUE(m.SerializeToString(&out));
  return out;
}

// The envelope's first signature with s replaced by n - s: the high-S twin of a valid signature.
Bytes WithHighS(const Bytes& envelope) {
  ledger::pb::TxEnvelope env;
  EXPECT_TRUE(env.ParseFromArray(envelope.data(), static_cast<int>(envelope.size())));
  static constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                         0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                         0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  std::string sig = env.signatures(0).signature();
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = kOrder[i] - static_cast<uint8_t>(sig[32 + i]) - borrow;
    borrow = v < 0;
    sig[32 + i] = static_cast<char>(v + (borrow ? 256 : 0));
  }
  env.mutable_signatures(0)->set_signature(sig);
  return ToBytes(Serialized(env));
}

TEST(RpcDocs, EveryDocumentedAdmissionRefusalIsSentExactlyAsDocumented) {
  std::vector<std::string> documented = DocumentedMessages(ReadDocs("transactions.md"));
  ASSERT_GE(documented.size(), 30u) << "docs/transactions.md: the message tables were not found";
  std::vector<std::regex> patterns;
  for (const std::string& d : documented)
    patterns.push_back(PatternOf(d));

  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = c.GetStatus(0);
        return s.has_value() && s->at("height").to_number<uint64_t>() >= 2;
      },
      kCommitTimeoutMs, "height 2"));
  const std::string chain = c.chain_id();
  const crypto::PrivateKey key = crypto::PrivateKey::Generate();
  const std::vector<crypto::PrivateKey> one_key = {key};
  const Bytes a = TxFactory::NewId(), b = TxFactory::NewId();
  auto transfer = [&](auto&& edit) {
    ledger::pb::Operation op = TxFactory::TransferOp(TxFactory::NewId(), a, b, 100);
    edit(*op.mutable_transfer());
    return ledger::SignTransaction(TransferBody(chain, op), one_key);
  };
  auto body_with = [&](auto&& edit) {
    ledger::pb::TxBody body =
        TransferBody(chain, TxFactory::TransferOp(TxFactory::NewId(), a, b, 1));
    edit(body);
    return ledger::SignTransaction(body, one_key);
  };
  auto envelope_with = [&](auto&& edit) {
    ledger::pb::TxEnvelope env;
    EXPECT_TRUE(env.ParseFromString(std::string(AsStringView(body_with([](auto&) {})))));
    edit(env);
    return ToBytes(Serialized(env));
  };
  auto op = [&](auto&& edit) {
    ledger::pb::Operation o;
    edit(o);
    return ledger::SignTransaction(TransferBody(chain, o), one_key);
  };
  auto controller = [&](ledger::pb::Controller& ctl) {
    ctl.set_threshold(1);
    ctl.add_keys(std::string(AsStringView(key.GetPublicKey().span())));
  };
  auto asset = [&](const std::string& code, uint32_t scale) {
    return op([&](ledger::pb::Operation& o) {
      auto* x = o.mutable_create_asset();
      x->set_code(code);
      x->set_scale(scale);
      x->set_issuer(1);
      x->set_issuer_account(std::string(AsStringView(TxFactory::NewId())));
      controller(*x->mutable_issuer_controller());
    });
  };
  Wallet wallet = TxFactory::NewWallet(1);

  // One submission per refusal; the comment is the documented message it must produce.
  std::vector<std::pair<std::string, Bytes>> cases = {
      {"envelope over kMaxTxEnvelopeBytes", Bytes(65'537, 0)},
      {"not a TxEnvelope", Bytes{0x00, 0xff}},
      {"no signature", envelope_with([](auto& env) { env.clear_signatures(); })},
      {"bad public key (prefix 0x05)", envelope_with([](auto& env) {
         env.mutable_signatures(0)->set_public_key(std::string(33, '\x05'));
       })},
      {"63-byte signature", envelope_with([](auto& env) {
         env.mutable_signatures(0)->mutable_signature()->pop_back();
       })},
      {"duplicate signer",
       ledger::SignTransaction(
           TransferBody(chain, TxFactory::TransferOp(TxFactory::NewId(), a, b, 1)),
           std::vector{key, key})},
      {"body not a TxBody", envelope_with([](auto& env) { env.set_body(std::string(1, '\0')); })},
      {"unknown field in the envelope",
       [&] {
         Bytes env = envelope_with([](auto&) {});
         for (uint8_t x : {0xf8, 0x01, 0x01})  // field 31, varint 1
           env.push_back(x);
         return env;
       }()},
      {"envelope fields out of order",
       [&] {
         ledger::pb::TxEnvelope env;
         EXPECT_TRUE(env.ParseFromString(std::string(AsStringView(envelope_with([](auto&) {})))));
         ledger::pb::TxEnvelope body_only, signatures_only = env;
         body_only.set_body(env.body());
         signatures_only.clear_body();
         return ToBytes(Serialized(signatures_only) + Serialized(body_only));
       }()},
      {"unknown field in the body",
       envelope_with([](auto& env) { env.set_body(env.body() + std::string("\xf8\x01\x01", 3)); })},
      {"body fields out of order", envelope_with([](auto& env) {
         ledger::pb::TxBody body;
         EXPECT_TRUE(body.ParseFromString(env.body()));
         ledger::pb::TxBody ops_only, rest = body;
         *ops_only.mutable_operations() = body.operations();
         rest.clear_operations();
         env.set_body(Serialized(ops_only) + Serialized(rest));
       })},
      {"another chain", body_with([](auto& body) { body.set_chain_id("another-chain"); })},
      {"no valid_until_height", body_with([](auto& body) { body.set_valid_until_height(0); })},
      {"no operation", body_with([](auto& body) { body.clear_operations(); })},
      {"operation without kind", op([](auto&) {})},
      {"zero amount", transfer([](auto& t) { t.set_amount(0); })},
      {"open linked chain",
       body_with([](auto& body) { body.mutable_operations(0)->set_linked(true); })},
      {"valid_until_height passed", body_with([](auto& body) { body.set_valid_until_height(1); })},
      {"valid_until_time_ms passed",
       body_with([](auto& body) { body.set_valid_until_time_ms(1); })},
      {"over kMaxOpsPerTx", body_with([&](auto& body) {
         for (int i = 0; i < 64; ++i)
           *body.add_operations() = TxFactory::TransferOp(TxFactory::NewId(), a, b, 1);
       })},
      {"over kMaxSignaturesPerTx",
       ledger::SignTransaction(
           TransferBody(chain, TxFactory::TransferOp(TxFactory::NewId(), a, b, 1)),
           [] {
             std::vector<crypto::PrivateKey> keys;
             for (int i = 0; i < 17; ++i)
               keys.push_back(crypto::PrivateKey::Generate());
             return keys;
           }())},
      {"memo", transfer([](auto& t) { t.set_memo(std::string(141, 'm')); })},
      {"end_to_end_id", transfer([](auto& t) { t.set_end_to_end_id(std::string(36, 'e')); })},
      {"purpose", transfer([](auto& t) { t.set_purpose("SUPPL"); })},
      {"uetr", transfer([](auto& t) { t.set_uetr("abc"); })},
      {"15-byte id", transfer([](auto& t) { t.set_id(std::string(15, '\x01')); })},
      {"zero id", transfer([](auto& t) { t.set_id(std::string(16, '\0')); })},
      {"hold without timeout", transfer([](auto& t) { t.set_pending(true); })},
      {"short hash lock", transfer([](auto& t) {
         t.set_pending(true);
         t.set_timeout_s(60);
         t.set_hash_lock("lock");
       })},
      {"long preimage", op([&](auto& o) {
         auto* p = o.mutable_post_pending();
         p->set_id(std::string(AsStringView(TxFactory::NewId())));
         p->set_pending_id(std::string(AsStringView(TxFactory::NewId())));
         p->set_preimage(std::string(65, 'p'));
       })},
      {"17 controller keys", op([&](auto& o) {
         o = TxFactory::CreateAccountOp(wallet);
         for (int i = 0; i < 16; ++i)
           o.mutable_create_account()->mutable_controller()->add_keys(
               std::string(AsStringView(crypto::PrivateKey::Generate().GetPublicKey().span())));
       })},
      {"13-character asset code", asset("ABCDEFGHIJKLM", 2)},
      {"lower-case asset code", asset("usd", 2)},
      {"scale 19", asset("ABC", 19)},
      {"65-byte member name", op([&](auto& o) {
         auto* m = o.mutable_add_member();
         m->set_id(77);
         m->set_name(std::string(65, 'n'));
       })},
  };
  // Signature failures: a flipped bit of s (still low-S), and the high-S twin of a good signature.
  Bytes good = body_with([](auto&) {});
  Bytes flipped = good;
  flipped[flipped.size() - 5] ^= 0x01;
  cases.push_back({"signature does not verify", flipped});
  cases.push_back({"high-S signature", WithHighS(good)});

  std::set<size_t> produced;
  for (const auto& [name, envelope] : cases) {
    SCOPED_TRACE(name);
    auto reply = RawPost(c.member(0).rpc,
                         R"({"jsonrpc":"2.0","id":1,"method":"submit_tx","params":{"tx":")" +
                             ToHex(envelope) + R"("}})");
    ASSERT_TRUE(reply.has_value()) << reply.error().message;
    json::value live = json::parse(reply->body);
    ASSERT_TRUE(live.as_object().contains("error")) << reply->body;
    const json::object& error = live.as_object().at("error").as_object();
    EXPECT_EQ(error.at("code").to_number<int64_t>(), -32011) << reply->body;
    const std::string message(error.at("message").as_string());
    // The data's reason is the same text (what submit_txs answers per transaction).
    EXPECT_EQ(std::string(error.at("data").as_object().at("reason").as_string()), message);
    bool documented_here = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (std::regex_match(message, patterns[i])) {
        produced.insert(i);
        documented_here = true;
      }
    }
    EXPECT_TRUE(documented_here) << "not in docs/transactions.md: " << message;
  }
  for (size_t i = 0; i < documented.size(); ++i)
    EXPECT_TRUE(produced.contains(i))
        << "docs/transactions.md documents a message no case produced: " << documented[i];
}

// docs/rpc.md: "latest" is per node; a read at a height another node reported answers -32003 until
// this node has that height, then the same value at exactly that height.
TEST(RpcDocs, ReadAtAHeightAnotherNodeReported) {
  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  auto status = c.GetStatus(0);
  ASSERT_TRUE(status.has_value());
  const uint64_t reported = status->at("height").to_number<uint64_t>() + 1'000'000;
  auto ahead =
      RawPost(c.member(1).rpc,
              R"({"jsonrpc":"2.0","id":1,"method":"get_asset","params":{"code":"USD.1","height":)" +
                  std::to_string(reported) + "}}");
  ASSERT_TRUE(ahead.has_value());
  json::object error = json::parse(ahead->body).as_object().at("error").as_object();
  EXPECT_EQ(error.at("code").to_number<int64_t>(), -32003) << ahead->body;
  EXPECT_TRUE(std::regex_match(std::string(error.at("message").as_string()),
                               std::regex("height [0-9]+ is above the latest [0-9]+")))
      << ahead->body;

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = c.GetStatus(0);
        return s.has_value() && s->at("height").to_number<uint64_t>() >= 3;
      },
      kCommitTimeoutMs, "height 3 on node 0"));
  const uint64_t height = c.GetStatus(0)->at("height").to_number<uint64_t>();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = c.Call(1, "get_asset", json::object{{"code", "USD.1"}, {"height", height}});
        return r.has_value() && r->as_object().at("at_height").to_number<uint64_t>() == height;
      },
      kCommitTimeoutMs, "node 1 answering at node 0's height"));
}

// docs/cli.md: the example of each file `localnet init` writes has the file's exact shape.
TEST(RpcDocs, LocalnetFilesHaveTheDocumentedFields) {
  const std::string docs = ReadDocs("cli.md");
  auto cluster = Cluster::Create({4, 1, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  for (const char* name : {"localnet.json", "governance-keys.json"}) {
    SCOPED_TRACE(name);
    // The first ```json block after the file's heading "**`DIR/<name>`**".
    size_t heading = docs.find(std::string("**`DIR/") + name + "`**");
    ASSERT_NE(heading, std::string::npos) << "docs/cli.md does not describe " << name;
    size_t open = docs.find("```json\n", heading);
    ASSERT_NE(open, std::string::npos);
    open += 8;
    size_t close = docs.find("```", open);
    boost::system::error_code ec;
    json::value documented = json::parse(docs.substr(open, close - open), ec);
    ASSERT_FALSE(ec) << "docs/cli.md: the example of " << name << " is not JSON";
    std::ifstream in((**cluster).dir() / name);
    std::stringstream text;
    text << in.rdbuf();
    json::value written = json::parse(text.str(), ec);
    ASSERT_FALSE(ec) << text.str();
    EXPECT_EQ(ShapeDiff(documented, written, name), "") << text.str();
    EXPECT_EQ(written.as_object().at("members").as_array().size(), 5u);
  }
}

// docs/operations.md, "Stopping and restarting a node": SIGTERM stops a validator cleanly (exit 0),
// and once restarted it is recovered (it starts at the height it had), caught up (same height and
// block digest as the others) and in the current view, by exactly the status fields the guide
// names.
TEST(OperationsDocs, SigtermStopThenRestartRecoversCatchesUpAndRejoinsTheView) {
  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  constexpr size_t kStopped = 3;  // a backup: the primary of view 0 is validator 0
  auto height_of = [&](size_t i) -> uint64_t {
    auto s = c.GetStatus(i);
    return s.has_value() ? s->at("height").to_number<uint64_t>() : 0;
  };
  ASSERT_TRUE(WaitUntil([&] { return height_of(kStopped) >= 2; }, kCommitTimeoutMs, "height 2"));

  auto exit_status = c.Terminate(kStopped);
  ASSERT_TRUE(exit_status.has_value()) << exit_status.error().message;
  EXPECT_EQ(*exit_status, 0);
  EXPECT_NE(c.LogTail(kStopped).find("signal 15: stopping"), std::string::npos)
      << c.LogTail(kStopped);
  const uint64_t stopped_at = height_of(0);
  // The other three (a quorum) go on committing meanwhile.
  ASSERT_TRUE(WaitUntil([&] { return height_of(0) >= stopped_at + 3; }, kCommitTimeoutMs,
                        "three more blocks without the stopped validator"));

  ASSERT_TRUE(c.Start(kStopped).has_value());
  // Recovered: it starts at a height at least the one it had committed.
  const std::string log = c.LogTail(kStopped);
  EXPECT_NE(log.find("started as validator 3 at height "), std::string::npos) << log;
  // Caught up: the height the others reported, with the same block digest there.
  const uint64_t target = height_of(0);
  ASSERT_TRUE(WaitUntil([&] { return height_of(kStopped) >= target; }, kCommitTimeoutMs,
                        "the restarted validator at the others' height"));
  auto mine = c.Block(kStopped, target);
  auto theirs = c.Block(0, target);
  ASSERT_TRUE(mine.has_value() && theirs.has_value());
  EXPECT_EQ(mine->at("digest"), theirs->at("digest"));
  // In the current view: not in a view change, the same view as the others, and advancing.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto me = c.GetStatus(kStopped);
        auto other = c.GetStatus(0);
        return me.has_value() && other.has_value() && !me->at("in_view_change").as_bool() &&
               me->at("view") == other->at("view") &&
               me->at("height").to_number<uint64_t>() > target;
      },
      kCommitTimeoutMs, "the restarted validator in the current view, committing"));
}

// docs/operations.md, "When a node dies": SIGPIPE does not stop a node; a fault (here a SIGSEGV
// sent to it) leaves "ledgerd: fatal signal SEGV" and a backtrace in its log, and the node dies by
// that signal (so a core dump is written where enabled).
TEST(OperationsDocs, SigpipeIsIgnoredAndAFaultIsReportedInTheLog) {
  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  constexpr size_t kNode = 2;
  ASSERT_EQ(::kill(c.member(kNode).pid, SIGPIPE), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(c.Running(kNode)) << c.LogTail(kNode);
  EXPECT_TRUE(c.GetStatus(kNode).has_value());

  const pid_t pid = c.member(kNode).pid;
  ASSERT_EQ(::kill(pid, SIGSEGV), 0);
  ASSERT_TRUE(WaitUntil([&] { return !c.Running(kNode); }, kCommitTimeoutMs, "the node exits"));
  const std::string log = c.LogTail(kNode);
  if (log.find("AddressSanitizer") != std::string::npos) return;  // a sanitizer build's own report
  EXPECT_NE(log.find("ledgerd: fatal signal SEGV; backtrace:"), std::string::npos) << log;
  // It dies by the signal itself (the default action, a core dump where enabled), not an exit code.
  const int status = c.member(kNode).last_wait_status;
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << "wait status " << status;
}

// docs/consensus.md, "Block digest": the node names a block by its header hash, SignedDigest(0x22,
// chain_id, header bytes), in get_block's digest and in the commit certificate's vote; not by the
// replica's default H(0x37 || payload).
TEST(RpcDocs, CertificatesNameABlockByItsHeaderHash) {
  auto cluster = Cluster::Create({4, 0, "localnet"});
  ASSERT_TRUE(cluster.has_value()) << cluster.error().message;
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartAll().has_value());
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto b = c.Block(0, 1);
        return b.has_value() && b->contains("execution_certificate");
      },
      kCommitTimeoutMs, "block 1 with its certificates"));
  auto block = c.Call(0, "get_block", json::object{{"height", 1}});
  ASSERT_TRUE(block.has_value()) << block.error().message;
  const json::object& b = block->as_object();
  ASSERT_FALSE(b.at("null_block").as_bool());
  auto header = FromHex(b.at("header").as_object().at("hex").as_string());
  ASSERT_TRUE(header.has_value());
  const Hash32 header_hash =
      crypto::SignedDigest(crypto::Domain::kBlockHeader, c.chain_id(), *header);
  EXPECT_EQ(std::string(b.at("digest").as_string()), header_hash.ToHex());

  auto cert_bytes = FromHex(b.at("commit_certificate").as_string());
  ASSERT_TRUE(cert_bytes.has_value());
  consensus::pb::CommitCertificate cert;
  ASSERT_TRUE(cert.ParseFromArray(cert_bytes->data(), static_cast<int>(cert_bytes->size())));
  consensus::pb::VoteBody vote;
  ASSERT_TRUE(vote.ParseFromString(cert.body()));
  EXPECT_EQ(vote.seq(), 1u);
  EXPECT_EQ(ToHex(AsSpan(vote.digest())), header_hash.ToHex());
}

}  // namespace
}  // namespace cl::integration
