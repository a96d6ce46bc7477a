// Known-answer and property tests of HMAC-SHA256, HKDF-SHA256 and the field
// key derivation built on them.
#include "sdk/internal/hmac_sha256.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "sovereign/mode.hpp"
#include "sovereign/secret.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign::internal {
namespace {

using sovereign::test::Bytes;
using sovereign::test::Hex;
using sovereign::test::LoadVectors;
using sovereign::test::ToHex;
using ByteVec = std::vector<std::uint8_t>;

ByteVec Mac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> message) {
  auto hmac = HmacSha256::New(key);
  REQUIRE(hmac.ok());
  ByteVec mac(kSha256Size);
  REQUIRE(hmac->Compute(message, mac).ok());
  return mac;
}

ByteVec Hkdf(const ByteVec& ikm, const ByteVec& salt, const ByteVec& info, std::size_t size) {
  ByteVec out(size);
  REQUIRE(HkdfSha256(ikm, salt, info, out).ok());
  return out;
}

SecretBytes Secret(const ByteVec& bytes) { return SecretBytes(bytes, InsecureSecretKeyAccess::Get()); }

std::string SecretHex(const SecretBytes& s) { return ToHex(s.bytes(InsecureSecretKeyAccess::Get())); }

// FieldKeyInfo is the documented HKDF info of DeriveFieldKey, built here
// independently of the implementation.
ByteVec FieldKeyInfo(Mode mode, std::string_view label) {
  ByteVec info;
  for (char c : std::string_view("sovereign/v1")) info.push_back(static_cast<std::uint8_t>(c));
  info.push_back(0x00);
  info.push_back(static_cast<std::uint8_t>(mode));
  info.push_back(static_cast<std::uint8_t>(label.size() >> 8));
  info.push_back(static_cast<std::uint8_t>(label.size() & 0xff));
  for (char c : label) info.push_back(static_cast<std::uint8_t>(c));
  return info;
}

TEST_CASE("HMAC-SHA256 matches every Wycheproof vector, full and truncated tags") {
  const auto doc = LoadVectors("wycheproof/hmac_sha256_test.json");
  int full = 0;
  int truncated = 0;
  for (const auto& group : doc.at("testGroups")) {
    const std::size_t tag_bytes = group.at("tagSize").get<std::size_t>() / 8;
    REQUIRE((tag_bytes == 32 || tag_bytes == 16));
    for (const auto& t : group.at("tests")) {
      const std::string result = t.at("result").get<std::string>();
      INFO("tcId " << t.at("tcId").get<int>() << " tag bytes " << tag_bytes << " result " << result);
      const ByteVec mac = Mac(Hex(t.at("key").get<std::string>()), Hex(t.at("msg").get<std::string>()));
      const std::string ours = ToHex(std::span<const std::uint8_t>(mac.data(), tag_bytes));
      const std::string expected = t.at("tag").get<std::string>();
      if (result == "valid") {
        CHECK(ours == expected);
      } else if (result == "invalid") {
        CHECK(ours != expected);
      } else {
        FAIL("unexpected Wycheproof result " << result);
      }
      ++(tag_bytes == 32 ? full : truncated);
    }
  }
  // Computed once from the file: 174 tests, 87 in tagSize-256 groups and 87 in
  // tagSize-128 groups (first 16 bytes of our MAC compared); none skipped.
  CHECK(full == 87);
  CHECK(truncated == 87);
  CHECK(full + truncated == doc.at("numberOfTests").get<int>());
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test cases 1 to 7") {
  const auto doc = LoadVectors("rfc/rfc4231_hmac_sha256.json");
  int run = 0;
  for (const auto& t : doc.at("tests")) {
    INFO(t.at("id").get<std::string>());
    const ByteVec mac = Mac(Hex(t.at("key").get<std::string>()), Hex(t.at("data").get<std::string>()));
    const std::size_t len = t.value("truncateBytes", kSha256Size);
    CHECK(ToHex(std::span<const std::uint8_t>(mac.data(), len)) == t.at("hmac").get<std::string>());
    ++run;
  }
  CHECK(run == 7);
}

TEST_CASE("HMAC-SHA256 object reused for many messages gives the same MACs as a fresh object") {
  const ByteVec key = Hex("000102030405060708090a0b0c0d0e0f");
  auto reused = HmacSha256::New(key);
  REQUIRE(reused.ok());
  for (std::size_t n = 0; n < 300; ++n) {
    INFO("message size " << n);
    const ByteVec message(n, static_cast<std::uint8_t>(n));
    ByteVec mac(kSha256Size);
    REQUIRE(reused->Compute(message, mac).ok());
    REQUIRE(mac == Mac(key, message));
  }
}

TEST_CASE("HMAC-SHA256 accepts an empty key and rejects a MAC buffer that is not 32 bytes") {
  // RFC 2104: an empty key is zero-padded to the block size.
  CHECK(ToHex(Mac({}, {})) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  auto hmac = HmacSha256::New(Hex("0b0b"));
  REQUIRE(hmac.ok());
  for (std::size_t size : {0u, 16u, 31u, 33u, 64u}) {
    INFO("MAC buffer size " << size);
    ByteVec mac(size);
    CHECK(hmac->Compute(Bytes("message"), mac).code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("HKDF-SHA256 matches every valid Wycheproof vector and rejects the invalid sizes") {
  const auto doc = LoadVectors("wycheproof/hkdf_sha256_test.json");
  int valid = 0;
  int invalid = 0;
  for (const auto& group : doc.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      const std::string result = t.at("result").get<std::string>();
      const std::size_t size = t.at("size").get<std::size_t>();
      INFO("tcId " << t.at("tcId").get<int>() << " size " << size << " result " << result);
      const ByteVec ikm = Hex(t.at("ikm").get<std::string>());
      const ByteVec salt = Hex(t.at("salt").get<std::string>());
      const ByteVec info = Hex(t.at("info").get<std::string>());
      ByteVec out(size);
      Status st = HkdfSha256(ikm, salt, info, out);
      if (result == "valid") {
        REQUIRE(st.ok());
        CHECK(ToHex(out) == t.at("okm").get<std::string>());
        ++valid;
      } else if (result == "invalid") {
        CHECK(st.code() == ErrorCode::kInvalidArgument);
        ++invalid;
      } else {
        FAIL("unexpected Wycheproof result " << result);
      }
    }
  }
  // Computed once from the file: 86 tests, 83 valid (sizes 20..8160) and 3
  // invalid (size 8161 > 255*32, flag SizeTooLarge); none skipped.
  CHECK(valid == 83);
  CHECK(invalid == 3);
  CHECK(valid + invalid == doc.at("numberOfTests").get<int>());
}

TEST_CASE("HKDF-SHA256 matches RFC 5869 A.1 to A.3, PRK included") {
  const auto doc = LoadVectors("rfc/rfc5869_hkdf_sha256.json");
  int run = 0;
  for (const auto& t : doc.at("tests")) {
    INFO(t.at("id").get<std::string>());
    const ByteVec ikm = Hex(t.at("ikm").get<std::string>());
    const ByteVec salt = Hex(t.at("salt").get<std::string>());
    const ByteVec info = Hex(t.at("info").get<std::string>());
    const std::size_t length = t.at("L").get<std::size_t>();
    const ByteVec okm = Hkdf(ikm, salt, info, length);
    CHECK(ToHex(okm) == t.at("okm").get<std::string>());

    // Cross-check HMAC against HKDF's definition: PRK = HMAC(salt or 32 zero
    // bytes, ikm), T(1) = HMAC(PRK, info || 0x01).
    const ByteVec prk = Mac(salt.empty() ? ByteVec(kSha256Size, 0) : salt, ikm);
    CHECK(ToHex(prk) == t.at("prk").get<std::string>());
    ByteVec t1_input = info;
    t1_input.push_back(0x01);
    const ByteVec t1 = Mac(prk, t1_input);
    CHECK(ToHex(t1) == ToHex(std::span<const std::uint8_t>(okm.data(), kSha256Size)));
    ++run;
  }
  CHECK(run == 3);
}

TEST_CASE("HKDF-SHA256 rejects an output of 0 or more than 255*32 bytes") {
  const auto doc = LoadVectors("rfc/rfc5869_hkdf_sha256.json");
  for (const auto& t : doc.at("negative_tests")) {
    INFO(t.at("id").get<std::string>());
    ByteVec out(t.at("L").get<std::size_t>());
    CHECK(HkdfSha256(Hex(t.at("ikm").get<std::string>()), Hex(t.at("salt").get<std::string>()),
                     Hex(t.at("info").get<std::string>()), out)
              .code() == ErrorCode::kInvalidArgument);
  }
  const ByteVec ikm(32, 0x0b);
  ByteVec empty;
  CHECK(HkdfSha256(ikm, {}, {}, empty).code() == ErrorCode::kInvalidArgument);
  ByteVec max(255 * kSha256Size);
  CHECK(HkdfSha256(ikm, {}, {}, max).ok());
  ByteVec one(1);
  CHECK(HkdfSha256(ikm, {}, {}, one).ok());
  CHECK(one[0] == max[0]);
}

// ManualHkdf is RFC 5869 written out with HmacSha256, independent of EVP_KDF.
ByteVec ManualHkdf(const ByteVec& ikm, const ByteVec& salt, const ByteVec& info, std::size_t size) {
  const ByteVec prk = Mac(salt.empty() ? ByteVec(kSha256Size, 0) : salt, ikm);
  ByteVec okm;
  ByteVec block;
  for (std::uint8_t i = 1; okm.size() < size; ++i) {
    ByteVec input = block;
    input.insert(input.end(), info.begin(), info.end());
    input.push_back(i);
    block = Mac(prk, input);
    okm.insert(okm.end(), block.begin(), block.end());
  }
  okm.resize(size);
  return okm;
}

// RFC 5869 puts no bound on the length of info; OpenSSL's HKDF provider
// refuses info longer than HKDF_MAXINFO (32 KiB on 3.0.19). HkdfSha256 makes
// that limit part of its contract: up to it, results match a hand-written
// HKDF; beyond it, a clear kInvalidArgument rather than an internal error.
TEST_CASE("HKDF-SHA256 matches RFC 5869 for info up to 32 KiB and rejects longer info as invalid") {
  const ByteVec ikm(32, 0x0b);
  const ByteVec salt(16, 0x5a);
  for (std::size_t info_size : {0u, 1u, 1024u, 1025u, 32768u}) {
    INFO("info size " << info_size);
    ByteVec info(info_size);
    for (std::size_t i = 0; i < info_size; ++i) info[i] = static_cast<std::uint8_t>(i * 7);
    ByteVec out(80);
    Status st = HkdfSha256(ikm, salt, info, out);
    CHECK(st.ok());
    if (st.ok()) CHECK(ToHex(out) == ToHex(ManualHkdf(ikm, salt, info, out.size())));
  }
  for (std::size_t info_size : {32769u, 65551u}) {
    ByteVec info(info_size, 0x11);
    ByteVec out(80, 0xa5);
    CHECK(HkdfSha256(ikm, salt, info, out).code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("DeriveFieldKey returns 32, 64 and 32 bytes for random, deterministic and index") {
  const SecretBytes secret = SecretBytes::Random(32);
  CHECK(FieldKeySize(Mode::kRandom) == 32);
  CHECK(FieldKeySize(Mode::kDeterministic) == 64);
  CHECK(FieldKeySize(Mode::kIndex) == 32);
  for (Mode mode : {Mode::kRandom, Mode::kDeterministic, Mode::kIndex}) {
    auto key = DeriveFieldKey(secret, mode, "users.email");
    REQUIRE(key.ok());
    CHECK(key->size() == FieldKeySize(mode));
  }
}

TEST_CASE("DeriveFieldKey matches HKDF-SHA256 over the documented info encoding") {
  const ByteVec secret_bytes = Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const SecretBytes secret = Secret(secret_bytes);
  struct Case {
    Mode mode;
    std::string_view label;
    std::string_view info_hex;
    std::string_view key_hex;
  };
  // info_hex and key_hex computed once with Python's hmac/hashlib (RFC 5869
  // by hand), independent of OpenSSL and of this SDK.
  const Case cases[] = {
      {Mode::kRandom, "users.email", "736f7665726569676e2f76310001000b75736572732e656d61696c",
       "e6e4df28dae05b841a8e68304b5028c90b4006976288b3a97cc63748f4d97cc1"},
      {Mode::kDeterministic, "users.ssn", "736f7665726569676e2f76310002000975736572732e73736e",
       "0697085a74e174422ca08916e321fb0b61dc099dd3f36ff57fcae09f00783e56"
       "a10769c2c6c938f46895383d8552794598f68889d0cb31912cb97038141f57cf"},
      {Mode::kIndex, "users.email", "736f7665726569676e2f76310003000b75736572732e656d61696c",
       "718cbe6e6bdf0333428ccdb791c9306bf25177b2f73f22c13ac3d784e6fcd506"},
  };
  for (const Case& c : cases) {
    INFO("mode " << static_cast<int>(c.mode) << " label " << c.label);
    const ByteVec info = FieldKeyInfo(c.mode, c.label);
    CHECK(ToHex(info) == c.info_hex);
    const ByteVec expected = Hkdf(secret_bytes, {}, info, FieldKeySize(c.mode));
    CHECK(ToHex(expected) == c.key_hex);
    auto key = DeriveFieldKey(secret, c.mode, c.label);
    REQUIRE(key.ok());
    CHECK(SecretHex(*key) == c.key_hex);
  }
}

TEST_CASE("DeriveFieldKey is deterministic and separates modes, labels and secrets") {
  const SecretBytes secret_a = SecretBytes::Random(32);
  const SecretBytes secret_b = SecretBytes::Random(32);
  std::set<std::string> seen;
  int derived = 0;
  for (const SecretBytes* secret : {&secret_a, &secret_b}) {
    for (Mode mode : {Mode::kRandom, Mode::kDeterministic, Mode::kIndex}) {
      // "ab"/"a" + "b"-style neighbours: the u16 length prefix keeps them apart.
      for (std::string_view label : {"a", "ab", "b", "users.email", "users.emai", "users.email2"}) {
        INFO("mode " << static_cast<int>(mode) << " label " << label);
        auto first = DeriveFieldKey(*secret, mode, label);
        auto again = DeriveFieldKey(*secret, mode, label);
        REQUIRE(first.ok());
        REQUIRE(again.ok());
        CHECK(first->Equals(*again));
        // Compare the first 32 bytes so a 64-byte key cannot hide a shared prefix.
        const std::string prefix = SecretHex(*first).substr(0, 64);
        CHECK(seen.insert(prefix).second);
        ++derived;
      }
    }
  }
  CHECK(derived == 36);
  CHECK(seen.size() == 36);
}

TEST_CASE("DeriveFieldKey accepts labels of 1 to 255 bytes and rejects others") {
  const SecretBytes secret = SecretBytes::Random(32);
  const std::string longest(kMaxDerivationLabelSize, 'x');
  auto key = DeriveFieldKey(secret, Mode::kRandom, longest);
  INFO(key.status().ToString());
  CHECK(key.ok());
  CHECK(DeriveFieldKey(secret, Mode::kRandom, "").code() == ErrorCode::kInvalidArgument);
  const std::string too_long(kMaxDerivationLabelSize + 1, 'x');
  CHECK(DeriveFieldKey(secret, Mode::kRandom, too_long).code() == ErrorCode::kInvalidArgument);
}

// A Mode value outside the enum (e.g. a wire byte cast without ParseMode)
// must not silently derive a key for a mode that does not exist.
TEST_CASE("DeriveFieldKey rejects a mode outside the enum") {
  const SecretBytes secret = SecretBytes::Random(32);
  CHECK_FALSE(DeriveFieldKey(secret, static_cast<Mode>(0), "users.email").ok());
  CHECK_FALSE(DeriveFieldKey(secret, static_cast<Mode>(4), "users.email").ok());
}

}  // namespace
}  // namespace sovereign::internal
