#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "util/hex.h"

namespace cl {
namespace {

std::unexpected<Error> IoError(const std::filesystem::path& path, std::string_view what, int err) {
  const ErrorCode code =
      err == EACCES || err == EPERM ? ErrorCode::kPermissionDenied : ErrorCode::kIoError;
  return MakeError(code, path.string() + ": " + std::string(what) + ": " + std::strerror(err));
}

// 0, or the errno of the failed write.
int WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// Moves tmp to path; without allow_overwrite, fails with EEXIST if path exists (atomically).
int MoveIntoPlace(const std::string& tmp, const std::string& path, bool allow_overwrite) {
  if (allow_overwrite) return ::rename(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // A filesystem without RENAME_NOREPLACE: link() also refuses to replace.
  if (::link(tmp.c_str(), path.c_str()) != 0) return errno;
  ::unlink(tmp.c_str());
  return 0;
}

std::string RandomSuffix() {
  std::array<uint8_t, 8> bytes{};
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the pid below keeps names apart; O_EXCL keeps them safe
    got += static_cast<size_t>(n);
  }
  return ToHex(ByteSpan(bytes.data(), bytes.size())) + "-" + std::to_string(::getpid());
}

}  // namespace

Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode, bool allow_overwrite) {
  const std::filesystem::path dir =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + RandomSuffix());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return IoError(tmp, "cannot create a temporary file", errno);
  // The umask can only remove bits from mode; set it exactly all the same.
  int err = ::fchmod(fd, mode) != 0 ? errno : 0;
  if (err == 0) err = WriteAll(fd, contents);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return IoError(tmp, "cannot write", err);
  }
  if (int move_err = MoveIntoPlace(tmp.string(), path.string(), allow_overwrite); move_err != 0) {
    ::unlink(tmp.c_str());
    if (move_err == EEXIST) return MakeError(ErrorCode::kAlreadyExists, path.string() + ": exists");
    return IoError(path, "cannot move into place", move_err);
  }
  // Make the rename itself durable.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return IoError(dir, "cannot open the directory to sync it", errno);
  const int sync_result = ::fsync(dir_fd);
  const int sync_errno = errno;
  ::close(dir_fd);
  if (sync_result != 0) return IoError(dir, "cannot sync the directory", sync_errno);
  return OkStatus();
}

}  // namespace cl
