#include "tools/files.h"

#include <fstream>
#include <sstream>

#include "util/atomic_file.h"

namespace cl::tools {

namespace fs = std::filesystem;

namespace {

std::unexpected<Error> Exists(const fs::path& path) {
  return MakeError(ErrorCode::kAlreadyExists,
                   path.string() + ": exists; remove it or choose another path");
}

}  // namespace

Status WriteTextFile(const fs::path& path, std::string_view text, fs::perms perms) {
  Status written =
      WriteFileAtomically(path, text, static_cast<mode_t>(perms & fs::perms::all), false);
  if (!written && written.error().code == ErrorCode::kAlreadyExists) return Exists(path);
  return written;
}

Status WriteNewFiles(const std::vector<NewFile>& files) {
  for (size_t i = 0; i < files.size(); ++i) {
    Status written = WriteTextFile(files[i].path, files[i].text, files[i].perms);
    if (written) continue;
    std::error_code ignored;
    for (size_t j = 0; j < i; ++j)
      fs::remove(files[j].path, ignored);
    return written;
  }
  return OkStatus();
}

Status RefuseExisting(const fs::path& path) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);
  if (status.type() != fs::file_type::not_found && status.type() != fs::file_type::none)
    return Exists(path);
  return OkStatus();
}

Result<std::string> ReadTextFile(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return MakeError(ErrorCode::kNotFound, path.string() + ": no such file");
  if (fs::is_directory(path, ec))
    return MakeError(ErrorCode::kInvalidArgument, path.string() + ": is a directory, not a file");
  const auto size = fs::file_size(path, ec);
  if (ec) return MakeError(ErrorCode::kIoError, path.string() + ": cannot read: " + ec.message());
  if (size > max_bytes)
    return MakeError(ErrorCode::kInvalidArgument,
                     path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return MakeError(ErrorCode::kIoError, path.string() + ": cannot read");
  return text.str();
}

Status CreateFreshDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      return MakeError(ErrorCode::kAlreadyExists, dir.string() + ": exists and is not a directory");
    if (!fs::is_empty(dir, ec))
      return MakeError(ErrorCode::kAlreadyExists,
                       dir.string() + ": exists and is not empty; choose a new directory");
  }
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIoError, dir.string() + ": cannot create: " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  if (ec) return MakeError(ErrorCode::kIoError, dir.string() + ": cannot set permissions");
  return OkStatus();
}

}  // namespace cl::tools
