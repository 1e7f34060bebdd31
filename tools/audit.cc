// ledger-audit: the offline verifier of proof bundles (docs/proofs.md). It trusts only the genesis
// file given on the command line, uses no network, and links only crypto/, the ledger's proof code
// and the genesis loader (never node/, p2p/ or consensus/).
//
// Usage: ledger-audit verify --genesis GENESIS.json BUNDLE [--explain] [--json]
// What it prints is rendered from the verified facts only (tools/audit_report.h).
// Exit codes: 0 every check passed; 1 verification failed (one line names the failed check);
// 2 usage error or unreadable input.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "genesis/genesis.h"
#include "ledger/proof_bundle.h"
#include "tools/audit_report.h"

namespace {

using namespace cl;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

int Usage() {
  std::fprintf(stderr,
               "usage: ledger-audit verify --genesis GENESIS.json BUNDLE [--explain] [--json]\n");
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // Hostile bundles make protobuf log parse complaints; the verdict line is the only output.
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] != "verify") return Usage();
  std::string genesis_path, bundle_path;
  bool explain = false, json = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--genesis" && i + 1 < args.size()) {
      genesis_path = args[++i];
    } else if (args[i] == "--explain") {
      explain = true;
    } else if (args[i] == "--json") {
      json = true;
    } else if (!args[i].starts_with("--") && bundle_path.empty()) {
      bundle_path = args[i];
    } else {
      return Usage();
    }
  }
  if (genesis_path.empty() || bundle_path.empty()) return Usage();

  Result<genesis::Genesis> g = genesis::LoadGenesisFile(genesis_path);
  if (!g) {
    std::fprintf(stderr, "ledger-audit: %s\n", g.error().message.c_str());
    return kExitUsage;
  }
  ledger::TrustAnchor anchor;
  anchor.chain_id = g->chain_id;
  anchor.genesis_hash = g->hash;
  for (const genesis::Validator& v : g->validators)
    anchor.validators.push_back(v.node_key);

  std::ifstream in(bundle_path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ledger-audit: cannot read %s\n", bundle_path.c_str());
    return kExitUsage;
  }
  Bytes bundle;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bundle.insert(bundle.end(), buf, buf + in.gcount());
    if (bundle.size() > ledger::kMaxProofBundleBytes) break;
  }

  Result<ledger::VerifiedFacts> f = ledger::VerifyProofBundle(anchor, bundle);
  if (!f) {
    if (json)
      std::printf("%s\n", tools::AuditFailureJson(f.error().message).c_str());
    else
      std::printf("FAILED: %s\n", f.error().message.c_str());
    return kExitFailed;
  }
  if (json) {
    std::printf("%s\n", tools::AuditJson(*f).c_str());
  } else if (explain) {
    for (const std::string& c : f->checks)
      std::printf("  ok  %s\n", c.c_str());
    std::printf("VERIFIED: %s\n", tools::AuditStatement(*f).c_str());
  } else {
    std::printf("VERIFIED\n");
  }
  return 0;
}
