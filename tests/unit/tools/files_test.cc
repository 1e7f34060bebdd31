// tools/files.h: the operator commands' outputs are written whole or not at all, never through a
// symlink, never over an existing file, with their mode from creation (review finding 4).
#include "tools/files.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/unit/tools/consortium_fixture.h"

namespace cl::tools {
namespace {

namespace fs = std::filesystem;

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

// Everything in `dir`, by name.
std::vector<std::string> Listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Files, ASecretIsNeverReadableByOthersEvenBeforeItsModeIsSet) {
  TempDir tmp;
  const mode_t saved = ::umask(0);
  const Status written = WriteTextFile(tmp.path() / "node.key", "secret", kSecretFileMode);
  ::umask(saved);
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(fs::status(tmp.path() / "node.key").permissions() & fs::perms::all, kSecretFileMode);
  EXPECT_EQ(ReadFile(tmp.path() / "node.key"), "secret");
  EXPECT_EQ(Listing(tmp.path()), std::vector<std::string>{"node.key"});  // no temporary file
}

TEST(Files, NeverWritesOverAFileOrThroughASymlink) {
  TempDir tmp;
  WriteFile(tmp.path() / "a", "old");
  EXPECT_EQ(WriteTextFile(tmp.path() / "a", "new", kPublicFileMode).error().message,
            (tmp.path() / "a").string() + ": exists; remove it or choose another path");
  EXPECT_EQ(ReadFile(tmp.path() / "a"), "old");
  fs::create_symlink(tmp.path() / "target", tmp.path() / "link");  // dangling
  EXPECT_EQ(WriteTextFile(tmp.path() / "link", "new", kPublicFileMode).error().code,
            ErrorCode::kAlreadyExists);
  EXPECT_FALSE(fs::exists(tmp.path() / "target"));
  EXPECT_EQ(Listing(tmp.path()), (std::vector<std::string>{"a", "link"}));
}

TEST(Files, WhenOneFileCannotBeWrittenNoneIsLeft) {
  TempDir tmp;
  const std::vector<NewFile> files = {
      {tmp.path() / "node.key", "secret", kSecretFileMode},
      {tmp.path() / "genesis.json", "{}", kPublicFileMode},
      {tmp.path() / "missing" / "config.toml", "x", kPublicFileMode},
  };
  const Status written = WriteNewFiles(files);
  ASSERT_FALSE(written.has_value());
  EXPECT_EQ(written.error().code, ErrorCode::kIoError) << written.error().message;
  EXPECT_TRUE(Listing(tmp.path()).empty());
  // A file that exists is left alone, and nothing is written.
  WriteFile(tmp.path() / "genesis.json", "theirs");
  EXPECT_EQ(WriteNewFiles({files[0], files[1]}).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Listing(tmp.path()), std::vector<std::string>{"genesis.json"});
  EXPECT_EQ(ReadFile(tmp.path() / "genesis.json"), "theirs");
}

}  // namespace
}  // namespace cl::tools
