// Lowercase hex encoding of bytes (audit hashes, blind indexes, test output).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace sovereign::internal {

inline std::string ToHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

}  // namespace sovereign::internal
