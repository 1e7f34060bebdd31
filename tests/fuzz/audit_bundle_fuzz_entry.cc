// audit_bundle (fuzz_entries.h): a proof bundle through ledger-audit's verification and report.
#include <cstring>

#include "genesis/genesis.h"
#include "ledger/proof_bundle.h"
#include "tests/fuzz/fuzz_entries.h"
#include "tests/fuzz/fuzz_fixture.h"
#include "tools/audit_report.h"
#include "util/assert.h"
#include "util/canonical_proto.h"

namespace cl::fuzz {
namespace {

std::string VectorPath(std::string_view name) {
  return std::string(LEDGER_VECTORS_DIR) + "/proofs/" + std::string(name);
}

// The anchor ledger-audit builds from the genesis file (tools/audit.cc).
const ledger::TrustAnchor& Anchor() {
  static const ledger::TrustAnchor* anchor = [] {
    auto g = genesis::LoadGenesisFile(VectorPath("example-genesis.json"));
    LEDGER_ASSERT(g.has_value());
    auto* a = new ledger::TrustAnchor();
    a->chain_id = g->chain_id;
    a->genesis_hash = g->hash;
    for (const genesis::Validator& v : g->validators)
      a->validators.push_back(v.node_key);
    return a;
  }();
  return *anchor;
}

}  // namespace

int FuzzAuditBundle(const uint8_t* data, size_t size) {
  auto facts = ledger::VerifyProofBundle(Anchor(), ByteSpan(data, size));
  if (!facts) {
    LEDGER_ASSERT(!facts.error().message.empty());
    (void)tools::AuditFailureJson(facts.error().message);
    return 0;
  }
  (void)tools::AuditStatement(*facts);
  (void)tools::AuditJson(*facts);
  // Differential: a bundle that verifies is the one canonical encoding of what was parsed, so no
  // second byte string proves the same fact (STYLE rule 13).
  ledger::pb::ProofBundle parsed;
  LEDGER_ASSERT(parsed.ParseFromArray(data, static_cast<int>(size)));
  LEDGER_ASSERT(!HasUnknownFields(parsed));
  const std::string reencoded = CanonicalEncoding(parsed);
  LEDGER_ASSERT(reencoded.size() == size &&
                (size == 0 || std::memcmp(reencoded.data(), data, size) == 0));
  return 0;
}

std::vector<Bytes> AuditBundleSeeds() {
  std::vector<Bytes> seeds;
  for (std::string_view name :
       {"example-account.bundle", "example-no-account.bundle", "example-supply.bundle",
        "example-transfer.bundle", "example-tx.bundle"})
    seeds.push_back(ReadFileBytes(VectorPath(name)));
  return seeds;
}

}  // namespace cl::fuzz
