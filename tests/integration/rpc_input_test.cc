// Bad input to a running node's JSON-RPC server over raw HTTP — malformed JSON, wrong types, bodies
// over the limit, transactions with bad signatures, unknown methods, batch abuse, connection
// floods — gets a JSON-RPC error each time, and the node keeps serving (status answers after every
// case) and keeps committing (a valid transaction commits at the end).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "ledger/transaction.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kLimitExceeded = -32002;
constexpr int kNotFound = -32003;
constexpr int kTxRejected = -32011;

// The node's default limits (node/rpc_server.h, node/rpc_dispatch.h, node/mempool.h).
constexpr size_t kBodyLimitBytes = 8u << 20;
constexpr size_t kBatchLimit = 256;
constexpr size_t kAdmitBatchLimit = 4096;
constexpr size_t kConnectionLimit = 256;

std::string Request(std::string_view method, const json::value& params, int id = 1) {
  return json::serialize(
      json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
}

// One error response with this code (and the JSON-RPC 2.0 envelope).
::testing::AssertionResult IsError(const json::value& v, int code) {
  const json::object* o = v.if_object();
  if (o == nullptr) return ::testing::AssertionFailure() << "not an object: " << json::serialize(v);
  const json::value* version = o->if_contains("jsonrpc");
  const json::value* error = o->if_contains("error");
  if (version == nullptr || *version != "2.0" || error == nullptr || !error->is_object() ||
      !o->contains("id") || o->contains("result"))
    return ::testing::AssertionFailure() << "not a JSON-RPC error response: " << json::serialize(v);
  const json::value* c = error->as_object().if_contains("code");
  const json::value* m = error->as_object().if_contains("message");
  if (c == nullptr || !c->is_number() || c->to_number<int64_t>() != code || m == nullptr ||
      !m->is_string())
    return ::testing::AssertionFailure()
           << "expected error code " << code << ", got " << json::serialize(v);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsErrorResponse(const Result<HttpResponse>& r, int code) {
  if (!r) return ::testing::AssertionFailure() << "no HTTP response: " << r.error().message;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec)
    return ::testing::AssertionFailure()
           << "HTTP " << r->status << " body is not JSON: " << r->body.substr(0, 200);
  return IsError(v, code) << " (HTTP " << r->status << ")";
}

// The node still answers status over a fresh connection, and is still in consensus.
::testing::AssertionResult Serving(const Cluster& c, size_t i) {
  auto s = c.GetStatus(i);
  if (!s) return ::testing::AssertionFailure() << "status failed: " << s.error().message;
  return ::testing::AssertionSuccess();
}

// An envelope whose signature is well-formed but was made over a different body (by the right key).
Bytes WithForeignSignature(const SignedTx& tx, const SignedTx& other) {
  ledger::pb::TxEnvelope a, b;
  EXPECT_TRUE(a.ParseFromArray(tx.envelope.data(), static_cast<int>(tx.envelope.size())));
  EXPECT_TRUE(b.ParseFromArray(other.envelope.data(), static_cast<int>(other.envelope.size())));
  *a.mutable_signatures(0)->mutable_signature() = b.signatures(0).signature();
  return ToBytes(a.SerializeAsString());
}

TEST(RpcInput, BadInputGetsJsonRpcErrorsAndTheNodeKeepsServing) {
  auto created = Cluster::Create({.validators = 4, .observers = 0});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  ASSERT_TRUE(WaitPeers(c, c.validators(), 3));
  const size_t node = 1;  // any validator; not the first primary, so consensus is not what we poke
  const tools::RpcEndpoint& rpc = c.member(node).rpc;

  struct Case {
    const char* name;
    std::string body;
    int code;
  };
  std::string deep(10'000, '[');
  std::vector<Case> cases = {
      {"truncated JSON", R"({"jsonrpc":"2.0","id":1,"method":"status")", kParseError},
      {"not JSON", "hello, ledger", kParseError},
      {"empty body", "", kParseError},
      {"trailing garbage", R"({"jsonrpc":"2.0","id":1,"method":"status"}})", kParseError},
      {"nesting deeper than the limit", deep, kParseError},
      {"invalid UTF-8 in a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"st\xff\xfe\"}",
       kParseError},
      {"method is a number", R"({"jsonrpc":"2.0","id":1,"method":5})", kInvalidRequest},
      {"wrong jsonrpc version", R"({"jsonrpc":"1.0","id":1,"method":"status"})", kInvalidRequest},
      {"missing jsonrpc", R"({"id":1,"method":"status"})", kInvalidRequest},
      {"id is an object", R"({"jsonrpc":"2.0","id":{"a":1},"method":"status"})", kInvalidRequest},
      {"params is a string", R"({"jsonrpc":"2.0","id":1,"method":"status","params":"x"})",
       kInvalidRequest},
      {"request is a number", "42", kInvalidRequest},
      {"method name too long", Request(std::string(1000, 'm'), json::object{}), kInvalidRequest},
      {"unknown method", Request("no_such_method", json::object{}), kMethodNotFound},
      {"empty method", Request("", json::object{}), kMethodNotFound},
      {"rpc.internal-looking method", Request("rpc.discover", json::object{}), kMethodNotFound},
      {"submit_tx: tx is a number", Request("submit_tx", json::object{{"tx", 123}}),
       kInvalidParams},
      {"submit_tx: tx is not hex", Request("submit_tx", json::object{{"tx", "zz"}}),
       kInvalidParams},
      {"submit_tx: odd-length hex", Request("submit_tx", json::object{{"tx", "abc"}}),
       kInvalidParams},
      {"submit_tx: params positional", Request("submit_tx", json::array{"00"}), kInvalidParams},
      {"submit_tx: tx missing", Request("submit_tx", json::object{}), kInvalidParams},
      {"submit_txs: txs is a string", Request("submit_txs", json::object{{"txs", "00"}}),
       kInvalidParams},
      {"submit_txs: entries are numbers", Request("submit_txs", json::object{{"txs", {1, 2}}}),
       kInvalidParams},
      {"get_tx: short id", Request("get_tx", json::object{{"tx_id", "00ff"}}), kInvalidParams},
      {"get_tx: id is null", Request("get_tx", json::object{{"tx_id", nullptr}}), kInvalidParams},
      {"get_account: 15-byte id",
       Request("get_account", json::object{{"id", std::string(30, '1')}}), kInvalidParams},
      {"get_account: height negative",
       Request("get_account", json::object{{"id", std::string(32, '1')}, {"height", -1}}),
       kInvalidParams},
      {"get_block: height is a string", Request("get_block", json::object{{"height", "5"}}),
       kInvalidParams},
      {"get_block: height is a float", Request("get_block", json::object{{"height", 1.5}}),
       kInvalidParams},
      {"get_block: height far above the chain",
       Request("get_block", json::object{{"height", uint64_t{1} << 62}}), kNotFound},
      {"get_account: unknown account",
       Request("get_account", json::object{{"id", std::string(32, '7')}}), kNotFound},
      {"get_asset: code is a number", Request("get_asset", json::object{{"code", 7}}),
       kInvalidParams},
      {"empty batch", "[]", kInvalidRequest},
  };
  // A transaction list over the admission batch limit (valid hex, so only the count is wrong).
  {
    json::array txs;
    for (size_t k = 0; k <= kAdmitBatchLimit; ++k)
      txs.push_back(json::value("00"));
    cases.push_back({"submit_txs over the batch limit",
                     Request("submit_txs", json::object{{"txs", std::move(txs)}}), kLimitExceeded});
  }
  // A JSON-RPC batch over the batch limit.
  {
    json::array batch;
    for (size_t k = 0; k <= kBatchLimit; ++k)
      batch.push_back(json::object{
          {"jsonrpc", "2.0"}, {"id", k}, {"method", "status"}, {"params", json::object{}}});
    cases.push_back({"batch over the limit", json::serialize(batch), kLimitExceeded});
  }

  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.name);
    EXPECT_TRUE(IsErrorResponse(RawPost(rpc, cs.body), cs.code));
    ASSERT_TRUE(Serving(c, node));
  }

  // Transactions that parse as hex but are not valid transactions.
  TxFactory f(c.chain_id());
  const Member& bank = c.member(node);
  Wallet w = TxFactory::NewWallet(bank.member_id);
  SignedTx good = f.OpenAndFund({w}, bank.governance, 500);
  SignedTx other = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 1);
  {
    SCOPED_TRACE("a signature made over another body");
    Bytes forged = WithForeignSignature(good, other);
    auto r = RawPost(rpc, Request("submit_tx", json::object{{"tx", ToHex(forged)}}));
    EXPECT_TRUE(IsErrorResponse(r, kTxRejected));
    // The refusal is the submitter's answer only: the id does not cover signatures, so the
    // forged copy says nothing about the transaction with that id (docs/rpc.md, get_tx).
    auto state = c.Call(node, "get_tx", json::object{{"tx_id", good.tx_id}});
    IT_ASSERT_OK(state);
    EXPECT_EQ(state->at("status"), "unknown") << json::serialize(*state);
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("a signature by a key that is not the one listed");
    ledger::pb::TxEnvelope env;
    ASSERT_TRUE(env.ParseFromArray(good.envelope.data(), static_cast<int>(good.envelope.size())));
    crypto::PublicKey stranger = crypto::PrivateKey::Generate().GetPublicKey();
    env.mutable_signatures(0)->set_public_key(ToString(stranger.span()));
    auto r = RawPost(
        rpc, Request("submit_tx", json::object{{"tx", ToHex(AsSpan(env.SerializeAsString()))}}));
    EXPECT_TRUE(IsErrorResponse(r, kTxRejected));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("a transaction for another chain");
    TxFactory foreign("another-chain");
    SignedTx tx = foreign.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 1);
    EXPECT_TRUE(IsErrorResponse(RawPost(rpc, Request("submit_tx", json::object{{"tx", tx.hex}})),
                                kTxRejected));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    // Protobuf logs an error line for each string field that is not UTF-8 when it parses one:
    // written to the node's log, that would give any client a way to fill the disk, one line per
    // submission. The node keeps such lines out of its log (debug level only).
    SCOPED_TRACE("invalid UTF-8 in a transaction's string field, many times");
    ledger::pb::TxEnvelope env;  // a real signer's key and signature, over another body
    ASSERT_TRUE(env.ParseFromArray(good.envelope.data(), static_cast<int>(good.envelope.size())));
    env.set_body(std::string("\x0a\x02\xff\xfe", 4));  // TxBody.chain_id = "\xff\xfe"
    const Bytes envelope = ToBytes(env.SerializeAsString());
    for (int k = 0; k < 20; ++k) {
      EXPECT_TRUE(IsErrorResponse(
          RawPost(rpc, Request("submit_tx", json::object{{"tx", ToHex(envelope)}})), kTxRejected));
    }
    ASSERT_TRUE(Serving(c, node));
    const std::string log = c.LogTail(node, 1'000'000);
    EXPECT_EQ(log.find("libprotobuf"), std::string::npos) << log.substr(0, 2000);
  }
  {
    SCOPED_TRACE("random bytes as a transaction");
    Bytes junk(300);
    crypto::RandomBytes(junk.data(), junk.size());
    EXPECT_TRUE(IsErrorResponse(
        RawPost(rpc, Request("submit_tx", json::object{{"tx", ToHex(junk)}})), kTxRejected));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("a transaction over the envelope size limit");
    Bytes big(ledger::kMaxTxEnvelopeBytes + 1, 0x0a);
    EXPECT_TRUE(IsErrorResponse(
        RawPost(rpc, Request("submit_tx", json::object{{"tx", ToHex(big)}})), kTxRejected));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("submit_txs with bad entries: one verdict each, nothing admitted");
    Bytes forged = WithForeignSignature(other, good);
    auto r = RawPost(rpc, Request("submit_txs", json::object{{"txs", {ToHex(forged), "00"}}}));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    ASSERT_FALSE(ec) << r->body;
    const json::value* results = v.as_object().contains("result")
                                     ? v.at("result").as_object().if_contains("results")
                                     : nullptr;
    ASSERT_NE(results, nullptr) << r->body;
    ASSERT_EQ(results->as_array().size(), 2u) << r->body;
    for (const json::value& one : results->as_array())
      EXPECT_EQ(one.at("status"), "rejected") << r->body;
    ASSERT_TRUE(Serving(c, node));
  }

  // Batches: every bad element gets its own error; good elements are still answered.
  {
    SCOPED_TRACE("batch of non-objects and a nested batch");
    auto r = RawPost(rpc, R"([1, "x", null, [], {"jsonrpc":"2.0","id":9,"method":"status"}])");
    ASSERT_TRUE(r.has_value()) << r.error().message;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    ASSERT_FALSE(ec) << r->body;
    ASSERT_TRUE(v.is_array()) << r->body;
    ASSERT_EQ(v.as_array().size(), 5u) << r->body;
    for (size_t k = 0; k < 4; ++k)
      EXPECT_TRUE(IsError(v.as_array()[k], kInvalidRequest));
    EXPECT_TRUE(v.as_array()[4].as_object().contains("result")) << r->body;
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("batch at the limit of unknown methods");
    json::array batch;
    for (size_t k = 0; k < kBatchLimit; ++k)
      batch.push_back(json::object{{"jsonrpc", "2.0"}, {"id", k}, {"method", "nope"}});
    auto r = RawPost(rpc, json::serialize(batch));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    ASSERT_FALSE(ec);
    ASSERT_TRUE(v.is_array());
    EXPECT_EQ(v.as_array().size(), kBatchLimit);
    for (const json::value& one : v.as_array())
      EXPECT_TRUE(IsError(one, kMethodNotFound));
    ASSERT_TRUE(Serving(c, node));
  }

  // Bodies over the limit: declared up front, and streamed without a length (chunked).
  {
    SCOPED_TRACE("body over the limit with Content-Length");
    std::string body = "[" + std::string(kBodyLimitBytes + 1024, ' ') + "]";
    auto r = RawPost(rpc, body, 15'000);
    EXPECT_TRUE(IsErrorResponse(r, kLimitExceeded));
    if (r) {
      EXPECT_EQ(r->status, 413);
    }
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("body over the limit, chunked");
    std::string request =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    const std::string chunk(1u << 20, ' ');
    char size_line[32];
    std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
    for (size_t k = 0; k < kBodyLimitBytes / chunk.size() + 2; ++k)
      request += size_line + chunk + "\r\n";
    request += "0\r\n\r\n";
    auto r = RawExchange(rpc, request, 15'000);
    EXPECT_TRUE(IsErrorResponse(r, kLimitExceeded));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("a huge declared length, then silence");
    std::string request =
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
        "1000000000000\r\n\r\n[";
    EXPECT_TRUE(IsErrorResponse(RawExchange(rpc, request), kLimitExceeded));
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("not HTTP at all");
    // No JSON-RPC answer is possible without HTTP; the node must just drop the connection.
    auto r = RawExchange(rpc, std::string(4096, '\x01') + "\r\n\r\n", 3'000);
    if (r) {
      EXPECT_NE(r->status, 200) << r->body;
    }
    ASSERT_TRUE(Serving(c, node));
  }
  {
    SCOPED_TRACE("more idle connections than the limit, then closed");
    std::vector<int> fds;
    for (size_t k = 0; k < kConnectionLimit + 44; ++k) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(fd, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(rpc.port);
      ::inet_pton(AF_INET, rpc.host.c_str(), &addr.sin_addr);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(fd);
        break;
      }
      fds.push_back(fd);
    }
    for (int fd : fds)
      ::close(fd);
    EXPECT_TRUE(WaitUntil([&] { return Serving(c, node); }, 5'000,
                          "status answers after the connection flood"));
  }

  // The node is still a working validator: the good transaction (same body as the forged one)
  // commits on it and on the others.
  IT_ASSERT_OK(Submit(c, node, good));
  for (size_t v : c.validators())
    EXPECT_TRUE(WaitCommitted(c, v, {good.tx_id})) << c.member(v).name;
  auto balance = Balance(c, node, w.id, HeightOf(c, node));
  IT_ASSERT_OK(balance);
  EXPECT_EQ(*balance, "500");
  for (size_t v : c.validators())
    EXPECT_TRUE(c.Running(v)) << c.member(v).name;
}

}  // namespace
}  // namespace cl::integration
