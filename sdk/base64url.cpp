// Hand-written rather than OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock: those
// speak padded standard base64 and decode leniently (whitespace, trailing
// garbage), while envelope equality needs exactly one text per ciphertext.
#include "sdk/internal/base64url.hpp"

#include <array>

namespace sovereign::internal {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// kShifted[k][c] is the sextet of character c already shifted to its place in
// a 4-character group (18, 12, 6 or 0 bits), or kInvalid for a character
// outside the alphabet, so a group decodes with four lookups and three ORs.
constexpr std::uint32_t kInvalid = 0x80000000u;
constexpr std::array<std::array<std::uint32_t, 256>, 4> MakeShiftedTables() {
  std::array<std::array<std::uint32_t, 256>, 4> tables{};
  for (auto& table : tables) {
    for (auto& v : table) v = kInvalid;
  }
  for (std::uint32_t i = 0; i < 64; ++i) {
    const auto c = static_cast<unsigned char>(kAlphabet[i]);
    tables[0][c] = i << 18;
    tables[1][c] = i << 12;
    tables[2][c] = i << 6;
    tables[3][c] = i;
  }
  return tables;
}
constexpr auto kShifted = MakeShiftedTables();

// kPairs[v] holds the two characters encoding the 12-bit value v, so the
// encoder does two lookups per 3 input bytes instead of four.
constexpr std::array<std::array<char, 2>, 4096> MakePairTable() {
  std::array<std::array<char, 2>, 4096> table{};
  for (std::size_t v = 0; v < 4096; ++v) table[v] = {kAlphabet[v >> 6], kAlphabet[v & 63]};
  return table;
}
constexpr auto kPairs = MakePairTable();

}  // namespace

void Base64UrlEncode(std::span<const std::uint8_t> in, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + Base64UrlEncodedSize(in.size()));
  Base64UrlEncodeTo(in, out.data() + start);
}

void Base64UrlEncodeTo(std::span<const std::uint8_t> in, char* p) {
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    const auto& hi = kPairs[v >> 12];
    const auto& lo = kPairs[v & 0xfff];
    p[0] = hi[0];
    p[1] = hi[1];
    p[2] = lo[0];
    p[3] = lo[1];
    p += 4;
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16;
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8;
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
  }
}

bool Base64UrlDecode(std::string_view in, std::vector<std::uint8_t>& out) {
  out.clear();
  const std::size_t rest = in.size() % 4;
  if (rest == 1) return false;
  out.resize(in.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1));
  std::uint8_t* p = out.data();
  const auto* c = reinterpret_cast<const unsigned char*>(in.data());
  std::uint32_t bad = 0;
  std::size_t i = 0;
  for (; i + 4 <= in.size(); i += 4) {
    const std::uint32_t v = kShifted[0][c[i]] | kShifted[1][c[i + 1]] | kShifted[2][c[i + 2]] | kShifted[3][c[i + 3]];
    bad |= v;
    p[0] = static_cast<std::uint8_t>(v >> 16);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v);
    p += 3;
  }
  if (rest == 2) {
    const std::uint32_t v = kShifted[0][c[i]] | kShifted[1][c[i + 1]];
    bad |= v | ((v & 0xffff) != 0 ? kInvalid : 0);  // non-zero trailing bits: not canonical
    *p = static_cast<std::uint8_t>(v >> 16);
  } else if (rest == 3) {
    const std::uint32_t v = kShifted[0][c[i]] | kShifted[1][c[i + 1]] | kShifted[2][c[i + 2]];
    bad |= v | ((v & 0xff) != 0 ? kInvalid : 0);
    p[0] = static_cast<std::uint8_t>(v >> 16);
    p[1] = static_cast<std::uint8_t>(v >> 8);
  }
  if ((bad & kInvalid) != 0) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace sovereign::internal
