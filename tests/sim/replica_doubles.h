// What a consensus replica needs from its host, in memory, shared by the simulator
// (tests/sim/cluster.cc) and the consensus_replica fuzz target (tests/fuzz): durable storage that
// keeps everything, and a signature verifier that remembers its verdicts. Header-only, so each
// user compiles it with its own flags (the fuzz target's coverage instrumentation included).
//
// Thread safety: none; one replica (storage) or one single-threaded cluster (verifier) each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>

#include "consensus/replica.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "util/bytes.h"

namespace cl::sim {

// Durable storage: every call is "synced" when it returns, as the interface requires.
class MemStorage final : public consensus::Storage {
 public:
  void AppendRecord(uint64_t seq, const std::string& record) override {
    records_.emplace(seq, record);
  }
  void PutViewRecord(const std::string& record) override { view_record_ = record; }
  void PutCheckpoint(const std::string& cert) override { checkpoint_ = cert; }
  void DropRecordsUpTo(uint64_t seq) override {
    records_.erase(records_.begin(), records_.upper_bound(seq));
  }
  Loaded Load() override {
    Loaded l;
    for (const auto& [seq, r] : records_)
      l.records.push_back(r);
    l.view_record = view_record_;
    l.checkpoint = checkpoint_;
    return l;
  }

 private:
  std::multimap<uint64_t, std::string> records_;
  std::string view_record_, checkpoint_;
};

// Memoises signature checks: a check is a pure function of (key, digest, signature), so each
// signature is verified for real once and every later check of it (the n-1 other replicas that
// receive the same broadcast; the fuzzer delivering the seeds' signed messages again) reuses the
// verdict. max_cached_verdicts > 0 bounds the memory: the cache is cleared when it holds that many.
class CachingVerifier final : public consensus::SignatureVerifier {
 public:
  explicit CachingVerifier(size_t max_cached_verdicts = 0)
      : max_cached_verdicts_(max_cached_verdicts) {}

  bool Verify(const crypto::PublicKey& key, const Hash32& digest,
              const crypto::Signature& sig) override {
    crypto::Sha256 h;
    h.Update(key.span()).Update(digest.span()).Update(sig.span());
    const Hash32 k = h.Final();
    if (auto it = cache_.find(k); it != cache_.end()) return it->second;
    const bool ok = crypto::Verify(key, digest, sig);
    if (max_cached_verdicts_ > 0 && cache_.size() >= max_cached_verdicts_) cache_.clear();
    cache_.emplace(k, ok);
    return ok;
  }

 private:
  size_t max_cached_verdicts_;  // 0: unbounded
  std::unordered_map<Hash32, bool, Hash32Hasher> cache_;
};

}  // namespace cl::sim
