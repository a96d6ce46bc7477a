// Small POSIX file helpers for the keystore directory: owned descriptors,
// private (0600) file creation that ignores the umask, atomic publication of
// a new file, and permission checks with messages that name the fix.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// UniqueFd owns a file descriptor and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  int Release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// ErrnoText returns strerror(err) without touching global state.
std::string ErrnoText(int err);

// ModeText formats the permission bits of `mode` as four octal digits ("0640").
std::string ModeText(mode_t mode);

// WriteAll writes every byte of `bytes` to `fd`, retrying short writes and EINTR.
// Returns 0 or the errno of the failing write.
int WriteAll(int fd, std::span<const std::uint8_t> bytes);

// CreatePrivateFile creates `path` with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600
// (fchmod'ed, so the umask cannot widen or narrow it) and returns it open for
// writing. kAlreadyExists if anything is already at `path`.
Result<UniqueFd> CreatePrivateFile(const std::filesystem::path& path);

// PublishNewFile writes `bytes` to a private temporary file in `dir`, fsyncs
// it, renames it to `dir/name` without replacing an existing file
// (RENAME_NOREPLACE) and fsyncs `dir`, so `dir/name` is either absent or
// complete after a crash. kAlreadyExists if `dir/name` exists.
Status PublishNewFile(const std::filesystem::path& dir, std::string_view name, std::span<const std::uint8_t> bytes);

// FsyncPath opens `path` (a file or directory) read-only and fsyncs it.
Status FsyncPath(const std::filesystem::path& path);

// CheckOwnerOnly fails with kFailedPrecondition, naming `path`, its mode and
// the chmod that fixes it, if group or others have any permission bit in
// `mode`, if a regular file has more than one hard link, or if the file is
// owned by a user other than the effective user. `what` describes the file
// ("root key", "keystore directory").
Status CheckOwnerOnly(const std::filesystem::path& path, const struct stat& st, std::string_view what,
                      std::string_view fix_mode);

// CheckPrivateFile is CheckOwnerOnly (fix: mode 600) for the file at `path`
// itself, which must be a regular file and not a symbolic link: for the
// keystore's catalog and audit log. kFailedPrecondition naming the file and
// the fix; kKeystoreUnavailable if it cannot be examined.
Status CheckPrivateFile(const std::filesystem::path& path, std::string_view what);

}  // namespace sovereign::keystore_internal
