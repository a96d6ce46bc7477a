#include "tests/support/test_support.hpp"

#include "sdk/internal/hex.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace sovereign::test {

namespace {
int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  throw std::invalid_argument("bad hex digit");
}
}  // namespace

std::vector<std::uint8_t> Hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd hex length");
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<std::uint8_t>(Nibble(hex[2 * i]) << 4 | Nibble(hex[2 * i + 1]));
  }
  return out;
}

std::string ToHex(std::span<const std::uint8_t> bytes) { return internal::ToHex(bytes); }

nlohmann::json LoadVectors(std::string_view relative_path) {
  std::filesystem::path path = std::filesystem::path(SOVEREIGN_TEST_VECTORS_DIR) / relative_path;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open vector file " + path.string());
  return nlohmann::json::parse(in);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sovereign-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace sovereign::test
