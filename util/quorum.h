// The one place that says how many faults a set of n replicas tolerates and how many make a
// quorum (DESIGN decision 7). Consensus, the certificate checks, the proof-bundle verifier and the
// RPC all call these; nothing else may compute a quorum.
//
// For any n >= 1: f = floor((n-1)/3) and quorum = ceil((n+f+1)/2), so that any two quorums share at
// least f+1 replicas, hence at least one correct one (2q - n >= f + 1). When n = 3f+1 this is the
// familiar 2f+1; for n = 5 it is 4 (not 3), for n = 6 it is 4 (not 3).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace cl {

constexpr uint32_t FaultsTolerated(uint32_t n) {
  return n == 0 ? 0 : (n - 1) / 3;
}

constexpr uint32_t QuorumSize(uint32_t n) {
  if (n == 0) return 1;  // an empty set has no quorum any set of signers can reach
  const uint32_t f = FaultsTolerated(n);
  return (n + f + 1 + 1) / 2;  // ceil((n + f + 1) / 2)
}

// Pinned: two quorums intersect in f+1 replicas, and n = 3f+1 gives 2f+1.
static_assert(QuorumSize(1) == 1 && QuorumSize(4) == 3 && QuorumSize(7) == 5);
static_assert(QuorumSize(5) == 4 && QuorumSize(6) == 4 && QuorumSize(8) == 6 && QuorumSize(9) == 6);
static_assert(2 * QuorumSize(6) - 6 >= FaultsTolerated(6) + 1);

}  // namespace cl
