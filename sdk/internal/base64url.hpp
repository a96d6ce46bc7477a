// Unpadded base64url (RFC 4648 §5) with strict decoding: exactly one encoding
// per byte string is accepted (no padding, no whitespace, no non-zero
// trailing bits, no length ≡ 1 mod 4).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sovereign::internal {

// Base64UrlEncodedSize returns the encoded length of `n` bytes.
constexpr std::size_t Base64UrlEncodedSize(std::size_t n) { return (n * 4 + 2) / 3; }

// Base64UrlEncode appends the encoding of `in` to `out`.
void Base64UrlEncode(std::span<const std::uint8_t> in, std::string& out);

// Base64UrlEncodeTo writes the encoding of `in` to `out`, which must have
// room for Base64UrlEncodedSize(in.size()) characters.
void Base64UrlEncodeTo(std::span<const std::uint8_t> in, char* out);

// Base64UrlDecode replaces `out` with the decoding of `in`; returns false (and
// clears `out`) if `in` is not the canonical encoding of some byte string.
[[nodiscard]] bool Base64UrlDecode(std::string_view in, std::vector<std::uint8_t>& out);

}  // namespace sovereign::internal
