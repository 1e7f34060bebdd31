#include "tools/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found)
    return MakeError(ErrorCode::kNotFound, path.string() + ": no such file");
  if (status.type() == fs::file_type::directory)
    return MakeError(ErrorCode::kInvalidArgument, path.string() + ": is a directory, not a file");
  // Read up to the limit rather than asking for the size first: a pipe (--passphrase-file
  // <(pass show bank-a)) has none.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return MakeError(ErrorCode::kIoError, path.string() + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buffer[64 * 1024];
  while (text.size() <= max_bytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return MakeError(ErrorCode::kIoError, path.string() + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (text.size() > max_bytes)
    return MakeError(ErrorCode::kInvalidArgument,
                     path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
  return text;
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
