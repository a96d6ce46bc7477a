// The offshore (CN) engineer may encrypt under "users" but never sees a
// plaintext or a field key — from any endpoint or CLI path — and every
// attempt is audited as denied.
#include <catch2/catch.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

const std::string kSecret = "ann.secret@example.com";

// Refused checks that a response carries no plaintext and no field key and
// says "denied": either the whole request (403) or every item.
void CheckRefused(const HttpResponse& r, const std::string& endpoint) {
  INFO(endpoint << " -> " << r.status << " " << r.body);
  REQUIRE(r.responded());
  CHECK(r.body.find("plaintext") == std::string::npos);
  CHECK(r.body.find("field_key") == std::string::npos);
  CHECK(r.body.find(Base64Url(kSecret)) == std::string::npos);
  if (r.status == 403) {
    CHECK(r.ErrorCode() == "denied");
    return;
  }
  REQUIRE(r.status == 200);
  auto doc = r.json();
  REQUIRE(!doc["items"].empty());
  for (const auto& item : doc["items"]) CHECK(item["error"]["code"] == "denied");
}

TEST_CASE("service: the CN engineer encrypts remotely but no endpoint gives it a plaintext or a key") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const auto& us = f.region("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  auto app = f.Client("us", f.pki().us_app());

  const auto own_ct = RemoteEncrypt(*alice, "email", kSecret, "/email", "u-1");
  CHECK(own_ct.rfind("sov1:", 0) == 0);
  const auto app_ct = RemoteEncrypt(*app, "email", kSecret, "/email", "u-1");
  // What the engineer encrypted is an ordinary ciphertext: the app reads it.
  auto check = app->PostJson("/v1/decrypt", Items({DecryptItem(own_ct, "/email", "u-1")}));
  REQUIRE(check.status == 200);
  CHECK(Base64UrlDecode(check.json()["items"][0]["plaintext"].get<std::string>()) == kSecret);

  const struct {
    std::string endpoint;
    json body;
  } attempts[] = {
      {"/v1/decrypt", Items({DecryptItem(own_ct, "/email", "u-1"), DecryptItem(app_ct, "/email", "u-1")})},
      {"/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}})},
      {"/v1/leases", Items({{{"key_id", 1}, {"version", 1}, {"mode", "random"}, {"label_id", 1}}})},
      {"/v1/leases", Items({{{"key", "users"}, {"mode", "deterministic"}, {"label", "email"}}})},
  };
  for (const auto& attempt : attempts) {
    const auto denied_before = CountAudit(us, kCnEngineerId, "denied");
    CheckRefused(alice->PostJson(attempt.endpoint, attempt.body), attempt.endpoint);
    INFO(attempt.endpoint);
    CHECK(CountAudit(us, kCnEngineerId, "denied") > denied_before);
  }
  for (const std::string path : {"/v1/audit", "/v1/keys"}) {
    const auto denied_before = CountAudit(us, kCnEngineerId, "denied");
    auto r = alice->Get(path);
    INFO(path << " -> " << r.status << " " << r.body);
    CHECK(r.status == 403);
    CHECK(r.ErrorCode() == "denied");
    CHECK(r.body.find("entries") == std::string::npos);
    CHECK(CountAudit(us, kCnEngineerId, "denied") > denied_before);
  }
  // Key admin is refused too, and creates nothing.
  auto create = alice->PostJson("/v1/keys", {{"key", "exfil"}});
  CHECK(create.status == 403);
  auto rotate = alice->Post("/v1/keys/users/rotate", "");
  CHECK(rotate.status == 403);

  // The audit log never names the secret, whoever asked.
  for (const auto& e : AuditLines(us)) CHECK(e.dump().find(kSecret) == std::string::npos);
  // The officer sees the denials through the API as well.
  auto audit = f.Client("us", f.pki().us_officer())->Get("/v1/audit");
  REQUIRE(audit.status == 200);
  std::size_t denied_via_api = 0;
  const auto entries = audit.json()["entries"];
  for (const auto& line : entries) {
    auto e = json::parse(line.get<std::string>());
    if (e["principal"] == kCnEngineerId && e["outcome"] == "denied") ++denied_via_api;
  }
  CHECK(denied_via_api == CountAudit(us, kCnEngineerId, "denied"));
  CHECK(denied_via_api >= 6);
}

TEST_CASE("service: field decrypt as the CN engineer fails, keeps or redacts, and never prints plaintext") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const auto& us = f.region("us");
  const auto alice = f.Remote("us", f.pki().cn_engineer());

  // The CLI encrypts for the engineer through the remote batch operation.
  auto enc =
      RunCli(Concat({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"}, alice), kSecret);
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  const std::string ct = enc.out.substr(0, enc.out.find('\n'));
  REQUIRE(ct.rfind("sov1:", 0) == 0);
  auto as_app = RunCli(Concat({"field", "decrypt", "--path", "/email"}, f.Remote("us", f.pki().us_app())), enc.out);
  CHECK(as_app.out == kSecret);

  const auto decrypt = [&](std::vector<std::string> extra) {
    return RunCli(Concat(Concat({"field", "decrypt", "--path", "/email"}, alice), extra), enc.out);
  };
  std::size_t denied = CountAudit(us, kCnEngineerId, "denied");
  const auto audited = [&] {
    const auto now = CountAudit(us, kCnEngineerId, "denied");
    const bool grew = now > denied;
    denied = now;
    return grew;
  };

  for (const auto& extra : {std::vector<std::string>{}, std::vector<std::string>{"--on-denied", "fail"}}) {
    auto r = decrypt(extra);
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.out.empty());
    CHECK(r.err.find(kSecret) == std::string::npos);
    CHECK(audited());
  }
  auto keep = decrypt({"--on-denied", "keep"});
  INFO(keep.err);
  CHECK(keep.exit_code == 0);
  CHECK(keep.out.substr(0, keep.out.find_last_not_of("\r\n") + 1) == ct);
  CHECK(audited());

  auto redact = decrypt({"--on-denied", "redact"});
  INFO(redact.err);
  CHECK(redact.exit_code == 0);
  CHECK(!redact.out.empty());
  CHECK(redact.out.find("sov1:") == std::string::npos);
  CHECK(redact.out.find(kSecret) == std::string::npos);
  CHECK(audited());
  // The marker is fixed: it says nothing about the value.
  auto other = RunCli(Concat({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"}, alice),
                      "something else entirely, and longer");
  REQUIRE(other.exit_code == 0);
  auto redact2 = RunCli(Concat({"field", "decrypt", "--path", "/email", "--on-denied", "redact"}, alice), other.out);
  CHECK(redact2.out == redact.out);

  CHECK(decrypt({"--on-denied", "shrug"}).exit_code == 2);
}

TEST_CASE("service: a certificate with only a subject CN names no principal unless the deployment allows CN names") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto refused = f.Client("us", f.pki().cn_only());
  auto lease = refused->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  CheckRefused(lease, "/v1/leases");
  CHECK_THAT(lease.body, Catch::Contains("no URI SAN"));
  CHECK(CountAudit(f.region("us"), kCnOnlyName, "denied") == 0);  // refused before it is anyone

  // With identity.allow_common_name it is that CN, and an unlisted principal gets nothing.
  f.region("us").config["identity"] = {{"allow_common_name", true}};
  WriteConfig(f.region("us"));
  f.Start("us");
  auto job = f.Client("us", f.pki().cn_only());
  auto r = job->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  CheckRefused(r, "/v1/leases");
  auto enc = job->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")}));
  INFO(enc.body);
  CHECK((enc.status == 403 || (enc.status == 200 && enc.json()["items"][0]["error"]["code"] == "denied")));
  CHECK(CountAudit(f.region("us"), kCnOnlyName, "denied") >= 2);
}

}  // namespace
}  // namespace sovereign::test
