// docs/ledger.md lists every receipt number a client reads: the result codes and the receipt
// statuses. The tables must match ledger/result_code.h exactly, both ways.
#include "ledger/result_code.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace cl::ledger {
namespace {

std::string LedgerDocs() {
  std::filesystem::path repo =
      std::filesystem::path(LEDGER_VECTORS_DIR).parent_path().parent_path();
  std::ifstream in(repo / "docs" / "ledger.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every "| number | `name`" pair in the lines of the section that starts at `heading`.
std::map<uint32_t, std::string> NumberedNames(const std::string& docs, const std::string& heading) {
  std::map<uint32_t, std::string> out;
  size_t start = docs.find(heading);
  if (start == std::string::npos) return out;
  size_t end = docs.find("\n\n`", start);  // the paragraph after the table
  std::string section = docs.substr(start, end - start);
  static const std::regex pair(R"(\| (\d+) \| `([a-z_]+)`)");
  for (std::sregex_iterator it(section.begin(), section.end(), pair), last; it != last; ++it)
    out[static_cast<uint32_t>(std::stoul((*it)[1]))] = (*it)[2];
  return out;
}

TEST(ResultCodeDocs, ResultCodeTableMatchesTheCode) {
  auto documented = NumberedNames(LedgerDocs(), "## Result codes");
  std::map<uint32_t, std::string> code;
  for (uint32_t n = 0; n < 256; ++n) {
    std::string_view name = ResultCodeName(static_cast<ResultCode>(n));
    if (name != "unknown") code[n] = std::string(name);
  }
  EXPECT_EQ(documented, code);
}

TEST(ResultCodeDocs, ReceiptStatusTableMatchesTheCode) {
  auto documented = NumberedNames(LedgerDocs(), "| `Receipt.status` | name |");
  std::map<uint32_t, std::string> code;
  for (uint32_t n = 0; n < 16; ++n) {
    std::string_view name = TxStatusName(static_cast<TxStatus>(n));
    if (name != "unknown") code[n] = std::string(name);
  }
  EXPECT_EQ(documented, code);
}

}  // namespace
}  // namespace cl::ledger
