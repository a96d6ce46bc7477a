#include "keystore/internal/posix_file.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

namespace sovereign::keystore_internal {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.Release();
  }
  return *this;
}

std::string ErrnoText(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer, which may or may not be `buf`.
  const char* text = ::strerror_r(err, buf, sizeof buf);
  return text != nullptr ? std::string(text) : fmt::format("errno {}", err);
}

std::string ModeText(mode_t mode) { return fmt::format("{:04o}", static_cast<unsigned>(mode & 07777)); }

int WriteAll(int fd, std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

Result<UniqueFd> CreatePrivateFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    int err = errno;
    if (err == EEXIST) return Status(ErrorCode::kAlreadyExists, fmt::format("{} already exists", path.string()));
    return Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot create {}: {}", path.string(), ErrnoText(err)));
  }
  // The umask may have removed bits we need (or an inherited ACL added some):
  // state the mode explicitly.
  if (::fchmod(fd.get(), 0600) != 0) {
    int err = errno;
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot set mode 0600 on {}: {}", path.string(), ErrnoText(err)));
  }
  return fd;
}

Status FsyncPath(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) {
    int err = errno;
    return Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot fsync {}: {}", path.string(), ErrnoText(err)));
  }
  return OkStatus();
}

Status PublishNewFile(const std::filesystem::path& dir, std::string_view name, std::span<const std::uint8_t> bytes) {
  const std::filesystem::path target = dir / std::string(name);
  std::random_device rd;
  const std::filesystem::path temp = dir / fmt::format(".{}.tmp-{:08x}", name, rd());
  auto fd = CreatePrivateFile(temp);
  if (!fd.ok()) return fd.status();
  Status status;
  if (int write_err = WriteAll(fd->get(), bytes); write_err != 0) {
    status = Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot write {}: {}", temp.string(), ErrnoText(write_err)));
  } else if (::fsync(fd->get()) != 0) {
    int err = errno;
    status = Status(ErrorCode::kKeystoreUnavailable, fmt::format("cannot fsync {}: {}", temp.string(), ErrnoText(err)));
  } else if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    status = err == EEXIST ? Status(ErrorCode::kAlreadyExists, fmt::format("{} already exists", target.string()))
                           : Status(ErrorCode::kKeystoreUnavailable,
                                    fmt::format("cannot rename {} to {}: {}", temp.string(), target.string(),
                                                ErrnoText(err)));
  }
  fd = UniqueFd();
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return FsyncPath(dir);
}

Status CheckOwnerOnly(const std::filesystem::path& path, const struct stat& st, std::string_view what,
                      std::string_view fix_mode) {
  if ((st.st_mode & 077) != 0) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("{} {} has mode {}: group or others may access it; run `chmod {} {}`", what,
                              path.string(), ModeText(st.st_mode), fix_mode, path.string()));
  }
  // A second hard link is a second name for the same bytes, outside the
  // directory whose mode protects them (and it survives a chmod of this one).
  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("{} {} has {} hard links: another name for it may sit where others can read or "
                              "keep it; remove the other links (find / -samefile {}) or replace it with a copy",
                              what, path.string(), static_cast<unsigned long>(st.st_nlink), path.string()));
  }
  if (st.st_uid != ::geteuid()) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("{} {} is owned by uid {}, not by the keystore user (uid {}); run `chown {} {}`", what,
                              path.string(), st.st_uid, ::geteuid(), ::geteuid(), path.string()));
  }
  return OkStatus();
}

Status CheckPrivateFile(const std::filesystem::path& path, std::string_view what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return Status(ErrorCode::kFailedPrecondition, fmt::format("{} {} is missing", what, path.string()));
    }
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot stat {} {}: {}", what, path.string(), ErrnoText(err)));
  }
  if (S_ISLNK(st.st_mode)) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("{} {} is a symbolic link; refusing to follow it: replace it with the file itself (mode "
                              "0600)",
                              what, path.string()));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kFailedPrecondition, fmt::format("{} {} is not a regular file", what, path.string()));
  }
  return CheckOwnerOnly(path, st, what, "600");
}

}  // namespace sovereign::keystore_internal
