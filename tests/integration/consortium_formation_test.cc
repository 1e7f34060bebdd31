// docs/operations.md, "Forming a consortium on several machines", followed with the real ledgerctl
// and ledgerd: five directories stand in for five machines (4 banks that validate, 1 partner that
// observes). Each member runs `member init` in its own directory; a coordinator directory that
// receives only copies of the member.json files assembles genesis from them and the docs' own
// consortium.toml; each founder inspects its copy of genesis and all hashes agree; each member runs
// `node init` from its own directory plus the distributed genesis and peers file; the five nodes
// start, report that genesis hash, and a transfer submitted with `ledgerctl tx transfer --key
// governance.key` commits on every node with the same state root.
//
// No step reads another member's directory: while a member (or the coordinator) runs a command,
// every other member's machine directory is renamed away, so a command that reached into one would
// fail.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "tests/integration/harness.h"
#include "tools/localnet.h"
#include "util/hex.h"

#ifndef LEDGERCTL_PATH
#error "LEDGERCTL_PATH must name the ledgerctl binary (tests/integration/CMakeLists.txt)"
#endif

namespace cl::integration {
namespace {

constexpr uint32_t kCommandTimeoutMs = 60'000;  // one ledgerctl run (scrypt at full cost included)
constexpr char kTreasury[] = "0a000000000000000000000000000001";
constexpr char kIssuerAccount[] = "ff000000000000000000000000000001";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A passphrase file as the docs make it (umask 077): ledgerctl warns about one others may read.
void WritePassphraseFile(const fs::path& path, const std::string& text) {
  WriteFile(path, text);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs ledgerctl with `args` in `cwd` (stdin /dev/null), bounded by kCommandTimeoutMs.
CommandResult RunLedgerctl(const fs::path& cwd, const std::vector<std::string>& args) {
  const std::string binary = LEDGERCTL_PATH;
  std::vector<char*> argv{const_cast<char*>(binary.c_str())};
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string out_file = (cwd / ".ledgerctl.out").string();
  const std::string err_file = (cwd / ".ledgerctl.err").string();
  const std::string dir = cwd.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::close_range(3, ~0U, 0);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  CommandResult r;
  if (pid < 0) return r;
  int status = 0;
  bool exited = WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                          kCommandTimeoutMs, "ledgerctl exits");
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  r.exit_code = exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(out_file);
  r.err = ReadFile(err_file);
  fs::remove(out_file);
  fs::remove(err_file);
  return r;
}

::testing::AssertionResult Succeeded(const CommandResult& r, const std::string& what) {
  if (r.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": exit " << r.exit_code << ", stderr: " << r.err;
}

// The consortium.toml the docs show, taken from the docs so the example is the one that works.
std::string DocsParams(const std::string& docs) {
  const std::string start = "```toml\n# consortium.toml\n";
  const size_t from = docs.find(start);
  if (from == std::string::npos) return "";
  const size_t body = from + std::string("```toml\n").size();
  const size_t end = docs.find("```", body);
  return docs.substr(body, end - body);
}

// One member's machine: a directory of its own.
struct Machine {
  std::string name;
  std::string slug;   // bank-a
  std::string roles;  // as for member init --roles
  fs::path dir;       // root/<slug>: /srv/ledger in the docs
  uint16_t p2p = 0, rpc = 0;
};

// Renames every machine directory but `keep` away for the life of the guard (keep = -1: all).
class OthersAway {
 public:
  OthersAway(const std::vector<Machine>& machines, int keep) {
    for (int i = 0; i < static_cast<int>(machines.size()); ++i) {
      if (i == keep) continue;
      const fs::path away = machines[i].dir.string() + ".away";
      fs::rename(machines[i].dir, away);
      moved_.emplace_back(away, machines[i].dir);
    }
  }
  ~OthersAway() {
    for (const auto& [away, back] : moved_)
      fs::rename(away, back);
  }

 private:
  std::vector<std::pair<fs::path, fs::path>> moved_;
};

TEST(ConsortiumFormation, MembersFormAConsortiumFromPublicDescriptorsFollowingTheDocs) {
  const fs::path repo = fs::path(LEDGER_VECTORS_DIR).parent_path().parent_path();
  const std::string docs = ReadFile(repo / "docs" / "operations.md");
  const std::string params = DocsParams(docs);
  ASSERT_FALSE(params.empty()) << "docs/operations.md: no ```toml block '# consortium.toml'";
  for (const char* command :
       {"ledgerctl member init --name \"Bank A\" --roles validator,issuer --dir /srv/ledger/member",
        "ledgerctl genesis assemble --members bank-a.json bank-b.json bank-c.json bank-d.json "
        "partner-e.json \\\n  --params consortium.toml --out genesis.json --peers-out peers.toml",
        "ledgerctl genesis inspect genesis.json",
        "ledgerctl node init --home /srv/ledger/node --member-dir /srv/ledger/member --genesis "
        "genesis.json \\\n  --peers peers.toml --passphrase-file /srv/ledger/passphrase "
        "--rpc-listen 127.0.0.1:8545",
        "--key /srv/ledger/member/governance.key --passphrase-file /srv/ledger/passphrase"})
    ASSERT_NE(docs.find(command), std::string::npos) << "docs/operations.md lost: " << command;

  auto created = Cluster::CreateEmpty("eurobank-net");
  IT_ASSERT_OK(created);
  Cluster& cluster = **created;
  const fs::path root = cluster.dir();
  std::vector<Machine> machines;
  for (const auto& [name, slug, roles] :
       {std::tuple{"Bank A", "bank-a", "validator,issuer"},
        std::tuple{"Bank B", "bank-b", "validator"}, std::tuple{"Bank C", "bank-c", "validator"},
        std::tuple{"Bank D", "bank-d", "validator"},
        std::tuple{"Partner E", "partner-e", "observer"}}) {
    Machine m;
    m.name = name;
    m.slug = slug;
    m.roles = roles;
    machines.push_back(m);
  }
  std::set<uint16_t> taken;
  for (Machine& m : machines) {
    m.dir = root / m.slug;
    fs::create_directories(m.dir);
    auto p2p = tools::FreePort("127.0.0.1", taken);
    auto rpc = tools::FreePort("127.0.0.1", taken);
    IT_ASSERT_OK(p2p);
    IT_ASSERT_OK(rpc);
    m.p2p = *p2p;
    m.rpc = *rpc;
  }

  // 1. Each member, on its own machine: keys and descriptor.
  for (int i = 0; i < static_cast<int>(machines.size()); ++i) {
    const Machine& m = machines[i];
    OthersAway away(machines, i);
    WritePassphraseFile(m.dir / "passphrase", "a long passphrase of " + m.name + "\n");
    auto r = RunLedgerctl(m.dir, {"member", "init", "--name", m.name, "--roles", m.roles, "--dir",
                                  "member", "--p2p-address", "127.0.0.1:" + std::to_string(m.p2p),
                                  "--passphrase-file", "passphrase"});
    ASSERT_TRUE(Succeeded(r, m.name + ": member init"));
    EXPECT_EQ(r.out, ReadFile(m.dir / "member" / "member.json"));
  }

  // The descriptor the docs show has the fields, in the order, that member init writes.
  {
    const size_t example = docs.find("```json\n{\n  \"format\": 1,");
    ASSERT_NE(example, std::string::npos) << "docs/operations.md: no member.json example";
    const size_t body = example + 8;
    boost::system::error_code ec;
    json::value documented = json::parse(docs.substr(body, docs.find("```", body) - body), ec);
    ASSERT_FALSE(ec) << "docs/operations.md: the member.json example is not JSON";
    json::value written = json::parse(ReadFile(machines[0].dir / "member" / "member.json"));
    std::vector<std::string> documented_keys, written_keys;
    for (const auto& kv : documented.as_object())
      documented_keys.emplace_back(kv.key());
    for (const auto& kv : written.as_object())
      written_keys.emplace_back(kv.key());
    EXPECT_EQ(documented_keys, written_keys);
    EXPECT_EQ(documented.at("roles"), written.at("roles"));
  }

  // 2. The coordinator: only the descriptors reach it.
  const fs::path coordinator = root / "coordinator";
  fs::create_directories(coordinator);
  std::vector<std::string> assemble = {"genesis", "assemble", "--members"};
  for (const Machine& m : machines) {
    fs::copy_file(m.dir / "member" / "member.json", coordinator / (m.slug + ".json"));
    assemble.push_back(m.slug + ".json");
  }
  WriteFile(coordinator / "consortium.toml", params);
  for (const char* more :
       {"--params", "consortium.toml", "--out", "genesis.json", "--peers-out", "peers.toml"})
    assemble.push_back(more);
  std::string assembled_hash;
  {
    OthersAway away(machines, -1);
    auto r = RunLedgerctl(coordinator, assemble);
    ASSERT_TRUE(Succeeded(r, "genesis assemble"));
    boost::system::error_code ec;
    json::value out = json::parse(r.out, ec);
    ASSERT_FALSE(ec) << r.out;
    assembled_hash = std::string(out.at("genesis_hash").as_string());
    EXPECT_EQ(out.at("validators").as_int64(), 4);
  }

  // 3. Every founder inspects its own copy; the hashes read out of band agree.
  for (int i = 0; i < static_cast<int>(machines.size()); ++i) {
    const Machine& m = machines[i];
    fs::copy_file(coordinator / "genesis.json", m.dir / "genesis.json");
    fs::copy_file(coordinator / "peers.toml", m.dir / "peers.toml");
    OthersAway away(machines, i);
    auto r = RunLedgerctl(m.dir, {"genesis", "inspect", "genesis.json"});
    ASSERT_TRUE(Succeeded(r, m.name + ": genesis inspect"));
    EXPECT_NE(r.out.find("genesis hash          " + assembled_hash + "\n"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("validator set (4 validators; tolerates f = 1; quorum 3)"),
              std::string::npos);
    // Its own entry shows the keys of its own descriptor.
    const std::string own = ReadFile(m.dir / "member" / "member.json");
    const size_t key_at = own.find("\"node_key\": \"") + 13;
    EXPECT_NE(r.out.find("node key    " + own.substr(key_at, 66)), std::string::npos) << m.name;
  }

  // 4. Each member: the node's home, from its own directory and the distributed files.
  for (int i = 0; i < static_cast<int>(machines.size()); ++i) {
    const Machine& m = machines[i];
    OthersAway away(machines, i);
    auto r = RunLedgerctl(
        m.dir, {"node", "init", "--home", "node", "--member-dir", "member", "--genesis",
                "genesis.json", "--peers", "peers.toml", "--passphrase-file", "passphrase",
                "--rpc-listen", "127.0.0.1:" + std::to_string(m.rpc)});
    ASSERT_TRUE(Succeeded(r, m.name + ": node init"));
  }

  // 5. Start the five nodes: each reports the genesis hash the founders compared.
  std::vector<size_t> all;
  for (size_t i = 0; i < machines.size(); ++i) {
    Member member;
    member.member_id = static_cast<uint32_t>(i + 1);
    member.name = machines[i].name;
    member.slug = machines[i].slug;
    member.home = machines[i].dir / "node";
    member.validator = machines[i].roles != "observer";
    member.p2p = "127.0.0.1:" + std::to_string(machines[i].p2p);
    member.rpc.host = "127.0.0.1";
    member.rpc.port = machines[i].rpc;
    all.push_back(cluster.AddMember(std::move(member)));
  }
  IT_ASSERT_OK(cluster.StartAll());
  for (size_t i : all) {
    auto status = cluster.GetStatus(i);
    IT_ASSERT_OK(status);
    EXPECT_EQ(status->at("genesis_hash").as_string(), assembled_hash) << machines[i].name;
    EXPECT_EQ(status->at("role").as_string(), i < 4 ? "validator" : "observer");
  }
  ASSERT_TRUE(WaitPeers(cluster, all, 4));

  // A first transaction, as the docs show it: Bank A issues into its treasury with its
  // governance key, through its own node.
  const Machine& bank_a = machines[0];
  auto r = RunLedgerctl(
      bank_a.dir,
      {"tx", "transfer", "--debit", kIssuerAccount, "--credit", kTreasury, "--amount", "100000",
       "--key", "member/governance.key", "--passphrase-file", "passphrase", "--rpc",
       "http://127.0.0.1:" + std::to_string(bank_a.rpc), "--submit", "--wait"});
  ASSERT_TRUE(Succeeded(r, "tx transfer"));
  boost::system::error_code ec;
  json::value receipt = json::parse(r.out, ec);
  ASSERT_FALSE(ec) << r.out;
  const uint64_t height = receipt.at("height").to_number<uint64_t>();
  const std::string tx_id(receipt.at("tx_id").as_string());
  ASSERT_TRUE(WaitHeight(cluster, all, height));
  for (size_t i : all) {
    ASSERT_TRUE(WaitCommitted(cluster, i, {tx_id})) << machines[i].name;
    auto balance = Balance(cluster, i, *FromHex(kTreasury), height);
    IT_ASSERT_OK(balance);
    EXPECT_EQ(*balance, "100000") << machines[i].name;
  }
  ASSERT_TRUE(SameChain(cluster, all, 1, height));
}

// Every refusal of the three commands, through the real binary: one line on stderr naming what is
// wrong, and a non-zero exit.
::testing::AssertionResult RefusedWithOneLine(const CommandResult& r, const std::string& expected) {
  const std::string prefix = "ledgerctl: ";
  if (r.exit_code == 0) return ::testing::AssertionFailure() << "accepted: " << r.out;
  if (r.exit_code < 0) return ::testing::AssertionFailure() << "did not exit: " << r.err;
  if (!r.err.starts_with(prefix) || !r.err.ends_with("\n") ||
      std::count(r.err.begin(), r.err.end(), '\n') != 1)
    return ::testing::AssertionFailure() << "not one line: " << r.err;
  if (r.err.find(expected) == std::string::npos)
    return ::testing::AssertionFailure() << "'" << expected << "' not in: " << r.err;
  return ::testing::AssertionSuccess();
}

TEST(ConsortiumFormation, EveryRefusalIsOneLineOnStderrAndANonZeroExit) {
  auto created = Cluster::CreateEmpty("refusals");
  IT_ASSERT_OK(created);
  const fs::path root = (**created).dir();
  WritePassphraseFile(root / "passphrase", "a long passphrase\n");
  const std::vector<std::string> names = {"A", "B", "C", "D", "E"};
  for (size_t i = 0; i < names.size(); ++i) {
    auto r = RunLedgerctl(
        root, {"member", "init", "--name", "Bank " + names[i], "--roles",
               i == 0  ? "validator,issuer"
               : i < 4 ? "validator"
                       : "observer",
               "--dir", names[i], "--p2p-address", "127.0.0.1:" + std::to_string(26001 + i),
               "--passphrase-file", "passphrase"});
    ASSERT_TRUE(Succeeded(r, "member init " + names[i]));
    fs::copy_file(root / names[i] / "member.json", root / (names[i] + ".json"));
  }
  const std::string params =
      "chain_id = \"refusals\"\ngenesis_time = 2026-12-07T17:00:00Z\n"
      "governance_threshold = 3\n";
  WriteFile(root / "consortium.toml", params);
  auto assemble = [&](std::vector<std::string> members, const std::string& params_file) {
    std::vector<std::string> args = {"genesis", "assemble", "--members"};
    args.insert(args.end(), members.begin(), members.end());
    for (const char* more :
         {"--params", params_file.c_str(), "--out", "genesis.json", "--peers-out", "peers.toml"})
      args.push_back(more);
    return RunLedgerctl(root, args);
  };

  // member init
  EXPECT_TRUE(RefusedWithOneLine(
      RunLedgerctl(root,
                   {"member", "init", "--name", "Bank A", "--roles", "validator", "--dir", "A",
                    "--p2p-address", "127.0.0.1:26001", "--passphrase-file", "passphrase"}),
      "A: exists and is not empty; choose a new directory"));
  EXPECT_TRUE(RefusedWithOneLine(
      RunLedgerctl(root, {"member", "init", "--name", "Bank F", "--roles", "validator", "--dir",
                          "F", "--p2p-address", "127.0.0.1:26006"}),
      "stdin is not a terminal: give the passphrase with --passphrase-file FILE"));
  EXPECT_FALSE(fs::exists(root / "F"));

  // genesis assemble
  WriteFile(root / "bad-key.json",
            std::regex_replace(ReadFile(root / "E.json"), std::regex("\"node_key\": \"[0-9a-f]+\""),
                               "\"node_key\": \"02abcd\""));
  EXPECT_TRUE(RefusedWithOneLine(
      assemble({"A.json", "B.json", "C.json", "D.json", "bad-key.json"}, "consortium.toml"),
      "bad-key.json: node_key: not a 33-byte compressed secp256k1 public key in hex"));
  // Text from a descriptor reaches the terminal escaped: no ESC, no second line (finding 5).
  WriteFile(root / "evil.json",
            std::regex_replace(ReadFile(root / "E.json"), std::regex("\"p2p_address\": \"[^\"]+\""),
                               R"("p2p_address": "\u001b]0;pwned\u0007 10.0.0.4 \n:26656")"));
  const CommandResult evil =
      assemble({"A.json", "B.json", "C.json", "D.json", "evil.json"}, "consortium.toml");
  EXPECT_TRUE(RefusedWithOneLine(evil,
                                 "evil.json: p2p_address: the host must be an IP address or "
                                 "a DNS name (letters, digits, hyphens, dots), got "
                                 "'\\u001b]0;pwned\\u0007 10.0.0.4 \\u000a:26656'"));
  EXPECT_EQ(evil.err.find('\x1b'), std::string::npos) << evil.err;
  EXPECT_TRUE(RefusedWithOneLine(
      assemble({"A.json", "B.json", "C.json", "D.json", "A.json"}, "consortium.toml"),
      "A.json: name: 'Bank A' is also the name in A.json"));
  EXPECT_TRUE(
      RefusedWithOneLine(assemble({"A.json", "B.json", "C.json", "E.json"}, "consortium.toml"),
                         "--members: 3 validators (Bank A, Bank B, Bank C) among 4 members"));
  WriteFile(root / "typo.toml", params + "[consensus]\nblock_interval = 200\n");
  EXPECT_TRUE(RefusedWithOneLine(assemble({"A.json", "B.json", "C.json", "D.json"}, "typo.toml"),
                                 "typo.toml: consensus.block_interval: unknown field"));
  EXPECT_TRUE(RefusedWithOneLine(
      assemble({"A.json", "B.json", "C.json", "D.json", "nobody.json"}, "consortium.toml"),
      "nobody.json: no such file"));
  EXPECT_TRUE(RefusedWithOneLine(assemble({"A.json", "B.json", "C.json", "D.json"}, "none.toml"),
                                 "none.toml: no such file"));
  EXPECT_FALSE(fs::exists(root / "genesis.json"));
  EXPECT_TRUE(RefusedWithOneLine(RunLedgerctl(root, {"genesis", "inspect", "nothing.json"}),
                                 "nothing.json: no such file"));

  // node init: Bank A's directory holding Bank B's node key; a wrong passphrase.
  ASSERT_TRUE(Succeeded(
      assemble({"A.json", "B.json", "C.json", "D.json", "E.json"}, "consortium.toml"), "assemble"));
  auto node_init = [&](const std::string& member_dir, const std::string& passphrase_file) {
    return RunLedgerctl(
        root, {"node", "init", "--home", "home", "--member-dir", member_dir, "--genesis",
               "genesis.json", "--peers", "peers.toml", "--passphrase-file", passphrase_file});
  };
  WritePassphraseFile(root / "wrong", "not the passphrase\n");
  EXPECT_TRUE(RefusedWithOneLine(node_init("A", "wrong"),
                                 "A/node.key: wrong passphrase or corrupted key file"));
  fs::copy_file(root / "B" / "node.key", root / "A" / "node.key",
                fs::copy_options::overwrite_existing);
  EXPECT_TRUE(RefusedWithOneLine(node_init("A", "passphrase"), "A/node.key: holds node key "));
  EXPECT_TRUE(RefusedWithOneLine(node_init("A", "passphrase"), "but genesis.json gives 'Bank A'"));
  EXPECT_FALSE(fs::exists(root / "home"));
  ASSERT_TRUE(Succeeded(node_init("B", "passphrase"), "node init B"));
}

}  // namespace
}  // namespace cl::integration
