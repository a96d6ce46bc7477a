// Helpers shared by the tests: hex, known-answer vector files, temporary directories.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sovereign::test {

// Hex decodes lowercase or uppercase hex; throws std::invalid_argument on bad input.
std::vector<std::uint8_t> Hex(std::string_view hex);
std::string ToHex(std::span<const std::uint8_t> bytes);

// Bytes views a string's bytes.
inline std::span<const std::uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// LoadVectors parses tests/vectors/<relative_path>.
nlohmann::json LoadVectors(std::string_view relative_path);

// TempDir is a fresh directory removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sovereign::test
