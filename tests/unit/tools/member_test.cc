// `ledgerctl member init` and the member descriptor (tools/member.h): the keys stay in DIR in
// keystores, the descriptor holds only public material, and every malformed descriptor or option
// is refused with one line naming the file and field.
#include "tools/member.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <iostream>
#include <thread>

#include "crypto/keystore.h"
#include "tests/unit/tools/consortium_fixture.h"
#include "tools/files.h"
#include "tools/passphrase.h"
#include "util/hex.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;

using testing::kTestPassphrase;
using testing::MemberOptions;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr char kKeyA[] = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr char kKeyB[] = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";
constexpr char kKeyC[] = "02f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9";

// A valid descriptor with one field replaced (or removed, when value is empty).
std::string Descriptor(const std::string& field = "", const std::string& value = "") {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"format", "1"},
      {"name", "\"Bank A\""},
      {"roles", "[\"validator\", \"issuer\"]"},
      {"node_key", std::string("\"") + kKeyA + "\""},
      {"governance", std::string("{\"threshold\": 1, \"keys\": [\"") + kKeyB + "\"]}"},
      {"p2p_address", "\"10.0.0.1:26656\""}};
  std::string out = "{";
  bool replaced = false;
  for (const auto& [key, v] : fields) {
    const std::string text = key == field ? value : v;
    replaced = replaced || key == field;
    if (text.empty()) continue;
    out += (out.size() > 1 ? ", " : "") + ("\"" + key + "\": ") + text;
  }
  if (!replaced && !field.empty()) out += ", \"" + field + "\": " + value;
  return out + "}";
}

std::string ParseError(const std::string& text) {
  auto d = ParseMemberDescriptor(text, "a.json");
  return d ? std::string("(accepted)") : d.error().message;
}

TEST(Member, InitWritesKeystoresAndADescriptorWithNoSecret) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "bank-a";
  auto d = InitMember(MemberOptions(dir, "Bank A", "issuer,validator", 26656));
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->roles, (std::vector<std::string>{"validator", "issuer"}));

  auto node_key = crypto::ReadKeystoreFile(dir / kNodeKeyFile, kTestPassphrase);
  auto gov_key = crypto::ReadKeystoreFile(dir / kGovernanceKeyFile, kTestPassphrase);
  ASSERT_TRUE(node_key.has_value()) << node_key.error().message;
  ASSERT_TRUE(gov_key.has_value()) << gov_key.error().message;
  EXPECT_EQ(node_key->GetPublicKey(), d->node_key);
  ASSERT_EQ(d->governance_keys.size(), 1u);
  EXPECT_EQ(gov_key->GetPublicKey(), d->governance_keys[0]);
  EXPECT_NE(d->node_key, d->governance_keys[0]);

  const std::string text = ReadFile(dir / kMemberDescriptorFile);
  EXPECT_EQ(text, RenderMemberDescriptor(*d));
  EXPECT_EQ(text.find(ToHex(node_key->secret())), std::string::npos);
  EXPECT_EQ(text.find(ToHex(gov_key->secret())), std::string::npos);
  auto parsed = ParseMemberDescriptor(text, "member.json");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->name, "Bank A");
  EXPECT_EQ(parsed->node_key, d->node_key);
  EXPECT_EQ(parsed->governance_keys, d->governance_keys);
  EXPECT_EQ(parsed->p2p_address.ToString(), "127.0.0.1:26656");
  EXPECT_EQ(fs::status(dir / kNodeKeyFile).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST(Member, InitRefusesANonEmptyDirectoryAndLeavesItAlone) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "bank-a";
  fs::create_directories(dir);
  WriteFile(dir / "node.key", "old key");
  auto d = InitMember(MemberOptions(dir, "Bank A", "validator", 26656));
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message, dir.string() + ": exists and is not empty; choose a new directory");
  EXPECT_EQ(ReadFile(dir / "node.key"), "old key");
  EXPECT_FALSE(fs::exists(dir / kMemberDescriptorFile));
}

TEST(Member, InitAcceptsAnEmptyDirectory) {
  TempDir tmp;
  auto d = InitMember(MemberOptions(tmp.path(), "Bank A", "observer", 26656));
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_FALSE(d->validator());
}

TEST(Member, InitRefusesBadOptionsBeforeWritingAnything) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "m";
  auto refusal = [&](MemberInitOptions o) {
    auto d = InitMember(o);
    EXPECT_FALSE(fs::exists(dir));
    return d ? std::string("(accepted)") : d.error().message;
  };
  EXPECT_EQ(refusal(MemberOptions(dir, "", "validator", 1)), "--name: must be 1..64 bytes");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank\nA", "validator", 1)),
            "--name: must not contain control characters");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank A", "validator,observer", 1)),
            "--roles: exactly one of validator and observer is required");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank A", "issuer", 1)),
            "--roles: exactly one of validator and observer is required");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank A", "validator,banker", 1)),
            "--roles: unknown role 'banker' (validator or observer, plus issuer, compliance)");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank A", "validator,issuer,issuer", 1)),
            "--roles: role 'issuer' given twice");
  EXPECT_EQ(refusal(MemberOptions(dir, "Bank A", "validator", 0)),
            "--p2p-address: the port must not be 0");
  auto no_port = MemberOptions(dir, "Bank A", "validator", 1);
  no_port.p2p_address = "10.0.0.1";
  EXPECT_EQ(refusal(no_port), "--p2p-address: expected host:port, got '10.0.0.1'");
}

// A name that is not UTF-8 would be written into a descriptor no JSON reader accepts.
TEST(Member, InitRefusesANameThatIsNotUtf8AndCreatesNothing) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "m";
  auto d = InitMember(MemberOptions(dir, "Bank \xe9", "validator", 1));
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message, "--name: must be valid UTF-8");
  EXPECT_FALSE(fs::exists(dir));
}

// A name must not pass for another: no invisible characters, no control characters (C0, DEL, C1),
// no spaces at either end (review finding 1). Neither member init nor a descriptor takes one.
TEST(Member, NamesThatCouldPassForAnotherAreRefused) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "m";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Bank 1\xe2\x80\x8b", "must not contain the invisible character U+200B"},
      {"\xe2\x80\xae"
       "1 knaB",
       "must not contain the invisible character U+202E"},
      {"Bank\xc2\xad"
       "1",
       "must not contain the invisible character U+00AD"},
      {"\xef\xbb\xbf"
       "Bank 1",
       "must not contain the invisible character U+FEFF"},
      {"Bank\xe2\x81\xa0"
       "1",
       "must not contain the invisible character U+2060"},
      {"Bank\xc2\xa0"
       "1",
       "must use only the ASCII space between words"},
      {"Bank 1\x7f", "must not contain control characters"},
      {"Bank 1\xc2\x85", "must not contain control characters"},
      {" Bank 1", "must not begin or end with a space"},
      {"Bank 1 ", "must not begin or end with a space"},
  };
  for (const auto& [name, why] : cases) {
    auto d = InitMember(MemberOptions(dir, name, "validator", 1));
    ASSERT_FALSE(d.has_value()) << name;
    EXPECT_EQ(d.error().message, "--name: " + why);
    EXPECT_FALSE(fs::exists(dir));
    EXPECT_EQ(ParseError(Descriptor("name", boost::json::serialize(boost::json::string(name)))),
              "a.json: name: " + why);
  }
  // Letters beyond ASCII are names like any other.
  auto d = InitMember(MemberOptions(dir, "Caisse d'\xc3\x89pargne", "validator", 1));
  EXPECT_TRUE(d.has_value()) << d.error().message;
}

TEST(Member, DescriptorRefusesABadKey) {
  EXPECT_EQ(ParseError(Descriptor()), "(accepted)");
  // Not on the curve (x = 5 has no point), too short, not hex, uncompressed prefix.
  EXPECT_EQ(ParseError(Descriptor("node_key", "\"02" + std::string(63, '0') + "5\"")),
            "a.json: node_key: not a 33-byte compressed secp256k1 public key in hex");
  EXPECT_EQ(ParseError(Descriptor("node_key", "\"02abcd\"")),
            "a.json: node_key: not a 33-byte compressed secp256k1 public key in hex");
  EXPECT_EQ(ParseError(Descriptor("node_key", "\"zz\"")),
            "a.json: node_key: not a 33-byte compressed secp256k1 public key in hex");
  EXPECT_EQ(ParseError(Descriptor("node_key", std::string("\"04") + (kKeyA + 2) + "\"")),
            "a.json: node_key: not a 33-byte compressed secp256k1 public key in hex");
  EXPECT_EQ(ParseError(Descriptor("node_key", "7")), "a.json: node_key: must be a hex string");
  EXPECT_EQ(ParseError(Descriptor("governance", "{\"threshold\": 1, \"keys\": [\"02abcd\"]}")),
            "a.json: governance.keys[0]: not a 33-byte compressed secp256k1 public key in hex");
}

TEST(Member, DescriptorRefusesAKeyUsedTwice) {
  EXPECT_EQ(
      ParseError(Descriptor("governance",
                            std::string("{\"threshold\": 1, \"keys\": [\"") + kKeyA + "\"]}")),
      std::string("a.json: governance.keys: the node key ") + kKeyA + " is also a governance key");
  EXPECT_EQ(ParseError(Descriptor("governance", std::string("{\"threshold\": 1, \"keys\": [\"") +
                                                    kKeyB + "\", \"" + kKeyB + "\"]}")),
            "a.json: governance.keys[1]: duplicate key");
}

TEST(Member, DescriptorIsStrict) {
  EXPECT_EQ(ParseError(Descriptor("secret", "\"00\"")), "a.json: secret: unknown field");
  EXPECT_EQ(ParseError(Descriptor("p2p_address", "")), "a.json: p2p_address: missing");
  EXPECT_EQ(ParseError(Descriptor("format", "2")),
            "a.json: format: must be 1 (a member descriptor of another version of ledgerctl?)");
  EXPECT_EQ(ParseError(Descriptor("roles", "[\"validator\", \"observer\"]")),
            "a.json: roles: exactly one of validator and observer is required");
  EXPECT_EQ(ParseError(Descriptor(
                "governance", std::string("{\"threshold\": 2, \"keys\": [\"") + kKeyB + "\"]}")),
            "a.json: governance.threshold: must be between 1 and the number of keys");
  EXPECT_EQ(ParseError(Descriptor("governance", std::string("{\"threshold\": 1, \"keys\": [\"") +
                                                    kKeyB + "\"], \"extra\": 1}")),
            "a.json: governance.extra: unknown field");
  EXPECT_EQ(ParseError(Descriptor("name", "\"\"")), "a.json: name: must be 1..64 bytes");
  EXPECT_EQ(ParseError(Descriptor("p2p_address", "\"10.0.0.1:0\"")),
            "a.json: p2p_address: the port must not be 0");
  EXPECT_EQ(ParseError("{\"format\": 1,"), "a.json: $: not valid JSON: incomplete JSON");
  // Several governance keys with a threshold (e.g. keys kept in an HSM) are accepted.
  auto d = ParseMemberDescriptor(
      Descriptor("governance", std::string("{\"threshold\": 2, \"keys\": [\"") + kKeyB + "\", \"" +
                                   kKeyC + "\"]}"),
      "a.json");
  ASSERT_TRUE(d.has_value()) << d.error().message;
  EXPECT_EQ(d->governance_threshold, 2u);
  EXPECT_EQ(ParseMemberDescriptor(RenderMemberDescriptor(*d), "b.json")->governance_keys,
            d->governance_keys);
}

// A field given twice is refused, naming it, rather than read as its last value (review finding 3).
TEST(Member, DescriptorRefusesAFieldGivenTwice) {
  EXPECT_EQ(ParseError(Descriptor("name", "\"Bank A\", \"name\": \"Bank B\"")),
            "a.json: name: field given twice");
  EXPECT_EQ(ParseError(Descriptor("governance", std::string("{\"threshold\": 1, \"threshold\": 1, "
                                                            "\"keys\": [\"") +
                                                    kKeyB + "\"]}")),
            "a.json: governance.threshold: field given twice");
}

// Text from another member's descriptor reaches the terminal only escaped: no ESC sequence, no
// newline inside the one-line error (review finding 5).
TEST(Member, DescriptorTextInErrorsIsEscaped) {
  const std::string address =
      ParseError(Descriptor("p2p_address", "\"\\u001b]0;pwned\\u0007 10.0.0.4 \\n:26656\""));
  EXPECT_EQ(address,
            "a.json: p2p_address: the host must be an IP address or a DNS name (letters, digits, "
            "hyphens, dots), got '\\u001b]0;pwned\\u0007 10.0.0.4 \\u000a:26656'");
  const std::string role = ParseError(Descriptor("roles", "[\"\\u001b[31mvalidator\"]"));
  EXPECT_EQ(role,
            "a.json: roles: unknown role '\\u001b[31mvalidator' (validator or observer, plus "
            "issuer, compliance)");
  // A field name is text from the file too.
  const std::string field = ParseError(Descriptor("\\u001b[2J", "1"));
  EXPECT_EQ(field, "a.json: \\u001b[2J: unknown field");
  const std::string governance =
      ParseError(Descriptor("governance", std::string("{\"threshold\": 1, \"keys\": [\"") + kKeyB +
                                              "\"], \"\\u009b\": 1}"));
  EXPECT_EQ(governance, "a.json: governance.\\u009b: unknown field");
  for (const std::string& message : {address, role, field, governance}) {
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Member, ReadingAMissingDescriptorNamesIt) {
  auto d = ReadMemberDescriptor("/nonexistent/member.json");
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(d.error().message, "/nonexistent/member.json: no such file");
}

TEST(Passphrase, FileMustHoldANonEmptyFirstLine) {
  TempDir tmp;
  WriteFile(tmp.path() / "p", "s3cret\nignored\n");
  EXPECT_EQ(*ReadPassphraseFile(tmp.path() / "p"), "s3cret");
  WriteFile(tmp.path() / "empty", "\n");
  EXPECT_EQ(ReadPassphraseFile(tmp.path() / "empty").error().message,
            (tmp.path() / "empty").string() + ": empty passphrase");
  EXPECT_EQ(ReadPassphraseFile(tmp.path() / "missing").error().message,
            (tmp.path() / "missing").string() + ": no such file");
}

// Review finding 6: a passphrase file others can read is used, with a one-line warning; a pipe
// (--passphrase-file <(pass show bank-a)) is read like a file; new keystores need at least 12
// bytes of passphrase.
TEST(Passphrase, AFileOthersCanReadIsUsedWithAOneLineWarning) {
  TempDir tmp;
  const fs::path file = tmp.path() / "p";
  WriteFile(file, "s3cret words\n");
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  ::testing::internal::CaptureStderr();
  auto p = ReadPassphraseFile(file);
  const std::string warned = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(*p, "s3cret words");
  EXPECT_EQ(warned, "ledgerctl: warning: " + file.string() +
                        ": the passphrase file has mode 0644: group or others may read it; chmod "
                        "600 it\n");
  fs::permissions(file, kSecretFileMode);
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(ReadPassphraseFile(file).has_value());
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Passphrase, APipeIsReadLikeAFile) {
  TempDir tmp;
  const fs::path fifo = tmp.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    // Non-blocking open fails (ENXIO) until a reader has the pipe open: wait for one, a while.
    int fd = -1;
    for (int i = 0; i < 500 && fd < 0; ++i) {
      fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fd < 0) return;  // the reader never opened the pipe
    const std::string line = "s3cret words\n";
    EXPECT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    ::close(fd);
  });
  auto p = ReadPassphraseFile(fifo);
  writer.join();
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(*p, "s3cret words");
}

TEST(Member, InitRefusesAPassphraseShorterThan12Bytes) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "m";
  auto o = MemberOptions(dir, "Bank A", "validator", 1);
  o.passphrase = "12345678901";
  auto d = InitMember(o);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().message,
            "passphrase: 11 bytes; a new keystore's passphrase must be at least 12 bytes");
  EXPECT_FALSE(fs::exists(dir));
  o.passphrase = "123456789012";
  EXPECT_TRUE(InitMember(o).has_value());
}

TEST(Passphrase, WithoutAFileAndWithoutATerminalItRefuses) {
  const int saved = ::dup(STDIN_FILENO);
  const int null = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(null, 0);
  ::dup2(null, STDIN_FILENO);
  auto p = GetPassphrase("", /*confirm=*/true);
  ::dup2(saved, STDIN_FILENO);
  ::close(null);
  ::close(saved);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message,
            "stdin is not a terminal: give the passphrase with --passphrase-file FILE");
}

// A pseudo-terminal stands in for the operator's: the passphrase is asked twice on stderr, typed
// with echo off (nothing typed comes back), and two different answers are refused.
class TerminalPrompt : public ::testing::Test {
 protected:
  static constexpr int kOperatorWaitMs = 5'000;

  void SetUp() override {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY);
    ASSERT_GE(master_, 0);
    ASSERT_EQ(::grantpt(master_), 0);
    ASSERT_EQ(::unlockpt(master_), 0);
    const int slave = ::open(::ptsname(master_), O_RDWR | O_NOCTTY);
    ASSERT_GE(slave, 0);
    saved_in_ = ::dup(STDIN_FILENO);
    saved_err_ = ::dup(STDERR_FILENO);
    ::dup2(slave, STDIN_FILENO);
    ::dup2(slave, STDERR_FILENO);
    ::close(slave);
  }
  void TearDown() override {
    ::dup2(saved_in_, STDIN_FILENO);
    ::dup2(saved_err_, STDERR_FILENO);
    ::close(saved_in_);
    ::close(saved_err_);
    ::close(master_);
    std::cin.clear();
  }

  // Plays the operator: answers each prompt with the next line, and records everything the
  // terminal shows.
  std::string Operator(const std::vector<std::string>& answers) {
    std::string shown;
    size_t answered = 0;
    const std::vector<std::string> prompts = {"passphrase: ", "passphrase again: "};
    char buf[256];
    while (answered < answers.size()) {
      pollfd readable{master_, POLLIN, 0};
      if (::poll(&readable, 1, kOperatorWaitMs) != 1) break;  // no prompt came: give up
      const ssize_t n = ::read(master_, buf, sizeof(buf));
      if (n <= 0) break;
      shown.append(buf, static_cast<size_t>(n));
      if (shown.ends_with(prompts[answered])) {
        const std::string line = answers[answered++] + "\n";
        if (::write(master_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) break;
      }
    }
    return shown;
  }

  int master_ = -1;
  int saved_in_ = -1;
  int saved_err_ = -1;
};

TEST_F(TerminalPrompt, AsksTwiceWithoutEcho) {
  std::string shown;
  std::thread op([&] { shown = Operator({"s3cret words", "s3cret words"}); });
  auto p = GetPassphrase("", /*confirm=*/true);
  op.join();
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(*p, "s3cret words");
  EXPECT_EQ(shown.find("s3cret"), std::string::npos) << "echoed: " << shown;
}

TEST_F(TerminalPrompt, RefusesTwoDifferentAnswers) {
  std::thread op([&] { Operator({"s3cret words", "s3cret wordz"}); });
  auto p = PromptPassphrase(/*confirm=*/true);
  op.join();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message, "the two passphrases differ; nothing written");
}

// Ctrl-C at the prompt left the terminal with echo off (the shell then showed nothing typed). The
// prompt, in a child process on a pseudo-terminal, is interrupted: the child dies of SIGINT as
// before, and the terminal has its echo back.
TEST(Passphrase, AnInterruptedPromptGivesTheTerminalItsEchoBack) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const std::string slave_name = ::ptsname(master);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setsid();
    const int slave = ::open(slave_name.c_str(), O_RDWR);
    if (slave < 0) ::_exit(2);
    ::dup2(slave, STDIN_FILENO);
    ::dup2(slave, STDERR_FILENO);
    (void)PromptPassphrase(/*confirm=*/false);
    ::_exit(3);  // the prompt returned: not interrupted
  }
  std::string shown;
  char buf[256];
  while (!shown.ends_with("passphrase: ")) {
    pollfd readable{master, POLLIN, 0};
    if (::poll(&readable, 1, 5'000) != 1) break;
    const ssize_t n = ::read(master, buf, sizeof(buf));
    if (n <= 0) break;
    shown.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(shown.ends_with("passphrase: ")) << shown;
  ::kill(child, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT) << status;
  const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  termios settings{};
  ASSERT_EQ(::tcgetattr(slave, &settings), 0);
  EXPECT_NE(settings.c_lflag & ECHO, 0u) << "the terminal was left with echo off";
  ::close(slave);
  ::close(master);
}

}  // namespace
}  // namespace cl::tools
