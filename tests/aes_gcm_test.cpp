// Known-answer and property tests of the internal AES-GCM primitive.
#include "sdk/internal/aes_gcm.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/test_support.hpp"

namespace sovereign::internal {
namespace {

using sovereign::test::Hex;
using sovereign::test::LoadVectors;
using sovereign::test::ToHex;
using Bytes = std::vector<std::uint8_t>;

// A fixed seed keeps every property run reproducible; the inputs only need to be varied.
std::mt19937_64& Rng() {
  static std::mt19937_64 rng(0x50564552'45494721ULL);
  return rng;
}

Bytes RandomBytes(std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(Rng()());
  return out;
}

bool AllZero(const Bytes& b) {
  return std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; });
}

AesGcm MakeGcm(const Bytes& key) {
  auto gcm = AesGcm::New(key);
  REQUIRE(gcm.ok());
  return std::move(gcm).value();
}

struct Sealed {
  Bytes ciphertext;
  Bytes tag;
};

Sealed SealOk(AesGcm& gcm, const Bytes& nonce, const Bytes& ad, const Bytes& plaintext) {
  Sealed s{Bytes(plaintext.size()), Bytes(kAesGcmTagSize)};
  Status st = gcm.Seal(nonce, ad, plaintext, s.ciphertext, s.tag);
  REQUIRE(st.ok());
  return s;
}

// ExpectOpenRejected checks that Open fails with kInvalidCiphertext and leaves
// no byte of the (pre-poisoned) output buffer other than zero.
void ExpectOpenRejected(AesGcm& gcm, const Bytes& nonce, const Bytes& ad, const Bytes& ciphertext,
                        const Bytes& tag) {
  Bytes out(ciphertext.size(), 0xA5);
  Status st = gcm.Open(nonce, ad, ciphertext, tag, out);
  CHECK(st.code() == ErrorCode::kInvalidCiphertext);
  CHECK(AllZero(out));
}

TEST_CASE("AES-GCM matches every Wycheproof vector with a 96-bit nonce and rejects the other nonce sizes") {
  const auto doc = LoadVectors("wycheproof/aes_gcm_test.json");
  int passed = 0;
  int skipped = 0;
  for (const auto& group : doc.at("testGroups")) {
    const int iv_bits = group.at("ivSize").get<int>();
    const int tag_bits = group.at("tagSize").get<int>();
    const bool supported = iv_bits == 96 && tag_bits == 128;
    for (const auto& t : group.at("tests")) {
      const auto tc = t.at("tcId").get<int>();
      const std::string result = t.at("result").get<std::string>();
      INFO("tcId " << tc << " ivSize " << iv_bits << " tagSize " << tag_bits << " result " << result);
      const Bytes key = Hex(t.at("key").get<std::string>());
      const Bytes iv = Hex(t.at("iv").get<std::string>());
      const Bytes aad = Hex(t.at("aad").get<std::string>());
      const Bytes msg = Hex(t.at("msg").get<std::string>());
      const Bytes ct = Hex(t.at("ct").get<std::string>());
      const Bytes tag = Hex(t.at("tag").get<std::string>());
      AesGcm gcm = MakeGcm(key);

      if (!supported) {
        // Only 96-bit nonces and 128-bit tags exist in our API: such a vector
        // must be refused up front, whatever its expected result.
        ++skipped;
        Bytes ct_out(msg.size());
        Bytes tag_out(kAesGcmTagSize);
        CHECK(gcm.Seal(iv, aad, msg, ct_out, tag_out).code() == ErrorCode::kInvalidArgument);
        Bytes pt_out(ct.size(), 0xA5);
        Status st = gcm.Open(iv, aad, ct, tag, pt_out);
        CHECK_FALSE(st.ok());
        CHECK(AllZero(pt_out));
        continue;
      }

      ++passed;
      if (result == "valid") {
        Sealed s = SealOk(gcm, iv, aad, msg);
        CHECK(ToHex(s.ciphertext) == ToHex(ct));
        CHECK(ToHex(s.tag) == ToHex(tag));
        Bytes pt_out(ct.size());
        REQUIRE(gcm.Open(iv, aad, ct, tag, pt_out).ok());
        CHECK(ToHex(pt_out) == ToHex(msg));
      } else if (result == "invalid") {
        ExpectOpenRejected(gcm, iv, aad, ct, tag);
      } else if (result == "acceptable") {
        // None in this file today; if one appears, it may go either way but
        // must never release wrong plaintext.
        Bytes pt_out(ct.size(), 0xA5);
        Status st = gcm.Open(iv, aad, ct, tag, pt_out);
        if (st.ok()) {
          CHECK(ToHex(pt_out) == ToHex(msg));
        } else {
          CHECK(AllZero(pt_out));
        }
      } else {
        FAIL("unknown Wycheproof result " << result);
      }
    }
  }
  // Computed once from the file: 316 tests; the groups with ivSize 96 and
  // tagSize 128 hold 67 (AES-128) + 64 (AES-192) + 66 (AES-256) = 197 tests;
  // the other 119 have 0-, 8-…2056-bit IVs (6 of them zero-length, invalid).
  CHECK(passed == 197);
  CHECK(skipped == 119);
  CHECK(passed + skipped == doc.at("numberOfTests").get<int>());
}

TEST_CASE("AES-GCM New rejects every key size other than 16, 24 and 32 bytes") {
  for (std::size_t n = 0; n <= 80; ++n) {
    INFO("key size " << n);
    auto gcm = AesGcm::New(Bytes(n, 0x42));
    if (n == 16 || n == 24 || n == 32) {
      CHECK(gcm.ok());
    } else {
      CHECK(gcm.code() == ErrorCode::kInvalidArgument);
    }
  }
}

TEST_CASE("AES-GCM round-trips every size from 0 to 1024 bytes") {
  for (std::size_t key_size : {16u, 24u, 32u}) {
    for (std::size_t n = 0; n <= 1024; ++n) {
      INFO("key size " << key_size << " plaintext size " << n);
      AesGcm gcm = MakeGcm(RandomBytes(key_size));
      const Bytes nonce = RandomBytes(kAesGcmNonceSize);
      const Bytes ad = RandomBytes(n % 37);
      const Bytes plaintext = RandomBytes(n);
      Sealed s = SealOk(gcm, nonce, ad, plaintext);
      if (n >= 16) CHECK(s.ciphertext != plaintext);
      Bytes out(n);
      REQUIRE(gcm.Open(nonce, ad, s.ciphertext, s.tag, out).ok());
      REQUIRE(out == plaintext);
    }
  }
}

TEST_CASE("AES-GCM open rejects every single-bit flip of ciphertext and tag") {
  AesGcm gcm = MakeGcm(RandomBytes(32));
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 64u}) {
    const Bytes nonce = RandomBytes(kAesGcmNonceSize);
    const Bytes ad = RandomBytes(13);
    Sealed s = SealOk(gcm, nonce, ad, RandomBytes(n));
    for (std::size_t bit = 0; bit < n * 8; ++bit) {
      INFO("size " << n << " ciphertext bit " << bit);
      Bytes ct = s.ciphertext;
      ct[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      ExpectOpenRejected(gcm, nonce, ad, ct, s.tag);
    }
    for (std::size_t bit = 0; bit < kAesGcmTagSize * 8; ++bit) {
      INFO("size " << n << " tag bit " << bit);
      Bytes tag = s.tag;
      tag[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      ExpectOpenRejected(gcm, nonce, ad, s.ciphertext, tag);
    }
  }
}

TEST_CASE("AES-GCM open rejects a truncated or extended tag") {
  AesGcm gcm = MakeGcm(RandomBytes(32));
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  const Bytes ad = RandomBytes(8);
  Sealed s = SealOk(gcm, nonce, ad, RandomBytes(40));
  for (std::size_t len = 0; len < kAesGcmTagSize; ++len) {
    INFO("tag length " << len);
    Bytes tag(s.tag.begin(), s.tag.begin() + static_cast<std::ptrdiff_t>(len));
    Bytes out(s.ciphertext.size(), 0xA5);
    CHECK_FALSE(gcm.Open(nonce, ad, s.ciphertext, tag, out).ok());
    CHECK(AllZero(out));
  }
  Bytes long_tag = s.tag;
  long_tag.push_back(0);
  Bytes out(s.ciphertext.size(), 0xA5);
  CHECK_FALSE(gcm.Open(nonce, ad, s.ciphertext, long_tag, out).ok());
  CHECK(AllZero(out));
}

TEST_CASE("AES-GCM open rejects a truncated ciphertext") {
  AesGcm gcm = MakeGcm(RandomBytes(32));
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  Sealed s = SealOk(gcm, nonce, {}, RandomBytes(33));
  for (std::size_t len : {0u, 1u, 16u, 32u}) {
    INFO("ciphertext length " << len);
    Bytes ct(s.ciphertext.begin(), s.ciphertext.begin() + static_cast<std::ptrdiff_t>(len));
    ExpectOpenRejected(gcm, nonce, {}, ct, s.tag);
  }
}

TEST_CASE("AES-GCM open rejects wrong associated data, nonce or key") {
  const Bytes key = RandomBytes(32);
  AesGcm gcm = MakeGcm(key);
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  const Bytes ad = RandomBytes(20);
  const Bytes plaintext = RandomBytes(50);
  Sealed s = SealOk(gcm, nonce, ad, plaintext);

  SECTION("wrong associated data") {
    Bytes other = ad;
    other[0] ^= 1;
    ExpectOpenRejected(gcm, nonce, other, s.ciphertext, s.tag);
    ExpectOpenRejected(gcm, nonce, {}, s.ciphertext, s.tag);
    Bytes longer = ad;
    longer.push_back(0);
    ExpectOpenRejected(gcm, nonce, longer, s.ciphertext, s.tag);
  }
  SECTION("wrong nonce") {
    Bytes other = nonce;
    other[11] ^= 0x80;
    ExpectOpenRejected(gcm, other, ad, s.ciphertext, s.tag);
  }
  SECTION("wrong key") {
    Bytes other_key = key;
    other_key[31] ^= 1;
    AesGcm other = MakeGcm(other_key);
    ExpectOpenRejected(other, nonce, ad, s.ciphertext, s.tag);
  }
}

TEST_CASE("AES-GCM rejects a nonce that is not 12 bytes and buffers of the wrong size") {
  AesGcm gcm = MakeGcm(RandomBytes(32));
  const Bytes plaintext = RandomBytes(32);
  for (std::size_t nonce_size : {0u, 1u, 8u, 11u, 13u, 16u, 64u}) {
    INFO("nonce size " << nonce_size);
    Bytes ct(plaintext.size());
    Bytes tag(kAesGcmTagSize);
    CHECK(gcm.Seal(RandomBytes(nonce_size), {}, plaintext, ct, tag).code() == ErrorCode::kInvalidArgument);
  }
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  Bytes short_ct(plaintext.size() - 1);
  Bytes tag(kAesGcmTagSize);
  CHECK_FALSE(gcm.Seal(nonce, {}, plaintext, short_ct, tag).ok());
  Bytes ct(plaintext.size());
  Bytes short_tag(kAesGcmTagSize - 1);
  CHECK_FALSE(gcm.Seal(nonce, {}, plaintext, ct, short_tag).ok());

  Sealed s = SealOk(gcm, nonce, {}, plaintext);
  for (std::size_t size : {0u, 31u, 33u}) {
    Bytes out(size);
    CHECK_FALSE(gcm.Open(nonce, {}, s.ciphertext, s.tag, out).ok());
  }
}

// STYLE.md and aes_gcm.hpp: outputs are all-or-nothing, on any failure the
// output is zero bytes, so a caller reusing a buffer never keeps stale plaintext.
TEST_CASE("AES-GCM open zero-fills a plaintext buffer of the wrong size") {
  AesGcm gcm = MakeGcm(RandomBytes(32));
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  const Bytes plaintext = RandomBytes(32);
  Sealed s = SealOk(gcm, nonce, {}, plaintext);
  for (std::size_t size : {31u, 33u}) {
    INFO("output size " << size);
    Bytes out(size, 0xA5);
    CHECK_FALSE(gcm.Open(nonce, {}, s.ciphertext, s.tag, out).ok());
    CHECK(AllZero(out));
  }
}

TEST_CASE("AES-GCM object reused for many messages gives the same results as a fresh object") {
  const Bytes key = RandomBytes(32);
  AesGcm reused = MakeGcm(key);
  for (int i = 0; i < 300; ++i) {
    INFO("message " << i);
    const Bytes nonce = RandomBytes(kAesGcmNonceSize);
    const Bytes ad = RandomBytes(static_cast<std::size_t>(i % 29));
    const Bytes plaintext = RandomBytes(static_cast<std::size_t>((i * 37) % 300));
    Sealed a = SealOk(reused, nonce, ad, plaintext);
    AesGcm fresh = MakeGcm(key);
    Sealed b = SealOk(fresh, nonce, ad, plaintext);
    REQUIRE(a.ciphertext == b.ciphertext);
    REQUIRE(a.tag == b.tag);
    // A rejected message in between must not disturb the next one.
    if (i % 3 == 0) {
      Bytes bad_tag = a.tag;
      bad_tag[0] ^= 1;
      ExpectOpenRejected(reused, nonce, ad, a.ciphertext, bad_tag);
    }
    Bytes out(plaintext.size());
    REQUIRE(reused.Open(nonce, ad, a.ciphertext, a.tag, out).ok());
    REQUIRE(out == plaintext);
  }
}

TEST_CASE("AES-GCM object stays usable after being moved") {
  const Bytes key = RandomBytes(16);
  AesGcm first = MakeGcm(key);
  AesGcm moved = std::move(first);
  const Bytes nonce = RandomBytes(kAesGcmNonceSize);
  const Bytes plaintext = RandomBytes(20);
  Sealed s = SealOk(moved, nonce, {}, plaintext);
  AesGcm assigned = MakeGcm(RandomBytes(16));
  assigned = std::move(moved);
  Bytes out(plaintext.size());
  REQUIRE(assigned.Open(nonce, {}, s.ciphertext, s.tag, out).ok());
  CHECK(out == plaintext);
}

// Raw GCM is not key-committing: one (nonce, ad, ciphertext, tag) can be valid
// under two keys and yield two different plaintexts ("invisible salamanders").
// This is why the envelope must name (and commit to) the key it was sealed with.
TEST_CASE("raw AES-GCM accepts the multikey collision under both keys (why the envelope must name its key)") {
  const auto v = LoadVectors("adversarial/aes256gcm_multikey_collision.json");
  const Bytes iv = Hex(v.at("iv").get<std::string>());
  const Bytes aad = Hex(v.at("aad").get<std::string>());
  const Bytes ct = Hex(v.at("ct").get<std::string>());
  const Bytes tag = Hex(v.at("tag").get<std::string>());
  const Bytes key1 = Hex(v.at("key1").get<std::string>());
  const Bytes key2 = Hex(v.at("key2").get<std::string>());
  REQUIRE(key1 != key2);

  AesGcm gcm1 = MakeGcm(key1);
  Bytes pt1(ct.size());
  REQUIRE(gcm1.Open(iv, aad, ct, tag, pt1).ok());
  CHECK(ToHex(pt1) == v.at("plaintext_under_key1").get<std::string>());

  AesGcm gcm2 = MakeGcm(key2);
  Bytes pt2(ct.size());
  REQUIRE(gcm2.Open(iv, aad, ct, tag, pt2).ok());
  CHECK(ToHex(pt2) == v.at("plaintext_under_key2").get<std::string>());
  CHECK(pt1 != pt2);
}

}  // namespace
}  // namespace sovereign::internal
