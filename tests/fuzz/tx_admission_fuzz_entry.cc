// tx_admission (fuzz_entries.h): a transaction envelope through the node's admission.
#include "crypto/parallel_verifier.h"
#include "ledger/transaction.h"
#include "node/mempool.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "util/assert.h"

namespace cl::fuzz {
namespace {

constexpr uint64_t kHeight = 5;
constexpr uint64_t kTimeMs = 6'000;

crypto::ParallelVerifier& Verifier() {
  static crypto::ParallelVerifier* verifier = new crypto::ParallelVerifier(1);
  return *verifier;
}

}  // namespace

int FuzzTxAdmission(const uint8_t* data, size_t size) {
  node::MempoolConfig config;
  config.chain_id = std::string(kFuzzChainId);
  config.max_txs = 4;
  config.committed_height = [](const Hash32&) -> std::optional<uint64_t> { return std::nullopt; };
  config.now_ms = [] { return uint64_t{0}; };
  node::Mempool pool(std::move(config), &Verifier());
  const ByteSpan envelope(data, size);
  const auto first = pool.Admit(std::span<const ByteSpan>(&envelope, 1), kHeight, kTimeMs);
  LEDGER_ASSERT(first.size() == 1);
  if (first[0].status != node::AdmitStatus::kAdmitted) {
    LEDGER_ASSERT(first[0].status == node::AdmitStatus::kRejected);
    LEDGER_ASSERT(!first[0].reason.empty());
    LEDGER_ASSERT(pool.size() == 0);
    return 0;
  }
  // Admitted: the serial check agrees with the parallel verifier, under the same id, and the
  // pooled transaction may be included in the next block.
  auto serial = ledger::VerifyEnvelope(envelope, kFuzzChainId);
  LEDGER_ASSERT(serial.has_value());
  LEDGER_ASSERT(serial->tx_id() == first[0].tx_id);
  LEDGER_ASSERT(size <= ledger::kMaxTxEnvelopeBytes);
  LEDGER_ASSERT(node::StillValid(serial->body(), kHeight + 1, kTimeMs));
  LEDGER_ASSERT(pool.size() == 1 && pool.bytes() == size);
  const auto again = pool.Admit(std::span<const ByteSpan>(&envelope, 1), kHeight, kTimeMs);
  LEDGER_ASSERT(again[0].status == node::AdmitStatus::kDuplicate);
  LEDGER_ASSERT(pool.Reap(10, 1u << 20, kHeight + 1).size() == 1);
  return 0;
}

std::vector<Bytes> TxAdmissionSeeds() {
  return {CreateAccountTx(1), CreateAccountTx(2), IssueTx(1, 500), IssueTx(2, 1)};
}

}  // namespace cl::fuzz
