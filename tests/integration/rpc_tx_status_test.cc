// What the node says about a transaction, a subscription and its view must never be false (issue
// 14, defects 3, 4, 7 and 8):
// - get_tx answers only committed, pending or unknown: a copy of a transaction with a bad signature
//   (anyone can make one, since the id does not cover signatures) is refused to its submitter and
//   leaves no trace, and the honest transaction then commits;
// - a tx subscription opened after the commit answers with the committed status at once;
// - `status` reports the view of the last commit on validators and observers alike;
// - a transaction admitted by a backup reaches whichever validator is primary now.
#include <signal.h>

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "ledger/transaction.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr int kTxRejected = -32011;

// The envelope of `tx` with its first signature replaced by one over another body (by the same
// key): a copy with the same tx id whose signature does not verify.
Bytes WithForeignSignature(const SignedTx& tx, const SignedTx& other) {
  ledger::pb::TxEnvelope a, b;
  EXPECT_TRUE(a.ParseFromArray(tx.envelope.data(), static_cast<int>(tx.envelope.size())));
  EXPECT_TRUE(b.ParseFromArray(other.envelope.data(), static_cast<int>(other.envelope.size())));
  *a.mutable_signatures(0)->mutable_signature() = b.signatures(0).signature();
  return ToBytes(a.SerializeAsString());
}

// get_tx on every listed member; fails the test on a status outside the documented three.
std::vector<std::string> TxStatuses(const Cluster& c, const std::vector<size_t>& members,
                                    const std::string& tx_id) {
  std::vector<std::string> out;
  for (size_t i : members) {
    auto r = c.Call(i, "get_tx", json::object{{"tx_id", tx_id}});
    if (!r) {
      ADD_FAILURE() << "get_tx on " << c.member(i).name << ": " << r.error().message;
      out.push_back("");
      continue;
    }
    std::string status(r->at("status").as_string());
    EXPECT_TRUE(status == "committed" || status == "pending" || status == "unknown")
        << c.member(i).name << " says " << json::serialize(*r);
    out.push_back(status);
  }
  return out;
}

// Subscribes to the transaction's topic over WebSocket; returns the reply and the first
// notification (read with a deadline).
Result<std::pair<json::value, json::value>> SubscribeTx(const tools::RpcEndpoint& rpc,
                                                        const std::string& tx_id) {
  net::io_context ioc;
  websocket::stream<beast::tcp_stream> ws(ioc);
  beast::error_code ec;
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address(rpc.host), rpc.port), ec);
  if (!ec) ws.handshake(rpc.host, "/", ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "websocket: " + ec.message());
  const std::string request =
      json::serialize(json::object{{"jsonrpc", "2.0"},
                                   {"id", 1},
                                   {"method", "subscribe"},
                                   {"params", json::object{{"topic", "tx"}, {"tx_id", tx_id}}}});
  ws.write(net::buffer(request), ec);
  beast::flat_buffer buffer;
  json::value reply, note;
  // Blocking reads have no deadline: read asynchronously, bounded by the stream's expiry.
  auto read = [&] {
    beast::error_code result = net::error::would_block;
    beast::get_lowest_layer(ws).expires_after(std::chrono::milliseconds(kRpcTimeoutMs));
    ws.async_read(buffer, [&](beast::error_code e, size_t) { result = e; });
    ioc.restart();
    ioc.run();
    return result;
  };
  if (!ec) ec = read();
  if (!ec) {
    reply = json::parse(beast::buffers_to_string(buffer.data()));
    buffer.consume(buffer.size());
    ec = read();  // times out after kRpcTimeoutMs when no notification comes
  }
  if (ec) return MakeError(ErrorCode::kUnavailable, "websocket: " + ec.message());
  note = json::parse(beast::buffers_to_string(buffer.data()));
  return std::make_pair(reply, note);
}

TEST(RpcTxStatus, ForgedCopyLeavesNoFalseStatusAndLateSubscriptionAnswersAtOnce) {
  auto created = Cluster::Create({.validators = 4, .observers = 1});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  ASSERT_TRUE(WaitPeers(c, c.validators(), 3));
  std::vector<size_t> everyone = c.validators();
  for (size_t o : c.observers())
    everyone.push_back(o);
  const size_t node = 1;
  const size_t observer = c.observers().at(0);

  TxFactory f(c.chain_id());
  const Member& bank = c.member(node);
  SignedTx good = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 500);
  SignedTx other = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 1);

  // The attacker's copy first, to every node: refused to the attacker, recorded nowhere.
  const std::string forged = ToHex(WithForeignSignature(good, other));
  for (size_t i : everyone) {
    auto r = c.Call(i, "submit_tx", json::object{{"tx", forged}});
    ASSERT_FALSE(r.has_value()) << c.member(i).name << " admitted a forged copy";
    EXPECT_NE(r.error().message.find(std::to_string(kTxRejected)), std::string::npos)
        << r.error().message;
  }
  for (const std::string& s : TxStatuses(c, everyone, good.tx_id))
    EXPECT_EQ(s, "unknown");

  // The honest transaction commits; no node says anything false meanwhile.
  IT_ASSERT_OK(Submit(c, node, good));
  EXPECT_TRUE(WaitUntil(
      [&] {
        bool all = true;
        for (const std::string& s : TxStatuses(c, everyone, good.tx_id))
          all = all && s == "committed";
        return all;
      },
      kCommitTimeoutMs, "the honest transaction committed on every node"));
  auto committed = c.Call(observer, "get_tx", json::object{{"tx_id", good.tx_id}});
  IT_ASSERT_OK(committed);
  EXPECT_EQ(committed->at("receipt").at("status"), "committed") << json::serialize(*committed);

  // Subscribing after the commit answers at once, on a validator and on an observer.
  for (size_t i : {node, observer}) {
    SCOPED_TRACE(c.member(i).name);
    auto sub = SubscribeTx(c.member(i).rpc, good.tx_id);
    IT_ASSERT_OK(sub);
    const json::value& reply = sub->first;
    const json::value& note = sub->second;
    EXPECT_EQ(reply.at("result").at("current").at("status"), "committed") << json::serialize(reply);
    EXPECT_EQ(note.at("params").at("subscription"), reply.at("result").at("subscription"));
    EXPECT_EQ(note.at("params").at("result").at("status"), "committed") << json::serialize(note);
    EXPECT_EQ(note.at("params").at("result").at("receipt").at("status"), "committed");
  }
}

// The primary is frozen (SIGSTOP) and the validator next in line restarts with an empty mempool
// after the transaction was forwarded to it: the transaction, pending at the other backups, must
// still reach the new primary and commit (without re-gossip it stays pending for good), and every
// node, the observer included, reports the view of that commit.
TEST(RpcTxStatus, TxAdmittedByABackupReachesTheNewPrimary) {
  auto created = Cluster::Create({.validators = 4, .observers = 1});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  IT_ASSERT_OK(c.StartAll());
  const std::vector<size_t> validators = c.validators();
  ASSERT_TRUE(WaitPeers(c, validators, 3));
  const size_t observer = c.observers().at(0);

  TxFactory f(c.chain_id());
  SignedTx setup =
      f.OpenAndFund({TxFactory::NewWallet(c.member(2).member_id)}, c.member(2).governance, 10);
  IT_ASSERT_OK(Submit(c, 2, setup));
  ASSERT_TRUE(WaitCommitted(c, 2, {setup.tx_id}));
  auto before = c.GetStatus(0);
  IT_ASSERT_OK(before);
  ASSERT_EQ(before->at("view").to_number<uint64_t>(), 0u);
  ASSERT_EQ(before->at("primary").to_number<uint64_t>(), 0u);

  // Freeze the primary (0). The transaction reaches validators 1 to 3; then validator 1, next in
  // line, restarts and so loses its mempool (and the transport's queue for it, which would
  // otherwise deliver the first forward again).
  ASSERT_EQ(::kill(c.member(0).pid, SIGSTOP), 0);
  SignedTx tx =
      f.OpenAndFund({TxFactory::NewWallet(c.member(2).member_id)}, c.member(2).governance, 20);
  IT_ASSERT_OK(Submit(c, 2, tx));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto states = GetTxs(c, 1, {tx.tx_id});
        return states && states->at(0).status == "pending";
      },
      kCommitTimeoutMs, "validator 1 holds the transaction"));
  c.Kill(1);
  IT_ASSERT_OK(c.Start(1));

  const bool committed = WaitCommitted(c, 2, {tx.tx_id}, 2 * kCommitTimeoutMs);
  EXPECT_TRUE(committed) << "the transaction admitted by validator 2 never committed";
  ::kill(c.member(0).pid, SIGCONT);
  if (!committed) return;

  // The view reported is the view of the last commit, the same on validators and the observer.
  const uint64_t height = HeightOf(c, 2);
  ASSERT_TRUE(WaitHeight(c, {1, 2, 3, observer}, height));
  auto validator_status = c.GetStatus(2);
  IT_ASSERT_OK(validator_status);
  const uint64_t view = validator_status->at("view").to_number<uint64_t>();
  EXPECT_GT(view, 0u) << json::serialize(*validator_status);
  EXPECT_FALSE(validator_status->at("replica").is_null());
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto s = c.GetStatus(observer);
        return s && s->at("view").to_number<uint64_t>() >= view &&
               s->at("primary").to_number<uint64_t>() == view % validators.size() &&
               s->at("replica").is_null();
      },
      kCommitTimeoutMs, "the observer reports the committed view"))
      << json::serialize(*c.GetStatus(observer));
}

}  // namespace
}  // namespace cl::integration
