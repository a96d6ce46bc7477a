// AuditLineReader: reads an audit log front to back, one line at a time, in
// constant memory — a fixed read buffer plus at most one line of
// kMaxAuditLineBytes — so verifying or paging a log of any length never
// holds more than one entry. Shared by `audit verify`, the service's start-up
// verification and GET /v1/audit, so all three split lines the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "keystore/internal/posix_file.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

class AuditLineReader {
 public:
  // Open opens `path` read-only without following a symbolic link.
  // kKeystoreUnavailable (naming the file) if it cannot.
  static Result<AuditLineReader> Open(const std::filesystem::path& path);

  enum class Next {
    kLine,        // `line` holds the next complete line, without its '\n'
    kEnd,         // the file ends after the last complete line
    kIncomplete,  // `line` holds bytes after the last '\n': an interrupted append
    kTooLong,     // the next line is longer than kMaxAuditLineBytes; `line` is unspecified
  };

  // Read reads the next line into `line` (replacing its content). After
  // kEnd, kIncomplete or kTooLong it must not be called again. A read error
  // is kKeystoreUnavailable naming the file.
  Result<Next> Read(std::string& line);

  // line_number is the 1-based number of the line the last Read returned
  // (including kIncomplete and kTooLong), 0 before the first.
  std::uint64_t line_number() const noexcept { return line_number_; }

 private:
  AuditLineReader(std::filesystem::path path, UniqueFd fd);

  std::filesystem::path path_;
  UniqueFd fd_;
  std::vector<char> buf_;
  std::size_t pos_ = 0;  // next unread byte in buf_
  std::size_t len_ = 0;  // bytes of buf_ filled
  std::uint64_t line_number_ = 0;
};

}  // namespace sovereign::keystore_internal
