// Resolution of a block's transactions to verified ones, for proposals (CheckProposal) and
// committed blocks (Commit): each transaction comes from the mempool or from the cache of
// proposal transactions this node verified before, or is verified now (every signature of every
// such transaction of the block in one parallel pass).
//
// A transaction id names the body, not the signatures, so a block's envelope may carry other
// signatures than the copy this node holds. A held copy is used only when its envelope bytes are
// the block's; otherwise the block's own envelope is verified. Every node thus decides a block
// alike, whatever it happens to have pooled.
//
// Thread safety: none of its own; the node calls it from its driver thread (the mempool is
// thread-safe, the cache belongs to the driver).
#pragma once

#include <string_view>
#include <unordered_map>
#include <vector>

#include "crypto/parallel_verifier.h"
#include "ledger/block.h"
#include "ledger/transaction.h"
#include "node/mempool.h"
#include "util/bytes.h"
#include "util/status.h"

namespace cl::node {

// A transaction verified from a proposal (not pooled), with the exact envelope verified.
struct VerifiedEnvelope {
  Bytes envelope;
  ledger::VerifiedTx tx;
};
using VerifiedEnvelopeCache = std::unordered_map<Hash32, VerifiedEnvelope, Hash32Hasher>;

// The block's transactions, verified, in block order; an error names the first that does not
// parse or verify. Transactions verified here are added to *cache while it holds fewer than
// max_cache entries.
Result<std::vector<ledger::VerifiedTx>> ResolveBlockTxs(
    const ledger::DecodedBlock& block, std::string_view chain_id, const Mempool& mempool,
    crypto::ParallelVerifier& verifier, VerifiedEnvelopeCache& cache, size_t max_cache);

}  // namespace cl::node
