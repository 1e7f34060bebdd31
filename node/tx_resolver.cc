#include "node/tx_resolver.h"

#include <algorithm>
#include <optional>
#include <span>

#include "util/assert.h"

namespace cl::node {

Result<std::vector<ledger::VerifiedTx>> ResolveBlockTxs(
    const ledger::DecodedBlock& block, std::string_view chain_id, const Mempool& mempool,
    crypto::ParallelVerifier& verifier, VerifiedEnvelopeCache& cache, size_t max_cache) {
  LEDGER_ASSERT(block.txs.size() == block.tx_ids.size());
  std::vector<std::optional<ledger::VerifiedTx>> found(block.txs.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < block.txs.size(); ++i) {
    // A held copy only when its envelope bytes are the block's (see the header).
    const ByteSpan envelope = block.txs[i];
    auto same = [&](const Bytes& known) { return std::ranges::equal(known, envelope); };
    if (auto pooled = mempool.Find(block.tx_ids[i]); pooled && same(pooled->envelope)) {
      found[i] = pooled->tx;
    } else if (auto it = cache.find(block.tx_ids[i]);
               it != cache.end() && same(it->second.envelope)) {
      found[i] = it->second.tx;
    } else {
      missing.push_back(i);
    }
  }
  if (!missing.empty()) {
    // One parallel pass for every signature of every transaction this node has not seen.
    std::vector<ledger::ParsedTx> parsed;
    std::vector<crypto::VerifyItem> items;
    parsed.reserve(missing.size());
    for (size_t i : missing) {
      auto p = ledger::ParseTransaction(block.txs[i], chain_id);
      if (!p) return std::unexpected(p.error());
      parsed.push_back(std::move(*p));
    }
    for (const ledger::ParsedTx& p : parsed)
      for (size_t s = 0; s < p.signatures.size(); ++s)
        items.push_back({p.keys[s].span(), p.signing_digest, p.signatures[s].span()});
    std::vector<uint8_t> verdicts(items.size());
    for (size_t offset = 0; offset < items.size();
         offset += crypto::ParallelVerifier::kMaxBatchItems) {
      size_t n = std::min(items.size() - offset, crypto::ParallelVerifier::kMaxBatchItems);
      auto status = verifier.VerifyBatch(std::span(items).subspan(offset, n),
                                         std::span(verdicts).subspan(offset, n));
      LEDGER_ASSERT(status.has_value());
    }
    size_t next = 0;
    for (size_t k = 0; k < missing.size(); ++k) {
      size_t n = parsed[k].signatures.size();
      bool ok[ledger::kMaxSignaturesPerTx] = {};
      for (size_t s = 0; s < n; ++s)
        ok[s] = verdicts[next + s] == crypto::kVerdictValid;
      next += n;
      auto verified =
          ledger::AcceptBatchVerdict(std::move(parsed[k]), std::span<const bool>(ok, n));
      if (!verified) return std::unexpected(verified.error());
      if (cache.size() < max_cache)
        cache.insert_or_assign(block.tx_ids[missing[k]],
                               VerifiedEnvelope{block.txs[missing[k]], *verified});
      found[missing[k]] = std::move(*verified);
    }
  }
  std::vector<ledger::VerifiedTx> out;
  out.reserve(found.size());
  for (auto& f : found)
    out.push_back(std::move(*f));
  return out;
}

}  // namespace cl::node
