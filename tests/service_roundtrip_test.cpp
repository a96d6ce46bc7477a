// The US app round-trips fields through a real `sovereign serve`: remote
// batches, leased field keys used locally, and the CLI against a URL.
#include <catch2/catch.hpp>

#include "sovereign/client.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

const std::string kBinary("a\0b\xff\r\n", 6);

TEST_CASE("service: health names the region and needs only a trusted certificate that names a principal") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto r = f.Client("us", f.pki().us_app())->Get("/v1/health");
  REQUIRE(r.status == 200);
  auto doc = r.json();
  CHECK(doc["status"] == "ok");
  CHECK(doc["region"] == "us");
  CHECK(doc["version"].is_string());
  CHECK(f.Client("us", f.pki().eu_officer())->Get("/v1/health").status == 200);  // no rule names it here
  // A certificate with no URI SAN names nobody (CN names are off by default).
  CHECK(f.Client("us", f.pki().cn_only())->Get("/v1/health").status == 403);
}

TEST_CASE("service: the US app round-trips every kind of value through remote batches, item by item") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto app = f.Client("us", f.pki().us_app());
  const std::vector<std::string> values = {"ann@example.com", "", kBinary, std::string(70000, 'q')};
  json items = json::array();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto record = i % 2 == 0 ? std::optional<std::string>("u-" + std::to_string(i)) : std::nullopt;
    items.push_back(EncryptItem("users", "email", i % 2 ? "deterministic" : "random", "/email", record, values[i]));
  }
  // An explicit null record id means "none", like an absent one.
  items.push_back(EncryptItem("users", "email", "deterministic", "/email", std::nullopt, values[1]));
  items.back()["record_id"] = nullptr;
  auto enc = app->PostJson("/v1/encrypt", Items(items));
  INFO(enc.body);
  REQUIRE(enc.status == 200);
  auto cts = enc.json()["items"];
  REQUIRE(cts.size() == items.size());
  for (const auto& ct : cts) CHECK(ct["ciphertext"].get<std::string>().rfind("sov1:", 0) == 0);
  CHECK(cts[1]["ciphertext"] == cts[4]["ciphertext"]);  // deterministic, same context

  json dec_items = json::array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto record = items[i].contains("record_id") && items[i]["record_id"].is_string()
                            ? std::optional<std::string>(items[i]["record_id"].get<std::string>())
                            : std::nullopt;
    dec_items.push_back(DecryptItem(cts[i]["ciphertext"], "/email", record));
  }
  // One tampered item fails alone, in its place.
  std::string tampered = cts[0]["ciphertext"];
  tampered[12] = tampered[12] == 'A' ? 'B' : 'A';
  dec_items.push_back(DecryptItem(tampered, "/email", "u-0"));
  // A ciphertext moved to another record fails alone too.
  dec_items.push_back(DecryptItem(cts[0]["ciphertext"], "/email", "u-9"));
  auto dec = app->PostJson("/v1/decrypt", Items(dec_items));
  INFO(dec.body.substr(0, 2000));
  REQUIRE(dec.status == 200);
  auto pts = dec.json()["items"];
  REQUIRE(pts.size() == dec_items.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    REQUIRE(pts[i].contains("plaintext"));
    CHECK(Base64UrlDecode(pts[i]["plaintext"].get<std::string>()) == values[i]);
  }
  CHECK(Base64UrlDecode(pts[4]["plaintext"].get<std::string>()).empty());
  CHECK(pts[5]["error"]["code"] == "invalid_ciphertext");
  CHECK(pts[6]["error"]["code"] == "invalid_ciphertext");
  CHECK_FALSE(pts[5].contains("plaintext"));
}

TEST_CASE("service: a lease answers with the documented shape and a key of the mode's size") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto app = f.Client("us", f.pki().us_app());
  auto r = app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}},
                                              {{"key", "users"}, {"mode", "deterministic"}, {"label", "ssn"}},
                                              {{"key", "users"}, {"mode", "index"}, {"label", "email"}}}));
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 200);
  auto doc = r.json();
  CHECK(doc["ttl_seconds"] == 300);
  REQUIRE(doc["items"].size() == 3);
  const std::size_t sizes[] = {32, 64, 32};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& ok = doc["items"][i]["ok"];
    CHECK(ok["region"] == "us");
    CHECK(ok["key"] == "users");
    CHECK(ok["key_id"] == 1);
    CHECK(ok["version"] == 1);
    CHECK(ok["label_id"].get<int>() >= 1);
    CHECK(ok["expires_at"].get<std::string>().back() == 'Z');
    CHECK(Base64UrlDecode(ok["field_key"].get<std::string>()).size() == sizes[i]);
  }
  CHECK(doc["items"][0]["ok"]["mode"] == "random");
  CHECK(doc["items"][1]["ok"]["label"] == "ssn");
  // By the ids an envelope header carries: the same key.
  const auto& first = doc["items"][0]["ok"];
  auto by_id = app->PostJson("/v1/leases", Items({{{"key_id", first["key_id"]},
                                                   {"version", first["version"]},
                                                   {"mode", "random"},
                                                   {"label_id", first["label_id"]}}}));
  REQUIRE(by_id.status == 200);
  CHECK(by_id.json()["items"][0]["ok"]["field_key"] == first["field_key"]);
}

TEST_CASE("service: keys leased over HTTPS open what remote batches encrypt, and the reverse") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto client = Client::New(f.Keystore("us", f.pki().us_app()));
  REQUIRE(client.ok());
  auto app = f.Client("us", f.pki().us_app());
  for (const std::string mode : {"random", "deterministic"}) {
    CAPTURE(mode);
    const FieldSpec spec{"us", "users", "email", mode == "random" ? Mode::kRandom : Mode::kDeterministic};
    const FieldContext context{"/email", "user-42"};

    // Remote encrypt, local decrypt with a leased key.
    const auto remote_ct = RemoteEncrypt(*app, "email", kBinary, "/email", "user-42", mode);
    auto local_pt = (*client)->Decrypt(remote_ct, context);
    REQUIRE(local_pt.ok());
    CHECK(*local_pt == kBinary);

    // Local encrypt with a leased key, remote decrypt.
    auto local_ct = (*client)->Encrypt(spec, "ann@example.com", context);
    REQUIRE(local_ct.ok());
    auto r = app->PostJson("/v1/decrypt", Items({DecryptItem(*local_ct, "/email", "user-42")}));
    REQUIRE(r.status == 200);
    CHECK(Base64UrlDecode(r.json()["items"][0]["plaintext"].get<std::string>()) == "ann@example.com");
    if (mode == "deterministic")
      CHECK(*local_ct == RemoteEncrypt(*app, "email", "ann@example.com", "/email", "user-42", mode));
  }
  CHECK(CountAudit(f.region("us"), kUsAppId, "ok") >= 2);
}

TEST_CASE("service: the CLI round-trips a field through a keystore URL as the US app") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const auto remote = f.Remote("us", f.pki().us_app());
  for (const std::string& value : {std::string("ann@example.com\n"), kBinary, std::string()}) {
    auto ct = RunCli(
        Concat({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email", "--record-id", "u-1"},
               remote),
        value);
    INFO(ct.err);
    REQUIRE(ct.exit_code == 0);
    REQUIRE(ct.out.rfind("sov1:", 0) == 0);
    auto pt = RunCli(Concat({"field", "decrypt", "--path", "/email", "--record-id", "u-1"}, remote), ct.out);
    INFO(pt.err);
    CHECK(pt.exit_code == 0);
    CHECK(pt.out == value);
    // What the CLI wrote, the service's batch decrypt reads.
    std::string text = ct.out.substr(0, ct.out.find_last_not_of("\r\n") + 1);
    auto r = f.Client("us", f.pki().us_app())->PostJson("/v1/decrypt", Items({DecryptItem(text, "/email", "u-1")}));
    REQUIRE(r.status == 200);
    CHECK(Base64UrlDecode(r.json()["items"][0]["plaintext"].get<std::string>()) == value);
  }
  // And what the service encrypted, the CLI decrypts.
  auto app = f.Client("us", f.pki().us_app());
  const auto ct = RemoteEncrypt(*app, "email", "bob@example.com", "/email");
  auto pt = RunCli(Concat({"field", "decrypt", "--path", "/email"}, remote), ct + "\n");
  CHECK(pt.exit_code == 0);
  CHECK(pt.out == "bob@example.com");
}

TEST_CASE("service: the CLI takes its TLS identity from SOVEREIGN_TLS_CERT, _KEY and _CA") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const std::map<std::string, std::string> env = {{"SOVEREIGN_TLS_CERT", f.pki().us_app().cert.string()},
                                                  {"SOVEREIGN_TLS_KEY", f.pki().us_app().key.string()},
                                                  {"SOVEREIGN_TLS_CA", f.pki().ca().string()}};
  auto ct =
      RunCli({"field", "encrypt", "--keystore", server.Url(), "--key", "users", "--label", "email", "--path", "/email"},
             "v", env);
  INFO(ct.err);
  REQUIRE(ct.exit_code == 0);
  auto pt = RunCli({"field", "decrypt", "--keystore", server.Url(), "--path", "/email"}, ct.out, env);
  CHECK(pt.exit_code == 0);
  CHECK(pt.out == "v");
}

TEST_CASE("service: keys list, create and rotate work against a URL as the security officer") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const auto officer = f.Remote("us", f.pki().us_officer());
  auto created = RunCli(Concat({"keys", "create", "--key", "payments"}, officer));
  INFO(created.err);
  CHECK(created.exit_code == 0);
  auto rotated = RunCli(Concat({"keys", "rotate", "--key", "payments"}, officer));
  CHECK(rotated.exit_code == 0);
  CHECK_THAT(rotated.out, Catch::Contains("version 2 is now primary"));
  auto list = RunCli(Concat({"keys", "list", "--json"}, officer));
  INFO(list.err);
  REQUIRE(list.exit_code == 0);
  auto doc = json::parse(list.out);
  CHECK(doc["region"] == "us");
  REQUIRE(doc["keys"].size() == 2);
  CHECK(doc["keys"][1]["name"] == "payments");
  CHECK(doc["keys"][1]["primary_version"] == 2);
  // The app has no admin permission: exit code 3, nothing created.
  auto denied = RunCli(Concat({"keys", "create", "--key", "other"}, f.Remote("us", f.pki().us_app())));
  CHECK(denied.exit_code == 3);
  auto http = f.Client("us", f.pki().us_officer())->Get("/v1/keys");
  REQUIRE(http.status == 200);
  CHECK(http.json()["keys"].size() == 2);
}

}  // namespace
}  // namespace sovereign::test
