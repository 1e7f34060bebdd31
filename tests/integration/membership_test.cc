// A process whose node key is not in the consortium's genesis cannot join: the validators never
// count it as a peer, it receives no blocks (commits nothing), and transactions submitted to it
// never reach the consortium. Two intruders:
//   - "impostor": a copy of the partner's home with a freshly generated node key and a genesis
//   edited
//     to name that key, so it knows every real validator's address and key and dials them; only the
//     validators' membership check can keep it out;
//   - "stranger": a validator of a second local consortium with the same chain id, pointed at the
//     first consortium's validators.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "crypto/keystore.h"
#include "node/config.h"
#include "tests/integration/harness.h"
#include "util/hex.h"

namespace cl::integration {
namespace {

constexpr uint32_t kObserveMs = 4'000;  // how long the intruders get to try

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The partner's home copied to `home`, with a fresh node key (same passphrase) and a genesis naming
// that key for the partner. Returns the member to add to the cluster.
Result<Member> MakeImpostor(const Cluster& c, size_t partner, const fs::path& home) {
  const Member& original = c.member(partner);
  std::error_code ec;
  fs::create_directories(home, ec);
  if (ec) return MakeError(ErrorCode::kIoError, home.string() + ": " + ec.message());
  for (const char* file : {"config.toml", "passphrase"}) {
    fs::copy_file(original.home / file, home / file, fs::copy_options::overwrite_existing, ec);
    if (ec) return MakeError(ErrorCode::kIoError, std::string(file) + ": " + ec.message());
  }
  crypto::PrivateKey fresh = crypto::PrivateKey::Generate();
  std::string passphrase = Slurp(home / "passphrase");
  while (!passphrase.empty() && (passphrase.back() == '\n' || passphrase.back() == '\r'))
    passphrase.pop_back();
  crypto::KeystoreWriteOptions options;
  options.scrypt.n = 1 << 12;
  LEDGER_TRY(crypto::WriteKeystoreFile(home / "node.key", fresh, passphrase, options));

  boost::system::error_code jec;
  json::value genesis = json::parse(Slurp(original.home / "genesis.json"), jec);
  if (jec) return MakeError(ErrorCode::kInvalidArgument, "genesis.json: " + jec.message());
  bool replaced = false;
  for (json::value& m : genesis.at("members").as_array()) {
    if (m.at("name").as_string() != original.name) continue;
    m.as_object()["node_key"] = fresh.GetPublicKey().ToHex();
    replaced = true;
  }
  if (!replaced) return MakeError(ErrorCode::kNotFound, "partner not in genesis");
  WriteText(home / "genesis.json", json::serialize(genesis));

  Member m = original;
  m.name = original.name + " (impostor)";
  m.slug = original.slug + "-impostor";
  m.home = home;
  m.starts = 0;
  return m;
}

// Points member i of `stranger_net` at the validators of `target` (by member name) instead of its
// own consortium's.
Status AimAt(const Cluster& stranger_net, size_t i, const Cluster& target) {
  auto config = node::LoadNodeConfig(stranger_net.member(i).home);
  if (!config) return std::unexpected(config.error());
  for (node::PeerConfig& peer : config->peers) {
    for (size_t t : target.validators()) {
      if (target.member(t).name != peer.member) continue;
      auto address = node::ParseHostPort(target.member(t).p2p);
      if (!address) return std::unexpected(address.error());
      peer.address = *address;
    }
  }
  WriteText(stranger_net.member(i).home / "config.toml", node::RenderNodeConfig(*config));
  return OkStatus();
}

TEST(Membership, ProcessWithKeyOutsideTheMembershipCannotConnect) {
  auto created = Cluster::Create({.validators = 4, .observers = 1});
  IT_ASSERT_OK(created);
  Cluster& c = **created;
  const std::vector<size_t> validators = c.validators();
  const size_t partner = c.observers().at(0);
  for (size_t v : validators)
    IT_ASSERT_OK(c.Start(v));
  ASSERT_TRUE(WaitPeers(c, validators, 3));

  auto impostor_member = MakeImpostor(c, partner, c.dir() / "impostor");
  IT_ASSERT_OK(impostor_member);
  const size_t impostor = c.AddMember(std::move(*impostor_member));
  IT_ASSERT_OK(c.Start(impostor));

  auto other = Cluster::Create({.validators = 4, .observers = 0, .chain_id = c.chain_id()});
  IT_ASSERT_OK(other);
  Cluster& b = **other;
  const size_t stranger = b.validators().at(1);
  IT_ASSERT_OK(AimAt(b, stranger, c));
  IT_ASSERT_OK(b.Start(stranger));

  // The consortium keeps working meanwhile; a transaction given to the impostor (valid for the
  // consortium: signed by a real bank's governance key) must never reach it.
  TxFactory f(c.chain_id());
  const Member& bank = c.member(validators[0]);
  SignedTx smuggled = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 7);
  IT_ASSERT_OK(Submit(c, impostor, smuggled));

  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(kObserveMs)) {
    for (size_t v : validators)
      ASSERT_EQ(PeersOf(c, v), 3) << c.member(v).name << " counts an intruder as a peer";
    EXPECT_EQ(PeersOf(c, impostor), 0);
    EXPECT_EQ(PeersOf(b, stranger), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(c.Running(impostor)) << c.LogTail(impostor, 10);
  ASSERT_TRUE(b.Running(stranger)) << b.LogTail(stranger, 10);

  SignedTx honest = f.OpenAndFund({TxFactory::NewWallet(bank.member_id)}, bank.governance, 7);
  IT_ASSERT_OK(Submit(c, validators[1], honest));
  for (size_t v : validators)
    EXPECT_TRUE(WaitCommitted(c, v, {honest.tx_id})) << c.member(v).name;
  const uint64_t consortium_height = HeightOf(c, validators[0]);
  EXPECT_GT(consortium_height, 0u);

  // Nothing reached the intruders, and nothing came from them.
  EXPECT_EQ(HeightOf(c, impostor), 0u) << "the impostor committed blocks";
  EXPECT_EQ(HeightOf(b, stranger), 0u) << "the stranger committed blocks";
  for (size_t v : validators) {
    auto states = GetTxs(c, v, {smuggled.tx_id});
    IT_ASSERT_OK(states);
    EXPECT_EQ((*states)[0].status, "unknown")
        << "the impostor's transaction reached " << c.member(v).name;
  }
  for (size_t v : validators)
    EXPECT_EQ(PeersOf(c, v), 3) << c.member(v).name;
}

}  // namespace
}  // namespace cl::integration
