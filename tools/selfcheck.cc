// ledger-selfcheck: exercises the node's foundation end to end on this machine, with real files and
// a real LevelDB, and prints each check as it passes: keys and signatures, the parallel verifier,
// the encrypted keystore, and the authenticated state tree with its proofs (verified by the
// standalone verifier the offline auditor uses). Exit code 0 only when every check passes.
//
// Usage: ledger-selfcheck [--dir DIR] [--keys N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/keystore.h"
#include "crypto/parallel_verifier.h"
#include "crypto/sha256.h"
#include "ledger/leveldb_store.h"
#include "ledger/state_proof.h"
#include "ledger/state_tree.h"

namespace {

namespace fs = std::filesystem;
using namespace cl;

int failures = 0;

void Check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", what.c_str());
  if (!ok) ++failures;
}

double MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

void CheckSignatures() {
  std::printf("signatures (secp256k1 ECDSA, low-S, RFC 6979)\n");
  crypto::PrivateKey key = crypto::PrivateKey::Generate();
  crypto::PublicKey pub = key.GetPublicKey();
  Hash32 digest = crypto::SignedDigest(crypto::Domain::kTransaction, "selfcheck", AsSpan("pay 10"));
  crypto::Signature sig = key.Sign(digest);
  Check(crypto::Verify(pub, digest, sig),
        "a signature verifies (address " + pub.ToAddress().ToHex() + ")");
  Hash32 other =
      crypto::SignedDigest(crypto::Domain::kTransaction, "other-chain", AsSpan("pay 10"));
  Check(!crypto::Verify(pub, other, sig), "the same signature fails for another chain id");
  crypto::Signature tampered = sig;
  tampered.bytes[10] ^= 1;
  Check(!crypto::Verify(pub, digest, tampered), "a tampered signature fails");
}

void CheckParallelVerifier() {
  std::printf("parallel verifier\n");
  constexpr size_t kItems = 2000;
  crypto::PrivateKey key = crypto::PrivateKey::Generate();
  crypto::PublicKey pub = key.GetPublicKey();
  std::vector<crypto::Signature> sigs(kItems);
  std::vector<crypto::VerifyItem> items(kItems);
  for (size_t i = 0; i < kItems; ++i) {
    Hash32 d = crypto::Sha256Of(AsSpan(std::to_string(i)));
    sigs[i] = key.Sign(d);
    if (i % 97 == 0) sigs[i].bytes[40] ^= 0x80;  // every 97th is bad
    items[i] = {pub.span(), d, sigs[i].span()};
  }
  crypto::ParallelVerifier verifier;
  auto start = std::chrono::steady_clock::now();
  auto verdicts = verifier.VerifyBatch(items);
  double ms = MsSince(start);
  bool exact = verdicts.has_value();
  for (size_t i = 0; exact && i < kItems; ++i)
    exact = ((*verdicts)[i] == crypto::kVerdictValid) == (i % 97 != 0);
  Check(exact, std::to_string(kItems) + " signatures on " + std::to_string(verifier.num_threads()) +
                   " threads, every bad one caught (" + std::to_string(static_cast<int>(ms)) +
                   " ms)");
}

void CheckKeystore(const fs::path& dir) {
  std::printf("keystore (scrypt + AES-256-GCM, mode 0600)\n");
  crypto::PrivateKey key = crypto::PrivateKey::Generate();
  fs::path file = dir / "node.key";
  crypto::KeystoreWriteOptions options;
  options.scrypt.n = 1 << 14;
  auto written = crypto::WriteKeystoreFile(file, key, "correct horse", options);
  Check(written.has_value(), "key file written to " + file.string());
  auto perms = fs::status(file).permissions();
  Check((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none,
        "key file is readable by its owner only");
  auto back = crypto::ReadKeystoreFile(file, "correct horse");
  Check(back.has_value() && back->GetPublicKey() == key.GetPublicKey(),
        "the right passphrase opens it");
  auto wrong = crypto::ReadKeystoreFile(file, "wrong horse");
  Check(!wrong.has_value(),
        std::string("a wrong passphrase is refused: ") + (wrong ? "" : wrong.error().message));
}

void CheckStateTree(const fs::path& dir, size_t keys) {
  std::printf("state tree (versioned sparse Merkle tree on LevelDB)\n");
  fs::path db_dir = dir / "state";
  Hash32 root;
  {
    auto store = ledger::LevelDbStore::Open(db_dir, ledger::LevelDbOptions{});
    if (!store) {
      Check(false, "open LevelDB: " + store.error().message);
      return;
    }
    ledger::StateTree tree(store->get());
    constexpr size_t kVersions = 3;
    auto start = std::chrono::steady_clock::now();
    for (uint64_t v = 1; v <= kVersions; ++v) {
      std::vector<ledger::StateWrite> writes;
      for (size_t i = 0; i < keys; ++i) {
        std::string k = "account/" + std::to_string(i);
        if (v == 3 && i % 10 == 0) {
          writes.push_back({ToBytes(k), std::nullopt});  // delete a tenth at version 3
        } else {
          writes.push_back({ToBytes(k), ToBytes("balance=" + std::to_string(i * v))});
        }
      }
      ledger::WriteBatch batch;
      auto r = tree.Apply(v, writes, &batch);
      if (!r || !(*store)->Write(batch, /*sync=*/true)) {
        Check(false, "apply version " + std::to_string(v));
        return;
      }
      root = *r;
    }
    Check(true, std::to_string(kVersions) + " versions of " + std::to_string(keys) +
                    " writes committed (" + std::to_string(static_cast<int>(MsSince(start))) +
                    " ms), root " + root.ToHex());
    auto present = tree.Prove(AsSpan("account/7"), 3);
    bool ok = present.has_value() &&
              ledger::VerifyStateProof(root, AsSpan("account/7"),
                                       AsSpan("balance=" + std::to_string(7 * 3)), *present)
                  .has_value();
    Check(ok, "inclusion proof of account/7 at version 3 verifies (" +
                  std::to_string(present ? present->Encode().size() : 0) + " bytes)");
    auto absent = tree.Prove(AsSpan("account/10"), 3);
    ok = absent.has_value() &&
         ledger::VerifyStateProof(root, AsSpan("account/10"), std::nullopt, *absent).has_value();
    Check(ok, "non-inclusion proof of deleted account/10 at version 3 verifies");
    auto old = tree.Prove(AsSpan("account/10"), 2);
    auto old_root = tree.Root(2);
    ok = old.has_value() && old_root.has_value() &&
         ledger::VerifyStateProof(*old_root, AsSpan("account/10"), AsSpan("balance=20"), *old)
             .has_value();
    Check(ok, "account/10 still proven at version 2");
    ok = present.has_value() &&
         !ledger::VerifyStateProof(root, AsSpan("account/7"), AsSpan("balance=999"), *present)
              .has_value();
    Check(ok, "a proof does not verify a different value");
  }
  auto reopened = ledger::LevelDbStore::Open(db_dir, ledger::LevelDbOptions{});
  bool same = false;
  if (reopened) {
    ledger::StateTree tree(reopened->get());
    auto r = tree.Root(3);
    same = r.has_value() && *r == root;
  }
  Check(same, "after closing and reopening the database the root is the same");
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  size_t keys = 20'000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--keys" && i + 1 < argc) {
      keys = std::strtoull(argv[++i], nullptr, 10);
      if (keys < 100 || keys > 10'000'000) {
        std::fprintf(stderr, "ledger-selfcheck: --keys must be in 100..10000000\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "usage: ledger-selfcheck [--dir DIR] [--keys N]\n");
      return 2;
    }
  }
  bool temp = dir.empty();
  if (temp) {
    std::string tmpl = (fs::temp_directory_path() / "ledger-selfcheck-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "ledger-selfcheck: cannot create a temporary directory\n");
      return 1;
    }
    dir = tmpl;
  } else if (fs::exists(dir)) {
    std::fprintf(stderr, "ledger-selfcheck: %s exists; give a new directory\n", dir.c_str());
    return 2;
  } else {
    fs::create_directories(dir);
  }
  std::printf("ledger-selfcheck in %s\n", dir.c_str());
  CheckSignatures();
  CheckParallelVerifier();
  CheckKeystore(dir);
  CheckStateTree(dir, keys);
  if (temp) fs::remove_all(dir);
  std::printf(failures == 0 ? "all checks passed\n" : "%d checks FAILED\n", failures);
  return failures == 0 ? 0 : 1;
}
