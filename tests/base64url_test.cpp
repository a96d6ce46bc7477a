// Tests of the strict, unpadded base64url codec.
#include "sdk/internal/base64url.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace sovereign::internal {
namespace {

using sovereign::test::Bytes;
using ByteVec = std::vector<std::uint8_t>;

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Encode(std::span<const std::uint8_t> in) {
  std::string out;
  Base64UrlEncode(in, out);
  return out;
}

// Decodes into a buffer pre-filled with junk, so a failed decode must clear it.
bool Decode(std::string_view in, ByteVec& out) {
  out.assign({0xde, 0xad});
  return Base64UrlDecode(in, out);
}

bool Rejected(std::string_view in) {
  ByteVec out;
  const bool ok = Decode(in, out);
  return !ok && out.empty();
}

TEST_CASE("base64url encodes and decodes the RFC 4648 section 10 vectors without padding") {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    INFO("\"" << plain << "\"");
    CHECK(Encode(Bytes(plain)) == encoded);
    CHECK(Base64UrlEncodedSize(plain.size()) == encoded.size());
    ByteVec out;
    REQUIRE(Decode(encoded, out));
    CHECK(std::string(out.begin(), out.end()) == plain);
  }
}

TEST_CASE("base64url uses '-' and '_' where standard base64 uses '+' and '/'") {
  // Standard base64 of these bytes is "+/8=", "++++" and "////".
  CHECK(Encode(ByteVec{0xfb, 0xff}) == "-_8");
  CHECK(Encode(ByteVec{0xfb, 0xef, 0xbe}) == "----");
  CHECK(Encode(ByteVec{0xff, 0xff, 0xff}) == "____");
  ByteVec out;
  REQUIRE(Decode("-_8", out));
  CHECK(out == ByteVec{0xfb, 0xff});
  REQUIRE(Decode("____", out));
  CHECK(out == ByteVec{0xff, 0xff, 0xff});
}

TEST_CASE("base64url round-trips random byte strings of every length from 0 to 300") {
  std::mt19937_64 rng(0xb64);
  for (std::size_t n = 0; n <= 300; ++n) {
    INFO("length " << n);
    ByteVec in(n);
    for (auto& b : in) b = static_cast<std::uint8_t>(rng());
    const std::string encoded = Encode(in);
    CHECK(encoded.size() == Base64UrlEncodedSize(n));
    CHECK(encoded.find_first_not_of(kAlphabet) == std::string::npos);
    ByteVec out;
    REQUIRE(Decode(encoded, out));
    REQUIRE(out == in);
  }
}

TEST_CASE("base64url encode appends to the output string") {
  std::string out = "prefix:";
  Base64UrlEncode(Bytes("foo"), out);
  CHECK(out == "prefix:Zm9v");
}

TEST_CASE("base64url decode rejects padding") {
  for (std::string_view s : {"Zg==", "Zg=", "Zm8=", "Zm9v====", "=", "==", "Zm9vYg==", "Z===", "Zm=8"}) {
    INFO(s);
    CHECK(Rejected(s));
  }
}

TEST_CASE("base64url decode rejects whitespace anywhere") {
  for (std::string_view s : {" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm9v\r\n", "\tZg", "Zm9v\nYmFy", "Zg\v", "Zg\f"}) {
    INFO(s);
    CHECK(Rejected(s));
  }
}

TEST_CASE("base64url decode rejects the standard alphabet's '+' and '/'") {
  for (std::string_view s : {"+_8", "-/8", "++++", "////", "Zm9+", "Zm9/", "+/8"}) {
    INFO(s);
    CHECK(Rejected(s));
  }
}

TEST_CASE("base64url decode rejects a length of 1 mod 4") {
  for (std::string_view s : {"A", "Z", "Zm9vY", "Zm9vYmFyZ", "_"}) {
    INFO(s);
    CHECK(Rejected(s));
  }
}

TEST_CASE("base64url decode rejects non-zero trailing bits") {
  // One zero byte encodes as "AA"; "AB".."A_" carry the same byte plus set
  // trailing bits. Likewise "Zg" is "f" and "Zh" is not canonical.
  ByteVec out;
  REQUIRE(Decode("AA", out));
  CHECK(out == ByteVec{0x00});
  CHECK(Rejected("AB"));
  CHECK(Rejected("AP"));
  CHECK(Rejected("A_"));
  CHECK(Rejected("Zh"));
  CHECK(Rejected("Zm9"));  // "Zm8" is "fo"
  CHECK(Rejected("Zm9vYh"));
  CHECK(Rejected("Zm9vYmF"));  // "Zm9vYmE" is "fooba"
}

TEST_CASE("base64url decode rejects every byte outside the alphabet in every position") {
  for (int c = 0; c < 256; ++c) {
    if (kAlphabet.find(static_cast<char>(c)) != std::string_view::npos) continue;
    INFO("byte " << c);
    for (std::size_t pos = 0; pos < 4; ++pos) {
      std::string s = "Zm9v";
      s[pos] = static_cast<char>(c);
      REQUIRE(Rejected(s));
    }
    std::string two = "Zg";
    two[1] = static_cast<char>(c);
    REQUIRE(Rejected(two));
  }
  // An embedded NUL must not end the string early.
  CHECK(Rejected(std::string_view("Zm9v\0AAA", 8)));
  CHECK(Rejected(std::string_view("Zg\0", 3)));
}

// Exactly one text is accepted for each byte string: every 2-char text (one
// byte) and every 3-char text (two bytes) decodes iff it re-encodes to itself,
// and exactly 256 and 65536 of them are accepted.
TEST_CASE("base64url accepts exactly one text per 1- and 2-byte string") {
  int accepted_two = 0;
  std::string s(2, 'A');
  for (char a : kAlphabet) {
    for (char b : kAlphabet) {
      s[0] = a;
      s[1] = b;
      ByteVec out;
      const bool ok = Decode(s, out);
      const bool canonical = ok && out.size() == 1 && Encode(out) == s;
      REQUIRE(ok == canonical);
      if (!ok) REQUIRE(out.empty());
      accepted_two += ok ? 1 : 0;
    }
  }
  CHECK(accepted_two == 256);

  int accepted_three = 0;
  std::string t(3, 'A');
  ByteVec out;
  for (char a : kAlphabet) {
    for (char b : kAlphabet) {
      for (char c : kAlphabet) {
        t[0] = a;
        t[1] = b;
        t[2] = c;
        const bool ok = Decode(t, out);
        const bool canonical = ok && out.size() == 2 && Encode(out) == t;
        if (ok != canonical) FAIL("non-canonical text accepted: " << t);
        accepted_three += ok ? 1 : 0;
      }
    }
  }
  CHECK(accepted_three == 65536);

  // And the other direction: every 1- and 2-byte string round-trips.
  for (int x = 0; x < 65536; ++x) {
    const ByteVec two = {static_cast<std::uint8_t>(x >> 8), static_cast<std::uint8_t>(x & 0xff)};
    if (!Decode(Encode(two), out) || out != two) FAIL("2-byte string did not round-trip: " << x);
    if (x < 256) {
      const ByteVec one = {static_cast<std::uint8_t>(x)};
      if (!Decode(Encode(one), out) || out != one) FAIL("1-byte string did not round-trip: " << x);
    }
  }
}

TEST_CASE("base64url decode of the empty string is the empty byte string") {
  ByteVec out;
  REQUIRE(Decode("", out));
  CHECK(out.empty());
}

}  // namespace
}  // namespace sovereign::internal
