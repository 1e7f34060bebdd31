// The question p2p asks the node about every peer: is this node key a current member? The node owns
// the answer (genesis plus governance changes), so it can change while sessions run; p2p asks at
// every handshake and again on every keepalive tick, and closes sessions of keys that left.
//
// Thread safety: IsMember is called from the p2p thread while the node may change the membership
// from others; implementations must be thread-safe.
#pragma once

#include <mutex>
#include <set>

#include "crypto/keys.h"

namespace cl::p2p {

class Membership {
 public:
  virtual ~Membership() = default;
  virtual bool IsMember(const crypto::PublicKey& node_key) const = 0;
};

// A membership held in memory (tests, tools, and nodes that load it from genesis). Thread-safe.
class StaticMembership final : public Membership {
 public:
  StaticMembership() = default;
  explicit StaticMembership(std::set<crypto::PublicKey> keys) : keys_(std::move(keys)) {}
  bool IsMember(const crypto::PublicKey& node_key) const override {
    std::lock_guard lock(mu_);
    return keys_.contains(node_key);
  }
  void Add(const crypto::PublicKey& key) {
    std::lock_guard lock(mu_);
    keys_.insert(key);
  }
  void Remove(const crypto::PublicKey& key) {
    std::lock_guard lock(mu_);
    keys_.erase(key);
  }
  void Replace(std::set<crypto::PublicKey> keys) {
    std::lock_guard lock(mu_);
    keys_ = std::move(keys);
  }

 private:
  mutable std::mutex mu_;
  std::set<crypto::PublicKey> keys_;
};

}  // namespace cl::p2p
