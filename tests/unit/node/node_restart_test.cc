// A validator restarted after a stop between two writes of an execution certificate: the replica
// writes the certificate it formed to the consensus store (its checkpoint) before the node writes
// it to the block store. A stop in between lost the block store's copy for good (the restarted
// replica treats the height as done and never forms or stores that certificate again), and
// observers, which sync only certified blocks, stalled below that height.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "consensus/consensus.pb.h"
#include "consensus/messages.h"
#include "crypto/keystore.h"
#include "genesis/genesis.h"
#include "ledger/fault_env.h"
#include "ledger/leveldb_store.h"
#include "ledger/transaction.h"
#include "node/config.h"
#include "node/node.h"
#include "node/rpc_dispatch.h"
#include "node/rpc_methods.h"
#include "tests/unit/node/test_txs.h"
#include "tools/localnet.h"
#include "util/hex.h"

namespace cl::node {
namespace {

namespace fs = std::filesystem;

std::string ReadLine(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

class NodeRestartTest : public ::testing::Test {
 protected:
  // A failed read answers -32603 "storage read failed (error id N)": the read's own message (with
  // the data directory's absolute path) goes to the node's log only, never to an unauthenticated
  // client (review finding 7).
  void ExpectStorageReadFailed(const std::string& answer) const {
    EXPECT_NE(answer.find("\"code\":-32603"), std::string::npos) << answer;
    EXPECT_NE(answer.find("\"message\":\"storage read failed (error id "), std::string::npos)
        << answer;
    EXPECT_EQ(answer.find(dir_.string()), std::string::npos) << answer;
    EXPECT_EQ(answer.find("injected fault"), std::string::npos) << answer;
  }

  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "node_restart_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    tools::LocalnetOptions options;
    options.dir = dir_;
    options.chain_id = "node-restart-test";
    options.observers = 0;
    ASSERT_TRUE(tools::InitLocalnet(options));
    for (const auto& entry : fs::directory_iterator(dir_))
      if (fs::exists(entry.path() / "config.toml")) homes_.push_back(entry.path());
    std::sort(homes_.begin(), homes_.end());
    ASSERT_EQ(homes_.size(), 4u);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::unique_ptr<Node> OpenAndStart(const fs::path& home, ledger::FaultEnv* env = nullptr) {
    auto config = LoadNodeConfig(home);
    EXPECT_TRUE(config.has_value());
    if (!config) return nullptr;
    config->storage_env = env;
    auto genesis = genesis::LoadGenesisFile(config->genesis_file.string());
    auto key = crypto::ReadKeystoreFile(config->key_file, ReadLine(config->passphrase_file));
    EXPECT_TRUE(genesis && key);
    if (!genesis || !key) return nullptr;
    auto node = Node::Open(*config, std::move(*genesis), std::move(*key));
    EXPECT_TRUE(node.has_value()) << (node ? "" : node.error().message);
    if (!node) return nullptr;
    auto started = (*node)->Start();
    EXPECT_TRUE(started.has_value()) << (started ? "" : started.error().message);
    if (!started) return nullptr;
    return std::move(*node);
  }

  // Starts every node, waits until bank-1 has committed `height`, and stops them all.
  void RunUntilHeight(uint64_t height) {
    std::vector<std::unique_ptr<Node>> nodes;
    for (const fs::path& home : homes_) {
      nodes.push_back(OpenAndStart(home));
      ASSERT_NE(nodes.back(), nullptr);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (nodes[0]->ledger().height() < height) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no blocks committed";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (auto& node : nodes)
      node->Stop();
  }

  static Bytes CertKey(uint64_t height) {
    Bytes key = ToBytes("bkE");
    AppendU64BE(key, height);
    return key;
  }

  // Edits bank-1's stopped store as if it had stopped before the certificates of `offsets` below
  // its consensus checkpoint (0 = the checkpoint itself) formed there: they leave its block store
  // (their bodies are returned by height), and with `checkpoint_back` its checkpoint moves that
  // many heights back. *checkpoint_height is the checkpoint before the edit.
  std::map<uint64_t, std::string> RemoveCertificates(std::vector<uint64_t> offsets,
                                                     uint64_t checkpoint_back,
                                                     uint64_t* checkpoint_height) {
    std::map<uint64_t, std::string> removed;
    auto config = LoadNodeConfig(homes_[0]);
    EXPECT_TRUE(config.has_value());
    if (!config) return removed;
    auto store = ledger::LevelDbStore::Open(config->data_dir, {});
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().message);
    if (!store) return removed;
    auto value = (*store)->Get(ToBytes("csC"));
    EXPECT_TRUE(value.has_value() && value->has_value()) << "no checkpoint in the consensus store";
    if (!value || !value->has_value()) return removed;
    consensus::pb::ExecutionCertificate cert;
    EXPECT_TRUE(cert.ParseFromString(ToString(**value)));
    auto fields = consensus::DecodeExecutionVoteBody(cert.body());
    EXPECT_TRUE(fields.has_value());
    if (!fields) return removed;
    *checkpoint_height = fields->height;
    EXPECT_GE(*checkpoint_height, 3u);
    ledger::WriteBatch batch;
    if (checkpoint_back > 0) {
      auto earlier = (*store)->Get(CertKey(*checkpoint_height - checkpoint_back));
      EXPECT_TRUE(earlier.has_value() && earlier->has_value());
      if (!earlier || !earlier->has_value()) return removed;
      batch.Put(ToBytes("csC"), **earlier);
    }
    for (uint64_t offset : offsets) {
      const uint64_t h = *checkpoint_height - offset;
      auto stored = (*store)->Get(CertKey(h));
      EXPECT_TRUE(stored.has_value() && stored->has_value()) << "height " << h;
      if (!stored || !stored->has_value()) return {};
      consensus::pb::ExecutionCertificate c;
      EXPECT_TRUE(c.ParseFromString(ToString(**stored)));
      removed[h] = c.body();
      batch.Delete(CertKey(h));
    }
    EXPECT_TRUE((*store)->Write(batch, /*sync=*/true).has_value());
    return removed;
  }

  // Restarts every node and waits (30 s at most) until bank-1 has committed `min_height` and
  // stores a certificate for each removed height; each must certify the removed body (what
  // bank-1 executed) with a quorum of 3.
  void ExpectCertificatesStoredAfterRestart(const std::map<uint64_t, std::string>& removed,
                                            uint64_t min_height) {
    std::vector<std::unique_ptr<Node>> nodes;
    for (const fs::path& home : homes_) {
      nodes.push_back(OpenAndStart(home));
      ASSERT_NE(nodes.back(), nullptr);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool all_stored = false;
    while (!all_stored && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (nodes[0]->ledger().height() < min_height) continue;
      all_stored = true;
      for (const auto& [h, body] : removed) {
        auto stored = nodes[0]->ledger().blocks().GetExecutionCertificate(h);
        ASSERT_TRUE(stored.has_value()) << stored.error().message;
        if (!stored->has_value()) all_stored = false;
      }
    }
    for (auto& node : nodes)
      node->Stop();
    std::string heights;
    for (const auto& [h, body] : removed)
      heights += " " + std::to_string(h);
    ASSERT_TRUE(all_stored) << "bank-1 lacks a certificate of one of the heights" << heights
                            << " after its restart";
    for (const auto& [h, body] : removed) {
      auto stored = nodes[0]->ledger().blocks().GetExecutionCertificate(h);
      ASSERT_TRUE(stored.has_value() && stored->has_value());
      consensus::pb::ExecutionCertificate cert;
      ASSERT_TRUE(cert.ParseFromString(ToString(**stored)));
      EXPECT_EQ(cert.body(), body) << "height " << h;
      EXPECT_GE(cert.signers_size(), 3) << "height " << h;
    }
  }

  // Runs the consortium until one transaction (an account creation, returned in `tx_id`) has
  // committed and the height is at least 3, stops it, and reopens bank-1 alone on `env`: its
  // blocks are then in table files, read (and failed by `env`) when asked for.
  std::unique_ptr<Node> CommitATxThenReopenAlone(ledger::FaultEnv* env, Hash32* tx_id,
                                                 Bytes* envelope_out = nullptr) {
    {
      std::vector<std::unique_ptr<Node>> nodes;
      for (const fs::path& home : homes_) {
        nodes.push_back(OpenAndStart(home));
        if (nodes.back() == nullptr) return nullptr;
      }
      const crypto::PrivateKey key = crypto::PrivateKey::Generate();
      const Bytes envelope =
          ledger::SignTransaction(testing::CreateAccountBody("node-restart-test", 1, 1'000, key),
                                  std::span<const crypto::PrivateKey>(&key, 1));
      const ByteSpan span(envelope);
      const std::vector<AdmitResult> admitted =
          nodes[0]->Submit(std::span<const ByteSpan>(&span, 1));
      if (admitted.size() != 1 || admitted[0].status != AdmitStatus::kAdmitted) {
        ADD_FAILURE() << "not admitted: " << (admitted.empty() ? "" : admitted[0].reason);
        return nullptr;
      }
      *tx_id = admitted[0].tx_id;
      if (envelope_out != nullptr) *envelope_out = envelope;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (true) {
        auto location = nodes[0]->ledger().blocks().FindTx(*tx_id);
        if (nodes[0]->ledger().height() >= 3 && location && location->has_value()) break;
        if (std::chrono::steady_clock::now() > deadline) {
          ADD_FAILURE() << "the transaction did not commit";
          return nullptr;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      for (auto& node : nodes)
        node->Stop();
    }
    return OpenAndStart(homes_[0], env);
  }

  // Runs the consortium to height 3, stops it, and deletes bank-1's execution certificate of its
  // consensus checkpoint from its block store (the stop between the two writes). With
  // `state_root`, the checkpoint certificate in the consensus store is rewritten to certify that
  // state root instead. Returns the checkpoint certificate as stored and its height.
  void CommitThenLoseTheCheckpointCertificate(std::string* checkpoint, uint64_t* height,
                                              const Hash32* state_root = nullptr) {
    {
      std::vector<std::unique_ptr<Node>> nodes;
      for (const fs::path& home : homes_) {
        nodes.push_back(OpenAndStart(home));
        ASSERT_NE(nodes.back(), nullptr);
      }
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (nodes[0]->ledger().height() < 3) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no blocks committed";
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      for (auto& node : nodes)
        node->Stop();
    }
    auto config = LoadNodeConfig(homes_[0]);
    ASSERT_TRUE(config.has_value());
    auto store = ledger::LevelDbStore::Open(config->data_dir, {});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    auto value = (*store)->Get(ToBytes("csC"));
    ASSERT_TRUE(value.has_value() && value->has_value()) << "no checkpoint in the consensus store";
    consensus::pb::ExecutionCertificate cert;
    ASSERT_TRUE(cert.ParseFromString(ToString(**value)));
    auto fields = consensus::DecodeExecutionVoteBody(cert.body());
    ASSERT_TRUE(fields.has_value());
    *height = fields->height;
    ASSERT_GT(*height, 0u);
    ledger::WriteBatch batch;
    if (state_root != nullptr) {
      cert.set_body(consensus::EncodeExecutionVoteBody(fields->height, fields->block_digest,
                                                       *state_root, fields->result_root));
      batch.Put(ToBytes("csC"), ToBytes(cert.SerializeAsString()));
    }
    *checkpoint = cert.SerializeAsString();
    Bytes key = ToBytes("bkE");
    AppendU64BE(key, *height);
    batch.Delete(key);
    ASSERT_TRUE((*store)->Write(batch, /*sync=*/true).has_value());
  }

  fs::path dir_;
  std::vector<fs::path> homes_;
};

// Epochs (docs/consensus.md): a validator restarted after it executed the block that scheduled a
// validator-set change, before that block's certificate was stored here, owes or signs again the
// execution vote it signed before, which names the change; without the change in it, the vote
// would differ from the others' and the certificate of that block would never be stored here.
TEST_F(NodeRestartTest, TheVoteForTheBlockThatScheduledASetChangeNamesTheChangeAfterARestart) {
  std::ifstream in(dir_ / "governance-keys.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  boost::json::value doc = boost::json::parse(text);
  std::vector<crypto::PrivateKey> governance;
  for (const auto& m : doc.at("members").as_array()) {
    std::string hex(m.at("governance_secret").as_string());
    Bytes secret;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      secret.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    governance.push_back(*crypto::PrivateKey::FromBytes(secret));
  }
  ASSERT_EQ(governance.size(), 4u);
  uint64_t scheduled_at = 0;
  {
    std::vector<std::unique_ptr<Node>> nodes;
    for (const fs::path& home : homes_) {
      nodes.push_back(OpenAndStart(home));
      ASSERT_NE(nodes.back(), nullptr);
    }
    ledger::pb::TxBody body;
    body.set_chain_id("node-restart-test");
    body.set_valid_until_height(1'000);
    auto* rotate = body.add_operations()->mutable_rotate_node_key();
    rotate->set_id(4);
    const crypto::PublicKey fresh = crypto::PrivateKey::Generate().GetPublicKey();
    rotate->set_node_key(std::string(fresh.bytes.begin(), fresh.bytes.end()));
    const Bytes envelope = ledger::SignTransaction(body, governance);
    const ByteSpan span(envelope);
    const std::vector<AdmitResult> admitted = nodes[0]->Submit(std::span<const ByteSpan>(&span, 1));
    ASSERT_EQ(admitted.size(), 1u);
    ASSERT_EQ(admitted[0].status, AdmitStatus::kAdmitted) << admitted[0].reason;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      auto location = nodes[0]->ledger().blocks().FindTx(admitted[0].tx_id);
      ASSERT_TRUE(location.has_value());
      if (location->has_value()) scheduled_at = (*location)->height();
      if (scheduled_at != 0 && nodes[0]->ledger().height() >= scheduled_at + 3) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the rotation did not commit";
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto scheduled = nodes[0]->ledger().ScheduledEpoch(1);
    ASSERT_TRUE(scheduled.has_value() && scheduled->has_value()) << "no change scheduled";
    ASSERT_EQ((*scheduled)->changed_height, scheduled_at);
    for (auto& node : nodes)
      node->Stop();
  }
  // Bank-1 loses the certificate of that block (as if it stopped before storing it).
  auto config = LoadNodeConfig(homes_[0]);
  ASSERT_TRUE(config.has_value());
  std::map<uint64_t, std::string> removed;
  {
    auto store = ledger::LevelDbStore::Open(config->data_dir, {});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    auto stored = (*store)->Get(CertKey(scheduled_at));
    ASSERT_TRUE(stored.has_value() && stored->has_value());
    consensus::pb::ExecutionCertificate cert;
    ASSERT_TRUE(cert.ParseFromString(ToString(**stored)));
    auto fields = consensus::DecodeExecutionVoteBody(cert.body());
    ASSERT_TRUE(fields.has_value() && fields->scheduled.has_value())
        << "the certificate does not name the change";
    removed[scheduled_at] = cert.body();
    ledger::WriteBatch batch;
    batch.Delete(CertKey(scheduled_at));
    ASSERT_TRUE((*store)->Write(batch, /*sync=*/true).has_value());
  }
  ExpectCertificatesStoredAfterRestart(removed, scheduled_at + 3);
}

TEST_F(NodeRestartTest, TheCheckpointCertificateMissingFromTheBlockStoreIsStoredAtStart) {
  std::string checkpoint;
  uint64_t height = 0;
  ASSERT_NO_FATAL_FAILURE(CommitThenLoseTheCheckpointCertificate(&checkpoint, &height));
  auto node = OpenAndStart(homes_[0]);
  ASSERT_NE(node, nullptr);
  auto stored = node->ledger().blocks().GetExecutionCertificate(height);
  node->Stop();
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  ASSERT_TRUE(stored->has_value()) << "block " << height << " has no execution certificate";
  EXPECT_EQ(ToString(**stored), checkpoint);
}

// A checkpoint certificate that certifies something other than what the node executed at its
// height is not copied into the block store (observers would be served a certificate that
// contradicts the block): the start is refused naming the chain database (review finding).
TEST_F(NodeRestartTest, ACheckpointCertificateThatContradictsTheExecutionRecordRefusesTheStart) {
  std::string checkpoint;
  uint64_t height = 0;
  Hash32 other_root;
  other_root.bytes.fill(0x5a);
  ASSERT_NO_FATAL_FAILURE(
      CommitThenLoseTheCheckpointCertificate(&checkpoint, &height, &other_root));
  auto config = LoadNodeConfig(homes_[0]);
  ASSERT_TRUE(config.has_value());
  auto genesis = genesis::LoadGenesisFile(config->genesis_file.string());
  auto key = crypto::ReadKeystoreFile(config->key_file, ReadLine(config->passphrase_file));
  ASSERT_TRUE(genesis && key);
  auto node = Node::Open(*config, std::move(*genesis), std::move(*key));
  ASSERT_TRUE(node.has_value()) << node.error().message;
  auto started = (*node)->Start();
  ASSERT_FALSE(started.has_value()) << "a contradicting checkpoint certificate was taken";
  EXPECT_NE(started.error().message.find("does not match the block's execution record"),
            std::string::npos)
      << started.error().message;
  EXPECT_NE(started.error().message.find(config->data_dir.string()), std::string::npos)
      << started.error().message;
  auto stored = (*node)->ledger().blocks().GetExecutionCertificate(height);
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  EXPECT_FALSE(stored->has_value()) << "the contradicting certificate was stored";
}

// Review finding: a validator stopped with executed heights above its consensus checkpoint whose
// certificates never formed there (their votes may never have gone out). At the restart only the
// last one's vote was signed again; when the checkpoint then passed the others they had no
// certificate in its block store for good, while the other validators had one. Now every executed
// height above the checkpoint without a certificate is re-voted, and the ones the checkpoint passes
// are fetched from peers: each ends with the certificate of what this node executed stored.
TEST_F(NodeRestartTest, ExecutedHeightsAboveTheCheckpointWithoutCertificatesGetThemAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(RunUntilHeight(5));
  // bank-1 as if it stopped before the certificates of its two checkpoint-most heights formed
  // there: its checkpoint goes back two heights and their certificates leave its block store.
  uint64_t checkpoint_height = 0;
  const auto removed = RemoveCertificates({1, 0}, /*checkpoint_back=*/2, &checkpoint_height);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(removed.size(), 2u);
  // The restarted node's checkpoint passes both heights (the others go on committing), and it must
  // then hold both certificates.
  ExpectCertificatesStoredAfterRestart(removed, checkpoint_height + 3);
}

// Review finding (owed certificates, 3): what a replica owes lives only in memory. Executed heights
// at or below the checkpoint whose certificate the block store lacks are handed to the replica at a
// restart, which owes them again and fetches their certificates from its peers.
TEST_F(NodeRestartTest, CertificatesMissingAtOrBelowTheCheckpointAreFetchedAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(RunUntilHeight(5));
  // bank-1 as if it stopped while owing the certificates of the two heights below its checkpoint.
  uint64_t checkpoint_height = 0;
  const auto removed = RemoveCertificates({2, 1}, /*checkpoint_back=*/0, &checkpoint_height);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(removed.size(), 2u);
  ExpectCertificatesStoredAfterRestart(removed, /*min_height=*/0);
}

// A read of the chain database that fails while answering get_block is the internal error "storage
// read failed" (it was "no block at that height", or an answer without the summary fields).
TEST_F(NodeRestartTest, GetBlockUnderAFailedReadAnswersTheInternalError) {
  ASSERT_NO_FATAL_FAILURE(RunUntilHeight(3));
  // Reopened (alone), its blocks are in a table file, read when asked for.
  ledger::FaultEnv env;
  auto node = OpenAndStart(homes_[0], &env);
  ASSERT_NE(node, nullptr);
  RpcDispatcher dispatcher;
  RegisterRpcMethods(dispatcher, *node);
  env.Arm(ledger::FaultKind::kReadError, 0, 0, ".ldb");
  RpcCallContext context;
  const std::string answer = dispatcher.HandleText(
      R"({"jsonrpc":"2.0","id":1,"method":"get_block","params":{"height":1}})", context);
  node->Stop();
  ASSERT_TRUE(env.fired()) << "the read did not reach a table file: " << answer;
  ExpectStorageReadFailed(answer);
}

// A tx subscription whose snapshot (the transaction's status) could not be read answered success,
// with no "current" and no notification: the client waited for a notification that may already
// have gone out. It is the internal error "storage read failed", and no subscription is kept.
TEST_F(NodeRestartTest, SubscribeToATxUnderAFailedReadAnswersTheInternalErrorAndKeepsNothing) {
  ledger::FaultEnv env;
  Hash32 tx_id;
  auto node = CommitATxThenReopenAlone(&env, &tx_id);
  ASSERT_NE(node, nullptr);
  RpcDispatcher dispatcher;
  RegisterRpcMethods(dispatcher, *node);
  std::vector<uint64_t> subscribed, unsubscribed, notified;
  RpcCallContext context;
  context.over_websocket = true;
  context.subscribe = [&](const std::string&) -> std::expected<uint64_t, RpcError> {
    subscribed.push_back(7);
    return 7;
  };
  context.unsubscribe = [&](uint64_t id) {
    unsubscribed.push_back(id);
    return true;
  };
  context.notify = [&](uint64_t id, const std::string&, json::value) { notified.push_back(id); };
  env.Arm(ledger::FaultKind::kReadError, 0, 0, ".ldb");
  const std::string answer = dispatcher.HandleText(
      R"({"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"tx","tx_id":")" +
          tx_id.ToHex() + R"("}})",
      context);
  node->Stop();
  ASSERT_TRUE(env.fired()) << "the read did not reach a table file: " << answer;
  ExpectStorageReadFailed(answer);
  EXPECT_EQ(subscribed, unsubscribed) << "a subscription was kept: " << answer;
  EXPECT_TRUE(notified.empty()) << answer;
}

// submit_tx of a transaction whose committed height cannot be read answers -32603 without the
// read's message (which names the data directory): the detail is in the log only (review finding
// 7).
TEST_F(NodeRestartTest, SubmitUnderAFailedReadAnswersStorageReadFailedWithoutPaths) {
  ledger::FaultEnv env;
  Hash32 tx_id;
  Bytes envelope;
  auto node = CommitATxThenReopenAlone(&env, &tx_id, &envelope);
  ASSERT_NE(node, nullptr);
  RpcDispatcher dispatcher;
  RegisterRpcMethods(dispatcher, *node);
  env.Arm(ledger::FaultKind::kReadError, 0, 0, ".ldb");
  RpcCallContext context;
  context.authorized_for_writes = true;
  const std::string answer =
      dispatcher.HandleText(R"({"jsonrpc":"2.0","id":1,"method":"submit_tx","params":{"tx":")" +
                                ToHex(envelope) + R"("}})",
                            context);
  node->Stop();
  ASSERT_TRUE(env.fired()) << "the read did not reach a table file: " << answer;
  ExpectStorageReadFailed(answer);
  EXPECT_NE(answer.find("\"status\":\"unavailable\""), std::string::npos) << answer;
}

// `status` under a failed read showed a zero state_root (the state database) or view 0 (the last
// block's commit certificate, in the chain database) as if they were true. Each is the internal
// error "storage read failed".
TEST_F(NodeRestartTest, StatusUnderAFailedReadAnswersTheInternalError) {
  ledger::FaultEnv env;
  Hash32 tx_id;
  auto node = CommitATxThenReopenAlone(&env, &tx_id);
  ASSERT_NE(node, nullptr);
  RpcDispatcher dispatcher;
  RegisterRpcMethods(dispatcher, *node);
  // "/state/": the state database's tables; "data/0": the chain database's (DIR/data/NNNNNN.ldb).
  for (const char* filter : {"/state/", "data/0"}) {
    SCOPED_TRACE(filter);
    env.Arm(ledger::FaultKind::kReadError, 0, 0, filter);
    RpcCallContext context;
    const std::string answer =
        dispatcher.HandleText(R"({"jsonrpc":"2.0","id":1,"method":"status","params":{}})", context);
    ASSERT_TRUE(env.fired()) << "the read did not reach a table file: " << answer;
    ExpectStorageReadFailed(answer);
  }
  // Once reads work again, the answer is whole.
  env.Arm(ledger::FaultKind::kNone, 0);
  RpcCallContext context;
  const std::string answer =
      dispatcher.HandleText(R"({"jsonrpc":"2.0","id":1,"method":"status","params":{}})", context);
  node->Stop();
  EXPECT_NE(answer.find("\"state_root\""), std::string::npos) << answer;
  EXPECT_EQ(answer.find("\"error\""), std::string::npos) << answer;
}

}  // namespace
}  // namespace cl::node
