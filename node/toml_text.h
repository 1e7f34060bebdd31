// Parsing a TOML document (config.toml, and ledgerctl's consortium.toml and peers.toml) into a
// table, with toml++'s exception turned into one error that names the file, line and column.
// Thread safety: a free function with no shared state.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "util/status.h"

namespace cl::node {

// kInvalidArgument "FILE:LINE:COLUMN: what" when `text` is not TOML.
Result<toml::table> ParseTomlText(std::string_view text, const std::string& file);

}  // namespace cl::node
