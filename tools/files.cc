#include "tools/files.h"

#include <fstream>
#include <sstream>

namespace cl::tools {

namespace fs = std::filesystem;

Status WriteTextFile(const fs::path& path, const std::string& text, fs::perms perms) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return MakeError(ErrorCode::kIoError, path.string() + ": cannot write");
  std::error_code ec;
  fs::permissions(path, perms, ec);
  if (ec) return MakeError(ErrorCode::kIoError, path.string() + ": cannot set permissions");
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
