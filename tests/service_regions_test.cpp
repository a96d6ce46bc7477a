// Two regions, two keystores: each serves only its own keys, and a ciphertext
// of one region is never opened by the other.
#include <catch2/catch.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

struct TwoRegions {
  ServiceFixture f;
  TwoRegions() {
    f.Prepare("us", nullptr, 300, {"users", "payments"});
    f.Prepare("eu", nullptr, 300, {"users"});
    f.Start("us");
    f.Start("eu");
  }
};

TEST_CASE("service: each keystore answers for its own region only") {
  TwoRegions t;
  auto us = t.f.Client("us", t.f.pki().us_app())->Get("/v1/health");
  auto eu = t.f.Client("eu", t.f.pki().eu_app())->Get("/v1/health");
  REQUIRE((us.status == 200 && eu.status == 200));
  CHECK(us.json()["region"] == "us");
  CHECK(eu.json()["region"] == "eu");
  auto lease = t.f.Client("eu", t.f.pki().eu_app())
                   ->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  REQUIRE(lease.status == 200);
  CHECK(lease.json()["items"][0]["ok"]["region"] == "eu");
}

TEST_CASE("service: the EU keystore refuses US keys and US ciphertexts") {
  TwoRegions t;
  auto us_app = t.f.Client("us", t.f.pki().us_app());
  auto eu_app = t.f.Client("eu", t.f.pki().eu_app());
  const auto us_ct = RemoteEncrypt(*us_app, "email", "ann@example.com", "/email", "u-1");
  const auto us_payments_ct = RemoteEncrypt(*us_app, "card", "4111111111111111", "/card", "u-1", "random", "payments");

  SECTION("a lease for a key only the US keystore holds is key_not_found") {
    auto r = eu_app->PostJson("/v1/leases", Items({{{"key", "payments"}, {"mode", "random"}, {"label", "card"}}}));
    INFO(r.status << " " << r.body);
    CHECK(r.body.find("field_key") == std::string::npos);
    if (r.status == 200) {
      CHECK(r.json()["items"][0]["error"]["code"] == "key_not_found");
    } else {
      CHECK(r.status == 404);
      CHECK(r.ErrorCode() == "key_not_found");
    }
  }
  SECTION("remote encryption under a US-only key is key_not_found, per item") {
    auto r = eu_app->PostJson("/v1/encrypt",
                              Items({EncryptItem("payments", "card", "random", "/card", {}, "4111111111111111"),
                                     EncryptItem("users", "email", "random", "/email", {}, "eu@example.com")}));
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json()["items"][0]["error"]["code"] == "key_not_found");
    CHECK(r.json()["items"][1]["ciphertext"].get<std::string>().rfind("sov1:", 0) == 0);
  }
  SECTION("US ciphertexts sent to the EU decrypt are wrong_region, per item, beside a good EU item") {
    const auto eu_ct = RemoteEncrypt(*eu_app, "email", "eu@example.com", "/email", "u-1");
    auto r =
        eu_app->PostJson("/v1/decrypt", Items({DecryptItem(us_ct, "/email", "u-1"), DecryptItem(eu_ct, "/email", "u-1"),
                                               DecryptItem(us_payments_ct, "/card", "u-1")}));
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto items = r.json()["items"];
    CHECK(items[0]["error"]["code"] == "wrong_region");
    CHECK(Base64UrlDecode(items[1]["plaintext"].get<std::string>()) == "eu@example.com");
    CHECK(items[2]["error"]["code"] == "wrong_region");
    CHECK(r.body.find(Base64Url("ann@example.com")) == std::string::npos);
  }
  SECTION("the US app is nobody to the EU keystore") {
    auto us_at_eu = t.f.Client("eu", t.f.pki().us_app());
    auto r = us_at_eu->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
    INFO(r.body);
    CHECK(r.body.find("field_key") == std::string::npos);
    CHECK((r.status == 403 || (r.status == 200 && r.json()["items"][0]["error"]["code"] == "denied")));
    CHECK(CountAudit(t.f.region("eu"), kUsAppId, "denied") >= 1);
  }
  SECTION("the CLI pointed at the EU keystore does not decrypt a US ciphertext") {
    auto r = RunCli(
        Concat({"field", "decrypt", "--path", "/email", "--record-id", "u-1"}, t.f.Remote("eu", t.f.pki().eu_app())),
        us_ct + "\n");
    INFO(r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code != 2);  // refused for the region, not for its usage
    CHECK(r.out.empty());
    CHECK(r.err.find("ann@example.com") == std::string::npos);
  }
  // Nothing about the US keys appears in the EU log.
  for (const auto& e : AuditLines(t.f.region("eu"))) CHECK(e["region"] == "eu");
}

}  // namespace
}  // namespace sovereign::test
