// Shared by the tests of forming a consortium (member_test, genesis_assembly_test,
// node_init_test): a temporary directory, members made with InitMember (cheap scrypt), and a
// params file for them.
#pragma once

#include <stdlib.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/genesis_assembly.h"
#include "tools/member.h"

namespace cl::tools::testing {

namespace fs = std::filesystem;

inline constexpr char kTestPassphrase[] = "correct horse battery staple";

// A fresh directory under $TMPDIR, removed with the fixture.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "consortium-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline MemberInitOptions MemberOptions(const fs::path& dir, const std::string& name,
                                       const std::string& roles, uint16_t port) {
  MemberInitOptions o;
  o.dir = dir;
  o.name = name;
  o.roles = roles;
  o.p2p_address = "127.0.0.1:" + std::to_string(port);
  o.passphrase = kTestPassphrase;
  o.scrypt.n = 1 << 10;  // tests: quick to open
  return o;
}

// `validators` banks "Bank 1".. (validator, issuer) and `observers` partners "Partner 1"..,
// each in root/<slug> with its descriptor copied to root/coordinator/<slug>.json.
struct Members {
  std::vector<fs::path> dirs;
  std::vector<DescriptorFile> descriptors;  // file = the coordinator's copy
};

inline Members MakeMembers(const fs::path& root, int validators, int observers) {
  Members out;
  fs::create_directories(root / "coordinator");
  for (int i = 0; i < validators + observers; ++i) {
    const bool bank = i < validators;
    const std::string slug =
        bank ? "bank-" + std::to_string(i + 1) : "partner-" + std::to_string(i - validators + 1);
    const std::string name =
        bank ? "Bank " + std::to_string(i + 1) : "Partner " + std::to_string(i - validators + 1);
    auto d = InitMember(MemberOptions(root / slug, name, bank ? "validator,issuer" : "observer",
                                      static_cast<uint16_t>(26001 + i)));
    EXPECT_TRUE(d.has_value()) << d.error().message;
    if (!d) return out;
    const fs::path copy = root / "coordinator" / (slug + ".json");
    fs::copy_file(root / slug / kMemberDescriptorFile, copy);
    out.dirs.push_back(root / slug);
    out.descriptors.push_back(DescriptorFile{copy.string(), *d});
  }
  return out;
}

// Params for MakeMembers' consortium: Bank 1 issues USD.1 into one customer account.
inline constexpr char kParams[] = R"(chain_id = "test-net"
genesis_time = 2026-12-07T17:00:00Z
governance_threshold = 3

[consensus]
block_interval_ms = 200

[[assets]]
code = "USD.1"
scale = 2
issuer = "Bank 1"
issuer_account = "ff000000000000000000000000000001"

[[accounts]]
id = "ff000000000000000000000000000001"
asset = "USD.1"
custodian = "Bank 1"
controller = "governance"
balance = "-1000"

[[accounts]]
id = "00000000000000000000000000000001"
asset = "USD.1"
custodian = "Bank 1"
controller = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
balance = "1000"
max_per_transfer = "500"
)";

}  // namespace cl::tools::testing
