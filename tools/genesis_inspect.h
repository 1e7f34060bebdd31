// `ledgerctl genesis inspect`: what a founder compares out of band before starting a node — the
// genesis hash the node computes (genesis::Genesis::hash, TaggedHash(kGenesis, file bytes), which
// `status` reports as genesis_hash), the members, the validator set and every parameter.
//
// Everything printed comes from genesis::LoadGenesis's result (what the node will run with), not
// from the file's text; names are printed as JSON strings, so no byte of a name can hide.
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace cl::tools {

// The report for a genesis file's text (`file` names it in the first line and in errors).
Result<std::string> InspectGenesis(std::string_view text, std::string_view file);

}  // namespace cl::tools
