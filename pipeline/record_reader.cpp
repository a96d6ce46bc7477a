#include "pipeline/internal/record_reader.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace sovereign::pipeline {

std::string_view NextRecord(Format format, std::string_view& data, std::uint64_t& lines) {
  lines = 1;
  std::size_t end = 0;
  if (format == Format::kNdjson) {
    end = data.find('\n');
  } else {
    bool quoted = false;
    end = std::string_view::npos;
    for (std::size_t i = 0; i < data.size(); ++i) {
      const char c = data[i];
      if (c == '"') {
        quoted = !quoted;
      } else if (c == '\n') {
        if (!quoted) {
          end = i;
          break;
        }
        ++lines;
      }
    }
  }
  std::string_view record = data.substr(0, end);
  data.remove_prefix(end == std::string_view::npos ? data.size() : end + 1);
  return record;
}

namespace {

// CountLines counts '\n' with memchr, which skips a record's worth of bytes
// per call with vector instructions (std::count here went byte by byte).
std::uint64_t CountLines(std::string_view data) {
  std::uint64_t n = 0;
  for (const char* p = data.data(), *end = p + data.size();
       (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr; ++p) {
    ++n;
  }
  return n;
}

}  // namespace

Result<bool> RecordReader::Fill() {
  if (eof_) return false;
  const std::size_t old = buffer_.size();
  const std::size_t want = std::max<std::size_t>(chunk_bytes_, 64 << 10);
  buffer_.resize(old + want);
  ssize_t n;
  do {
    n = ::read(fd_, buffer_.data() + old, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int e = errno;
    buffer_.resize(old);
    return Status(ErrorCode::kInvalidArgument, fmt::format("cannot read input: {}", std::strerror(e)));
  }
  buffer_.resize(old + static_cast<std::size_t>(n));
  bytes_read_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  if (n == 0) eof_ = true;
  return n > 0;
}

std::size_t RecordReader::Boundary() {
  if (format_ == Format::kNdjson) {
    // Only the bytes read since the last look: a long line is scanned once.
    const auto pos = std::string_view(buffer_).substr(scanned_).rfind('\n');
    if (pos != std::string_view::npos) last_boundary_ = scanned_ + pos + 1;
    scanned_ = buffer_.size();
    return last_boundary_;
  }
  for (; scanned_ < buffer_.size(); ++scanned_) {
    const char c = buffer_[scanned_];
    if (c == '"') in_quotes_ = !in_quotes_;
    else if (c == '\n' && !in_quotes_) last_boundary_ = scanned_ + 1;
  }
  return last_boundary_;
}

Result<bool> RecordReader::NextChunk(Chunk& chunk) {
  while (true) {
    const std::size_t boundary = buffer_.size() >= chunk_bytes_ || eof_ ? Boundary() : 0;
    const std::size_t cut = eof_ ? buffer_.size() : boundary;
    if (cut > 0) {
      chunk.first_line = next_line_;
      // Hand the buffer itself to the chunk and keep only the bytes after
      // the cut, in the chunk's old (recycled) storage: one copy of a
      // partial record instead of a copy of the whole chunk.
      chunk.data.assign(buffer_, cut);
      std::swap(chunk.data, buffer_);
      chunk.data.resize(cut);
      // CSV: the carried-over bytes start at a record boundary, outside quotes; re-scan them.
      scanned_ = 0;
      in_quotes_ = false;
      last_boundary_ = 0;
      next_line_ += CountLines(chunk.data);
      return true;
    }
    if (eof_) return false;
    if (buffer_.size() > kMaxRecordBytes + chunk_bytes_) return TooLong();
    auto more = Fill();
    if (!more.ok()) return more.status();
  }
}

Status RecordReader::TooLong() const {
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("line {}: a record is longer than {} MiB{}; nothing was written", next_line_,
                            kMaxRecordBytes >> 20,
                            format_ == Format::kCsv ? " (look for an unbalanced double quote)" : ""));
}

Result<std::optional<std::string>> RecordReader::NextOne() {
  while (true) {
    std::string_view view(buffer_);
    std::uint64_t lines = 0;
    const std::string_view probe = view;
    const std::string_view record = NextRecord(format_, view, lines);
    const bool complete = probe.size() - view.size() > record.size() || eof_;
    if (complete && !(eof_ && buffer_.empty())) {
      std::string out(record);
      buffer_.erase(0, probe.size() - view.size());
      next_line_ += lines;
      scanned_ = 0;
      in_quotes_ = false;
      last_boundary_ = 0;
      return std::optional<std::string>(std::move(out));
    }
    if (eof_) return std::optional<std::string>();
    if (buffer_.size() > kMaxRecordBytes + chunk_bytes_) return TooLong();
    auto more = Fill();
    if (!more.ok()) return more.status();
  }
}

}  // namespace sovereign::pipeline
