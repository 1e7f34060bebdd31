// Transaction gossip from a member whose transactions carry bad signatures (issue 14, defect 14):
// the validator counts and refuses the batch, ignores that peer's gossip for a while (even valid
// transactions), and consensus goes on. The peer is the test process itself, speaking p2p with the
// (not started) observer's node key.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "crypto/keystore.h"
#include "ledger/transaction.h"
#include "node/node.pb.h"
#include "p2p/membership.h"
#include "p2p/transport.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

constexpr size_t kBadTxsPerBatch = 64;

// The envelope of `tx` with its first signature replaced by one over another body.
Bytes WithForeignSignature(const SignedTx& tx, const SignedTx& other) {
  ledger::pb::TxEnvelope a, b;
  EXPECT_TRUE(a.ParseFromArray(tx.envelope.data(), static_cast<int>(tx.envelope.size())));
  EXPECT_TRUE(b.ParseFromArray(other.envelope.data(), static_cast<int>(other.envelope.size())));
  *a.mutable_signatures(0)->mutable_signature() = b.signatures(0).signature();
  return ToBytes(a.SerializeAsString());
}

std::string GossipOf(const std::vector<Bytes>& envelopes) {
  node::pb::NodeMessage message;
  for (const Bytes& e : envelopes)
    message.mutable_txs()->add_txs(e.data(), e.size());
  return message.SerializeAsString();
}

TEST(TxGossip, PeerGossipingBadSignaturesIsIgnoredAndConsensusGoesOn) {
  auto created = Cluster::Create({.validators = 4, .observers = 1});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  for (size_t v : c.validators())
    IT_ASSERT_OK(c.Start(v));
  ASSERT_TRUE(WaitPeers(c, c.validators(), 3));
  const size_t target = 1;

  // The observer's identity (a member with a node key), from its home.
  const Member& observer = c.member(c.observers().at(0));
  std::ifstream passphrase_file(observer.home / "passphrase");
  std::string passphrase;
  std::getline(passphrase_file, passphrase);
  auto key = crypto::ReadKeystoreFile(observer.home / "node.key", passphrase);
  IT_ASSERT_OK(key);
  auto validators = c.Call(target, "get_validators");
  IT_ASSERT_OK(validators);
  std::set<crypto::PublicKey> keys;
  for (const json::value& v : validators->at("validators").as_array()) {
    auto bytes = FromHex(v.at("node_key").as_string());
    IT_ASSERT_OK(bytes);
    auto pub = crypto::PublicKey::Parse(*bytes);
    IT_ASSERT_OK(pub);
    keys.insert(*pub);
  }
  auto target_bytes =
      FromHex(validators->at("validators").as_array()[target].at("node_key").as_string());
  const crypto::PublicKey target_key = *crypto::PublicKey::Parse(*target_bytes);
  p2p::TransportOptions options;
  options.chain_id = c.chain_id();
  p2p::Transport transport(options, p2p::Identity::FromPrivateKey(*key),
                           std::make_shared<p2p::StaticMembership>(keys), {});
  IT_ASSERT_OK(transport.Start());
  const std::string& address = c.member(target).p2p;
  const size_t colon = address.rfind(':');
  transport.AddPeer(target_key, address.substr(0, colon),
                    static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto counters = transport.Counters(target_key);
        return counters && counters->connected;
      },
      kStartTimeoutMs, "the test peer connects to the validator"));

  // A batch of transactions whose signatures do not verify.
  TxFactory f(c.chain_id());
  const Member& bank = c.member(target);
  std::vector<Bytes> bad;
  for (size_t k = 0; k < kBadTxsPerBatch; ++k) {
    SignedTx a = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 1);
    SignedTx b = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 1);
    bad.push_back(WithForeignSignature(a, b));
  }
  ASSERT_TRUE(transport.Send(target_key, p2p::Priority::kGossip, ToBytes(GossipOf(bad))));
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto s = c.GetStatus(target);
        return s && s->at("gossip_bad_signature_batches").to_number<uint64_t>() >= 1;
      },
      kCommitTimeoutMs, "the validator counts the bad batch"));

  // The peer is now ignored: even a valid transaction it gossips is not taken.
  SignedTx valid = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 2);
  ASSERT_TRUE(
      transport.Send(target_key, p2p::Priority::kGossip, ToBytes(GossipOf({valid.envelope}))));
  std::this_thread::sleep_for(std::chrono::milliseconds(1'500));
  auto state = c.Call(target, "get_tx", json::object{{"tx_id", valid.tx_id}});
  IT_ASSERT_OK(state);
  EXPECT_EQ(state->at("status"), "unknown") << json::serialize(*state);

  // Consensus goes on: a transaction submitted over RPC commits on the attacked validator.
  SignedTx honest = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 3);
  IT_ASSERT_OK(Submit(c, target, honest));
  EXPECT_TRUE(WaitCommitted(c, target, {honest.tx_id}));
  transport.Stop();
}

}  // namespace
}  // namespace cl::integration
