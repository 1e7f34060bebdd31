#include "crypto/keystore.h"

#include <cryptopp/aes.h>
#include <cryptopp/gcm.h>
#include <cryptopp/scrypt.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "util/assert.h"
#include "util/atomic_file.h"
#include "util/hex.h"

namespace cl::crypto {
namespace {

constexpr size_t kDerivedKeyBytes = 32;  // AES-256
constexpr size_t kSealedBytes = kPrivateKeyBytes + kKeystoreTagBytes;

// Line labels of version 1, in file order. Do not change.
constexpr std::string_view kLabelKdf = "kdf";
constexpr std::string_view kLabelSalt = "salt";
constexpr std::string_view kLabelNonce = "nonce";
constexpr std::string_view kLabelPublicKey = "public_key";
constexpr std::string_view kLabelAddress = "address";
constexpr std::string_view kLabelSealed = "sealed_secret";
constexpr std::string_view kMagicPrefix = "consortium-ledger-keystore ";

// Wipes a fixed buffer of secret bytes when it goes out of scope.
template <size_t N>
struct SecretBuffer {
  std::array<uint8_t, N> bytes{};
  SecretBuffer() = default;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() { SecureWipe(bytes.data(), bytes.size()); }
  uint8_t* data() { return bytes.data(); }
};

struct ParsedKeystore {
  KeystoreInfo info;
  std::array<uint8_t, kKeystoreSaltBytes> salt{};
  std::array<uint8_t, kKeystoreNonceBytes> nonce{};
  std::array<uint8_t, kSealedBytes> sealed{};  // ciphertext || tag
  std::string_view header;  // the associated data: every byte before the sealed_secret line
};

std::unexpected<Error> Corrupt(std::string_view name, std::string_view what) {
  return MakeError(ErrorCode::kCorruption,
                   std::string(name) + ": corrupted or unreadable key file: " + std::string(what));
}

std::unexpected<Error> WrongPassphrase(std::string_view name) {
  return MakeError(ErrorCode::kUnauthenticated,
                   std::string(name) + ": wrong passphrase or corrupted key file");
}

std::string KdfValue(const ScryptParams& p) {
  return "scrypt n=" + std::to_string(p.n) + " r=" + std::to_string(p.r) +
         " p=" + std::to_string(p.p);
}

void AppendLine(std::string& out, std::string_view label, std::string_view value) {
  out.append(label);
  out.push_back(' ');
  out.append(value);
  out.push_back('\n');
}

// The canonical header (the associated data). Parsing re-creates it and requires the file's bytes
// to equal it, so exactly one byte string encodes each key file.
std::string SerializeHeader(const ScryptParams& params, ByteSpan salt, ByteSpan nonce,
                            const PublicKey& public_key, const Address& address) {
  std::string out;
  out.append(kKeystoreMagicV1);
  out.push_back('\n');
  AppendLine(out, kLabelKdf, KdfValue(params));
  AppendLine(out, kLabelSalt, ToHex(salt));
  AppendLine(out, kLabelNonce, ToHex(nonce));
  AppendLine(out, kLabelPublicKey, public_key.ToHex());
  AppendLine(out, kLabelAddress, address.ToHex());
  return out;
}

// Takes the next line (without its '\n'); nullopt if there is no complete line.
std::optional<std::string_view> NextLine(std::string_view& rest) {
  size_t end = rest.find('\n');
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = rest.substr(0, end);
  rest.remove_prefix(end + 1);
  return line;
}

// Next line as "label value"; returns the value.
Result<std::string_view> LabeledLine(std::string_view& rest, std::string_view label,
                                     int line_number, std::string_view name) {
  auto line = NextLine(rest);
  std::string where = "line " + std::to_string(line_number) + ": ";
  if (!line) return Corrupt(name, where + "truncated (expected '" + std::string(label) + " ...')");
  if (line->size() <= label.size() || !line->starts_with(label) || (*line)[label.size()] != ' ')
    return Corrupt(name, where + "expected '" + std::string(label) + " ...'");
  return line->substr(label.size() + 1);
}

template <size_t N>
Status HexField(std::string_view value, std::array<uint8_t, N>& out, std::string_view label,
                std::string_view name) {
  auto bytes = FromHex(value);
  if (!bytes || bytes->size() != N)
    return Corrupt(name, std::string(label) + " must be " + std::to_string(N) + " bytes of hex");
  std::memcpy(out.data(), bytes->data(), N);
  return OkStatus();
}

std::optional<uint64_t> ParseDecimal(std::string_view s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return std::nullopt;
  s.remove_prefix(prefix.size());
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

Result<ScryptParams> ParseKdf(std::string_view value, std::string_view name) {
  // "scrypt n=<n> r=<r> p=<p>": exactly four tokens separated by single spaces.
  std::array<std::string_view, 4> tokens;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t end = value.find(' ');
    const bool last = i + 1 == tokens.size();
    if (last != (end == std::string_view::npos)) return Corrupt(name, "kdf line is malformed");
    tokens[i] = value.substr(0, end);
    value = last ? std::string_view() : value.substr(end + 1);
  }
  if (tokens[0] != "scrypt") return Corrupt(name, "unknown kdf '" + std::string(tokens[0]) + "'");
  auto n = ParseDecimal(tokens[1], "n=");
  auto r = ParseDecimal(tokens[2], "r=");
  auto p = ParseDecimal(tokens[3], "p=");
  if (!n || !r || !p || *r > UINT32_MAX || *p > UINT32_MAX)
    return Corrupt(name, "kdf line is malformed");
  ScryptParams params{*n, static_cast<uint32_t>(*r), static_cast<uint32_t>(*p)};
  if (auto valid = params.Validate(); !valid) return Corrupt(name, valid.error().message);
  return params;
}

Result<ParsedKeystore> Parse(std::string_view contents, std::string_view name) {
  if (contents.size() > kMaxKeystoreFileBytes)
    return Corrupt(
        name, "larger than " + std::to_string(kMaxKeystoreFileBytes) + " bytes, not a key file");
  std::string_view rest = contents;
  auto magic = NextLine(rest);
  if (!magic) return Corrupt(name, "truncated or not a key file (no complete first line)");
  if (*magic != kKeystoreMagicV1) {
    if (magic->starts_with(kMagicPrefix))
      return Corrupt(name, "unsupported keystore version '" +
                               std::string(magic->substr(kMagicPrefix.size())) +
                               "' (this build reads v1)");
    return Corrupt(name,
                   "not a key file (first line is not '" + std::string(kKeystoreMagicV1) + "')");
  }
  ParsedKeystore out;
  auto kdf = LabeledLine(rest, kLabelKdf, 2, name);
  if (!kdf) return std::unexpected(kdf.error());
  auto params = ParseKdf(*kdf, name);
  if (!params) return std::unexpected(params.error());
  out.info.scrypt = *params;

  auto salt = LabeledLine(rest, kLabelSalt, 3, name);
  if (!salt) return std::unexpected(salt.error());
  LEDGER_TRY(HexField(*salt, out.salt, kLabelSalt, name));
  auto nonce = LabeledLine(rest, kLabelNonce, 4, name);
  if (!nonce) return std::unexpected(nonce.error());
  LEDGER_TRY(HexField(*nonce, out.nonce, kLabelNonce, name));

  auto public_key_hex = LabeledLine(rest, kLabelPublicKey, 5, name);
  if (!public_key_hex) return std::unexpected(public_key_hex.error());
  auto public_key = PublicKey::FromHex(*public_key_hex);
  if (!public_key) return Corrupt(name, "public_key: " + public_key.error().message);
  out.info.public_key = *public_key;

  auto address_hex = LabeledLine(rest, kLabelAddress, 6, name);
  if (!address_hex) return std::unexpected(address_hex.error());
  auto address = Address::FromHex(*address_hex);
  if (!address) return Corrupt(name, "address: " + address.error().message);
  if (*address != public_key->ToAddress())
    return Corrupt(name, "address does not belong to public_key");
  out.info.address = *address;

  out.header = contents.substr(0, contents.size() - rest.size());
  auto sealed = LabeledLine(rest, kLabelSealed, 7, name);
  if (!sealed) return std::unexpected(sealed.error());
  LEDGER_TRY(HexField(*sealed, out.sealed, kLabelSealed, name));
  if (!rest.empty()) return Corrupt(name, "unexpected bytes after the last line");

  // Only the canonical spelling is accepted (lower-case hex, no leading zeros, no "0x").
  std::string canonical =
      SerializeHeader(out.info.scrypt, out.salt, out.nonce, out.info.public_key, out.info.address);
  AppendLine(canonical, kLabelSealed, ToHex(out.sealed));
  if (canonical != contents) return Corrupt(name, "not in canonical form");
  return out;
}

Status DeriveKey(std::string_view passphrase, ByteSpan salt, const ScryptParams& params,
                 uint8_t* out) {
  try {
    CryptoPP::Scrypt scrypt;
    scrypt.DeriveKey(out, kDerivedKeyBytes, reinterpret_cast<const uint8_t*>(passphrase.data()),
                     passphrase.size(), salt.data(), salt.size(), params.n, params.r, params.p);
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kResourceExhausted, "out of memory deriving the key (scrypt)");
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("scrypt failed: ") + e.what());
  }
  return OkStatus();
}

Status CheckPassphrase(std::string_view passphrase) {
  if (passphrase.empty()) return MakeError(ErrorCode::kInvalidArgument, "passphrase is empty");
  if (passphrase.size() > kMaxPassphraseBytes)
    return MakeError(ErrorCode::kInvalidArgument,
                     "passphrase longer than " + std::to_string(kMaxPassphraseBytes) + " bytes");
  return OkStatus();
}

std::unexpected<Error> IoError(const std::filesystem::path& path, std::string_view what, int err) {
  ErrorCode code =
      err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIoError;
  return MakeError(code, path.string() + ": " + std::string(what) + ": " + std::strerror(err));
}

Result<std::string> ReadSmallFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return MakeError(ErrorCode::kNotFound, path.string() + ": key file not found");
    return IoError(path, "cannot open key file", errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Corrupt(path.string(), "not a regular file");
  }
  std::string out;
  char buf[kMaxKeystoreFileBytes + 1];
  while (out.size() <= kMaxKeystoreFileBytes) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError(path, "cannot read key file", err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (out.size() > kMaxKeystoreFileBytes)
    return Corrupt(path.string(), "larger than " + std::to_string(kMaxKeystoreFileBytes) +
                                      " bytes, not a key file");
  return out;
}

}  // namespace

Status ScryptParams::Validate() const {
  if (n < 2 || (n & (n - 1)) != 0)
    return MakeError(ErrorCode::kInvalidArgument, "scrypt n must be a power of two >= 2");
  if (n > kMaxN)
    return MakeError(ErrorCode::kInvalidArgument,
                     "scrypt n above the maximum " + std::to_string(kMaxN));
  if (r < 1 || r > kMaxR)
    return MakeError(ErrorCode::kInvalidArgument,
                     "scrypt r must be in [1, " + std::to_string(kMaxR) + "]");
  if (p < 1 || p > kMaxP)
    return MakeError(ErrorCode::kInvalidArgument,
                     "scrypt p must be in [1, " + std::to_string(kMaxP) + "]");
  const uint64_t memory_bytes = 128 * uint64_t{r} * n;  // bounded: 128 * 32 * 2^20
  if (memory_bytes > kMaxMemoryBytes)
    return MakeError(ErrorCode::kInvalidArgument, "scrypt 128*r*n exceeds the memory cap");
  if (memory_bytes * p > kMaxWorkBytes)
    return MakeError(ErrorCode::kInvalidArgument, "scrypt 128*r*n*p exceeds the work cap");
  return OkStatus();
}

Result<std::string> SealKeystore(const PrivateKey& key, std::string_view passphrase,
                                 const ScryptParams& params) {
  LEDGER_TRY(CheckPassphrase(passphrase));
  LEDGER_TRY(params.Validate());
  std::array<uint8_t, kKeystoreSaltBytes> salt{};
  std::array<uint8_t, kKeystoreNonceBytes> nonce{};
  RandomBytes(salt.data(), salt.size());
  RandomBytes(nonce.data(), nonce.size());
  const PublicKey public_key = key.GetPublicKey();
  std::string header = SerializeHeader(params, salt, nonce, public_key, public_key.ToAddress());

  SecretBuffer<kDerivedKeyBytes> derived;
  LEDGER_TRY(DeriveKey(passphrase, salt, params, derived.data()));
  std::array<uint8_t, kSealedBytes> sealed{};
  try {
    CryptoPP::GCM<CryptoPP::AES>::Encryption gcm;
    gcm.SetKeyWithIV(derived.data(), kDerivedKeyBytes, nonce.data(), nonce.size());
    gcm.EncryptAndAuthenticate(sealed.data(), sealed.data() + kPrivateKeyBytes, kKeystoreTagBytes,
                               nonce.data(), static_cast<int>(nonce.size()),
                               reinterpret_cast<const uint8_t*>(header.data()), header.size(),
                               key.secret().data(), kPrivateKeyBytes);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("AES-GCM failed: ") + e.what());
  }
  std::string out = std::move(header);
  AppendLine(out, kLabelSealed, ToHex(sealed));
  return out;
}

Result<KeystoreInfo> ParseKeystoreInfo(std::string_view contents, std::string_view name) {
  auto parsed = Parse(contents, name);
  if (!parsed) return std::unexpected(parsed.error());
  return parsed->info;
}

Result<PrivateKey> OpenKeystore(std::string_view contents, std::string_view passphrase,
                                std::string_view name) {
  auto parsed = Parse(contents, name);
  if (!parsed) return std::unexpected(parsed.error());
  // An over-long passphrase cannot have sealed any file; say so rather than spend scrypt on it.
  if (passphrase.size() > kMaxPassphraseBytes) return WrongPassphrase(name);

  SecretBuffer<kDerivedKeyBytes> derived;
  LEDGER_TRY(DeriveKey(passphrase, parsed->salt, parsed->info.scrypt, derived.data()));
  SecretBuffer<kPrivateKeyBytes> secret;
  bool authentic = false;
  try {
    CryptoPP::GCM<CryptoPP::AES>::Decryption gcm;
    gcm.SetKeyWithIV(derived.data(), kDerivedKeyBytes, parsed->nonce.data(), parsed->nonce.size());
    authentic = gcm.DecryptAndVerify(
        secret.data(), parsed->sealed.data() + kPrivateKeyBytes, kKeystoreTagBytes,
        parsed->nonce.data(), static_cast<int>(parsed->nonce.size()),
        reinterpret_cast<const uint8_t*>(parsed->header.data()), parsed->header.size(),
        parsed->sealed.data(), kPrivateKeyBytes);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, std::string("AES-GCM failed: ") + e.what());
  }
  if (!authentic) return WrongPassphrase(name);

  // Authentic but wrong can only come from a faulty writer; still never hand out such a key.
  auto key = PrivateKey::FromBytes(ByteSpan(secret.bytes.data(), secret.bytes.size()));
  if (!key) return Corrupt(name, "decrypted secret is not a valid secp256k1 key");
  if (key->GetPublicKey() != parsed->info.public_key)
    return Corrupt(name, "decrypted secret does not match public_key");
  return std::move(*key);
}

Status WriteKeystoreFile(const std::filesystem::path& path, const PrivateKey& key,
                         std::string_view passphrase, const KeystoreWriteOptions& options) {
  // Fail fast before spending scrypt's time; WriteFileAtomically re-checks atomically.
  struct stat existing {};
  if (!options.allow_overwrite && ::lstat(path.c_str(), &existing) == 0)
    return MakeError(ErrorCode::kAlreadyExists,
                     path.string() + ": key file already exists (refusing to overwrite)");
  auto contents = SealKeystore(key, passphrase, options.scrypt);
  if (!contents) return std::unexpected(contents.error());

  Status written = WriteFileAtomically(path, *contents, 0600, options.allow_overwrite);
  if (!written && written.error().code == ErrorCode::kAlreadyExists)
    return MakeError(ErrorCode::kAlreadyExists,
                     path.string() + ": key file already exists (refusing to overwrite)");
  return written;
}

Result<KeystoreInfo> ReadKeystoreInfo(const std::filesystem::path& path) {
  auto contents = ReadSmallFile(path);
  if (!contents) return std::unexpected(contents.error());
  return ParseKeystoreInfo(*contents, path.string());
}

Result<PrivateKey> ReadKeystoreFile(const std::filesystem::path& path,
                                    std::string_view passphrase) {
  auto contents = ReadSmallFile(path);
  if (!contents) return std::unexpected(contents.error());
  return OpenKeystore(*contents, passphrase, path.string());
}

}  // namespace cl::crypto
