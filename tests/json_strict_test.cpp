// Strict JSON (sdk/internal/json_strict.hpp) reads the whole text it is given.
// Found by fuzz/request_fuzz.cpp: nlohmann stops at a NUL byte, so a request
// body "{...}\0<anything>" was read as its first part by /v1/encrypt while
// /v1/decrypt's parser (simdjson) refused it.
#include <string>

#include <catch2/catch.hpp>

#include "sdk/internal/json_strict.hpp"

namespace sovereign {
namespace {

TEST_CASE("strict JSON refuses a NUL byte anywhere, even after a whole document") {
  using namespace std::string_literals;
  for (const std::string& text : {R"({"items":[]})"s + '\0', R"({"items":[]})"s + '\0' + R"({"x":1})",
                                  R"({"items":["a)"s + '\0' + R"(b"]})", "\0"s}) {
    auto parsed = internal::ParseJsonStrict(text, "request body");
    REQUIRE_FALSE(parsed.ok());
    CHECK(std::string(parsed.status().message()) == "request body is not valid JSON");
  }
  CHECK(internal::ParseJsonStrict(R"({"items":["a\u0000b"]})", "request body").ok());
}

}  // namespace
}  // namespace sovereign
