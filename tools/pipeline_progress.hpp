// ProgressLine: "records, MB, MB/s, ETA" on stderr, redrawn at most twice a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

#include <fmt/format.h>

namespace sovereign::cli {

class ProgressLine {
 public:
  // `total_bytes` is the input size when known (a regular file), else 0.
  explicit ProgressLine(std::uint64_t total_bytes) : total_(total_bytes) {}

  void Update(std::uint64_t records, std::uint64_t bytes) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    Draw(records, bytes, now);
  }

  void Finish() { std::fputs("\r\033[K", stderr); }

 private:
  void Draw(std::uint64_t records, std::uint64_t bytes, std::chrono::steady_clock::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double mb = static_cast<double>(bytes) / 1e6;
    const double rate = secs > 0 ? mb / secs : 0;
    std::string eta;
    if (total_ > bytes && rate > 0) {
      const auto left = static_cast<std::uint64_t>((static_cast<double>(total_ - bytes) / 1e6) / rate);
      eta = fmt::format("  ETA {}:{:02}", left / 60, left % 60);
    }
    fmt::print(stderr, "\r\033[K{} records  {:.1f} MB  {:.1f} MB/s{}", records, mb, rate, eta);
    std::fflush(stderr);
  }

  std::uint64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace sovereign::cli
