// Malformed requests get a clear 4xx naming what is wrong, and the server
// keeps serving: nothing a client sends can take it down.
#include <catch2/catch.hpp>

#include <tuple>

#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

struct Served {
  ServiceFixture f;
  std::unique_ptr<HttpsClient> app;
  Served() {
    f.PrepareAndStart("us");
    app = f.Client("us", f.pki().us_app());
  }
  void CheckStillServing() {
    auto fresh = f.Client("us", f.pki().us_app());
    auto r = fresh->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
    CHECK(r.status == 200);
    CHECK(app->Get("/v1/health").status == 200);
    CHECK(f.server("us").Running());
  }
};

// CheckError checks the status and that the body is the documented error shape.
void CheckError(const HttpResponse& r, int status, const std::string& code, const std::string& mentions = {}) {
  INFO(r.status << " " << r.body << r.transport_error);
  CHECK(r.status == status);
  CHECK(r.ErrorCode() == code);
  auto doc = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  CHECK(doc["error"]["message"].is_string());
  if (!mentions.empty()) CHECK_THAT(doc["error"]["message"].get<std::string>(), Catch::Contains(mentions));
}

TEST_CASE("service: bodies that are not JSON objects are 400 invalid_argument") {
  Served s;
  for (const std::string body :
       {"", "{", "not json", "[]", "null", "{\"items\": [}", "\xff\xfe{}", "{\"items\": []} trailing"}) {
    for (const std::string endpoint : {"/v1/leases", "/v1/encrypt", "/v1/decrypt", "/v1/index"}) {
      CAPTURE(body, endpoint);
      CheckError(s.app->Post(endpoint, body), 400, "invalid_argument");
    }
  }
  s.CheckStillServing();
}

TEST_CASE("service: unknown members are 400 and name the member") {
  Served s;
  CheckError(s.app->PostJson("/v1/leases", {{"items", json::array()}, {"admin", true}}), 400, "invalid_argument",
             "admin");
  CheckError(s.app->PostJson("/v1/leases",
                             Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}, {"principal", "x"}}})),
             400, "invalid_argument", "principal");
  CheckError(s.app->PostJson("/v1/encrypt", Items({[] {
                               auto item = EncryptItem("users", "email", "random", "/email", {}, "x");
                               item["region"] = "eu";
                               return item;
                             }()})),
             400, "invalid_argument", "region");
  CheckError(s.app->PostJson("/v1/decrypt", Items({{{"ciphertext", "sov1:AAAA"}, {"path", "/e"}, {"as", "admin"}}})),
             400, "invalid_argument", "as");
  CheckError(s.app->PostJson("/v1/keys", {{"key", "k2"}, {"material", "00"}}), 403, "denied");
  CheckError(s.f.Client("us", s.f.pki().us_officer())->PostJson("/v1/keys", {{"key", "k2"}, {"material", "00"}}), 400,
             "invalid_argument", "material");
  s.CheckStillServing();
}

TEST_CASE("service: members of the wrong type or missing are 400") {
  Served s;
  const json bad_bodies[] = {
      {{"items", "users"}},
      {{"items", {{"key", "users"}}}},  // an object, not an array
      json::object(),
      Items({{{"key", 7}, {"mode", "random"}, {"label", "email"}}}),
      Items({{{"key", "users"}, {"mode", "random"}}}),
      Items({{{"key", "users"}, {"mode", 1}, {"label", "email"}}}),
      Items({{{"key_id", "1"}, {"version", 1}, {"mode", "random"}, {"label_id", 1}}}),
      Items({{{"key_id", -1}, {"version", 1}, {"mode", "random"}, {"label_id", 1}}}),
      Items({{{"key_id", 1.5}, {"version", 1}, {"mode", "random"}, {"label_id", 1}}}),
      Items({{{"key_id", 4294967296LL}, {"version", 1}, {"mode", "random"}, {"label_id", 1}}}),
      Items({json::array({"users"})}),
  };
  for (const auto& body : bad_bodies) {
    CAPTURE(body.dump());
    CheckError(s.app->PostJson("/v1/leases", body), 400, "invalid_argument");
  }
  auto enc = EncryptItem("users", "email", "random", "/email", {}, "x");
  for (const auto& [member, value] : std::vector<std::pair<std::string, json>>{
           {"plaintext", 12}, {"path", nullptr}, {"record_id", 5}, {"label", json::array()}}) {
    auto item = enc;
    item[member] = value;
    CAPTURE(member);
    CheckError(s.app->PostJson("/v1/encrypt", Items({item})), 400, "invalid_argument");
  }
  CheckError(s.app->PostJson("/v1/decrypt", Items({{{"ciphertext", 5}, {"path", "/email"}}})), 400, "invalid_argument");
  s.CheckStillServing();
}

TEST_CASE("service: decrypt batch bodies are checked member by member, and a member named twice is refused") {
  Served s;
  const std::pair<std::string, std::string> cases[] = {
      {R"({"items":[{"path":"/email"}]})", "missing member /items/0/ciphertext"},
      {R"({"items":[{"ciphertext":"sov1:AAAA"},{"ciphertext":null}]})", "member /items/1/ciphertext must be a string, not null"},
      {R"({"items":[{"ciphertext":"sov1:AAAA","record_id":[1]}]})", "member /items/0/record_id must be a string or null, not an array"},
      {R"({"items":[{"ciphertext":"sov1:AAAA","path":true}]})", "member /items/0/path must be a string, not a boolean"},
      {R"({"items":[{"ciphertext":"sov1:AAAA","ciphertext":"sov1:BBBB"}]})", "duplicate member /items/0/ciphertext"},
      {R"({"items":[],"items":[]})", "duplicate member /items"},
      {R"({"items":[7]})", "member /items/0 must be an object, not a number"},
      {R"({"items":{}})", "member /items must be an array"},
      {R"({"item":[]})", "unknown member \"item\" at /item"},
      {R"({"items":[{"ciphertext":"sov1:AAAA","a\u000ab":1}]})", R"(unknown member "a\nb" at /items/0/a\u000ab)"},
      {"{\"items\":[" + std::string(40, '[') + std::string(40, ']') + "]}", "nests deeper than 32 levels"},
  };
  for (const auto& [body, message] : cases) {
    CAPTURE(body);
    CheckError(s.app->Post("/v1/decrypt", body), 400, "invalid_argument", message);
  }
  // A null record id is no record id: accepted, the item itself just fails to decrypt.
  auto r = s.app->Post("/v1/decrypt", R"({"items":[{"ciphertext":"sov1:AAAA","path":"/e","record_id":null}]})");
  CHECK(r.status == 200);
  s.CheckStillServing();
}

TEST_CASE("service: a member named twice is refused on every endpoint, named by its JSON Pointer") {
  Served s;
  const std::tuple<std::string, std::string, std::string> cases[] = {
      {"/v1/leases", R"({"items":[{"key":"users","mode":"random","label":"email","key":"other"}]})",
       "duplicate member /items/0/key"},
      {"/v1/leases",
       R"({"items":[{"key":"users","mode":"random","label":"email"},{"key":"users","label":"a","mode":"random","label":"b"}]})",
       "duplicate member /items/1/label"},
      {"/v1/encrypt", R"({"items":[],"items":[]})", "duplicate member /items"},
      {"/v1/encrypt", R"({"items":[1,[2,{"x":0}],{"plaintext":"a","plaintext":"b"}]})", "duplicate member /items/2/plaintext"},
      {"/v1/index", R"({"items":[{"key":"users","a\u000ab":1,"a\nb":2}]})", R"(duplicate member /items/0/a\u000ab)"},
  };
  for (const auto& [endpoint, body, message] : cases) {
    CAPTURE(endpoint, body);
    CheckError(s.app->Post(endpoint, body), 400, "invalid_argument", message);
  }
  auto officer = s.f.Client("us", s.f.pki().us_officer());
  CheckError(officer->Post("/v1/keys", R"({"key":"k2","key":"k3"})"), 400, "invalid_argument", "duplicate member /key");
  // The same name in two different objects is no duplicate.
  auto r = s.app->Post("/v1/leases",
                       R"({"items":[{"key":"users","mode":"random","label":"email"},{"key":"users","mode":"random","label":"email"}]})");
  CHECK(r.status == 200);
  s.CheckStillServing();
}

TEST_CASE("service: a body over 4 MiB is 413, a batch over 1000 items 400") {
  Served s;
  const std::string huge = "{\"items\": [{\"ciphertext\": \"sov1:" + std::string((std::size_t{4} << 20) + 1, 'A') +
                           "\", \"path\": \"/e\"}]}";
  auto r = s.app->Post("/v1/decrypt", huge);
  INFO(r.status << " " << r.body.substr(0, 300) << r.transport_error);
  CHECK(r.status == 413);
  CHECK_FALSE(r.ErrorCode().empty());
  json items = json::array();
  for (int i = 0; i < 1001; ++i) items.push_back({{"key", "users"}, {"mode", "random"}, {"label", "email"}});
  CheckError(s.app->PostJson("/v1/leases", Items(items)), 400, "invalid_argument");
  items.erase(items.begin());
  auto thousand = s.app->PostJson("/v1/leases", Items(items));
  CHECK(thousand.status == 200);
  s.CheckStillServing();
}

TEST_CASE("service: unknown keys are key_not_found, per item in batches and 404 for admin") {
  Served s;
  auto lease = s.app->PostJson("/v1/leases", Items({{{"key", "nope"}, {"mode", "random"}, {"label", "email"}},
                                                    {{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  INFO(lease.body);
  REQUIRE(lease.status == 200);
  CHECK(lease.json()["items"][0]["error"]["code"] == "key_not_found");
  CHECK(lease.json()["items"][1].contains("ok"));
  auto by_id =
      s.app->PostJson("/v1/leases", Items({{{"key_id", 99}, {"version", 1}, {"mode", "random"}, {"label_id", 1}},
                                           {{"key_id", 1}, {"version", 99}, {"mode", "random"}, {"label_id", 1}}}));
  REQUIRE(by_id.status == 200);
  CHECK(by_id.json()["items"][0]["error"]["code"] == "key_not_found");
  CHECK(by_id.json()["items"][1]["error"]["code"] == "key_not_found");
  auto officer = s.f.Client("us", s.f.pki().us_officer());
  CheckError(officer->Post("/v1/keys/nope/rotate", ""), 404, "key_not_found", "nope");
  CheckError(officer->PostJson("/v1/keys", {{"key", "users"}}), 409, "already_exists");
  CheckError(officer->PostJson("/v1/keys", {{"key", "Bad Name!"}}), 400, "invalid_argument");
  s.CheckStillServing();
}

TEST_CASE("service: bad values inside an item fail that item only") {
  Served s;
  auto r = s.app->PostJson("/v1/decrypt",
                           Items({DecryptItem("not a ciphertext", "/email", {}), DecryptItem("sov1:!!!", "/email", {}),
                                  DecryptItem(RemoteEncrypt(*s.app, "email", "v", "/email"), "/email", {})}));
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto items = r.json()["items"];
  CHECK(items[0]["error"]["code"] == "invalid_ciphertext");
  CHECK(items[1]["error"]["code"] == "invalid_ciphertext");
  CHECK(Base64UrlDecode(items[2]["plaintext"].get<std::string>()) == "v");
  auto enc =
      s.app->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "email-without-slash", {}, "x"),
                                            EncryptItem("users", "bad label!", "random", "/email", {}, "x"),
                                            EncryptItem("users", "email", "index", "/email", {}, "x"),
                                            EncryptItem("users", "email", "random", "/email", {}, "x")}));
  INFO(enc.body);
  REQUIRE(enc.status == 200);
  auto e = enc.json()["items"];
  CHECK(e[0]["error"]["code"] == "invalid_argument");
  CHECK(e[1]["error"]["code"] == "invalid_argument");
  CHECK(e[2]["error"]["code"] == "invalid_argument");
  CHECK(e[3].contains("ciphertext"));
  s.CheckStillServing();
}

TEST_CASE("service: unknown endpoints and methods are 4xx JSON errors") {
  Served s;
  auto r = s.app->Get("/v1/nothing-here");
  CHECK(r.status == 404);
  auto wrong_method = s.app->Get("/v1/leases");
  CHECK(wrong_method.status >= 400);
  CHECK(wrong_method.status < 500);
  auto v2 = s.app->PostJson("/v2/leases", Items(json::array()));
  CHECK(v2.status == 404);
  s.CheckStillServing();
}

}  // namespace
}  // namespace sovereign::test
