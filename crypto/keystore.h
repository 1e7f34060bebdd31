// Passphrase-encrypted key files: how a node's or an operator's secp256k1 secret key rests on disk.
//
// scrypt (Crypto++) stretches the passphrase with a random salt into a 32-byte key; AES-256-GCM
// (Crypto++) seals the 32-byte secret under a random 12-byte nonce, with every header line of the
// file as associated data, so no header byte (version, scrypt parameters, salt, public key) can be
// changed without the file failing to open. The public key and address are stored in clear so tools
// can show them without the passphrase; after decryption they must match the secret.
//
// The file is a small strict text format, specified byte for byte in docs/keystore.md ("Keystore
// file format"). It reaches disk and outlives software versions: DO NOT CHANGE version 1; a
// different layout needs a new version number.
//
// Errors: a wrong passphrase (or a file whose ciphertext or header was altered) is kUnauthenticated
// "wrong passphrase or corrupted key file"; a truncated, garbled or unknown-version file is
// kCorruption; a missing file is kNotFound. Every message names the file.
//
// Thread safety: free functions with no shared state; safe from any thread. Two writers racing for
// the same path cannot both succeed unless overwriting was allowed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/keys.h"
#include "util/status.h"

namespace cl::crypto {

// First line of a version-1 file, without its newline. Do not change.
inline constexpr std::string_view kKeystoreMagicV1 = "consortium-ledger-keystore v1";
// A version-1 file is about 330 bytes; anything larger is not one.
inline constexpr size_t kMaxKeystoreFileBytes = 4096;
inline constexpr size_t kKeystoreSaltBytes = 32;
inline constexpr size_t kKeystoreNonceBytes = 12;  // AES-GCM's standard nonce size
inline constexpr size_t kKeystoreTagBytes = 16;    // full-length GCM tag
// Longest passphrase accepted, in bytes (it is hashed as given: UTF-8, no normalisation).
inline constexpr size_t kMaxPassphraseBytes = 1024;

// scrypt cost parameters (RFC 7914). Stored in the file, so a file written with any accepted
// parameters can be read back. Reading enforces the same bounds, so a tampered header cannot make
// a reader allocate or spin without limit.
struct ScryptParams {
  static constexpr uint64_t kMaxN = uint64_t{1} << 20;
  static constexpr uint32_t kMaxR = 32;
  static constexpr uint32_t kMaxP = 16;
  // Memory scrypt needs is 128 * r * n bytes per lane; cap it (the default uses 32 MiB).
  static constexpr uint64_t kMaxMemoryBytes = uint64_t{256} << 20;
  // Total work 128 * r * n * p is capped too (bytes hashed through the memory-hard loop).
  static constexpr uint64_t kMaxWorkBytes = uint64_t{1} << 30;

  uint64_t n = uint64_t{1} << 15;  // CPU/memory cost, a power of two >= 2
  uint32_t r = 8;                  // block size
  uint32_t p = 1;                  // parallelisation

  // kInvalidArgument naming the parameter that is out of bounds.
  Status Validate() const;
  bool operator==(const ScryptParams&) const = default;
};

// What a key file shows without its passphrase.
struct KeystoreInfo {
  PublicKey public_key;
  Address address;
  ScryptParams scrypt;
};

struct KeystoreWriteOptions {
  ScryptParams scrypt;
  // Without this, writing to a path that exists is kAlreadyExists and the file is untouched.
  bool allow_overwrite = false;
};

// --- The format, in memory. `name` is used only in error messages (usually the file's path).

// Encrypts key under passphrase (1..kMaxPassphraseBytes bytes) into a version-1 key file's bytes.
Result<std::string> SealKeystore(const PrivateKey& key, std::string_view passphrase,
                                 const ScryptParams& params);
// Parses and checks everything that needs no passphrase.
Result<KeystoreInfo> ParseKeystoreInfo(std::string_view contents, std::string_view name);
// Parses, derives the key, decrypts, and checks the secret against the stored public key.
Result<PrivateKey> OpenKeystore(std::string_view contents, std::string_view passphrase,
                                std::string_view name);

// --- Files.

// Writes the key file atomically (util/atomic_file.h): a temporary file in the same directory,
// created with mode 0600, written, fsynced, renamed over path (without replacing an existing file
// unless allowed), then the directory fsynced. On any error no file is left at path (or the old one
// is intact) and the temporary file is removed.
Status WriteKeystoreFile(const std::filesystem::path& path, const PrivateKey& key,
                         std::string_view passphrase, const KeystoreWriteOptions& options = {});
Result<KeystoreInfo> ReadKeystoreInfo(const std::filesystem::path& path);
Result<PrivateKey> ReadKeystoreFile(const std::filesystem::path& path, std::string_view passphrase);

}  // namespace cl::crypto
