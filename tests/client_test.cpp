// Client over a real embedded keystore: routing by region, typed errors,
// rotation, blind indexes and many threads on one Client.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "sovereign/sovereign.hpp"
#include "tests/support/test_support.hpp"

using namespace sovereign;

namespace {

struct Region {
  test::TempDir dir;
  std::shared_ptr<EmbeddedKeystore> keystore;
  explicit Region(const std::string& region) {
    auto ks = EmbeddedKeystore::Init(dir.path() / "ks", region);
    REQUIRE(ks.ok());
    keystore = std::move(ks).value();
    REQUIRE(keystore->CreateKey("users").ok());
  }
};

std::unique_ptr<Client> NewClient(std::vector<std::shared_ptr<KeySource>> sources, ClientOptions options = {}) {
  auto client = Client::New(std::move(sources), options);
  REQUIRE(client.ok());
  return std::move(client).value();
}

constexpr Mode kModes[] = {Mode::kRandom, Mode::kDeterministic};

}  // namespace

TEST_CASE("client round-trips text and binary ciphertexts in every mode") {
  Region us("us");
  auto client = NewClient({us.keystore});
  for (Mode mode : kModes) {
    const FieldSpec spec{"us", "users", "email", mode};
    const FieldContext ctx{"/email", std::string("user-1")};
    for (std::string value : {std::string(""), std::string("ann@example.com"), std::string("\0\xff\xfe", 3),
                              std::string(4096, 'z')}) {
      auto text = client->Encrypt(spec, value, ctx);
      REQUIRE(text.ok());
      CHECK(IsTextCiphertext(*text));
      auto back = client->Decrypt(*text, ctx);
      REQUIRE(back.ok());
      CHECK(*back == value);
      auto binary = client->EncryptBinary(spec, value, ctx);
      REQUIRE(binary.ok());
      auto back2 = client->DecryptBinary(*binary, ctx);
      REQUIRE(back2.ok());
      CHECK(*back2 == value);
    }
  }
}

TEST_CASE("decrypt of garbage says only invalid ciphertext") {
  Region us("us");
  auto client = NewClient({us.keystore});
  for (std::string text : {"", "sov1:", "sov1:AAAA", "hello", "sov1:AQECdXMBAQE", "sov1:AQECdXMBAQEA===="}) {
    auto r = client->Decrypt(text, {"/email", std::nullopt});
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == ErrorCode::kInvalidCiphertext);
    CHECK(r.status().message() == "invalid ciphertext");
  }
}

TEST_CASE("encrypt under an unknown key is key_not_found and names the key") {
  Region us("us");
  auto client = NewClient({us.keystore});
  auto r = client->Encrypt({"us", "payments", "card", Mode::kRandom}, "4111", {"/card", std::nullopt});
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == ErrorCode::kKeyNotFound);
  CHECK_THAT(r.status().message(), Catch::Contains("payments"));
}

TEST_CASE("a client of region us refuses region eu, never falling back") {
  Region us("us");
  Region eu("eu");
  auto us_client = NewClient({us.keystore});
  auto eu_client = NewClient({eu.keystore});
  auto r = us_client->Encrypt({"eu", "users", "email", Mode::kRandom}, "x", {"/email", std::nullopt});
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == ErrorCode::kWrongRegion);

  auto eu_ct = eu_client->Encrypt({"eu", "users", "email", Mode::kRandom}, "eu-secret", {"/email", std::nullopt});
  REQUIRE(eu_ct.ok());
  auto d = us_client->Decrypt(*eu_ct, {"/email", std::nullopt});
  REQUIRE_FALSE(d.ok());
  CHECK(d.code() == ErrorCode::kWrongRegion);
  CHECK_THAT(d.status().message(), !Catch::Contains("eu-secret"));
}

TEST_CASE("one client routes each ciphertext to its own region's keystore") {
  Region us("us");
  Region eu("eu");
  auto client = NewClient({us.keystore, eu.keystore});
  auto a = client->Encrypt({"us", "users", "email", Mode::kRandom}, "us-user", {"/email", std::nullopt});
  auto b = client->Encrypt({"eu", "users", "email", Mode::kRandom}, "eu-user", {"/email", std::nullopt});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(client->Decrypt(*a, {"/email", std::nullopt}).value() == "us-user");
  CHECK(client->Decrypt(*b, {"/email", std::nullopt}).value() == "eu-user");
  // Same key name, same label, but different regions: never interchangeable.
  auto us_only = NewClient({us.keystore});
  CHECK(us_only->Decrypt(*b, {"/email", std::nullopt}).code() == ErrorCode::kWrongRegion);
}

TEST_CASE("two keystores for one region are refused") {
  Region us1("us");
  Region us2("us");
  auto client = Client::New({us1.keystore, us2.keystore});
  REQUIRE_FALSE(client.ok());
  CHECK(client.code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("a ciphertext naming an unknown key version is key_not_found, not invalid") {
  Region us("us");
  auto client = NewClient({us.keystore});
  auto ct = client->EncryptBinary({"us", "users", "email", Mode::kRandom}, "x", {"/email", std::nullopt});
  REQUIRE(ct.ok());
  auto header = ParseEnvelopeHeader(*ct);
  REQUIRE(header.ok());
  for (int which = 0; which < 3; ++which) {
    EnvelopeHeader h = header->first;
    if (which == 0) h.key_version = 99;
    if (which == 1) h.key_id = 99;
    if (which == 2) h.label_id = 99;
    std::vector<std::uint8_t> forged;
    REQUIRE(EncodeEnvelopeHeader(h, forged).ok());
    forged.insert(forged.end(), ct->begin() + static_cast<std::ptrdiff_t>(header->second), ct->end());
    auto r = client->DecryptBinary(forged, {"/email", std::nullopt});
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == ErrorCode::kKeyNotFound);
  }
}

TEST_CASE("after rotation new ciphertexts use the new version and old ones still decrypt") {
  Region us("us");
  auto client = NewClient({us.keystore}, ClientOptions{std::chrono::seconds(1)});
  const FieldSpec spec{"us", "users", "ssn", Mode::kDeterministic};
  auto old_ct = client->Encrypt(spec, "123-45-6789", {"/ssn", std::nullopt});
  REQUIRE(old_ct.ok());
  REQUIRE(us.keystore->RotateKey("users").ok());
  // A cached primary key is used until the cache expires (1 s here), never longer.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto new_ct = client->Encrypt(spec, "123-45-6789", {"/ssn", std::nullopt});
  REQUIRE(new_ct.ok());
  CHECK(*new_ct != *old_ct);
  CHECK(ParseEnvelopeHeader(FromText(*new_ct).value()).value().first.key_version == 2);
  CHECK(client->Decrypt(*old_ct, {"/ssn", std::nullopt}).value() == "123-45-6789");
  CHECK(client->Decrypt(*new_ct, {"/ssn", std::nullopt}).value() == "123-45-6789");
}

TEST_CASE("blind indexes are equal for equal normalised values and separated by label") {
  Region us("us");
  auto client = NewClient({us.keystore});
  const FieldSpec email{"us", "users", "email", Mode::kIndex};
  auto a = client->BlindIndex(email, "Ann@Example.com");
  auto b = client->BlindIndex(email, "  ann@example.com\n");
  auto c = client->BlindIndex(email, "bob@example.com");
  auto d = client->BlindIndex({"us", "users", "login", Mode::kIndex}, "ann@example.com");
  REQUIRE((a.ok() && b.ok() && c.ok() && d.ok()));
  CHECK(*a == *b);
  CHECK(*a != *c);
  CHECK(*a != *d);
  CHECK(a->size() == 8);

  auto exact = client->BlindIndex(email, "Ann@Example.com", {32, IndexNormalization::kExact});
  CHECK(exact.value() != *b);
  auto digits1 = client->BlindIndex(email, "+1 (555) 010-0000", {16, IndexNormalization::kDigits});
  auto digits2 = client->BlindIndex(email, "15550100000", {16, IndexNormalization::kDigits});
  CHECK(digits1.value() == digits2.value());

  auto twelve = client->BlindIndex(email, "ann@example.com", {12, IndexNormalization::kTrimCaseFold});
  REQUIRE(twelve.ok());
  CHECK(twelve->size() == 4);
  CHECK(twelve->back() == '0');  // the 4 unused low bits are zero
  CHECK(a->substr(0, 3) == twelve->substr(0, 3));

  for (unsigned bits : {0u, 7u, 65u, 128u}) {
    auto r = client->BlindIndex(email, "x", {bits, IndexNormalization::kExact});
    CHECK(r.code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("errors never contain the plaintext") {
  Region us("us");
  auto client = NewClient({us.keystore});
  const std::string secret = "SECRET-PLAINTEXT-123";
  std::vector<Result<std::string>> results;
  results.push_back(client->Encrypt({"us", "users", "email", Mode::kRandom}, secret, {"no-slash", std::nullopt}));
  results.push_back(client->Encrypt({"us", "nope", "email", Mode::kRandom}, secret, {"/e", std::nullopt}));
  results.push_back(client->Encrypt({"eu", "users", "email", Mode::kRandom}, secret, {"/e", std::nullopt}));
  results.push_back(client->Encrypt({"us", "users", "email", Mode::kIndex}, secret, {"/e", std::nullopt}));
  results.push_back(client->Encrypt({"us", "users", "", Mode::kRandom}, secret, {"/e", std::nullopt}));
  for (const auto& r : results) {
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().ToString(), !Catch::Contains(secret));
  }
}

TEST_CASE("many threads share one client for encrypt, decrypt and index") {
  Region us("us");
  auto client = NewClient({us.keystore});
  constexpr int kThreads = 8;
  constexpr int kOps = 1500;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const Mode mode = kModes[(t + i) % 2];
        const std::string label = "label" + std::to_string(i % 5);
        const std::string value = "value-" + std::to_string(t) + "-" + std::to_string(i);
        const FieldContext ctx{"/f/" + std::to_string(i % 3), std::to_string(t)};
        auto ct = client->Encrypt({"us", "users", label, mode}, value, ctx);
        if (!ct.ok()) {
          ++failures;
          continue;
        }
        auto pt = client->Decrypt(*ct, ctx);
        if (!pt.ok() || *pt != value) ++failures;
        if (i % 50 == 0 && !client->BlindIndex({"us", "users", label, Mode::kIndex}, value).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
}

TEST_CASE("append forms add to the caller's buffer and leave it untouched on failure") {
  Region us("us");
  auto client = NewClient({us.keystore});
  for (Mode mode : kModes) {
    const FieldSpec spec{"us", "users", "email", mode};
    const FieldContext ctx{"/email", std::string("u-1")};
    std::string line = R"({"email":")";
    REQUIRE(client->EncryptAppend(spec, "ann@example.com", ctx, line).ok());
    const std::string ciphertext = line.substr(10);
    CHECK(IsTextCiphertext(ciphertext));
    CHECK(client->Decrypt(ciphertext, ctx).value() == "ann@example.com");

    std::string out = "prefix:";
    REQUIRE(client->DecryptAppend(ciphertext, ctx, out).ok());
    CHECK(out == "prefix:ann@example.com");

    std::string unchanged = "prefix:";
    CHECK(client->DecryptAppend(ciphertext, {"/email", std::string("u-2")}, unchanged).code() ==
          ErrorCode::kInvalidCiphertext);
    CHECK(unchanged == "prefix:");
    CHECK(client->EncryptAppend({"us", "nope", "email", mode}, "x", ctx, unchanged).code() ==
          ErrorCode::kKeyNotFound);
    CHECK(unchanged == "prefix:");
  }
}
