// docs/ledger.md lists every receipt number a client reads: the result codes and the receipt
// statuses. The tables must match ledger/result_code.h exactly, both ways.
#include "ledger/result_code.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
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
  // Scanned by hand: std::regex trips g++ 12's -Wmaybe-uninitialized in the sanitizer build.
  const std::string kLower = "abcdefghijklmnopqrstuvwxyz_";
  for (size_t at = section.find("| "); at != std::string::npos; at = section.find("| ", at + 1)) {
    size_t digits = at + 2;
    size_t digits_end = section.find_first_not_of("0123456789", digits);
    if (digits_end == digits || digits_end == std::string::npos) continue;
    if (section.compare(digits_end, 4, " | `") != 0) continue;
    size_t name = digits_end + 4;
    size_t name_end = section.find_first_not_of(kLower, name);
    if (name_end == name || name_end == std::string::npos || section[name_end] != '`') continue;
    out[static_cast<uint32_t>(std::stoul(section.substr(digits, digits_end - digits)))] =
        section.substr(name, name_end - name);
  }
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
