// Hand-written rather than OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock: those
// speak padded standard base64 and decode leniently (whitespace, trailing
// garbage), while envelope equality needs exactly one text per ciphertext.
#include "sdk/internal/base64url.hpp"

#include <array>

namespace sovereign::internal {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> MakeDecodeTable() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto kDecode = MakeDecodeTable();

}  // namespace

void Base64UrlEncode(std::span<const std::uint8_t> in, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + Base64UrlEncodedSize(in.size()));
  char* p = out.data() + start;
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{in[i]} << 16 | std::uint32_t{in[i + 1]} << 8 | in[i + 2];
    *p++ = kAlphabet[v >> 18];
    *p++ = kAlphabet[(v >> 12) & 63];
    *p++ = kAlphabet[(v >> 6) & 63];
    *p++ = kAlphabet[v & 63];
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
  std::size_t i = 0;
  auto sextet = [&](std::size_t k, bool& bad) -> std::uint32_t {
    const std::int8_t v = kDecode[static_cast<unsigned char>(in[k])];
    bad |= v < 0;
    return static_cast<std::uint32_t>(v) & 63;
  };
  bool bad = false;
  for (; i + 4 <= in.size(); i += 4) {
    const std::uint32_t v =
        sextet(i, bad) << 18 | sextet(i + 1, bad) << 12 | sextet(i + 2, bad) << 6 | sextet(i + 3, bad);
    *p++ = static_cast<std::uint8_t>(v >> 16);
    *p++ = static_cast<std::uint8_t>(v >> 8);
    *p++ = static_cast<std::uint8_t>(v);
  }
  if (rest == 2) {
    const std::uint32_t v = sextet(i, bad) << 18 | sextet(i + 1, bad) << 12;
    bad |= (v & 0xffff) != 0;  // non-zero trailing bits: not the canonical encoding
    *p++ = static_cast<std::uint8_t>(v >> 16);
  } else if (rest == 3) {
    const std::uint32_t v = sextet(i, bad) << 18 | sextet(i + 1, bad) << 12 | sextet(i + 2, bad) << 6;
    bad |= (v & 0xff) != 0;
    *p++ = static_cast<std::uint8_t>(v >> 16);
    *p++ = static_cast<std::uint8_t>(v >> 8);
  }
  if (bad) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace sovereign::internal
