#include "keystore/internal/audit_lines.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "keystore/internal/audit_entry.hpp"

namespace sovereign::keystore_internal {
namespace {

// Large sequential reads: a 1,000,000-entry log is read in a few thousand calls.
constexpr std::size_t kReadChunk = 256 * 1024;

}  // namespace

AuditLineReader::AuditLineReader(std::filesystem::path path, UniqueFd fd)
    : path_(std::move(path)), fd_(std::move(fd)), buf_(kReadChunk) {}

Result<AuditLineReader> AuditLineReader::Open(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return Status(ErrorCode::kKeystoreUnavailable,
                  fmt::format("cannot open audit log {}: {}", path.string(), ErrnoText(errno)));
  }
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return AuditLineReader(path, std::move(fd));
}

Result<AuditLineReader::Next> AuditLineReader::Read(std::string& line) {
  line.clear();
  ++line_number_;
  for (;;) {
    const char* begin = buf_.data() + pos_;
    const std::size_t avail = len_ - pos_;
    const void* nl = avail == 0 ? nullptr : std::memchr(begin, '\n', avail);
    const std::size_t take = nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - begin) : avail;
    if (line.size() + take > kMaxAuditLineBytes) return Next::kTooLong;
    line.append(begin, take);
    if (nl != nullptr) {
      pos_ += take + 1;
      return Next::kLine;
    }
    pos_ = len_ = 0;
    ssize_t n = 0;
    do {
      n = ::read(fd_.get(), buf_.data(), buf_.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return Status(ErrorCode::kKeystoreUnavailable,
                    fmt::format("cannot read audit log {}: {}", path_.string(), ErrnoText(errno)));
    }
    if (n == 0) {
      if (!line.empty()) return Next::kIncomplete;
      --line_number_;
      return Next::kEnd;
    }
    len_ = static_cast<std::size_t>(n);
  }
}

}  // namespace sovereign::keystore_internal
