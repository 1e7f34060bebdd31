#include "crypto/keystore.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "util/hex.h"

namespace cl::crypto {
namespace {

namespace fs = std::filesystem;

// Cheap scrypt parameters so tests that open hundreds of files stay fast; the format and code
// paths are the same as with the defaults.
constexpr ScryptParams kCheap{16, 1, 1};
constexpr std::string_view kPassphrase = "correct horse battery staple";

class Keystore : public ::testing::Test {
 protected:
  void SetUp() override {
    std::array<uint8_t, 8> suffix{};
    RandomBytes(suffix.data(), suffix.size());
    dir_ = fs::temp_directory_path() / ("keystore_test_" + ToHex(suffix));
    ASSERT_TRUE(fs::create_directory(dir_));
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteRaw(const fs::path& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

bool SameSecret(const PrivateKey& a, const PrivateKey& b) {
  return std::equal(a.secret().begin(), a.secret().end(), b.secret().begin(), b.secret().end());
}

TEST_F(Keystore, RoundTripRecoversTheKeyAndShowsThePublicKeyWithoutPassphrase) {
  PrivateKey key = PrivateKey::Generate();
  fs::path path = dir_ / "node.key";
  ASSERT_TRUE(WriteKeystoreFile(path, key, kPassphrase, {.scrypt = kCheap}).has_value());

  auto read = ReadKeystoreFile(path, kPassphrase);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_TRUE(SameSecret(*read, key));

  auto info = ReadKeystoreInfo(path);
  ASSERT_TRUE(info.has_value()) << info.error().ToString();
  EXPECT_EQ(info->public_key, key.GetPublicKey());
  EXPECT_EQ(info->address, key.GetPublicKey().ToAddress());
  EXPECT_EQ(info->scrypt, kCheap);
  // The secret never appears in the file, in any spelling.
  std::string contents = ReadAll(path);
  EXPECT_EQ(contents.find(ToHex(key.secret())), std::string::npos);
}

TEST_F(Keystore, DefaultParametersAreStoredAndRoundTrip) {
  PrivateKey key = PrivateKey::Generate();
  fs::path path = dir_ / "default.key";
  ASSERT_TRUE(WriteKeystoreFile(path, key, kPassphrase).has_value());
  EXPECT_NE(ReadAll(path).find("\nkdf scrypt n=32768 r=8 p=1\n"), std::string::npos);
  auto read = ReadKeystoreFile(path, kPassphrase);
  ASSERT_TRUE(read.has_value()) << read.error().ToString();
  EXPECT_TRUE(SameSecret(*read, key));
}

TEST_F(Keystore, FileModeIs0600EvenWithPermissiveUmask) {
  mode_t old_umask = ::umask(0);
  fs::path path = dir_ / "node.key";
  Status written = WriteKeystoreFile(path, PrivateKey::Generate(), kPassphrase, {.scrypt = kCheap});
  ::umask(old_umask);
  ASSERT_TRUE(written.has_value()) << written.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The temporary file was renamed, not left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(Keystore, WrongPassphraseIsUnauthenticatedAndNamesTheFile) {
  fs::path path = dir_ / "node.key";
  ASSERT_TRUE(
      WriteKeystoreFile(path, PrivateKey::Generate(), kPassphrase, {.scrypt = kCheap}).has_value());
  for (std::string_view wrong :
       {"correct horse battery stapl", "", "Correct horse battery staple"}) {
    auto read = ReadKeystoreFile(path, wrong);
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(read.error().message.find("wrong passphrase or corrupted key file"),
              std::string::npos);
    EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
  }
}

TEST_F(Keystore, MissingFileIsNotFoundAndNamesTheFile) {
  fs::path path = dir_ / "absent.key";
  auto read = ReadKeystoreFile(path, kPassphrase);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
  EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
  auto info = ReadKeystoreInfo(path);
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kNotFound);
}

TEST_F(Keystore, EveryTruncationIsCorruptionNamingTheFile) {
  fs::path path = dir_ / "node.key";
  ASSERT_TRUE(
      WriteKeystoreFile(path, PrivateKey::Generate(), kPassphrase, {.scrypt = kCheap}).has_value());
  const std::string full = ReadAll(path);
  ASSERT_GT(full.size(), 300u);
  for (size_t len = 0; len < full.size(); ++len) {
    WriteRaw(path, std::string_view(full).substr(0, len));
    auto read = ReadKeystoreFile(path, kPassphrase);
    ASSERT_FALSE(read.has_value()) << "truncated to " << len;
    EXPECT_EQ(read.error().code, ErrorCode::kCorruption) << len << ": " << read.error().message;
    EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
    EXPECT_FALSE(ReadKeystoreInfo(path).has_value()) << len;
  }
  WriteRaw(path, full);
  EXPECT_TRUE(ReadKeystoreFile(path, kPassphrase).has_value());
}

TEST_F(Keystore, EveryFlippedByteFails) {
  PrivateKey key = PrivateKey::Generate();
  auto sealed = SealKeystore(key, kPassphrase, kCheap);
  ASSERT_TRUE(sealed.has_value());
  size_t unauthenticated = 0;
  size_t corruption = 0;
  for (size_t i = 0; i < sealed->size(); ++i) {
    // 0x01 keeps most hex digits hex (reaching the AEAD check); 0x20 flips letter case; 0x80
    // makes the byte non-ASCII.
    for (uint8_t mask : {0x01, 0x20, 0x80}) {
      std::string flipped = *sealed;
      flipped[i] = static_cast<char>(flipped[i] ^ mask);
      auto opened = OpenKeystore(flipped, kPassphrase, "flipped.key");
      ASSERT_FALSE(opened.has_value()) << "byte " << i << " mask " << int{mask};
      const ErrorCode code = opened.error().code;
      EXPECT_TRUE(code == ErrorCode::kCorruption || code == ErrorCode::kUnauthenticated)
          << opened.error().ToString();
      EXPECT_NE(opened.error().message.find("flipped.key"), std::string::npos);
      (code == ErrorCode::kUnauthenticated ? unauthenticated : corruption)++;
    }
  }
  // Both checks were exercised: the parser and the authenticated decryption.
  EXPECT_GT(unauthenticated, 100u);
  EXPECT_GT(corruption, 100u);
}

TEST_F(Keystore, HeaderIsAuthenticated) {
  // Swap in another valid public key and its address: the file still parses, but the header is
  // associated data, so decryption refuses it.
  PrivateKey key = PrivateKey::Generate();
  std::string sealed = SealKeystore(key, kPassphrase, kCheap).value();
  PublicKey other = PrivateKey::Generate().GetPublicKey();
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = sealed.find(from);
    ASSERT_NE(at, std::string::npos);
    sealed.replace(at, from.size(), to);
  };
  replace(key.GetPublicKey().ToHex(), other.ToHex());
  replace(key.GetPublicKey().ToAddress().ToHex(), other.ToAddress().ToHex());
  ASSERT_TRUE(ParseKeystoreInfo(sealed, "swapped.key").has_value());
  auto opened = OpenKeystore(sealed, kPassphrase, "swapped.key");
  ASSERT_FALSE(opened.has_value());
  EXPECT_EQ(opened.error().code, ErrorCode::kUnauthenticated);
}

TEST_F(Keystore, AddressMustMatchPublicKey) {
  PrivateKey key = PrivateKey::Generate();
  std::string sealed = SealKeystore(key, kPassphrase, kCheap).value();
  std::string address = key.GetPublicKey().ToAddress().ToHex();
  sealed.replace(sealed.find(address), address.size(),
                 PrivateKey::Generate().GetPublicKey().ToAddress().ToHex());
  auto info = ParseKeystoreInfo(sealed, "k");
  ASSERT_FALSE(info.has_value());
  EXPECT_EQ(info.error().code, ErrorCode::kCorruption);
}

TEST_F(Keystore, UnknownVersionIsCorruption) {
  std::string sealed = SealKeystore(PrivateKey::Generate(), kPassphrase, kCheap).value();
  sealed.replace(0, kKeystoreMagicV1.size(), "consortium-ledger-keystore v2");
  fs::path path = dir_ / "future.key";
  WriteRaw(path, sealed);
  auto read = ReadKeystoreFile(path, kPassphrase);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kCorruption);
  EXPECT_NE(read.error().message.find("unsupported keystore version 'v2'"), std::string::npos);
  EXPECT_NE(read.error().message.find(path.string()), std::string::npos);
}

TEST_F(Keystore, GarbageEmptyOversizedAndDirectoryAreCorruption) {
  std::array<uint8_t, 500> noise{};
  RandomBytes(noise.data(), noise.size());
  const std::string inputs[] = {"", "\n", std::string(AsStringView(noise)),
                                std::string(kMaxKeystoreFileBytes + 1, 'a'),
                                std::string(kKeystoreMagicV1) + "\n"};
  for (const std::string& input : inputs) {
    fs::path path = dir_ / "bad.key";
    WriteRaw(path, input);
    auto read = ReadKeystoreFile(path, kPassphrase);
    ASSERT_FALSE(read.has_value());
    EXPECT_EQ(read.error().code, ErrorCode::kCorruption) << read.error().message;
  }
  auto read = ReadKeystoreFile(dir_, kPassphrase);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kCorruption);
}

TEST_F(Keystore, NonCanonicalSpellingsAreRejected) {
  std::string sealed = SealKeystore(PrivateKey::Generate(), kPassphrase, kCheap).value();
  auto with = [&](const std::string& from, const std::string& to) {
    std::string out = sealed;
    size_t at = out.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) out.replace(at, from.size(), to);
    return out;
  };
  const size_t sealed_at = sealed.find("sealed_secret ") + 14;
  std::string upper = sealed;
  for (size_t i = sealed_at; i < upper.size(); ++i)
    upper[i] = static_cast<char>(std::toupper(upper[i]));
  const std::string variants[] = {
      upper,                                     // upper-case hex decodes to the same bytes
      with("n=16 ", "n=016 "),                   // leading zero
      with("\nsalt ", "\nsalt 0x"),              // hex prefix (wrong length anyway)
      with("\nnonce ", "\nnonce  "),             // double space
      with("sealed_secret", "sealed_secret\r"),  // CR
      sealed + "\n",                             // trailing blank line
      with("\n", "\r\n"),                        // CRLF on the first line
  };
  for (const std::string& v : variants) {
    auto opened = OpenKeystore(v, kPassphrase, "k");
    ASSERT_FALSE(opened.has_value()) << v;
    EXPECT_EQ(opened.error().code, ErrorCode::kCorruption) << opened.error().message;
  }
}

TEST_F(Keystore, TamperedScryptParametersAreBoundedBeforeAnyWork) {
  std::string sealed = SealKeystore(PrivateKey::Generate(), kPassphrase, kCheap).value();
  const std::string kdf = "kdf scrypt n=16 r=1 p=1";
  for (std::string bad :
       {"kdf scrypt n=1073741824 r=1 p=1", "kdf scrypt n=17 r=1 p=1", "kdf scrypt n=1 r=1 p=1",
        "kdf scrypt n=16 r=0 p=1", "kdf scrypt n=16 r=1 p=0", "kdf scrypt n=1048576 r=32 p=1",
        "kdf scrypt n=16 r=1 p=99999999999", "kdf pbkdf2 n=16 r=1 p=1", "kdf scrypt n=16 r=1",
        "kdf scrypt n=16 r=1 p=1 x=1"}) {
    std::string v = sealed;
    v.replace(v.find(kdf), kdf.size(), bad);
    auto opened = OpenKeystore(v, kPassphrase, "k");
    ASSERT_FALSE(opened.has_value()) << bad;
    EXPECT_EQ(opened.error().code, ErrorCode::kCorruption) << bad;
  }
}

TEST_F(Keystore, RefusesToOverwriteUnlessAsked) {
  fs::path path = dir_ / "node.key";
  PrivateKey first = PrivateKey::Generate();
  PrivateKey second = PrivateKey::Generate();
  ASSERT_TRUE(WriteKeystoreFile(path, first, kPassphrase, {.scrypt = kCheap}).has_value());
  Status again = WriteKeystoreFile(path, second, kPassphrase, {.scrypt = kCheap});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find(path.string()), std::string::npos);
  EXPECT_TRUE(SameSecret(ReadKeystoreFile(path, kPassphrase).value(), first));

  ASSERT_TRUE(
      WriteKeystoreFile(path, second, kPassphrase, {.scrypt = kCheap, .allow_overwrite = true})
          .has_value());
  EXPECT_TRUE(SameSecret(ReadKeystoreFile(path, kPassphrase).value(), second));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(Keystore, WriteRejectsBadInputsAndLeavesNoFile) {
  fs::path path = dir_ / "node.key";
  PrivateKey key = PrivateKey::Generate();
  EXPECT_EQ(WriteKeystoreFile(path, key, "", {.scrypt = kCheap}).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      WriteKeystoreFile(path, key, std::string(kMaxPassphraseBytes + 1, 'x'), {.scrypt = kCheap})
          .error()
          .code,
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(WriteKeystoreFile(path, key, kPassphrase, {.scrypt = {24, 1, 1}}).error().code,
            ErrorCode::kInvalidArgument);
  Status no_dir =
      WriteKeystoreFile(dir_ / "missing" / "node.key", key, kPassphrase, {.scrypt = kCheap});
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_EQ(no_dir.error().code, ErrorCode::kIoError);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 0);
}

// A version-1 file made independently of this code, from docs/keystore.md alone (Python's
// hashlib.scrypt and the `cryptography` package's AESGCM), for the secret key 1. If this stops
// opening, files on operators' disks would too: the format must not change.
TEST_F(Keystore, OpensFileWrittenFromTheSpecification) {
  const std::string file =
      "consortium-ledger-keystore v1\n"
      "kdf scrypt n=1024 r=8 p=1\n"
      "salt 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "nonce a0a1a2a3a4a5a6a7a8a9aaab\n"
      "public_key 0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\n"
      "address 2c15c7a02fa42197cec8b54b0effdec543a2cb4f\n"
      "sealed_secret 1a2cc82a13b216a72377bddc0be3489751f5e5268fce4c66b28ed1e5f2501da0beb92250337f6d"
      "c8c64a658e4136c68e\n";
  auto key = OpenKeystore(file, kPassphrase, "spec.key");
  ASSERT_TRUE(key.has_value()) << key.error().ToString();
  EXPECT_EQ(ToHex(key->secret()), std::string(62, '0') + "01");
  auto info = ParseKeystoreInfo(file, "spec.key");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->scrypt, (ScryptParams{1024, 8, 1}));
}

}  // namespace
}  // namespace cl::crypto
