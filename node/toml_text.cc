#include "node/toml_text.h"

namespace cl::node {

Result<toml::table> ParseTomlText(std::string_view text, const std::string& file) {
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return MakeError(ErrorCode::kInvalidArgument, file + ":" + std::to_string(where.line) + ":" +
                                                      std::to_string(where.column) + ": " +
                                                      std::string(e.description()));
  }
}

}  // namespace cl::node
