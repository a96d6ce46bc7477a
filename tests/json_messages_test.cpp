// Messages about request and configuration members quote member names, and
// names come from requests: a message stays short whatever the name, and
// holds no control character. Found by fuzz/request_fuzz.cpp: a 4 MiB body
// whose one member name filled it was answered with that name twice over.
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/internal/json_members.hpp"
#include "sdk/internal/json_strict.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;
using Json = nlohmann::json;

constexpr std::size_t kMaxMessage = 512;

bool Printable(const std::string& message) {
  for (char c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

TEST_CASE("an unknown member's message is bounded however long its name") {
  for (const std::string& name : {std::string(100000, 'n'), std::string(5000, '\n'), [] {
         std::string s;
         for (int i = 0; i < 3000; ++i) s += "\xc3\xa9";  // é, cut at a character boundary
         return s;
       }()}) {
    const Json item = {{"ciphertext", "x"}, {name, 1}};
    const Status status = ki::ExpectObject(item, "/items/999", {"ciphertext"});
    REQUIRE_FALSE(status.ok());
    CHECK(status.message().size() < kMaxMessage);
    CHECK(Printable(std::string(status.message())));
    CHECK_THAT(std::string(status.message()), Catch::Contains("...\" at /items/999/"));
  }
}

TEST_CASE("a short name is quoted whole, without the cut marker") {
  const Status status = ki::ExpectObject(Json{{"colour", 1}}, "", {});
  CHECK(std::string(status.message()) == "unknown member \"colour\" at /colour");
}

TEST_CASE("a duplicate member's pointer is bounded however deep and long the names on the way") {
  std::string text;
  const std::string name(1000, 'k');
  for (int depth = 0; depth < 30; ++depth) text += "{\"" + name + "\":";
  text += R"({"a":1,"a":2})";
  for (int depth = 0; depth < 30; ++depth) text += "}";
  auto parsed = internal::ParseJsonStrict(text, "request body");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().message().size() < kMaxMessage);
  CHECK_THAT(std::string(parsed.status().message()), Catch::StartsWith("duplicate member /kkk"));
  CHECK_THAT(std::string(parsed.status().message()), Catch::EndsWith("/..."));
}

TEST_CASE("member paths still escape control characters and ~ and / in short names") {
  CHECK(ki::MemberPath("/items/0", "a\nb~/c") == "/items/0/a\\u000ab~0~1c");
}

}  // namespace
}  // namespace sovereign
