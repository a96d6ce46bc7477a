#include "keystore/internal/root_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "keystore/internal/posix_file.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::array<std::uint8_t, 8> kHeader = {'S', 'O', 'V', 'R', 'K', 'E', 'Y', 0x01};
constexpr std::size_t kFileSize = kHeader.size() + kRootKeySize;

}  // namespace

Status PublishRootKeyFile(const std::filesystem::path& dir, std::string_view name, const SecretBytes& key) {
  auto token = InsecureSecretKeyAccess::Get();
  if (key.size() != kRootKeySize) return Status(ErrorCode::kInternal, "a root key is 32 bytes");
  SecretBytes file(kFileSize);  // wiped on every path
  std::copy(kHeader.begin(), kHeader.end(), file.mutable_bytes(token).begin());
  std::ranges::copy(key.bytes(token), file.mutable_bytes(token).begin() + kHeader.size());
  return PublishNewFile(dir, name, file.bytes(token));
}

Result<SecretBytes> CreateRootKeyFile(const std::filesystem::path& dir, std::string_view name) {
  SecretBytes key = SecretBytes::Random(kRootKeySize);
  SOVEREIGN_RETURN_IF_ERROR(PublishRootKeyFile(dir, name, key));
  return key;
}

Result<SecretBytes> LoadRootKeyFile(const std::filesystem::path& dir, std::string_view name) {
  const std::filesystem::path path = dir / std::string(name);
  // O_NOFOLLOW: a symlink could point the keystore at a key an attacker controls
  // or make it read a file it should not.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("root key {} is missing; restore it from backup (a keystore cannot be opened "
                                "without its root key)",
                                path.string()));
    }
    if (err == ELOOP) {
      return Status(ErrorCode::kFailedPrecondition,
                    fmt::format("root key {} is a symbolic link; refusing to follow it: replace it with the key "
                                "file itself (mode 0600)",
                                path.string()));
    }
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot open root key {}: {}", path.string(), ErrnoText(err)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    int err = errno;
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot stat root key {}: {}", path.string(), ErrnoText(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("root key {} is not a regular file", path.string()));
  }
  SOVEREIGN_RETURN_IF_ERROR(CheckOwnerOnly(path, st, "root key", "600"));
  if (st.st_size != static_cast<off_t>(kFileSize)) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("root key {} has {} bytes, expected {}: not a Sovereign root key file (format v1)",
                              path.string(), st.st_size, kFileSize));
  }

  auto token = InsecureSecretKeyAccess::Get();
  SecretBytes file(kFileSize);
  std::span<std::uint8_t> buf = file.mutable_bytes(token);
  std::size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::read(fd.get(), buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      return Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot read root key {}: {}", path.string(), ErrnoText(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (!std::equal(kHeader.begin(), kHeader.end(), buf.begin())) {
    return Status(ErrorCode::kFailedPrecondition,
                  fmt::format("root key {} does not start with the Sovereign root key header (format v1)",
                              path.string()));
  }
  return SecretBytes(buf.subspan(kHeader.size()), token);
}

}  // namespace sovereign::keystore_internal
