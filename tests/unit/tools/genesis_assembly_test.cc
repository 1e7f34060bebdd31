// `ledgerctl genesis assemble` and `genesis inspect` (tools/genesis_assembly.h,
// tools/genesis_inspect.h): a genesis assembled from descriptors and a params file is one the node
// loads, the same inputs give the same bytes, and every refusal is one line naming the input file
// and field it comes from.
#include "tools/genesis_assembly.h"

#include <gtest/gtest.h>

#include "crypto/sha256.h"
#include "genesis/genesis.h"
#include "tests/unit/tools/consortium_fixture.h"
#include "tools/genesis_inspect.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;

using testing::kParams;
using testing::MakeMembers;
using testing::Members;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

ConsortiumParams Params(const std::string& text = kParams) {
  auto p = ParseConsortiumParams(text, "consortium.toml");
  EXPECT_TRUE(p.has_value()) << p.error().message;
  return p.value_or(ConsortiumParams{});
}

std::string ParamsError(const std::string& text) {
  auto p = ParseConsortiumParams(text, "consortium.toml");
  return p ? std::string("(accepted)") : p.error().message;
}

std::string AssemblyError(const std::vector<DescriptorFile>& members,
                          const std::string& params_text = kParams) {
  auto params = ParseConsortiumParams(params_text, "consortium.toml");
  if (!params) return "params: " + params.error().message;
  auto g = AssembleGenesis(members, *params, "consortium.toml");
  return g ? std::string("(accepted)") : g.error().message;
}

// The params with `from` replaced by `to` (which must occur).
std::string Edited(const std::string& from, const std::string& to) {
  std::string text = kParams;
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

class GenesisAssembly : public ::testing::Test {
 protected:
  void SetUp() override { members_ = MakeMembers(tmp_.path(), 4, 1); }
  TempDir tmp_;
  Members members_;
};

TEST_F(GenesisAssembly, TheNodeLoadsTheAssembledGenesis) {
  auto text = AssembleGenesis(members_.descriptors, Params(), "consortium.toml");
  ASSERT_TRUE(text.has_value()) << text.error().message;
  auto g = genesis::LoadGenesis(*text);
  ASSERT_TRUE(g.has_value()) << g.error().message;
  EXPECT_EQ(g->chain_id, "test-net");
  EXPECT_EQ(g->genesis_time_ms, 1'796'662'800'000u);  // 2026-12-07T17:00:00Z
  EXPECT_EQ(g->state.governance_threshold, 3u);
  EXPECT_EQ(g->consensus.block_interval_ms, 200u);
  EXPECT_EQ(g->consensus.max_block_txs, genesis::ConsensusParams{}.max_block_txs);
  EXPECT_EQ(g->hash, crypto::TaggedHash(crypto::Domain::kGenesis, AsSpan(*text)));
  ASSERT_EQ(g->state.members.size(), 5u);
  ASSERT_EQ(g->validators.size(), 4u);
  for (size_t i = 0; i < 5; ++i) {
    const MemberDescriptor& d = members_.descriptors[i].descriptor;
    const auto& m = g->state.members[i];
    EXPECT_EQ(m.id(), i + 1);  // ids follow the order of --members
    EXPECT_EQ(m.name(), d.name);
    EXPECT_EQ(ToHex(AsSpan(m.node_key())), d.node_key.ToHex());
    ASSERT_EQ(m.governance().keys_size(), 1);
    EXPECT_EQ(ToHex(AsSpan(m.governance().keys(0))), d.governance_keys[0].ToHex());
    if (i < 4) {
      EXPECT_EQ(g->validators[i].node_key, d.node_key);
    }
  }
  // controller = "governance" is the custodian's governance controller.
  ASSERT_EQ(g->state.accounts.size(), 2u);
  EXPECT_EQ(ToHex(AsSpan(g->state.accounts[0].record.controller().keys(0))),
            members_.descriptors[0].descriptor.governance_keys[0].ToHex());
  EXPECT_EQ(g->state.accounts[1].record.max_per_transfer(), 500u);
  // Same inputs, same bytes: any founder can re-assemble and compare.
  EXPECT_EQ(*AssembleGenesis(members_.descriptors, Params(), "consortium.toml"), *text);
}

TEST_F(GenesisAssembly, FilesAreAssembledIntoGenesisAndPeers) {
  AssembleFilesOptions o;
  for (const DescriptorFile& m : members_.descriptors)
    o.member_files.push_back(m.file);
  o.params_file = tmp_.path() / "consortium.toml";
  o.out = tmp_.path() / "genesis.json";
  o.peers_out = tmp_.path() / "peers.toml";
  WriteFile(o.params_file, kParams);
  auto g = AssembleGenesisFiles(o);
  ASSERT_TRUE(g.has_value()) << g.error().message;
  auto loaded = genesis::LoadGenesisFile(o.out.string());
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->hash, g->hash);
  EXPECT_NE(ReadFile(o.peers_out).find("member = 'Partner 1'\naddress = '127.0.0.1:26005'"),
            std::string::npos);
  // An existing output is never overwritten.
  auto again = AssembleGenesisFiles(o);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, o.out.string() + ": exists; remove it or choose another path");
}

// Outputs are written whole or not at all (review finding 4): a --peers-out that cannot be
// written leaves no genesis.json behind (a rerun then refused "exists"), the two outputs cannot be
// one file, and an --out that is a dangling symlink is refused rather than written through.
class GenesisAssemblyFiles : public GenesisAssembly {
 protected:
  AssembleFilesOptions Options() {
    AssembleFilesOptions o;
    for (const DescriptorFile& m : members_.descriptors)
      o.member_files.push_back(m.file);
    o.params_file = tmp_.path() / "consortium.toml";
    o.out = tmp_.path() / "genesis.json";
    o.peers_out = tmp_.path() / "peers.toml";
    WriteFile(o.params_file, kParams);
    return o;
  }
  std::string Refusal(const AssembleFilesOptions& o) {
    auto g = AssembleGenesisFiles(o);
    return g ? std::string("(accepted)") : g.error().message;
  }
  // Nothing but the inputs in the directory: no output, no temporary file.
  void ExpectOnlyInputs() {
    for (const auto& entry : fs::directory_iterator(tmp_.path())) {
      const std::string name = entry.path().filename().string();
      EXPECT_TRUE(name == "consortium.toml" || name == "coordinator" || name.starts_with("bank-") ||
                  name.starts_with("partner-"))
          << "left behind: " << name;
    }
  }
};

TEST_F(GenesisAssemblyFiles, APeersFileThatCannotBeWrittenLeavesNoGenesis) {
  AssembleFilesOptions o = Options();
  o.peers_out = tmp_.path() / "missing-dir" / "peers.toml";
  EXPECT_NE(Refusal(o), "(accepted)");
  EXPECT_FALSE(fs::exists(o.out));
  ExpectOnlyInputs();
  o.peers_out = tmp_.path() / "peers.toml";  // the rerun is not refused for a leftover
  EXPECT_EQ(Refusal(o), "(accepted)");
}

TEST_F(GenesisAssemblyFiles, RefusesOneFileForBothOutputs) {
  AssembleFilesOptions o = Options();
  o.peers_out = o.out;
  EXPECT_EQ(Refusal(o), "--peers-out: " + o.out.string() + " is also --out; give two files");
  o.peers_out = tmp_.path() / "coordinator" / ".." / "genesis.json";
  EXPECT_EQ(Refusal(o), "--peers-out: " + o.peers_out.string() + " is also --out; give two files");
  ExpectOnlyInputs();
}

TEST_F(GenesisAssemblyFiles, RefusesADanglingSymlinkAsAnOutput) {
  AssembleFilesOptions o = Options();
  const fs::path target = tmp_.path() / "coordinator" / "elsewhere.json";
  fs::create_symlink(target, o.out);
  EXPECT_EQ(Refusal(o), o.out.string() + ": exists; remove it or choose another path");
  EXPECT_FALSE(fs::exists(target));
  fs::remove(o.out);
  fs::create_symlink(target, o.peers_out);
  EXPECT_EQ(Refusal(o), o.peers_out.string() + ": exists; remove it or choose another path");
  EXPECT_FALSE(fs::exists(target));
  EXPECT_FALSE(fs::exists(o.out));
}

TEST_F(GenesisAssembly, AMissingFileIsNamed) {
  AssembleFilesOptions o;
  o.member_files = {members_.descriptors[0].file, tmp_.path() / "coordinator" / "nobody.json"};
  o.params_file = tmp_.path() / "consortium.toml";
  o.out = tmp_.path() / "genesis.json";
  WriteFile(o.params_file, kParams);
  auto g = AssembleGenesisFiles(o);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().message, o.member_files[1].string() + ": no such file");
  o.member_files = {members_.descriptors[0].file};
  o.params_file = tmp_.path() / "missing.toml";
  g = AssembleGenesisFiles(o);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().message, o.params_file.string() + ": no such file");
  EXPECT_FALSE(fs::exists(o.out));
}

TEST_F(GenesisAssembly, RefusesDuplicateNames) {
  auto members = members_.descriptors;
  members[2].descriptor.name = "Bank 1";
  EXPECT_EQ(AssemblyError(members),
            members[2].file + ": name: 'Bank 1' is also the name in " + members[0].file);
}

// Names are compared after ASCII case folding and space collapsing (review finding 1).
TEST_F(GenesisAssembly, RefusesNamesThatDifferOnlyInCaseOrSpaces) {
  auto members = members_.descriptors;
  members[2].descriptor.name = "BANK  1";
  EXPECT_EQ(AssemblyError(members),
            members[2].file + ": name: 'BANK  1' is also the name in " + members[0].file +
                " ('Bank 1'; names are compared ignoring ASCII case and repeated spaces)");
}

// Inspect prints every character outside printable ASCII as \uXXXX, so that two names that look
// alike on a screen are told apart (review finding 1).
TEST_F(GenesisAssembly, InspectEscapesEveryNonAsciiCharacter) {
  auto members = members_.descriptors;
  members[4].descriptor.name = "Caisse d'\xc3\x89pargne \"E\"";
  auto text = AssembleGenesis(members, Params(), "consortium.toml");
  ASSERT_TRUE(text.has_value()) << text.error().message;
  auto report = InspectGenesis(*text, "genesis.json");
  ASSERT_TRUE(report.has_value()) << report.error().message;
  EXPECT_NE(report->find("  member 5  \"Caisse d'\\u00c9pargne \\\"E\\\"\"\n"), std::string::npos)
      << *report;
  for (char c : *report)
    EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << static_cast<int>(c);
}

TEST_F(GenesisAssembly, RefusesDuplicateKeys) {
  auto members = members_.descriptors;
  members[3].descriptor.node_key = members[1].descriptor.node_key;
  EXPECT_EQ(AssemblyError(members),
            members[3].file + ": node_key: " + members[1].descriptor.node_key.ToHex() +
                " is also the node_key of 'Bank 2' (" + members[1].file + ")");
  members = members_.descriptors;
  members[4].descriptor.governance_keys[0] = members[0].descriptor.node_key;
  EXPECT_EQ(AssemblyError(members),
            members[4].file + ": governance.keys: " + members[0].descriptor.node_key.ToHex() +
                " is also the node_key of 'Bank 1' (" + members[0].file + ")");
  // The same descriptor given twice trips the first duplicate: its name.
  members = members_.descriptors;
  members.push_back(members[0]);
  EXPECT_EQ(AssemblyError(members),
            members[0].file + ": name: 'Bank 1' is also the name in " + members[0].file);
}

TEST_F(GenesisAssembly, RefusesTwoMembersAtOneAddress) {
  auto members = members_.descriptors;
  members[1].descriptor.p2p_address = members[0].descriptor.p2p_address;
  EXPECT_EQ(AssemblyError(members), members[1].file +
                                        ": p2p_address: 127.0.0.1:26001 is also the address of "
                                        "'Bank 1' (" +
                                        members[0].file + ")");
}

TEST_F(GenesisAssembly, RefusesFewerThanFourValidators) {
  auto members = members_.descriptors;
  members[3].descriptor.roles = {"observer"};
  EXPECT_EQ(AssemblyError(members),
            "--members: 3 validators (Bank 1, Bank 2, Bank 3) among 5 members; a consortium "
            "needs at least 4 (PBFT: n = 3f+1, f >= 1)");
}

TEST_F(GenesisAssembly, ParamsRefuseAnUnknownFieldNamingIt) {
  EXPECT_EQ(ParamsError("chain = \"x\"\n" + std::string(kParams)),
            "consortium.toml: chain: unknown field");
  EXPECT_EQ(ParamsError(Edited("block_interval_ms = 200", "block_interval = 200")),
            "consortium.toml: consensus.block_interval: unknown field");
  EXPECT_EQ(ParamsError(Edited("scale = 2", "scale = 2\ndecimals = 2")),
            "consortium.toml: assets[0].decimals: unknown field");
  EXPECT_EQ(ParamsError(Edited("balance = \"1000\"", "balance = \"1000\"\nlimit = \"1\"")),
            "consortium.toml: accounts[1].limit: unknown field");
  EXPECT_EQ(ParamsError(Edited("controller = \"governance\"",
                               "controller = { threshold = 1, keys = [], weight = 1 }")),
            "consortium.toml: accounts[0].controller.weight: unknown field");
  // Members are not params: they come from the descriptors only.
  EXPECT_EQ(ParamsError(std::string(kParams) + "\n[[members]]\nname = \"Bank 9\"\n"),
            "consortium.toml: members: unknown field");
}

TEST_F(GenesisAssembly, ParamsRefuseMissingAndMistypedFields) {
  EXPECT_EQ(ParamsError(Edited("chain_id = \"test-net\"\n", "")),
            "consortium.toml: chain_id: missing");
  EXPECT_EQ(ParamsError(Edited("2026-12-07T17:00:00Z", "2026-12-07T17:00:00")),
            "consortium.toml: genesis_time: must be a date-time with a UTC offset, e.g. "
            "2026-12-07T17:00:00Z");
  EXPECT_EQ(ParamsError(Edited("balance = \"1000\"", "balance = 1000")),
            "consortium.toml: accounts[1].balance: must be a string (amounts are decimal "
            "strings: \"1000\")");
  EXPECT_EQ(ParamsError(Edited("governance_threshold = 3", "governance_threshold = -1")),
            "consortium.toml: governance_threshold: must be a non-negative integer");
  EXPECT_EQ(ParamsError("chain_id = \"x\"\ngenesis_time = "),
            "consortium.toml:2:16: Error while parsing key-value pair: encountered end-of-file")
      << "toml++'s own message, with line and column";
}

TEST_F(GenesisAssembly, AGenesisTimeWithAnOffsetIsConvertedToUtc) {
  auto p = Params(Edited("2026-12-07T17:00:00Z", "2026-12-07T18:30:00.250+01:30"));
  EXPECT_EQ(p.genesis_time_ms, 1'796'662'800'250u);
}

TEST_F(GenesisAssembly, RefusesAMemberNameThatIsNotAMember) {
  EXPECT_EQ(
      AssemblyError(members_.descriptors, Edited("issuer = \"Bank 1\"", "issuer = \"Bank 9\"")),
      "consortium.toml: assets[0].issuer: 'Bank 9' is not one of the members (Bank 1, "
      "Bank 2, Bank 3, Bank 4, Partner 1)");
  EXPECT_EQ(AssemblyError(members_.descriptors,
                          Edited("custodian = \"Bank 1\"", "custodian = \"bank 1\"")),
            "consortium.toml: accounts[0].custodian: 'bank 1' is not one of the members (Bank 1, "
            "Bank 2, Bank 3, Bank 4, Partner 1)");
}

TEST_F(GenesisAssembly, RefusesAnIssuerWithoutTheIssuerRole) {
  auto members = members_.descriptors;
  members[0].descriptor.roles = {"validator"};
  EXPECT_EQ(AssemblyError(members),
            "consortium.toml: assets[0].issuer: 'Bank 1' does not have "
            "the issuer role in " +
                members[0].file);
}

TEST_F(GenesisAssembly, WhatOnlyTheGenesisRulesCatchNamesTheParamsFile) {
  EXPECT_EQ(AssemblyError(members_.descriptors, Edited("balance = \"1000\"", "balance = \"999\"")),
            "consortium.toml: assets[0]: balances of USD.1 do not sum to zero");
  EXPECT_EQ(AssemblyError(members_.descriptors,
                          Edited("governance_threshold = 3", "governance_threshold = 6")),
            "consortium.toml: governance_threshold: must be at most 5");
  EXPECT_EQ(AssemblyError(members_.descriptors,
                          Edited("chain_id = \"test-net\"", "chain_id = \"Test Net\"")),
            "consortium.toml: chain_id: must use only a-z 0-9 - _ .");
  EXPECT_EQ(AssemblyError(members_.descriptors,
                          Edited("block_interval_ms = 200", "block_interval_ms = 0")),
            "consortium.toml: consensus.block_interval_ms: must be at least 1");
}

TEST_F(GenesisAssembly, InspectPrintsTheHashMembersValidatorsAndEveryParameter) {
  auto text = AssembleGenesis(members_.descriptors, Params(), "consortium.toml");
  ASSERT_TRUE(text.has_value()) << text.error().message;
  auto g = genesis::LoadGenesis(*text);
  auto report = InspectGenesis(*text, "genesis.json");
  ASSERT_TRUE(report.has_value()) << report.error().message;
  const std::vector<std::string> expected = {
      "genesis hash          " + g->hash.ToHex() + "\n",
      "chain id              test-net\n",
      "genesis time          2026-12-07T17:00:00.000Z (1796662800000 ms)\n",
      "governance threshold  3 of 5 members\n",
      "max_block_txs 5000\n",
      "max_block_bytes 8388608\n",
      "block_interval_ms 200\n",
      // Checked but not used: each node's consensus.view_timeout_ms is its view-change timeout.
      "view_change_timeout_ms 4000 (not used by the nodes: each node's consensus.view_timeout_ms "
      "in config.toml is its view-change timeout)\n",
      "members (5)\n",
      "  member 5  \"Partner 1\"\n    roles       observer\n",
      "validator set (4 validators; tolerates f = 1; quorum 3)\n",
      "  index 3  member 4  \"Bank 4\"  " + members_.descriptors[3].descriptor.node_key.ToHex(),
      "  USD.1  scale 2  issuer member 1 \"Bank 1\"  issuer account "
      "ff000000000000000000000000000001\n",
      "    balance     -1000\n",
      "    max_per_transfer     500\n",
  };
  for (const std::string& line : expected)
    EXPECT_NE(report->find(line), std::string::npos) << line << "\nnot in:\n" << *report;
  EXPECT_EQ(report->find("Partner 1\"  0"), std::string::npos) << "an observer is no validator";
}

TEST_F(GenesisAssembly, InspectRefusesAGenesisTheNodeWouldRefuse) {
  auto report = InspectGenesis("{\"chain_id\": \"x\"}", "genesis.json");
  ASSERT_FALSE(report.has_value());
  EXPECT_EQ(report.error().message, "genesis.json: genesis: $.genesis_time_ms: missing");
}

}  // namespace
}  // namespace cl::tools
