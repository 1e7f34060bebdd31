// A fresh directory under the system temp dir for one test, removed with the object (with all it
// holds). Named after the test file that creates it (kv_store_test.cc: kv_store_test.XXXXXX), so
// a directory left behind by a killed test says where it came from.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <source_location>
#include <string>
#include <system_error>

namespace cl::test_support {

class TempDir {
 public:
  explicit TempDir(std::source_location where = std::source_location::current()) {
    const std::string stem = std::filesystem::path(where.file_name()).stem().string();
    std::string pattern = (std::filesystem::temp_directory_path() / (stem + ".XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace cl::test_support
