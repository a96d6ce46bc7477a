// /metrics speaks Prometheus text, counts what happened, and never carries a
// value, a key, a ciphertext or a principal.
#include <catch2/catch.hpp>
#include <algorithm>
#include <regex>
#include <sstream>

#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

// SampleValue sums the samples of `name` whose label set contains `labels`.
double SampleValue(const std::string& text, const std::string& name, const std::string& labels = {}) {
  std::istringstream in(text);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    const auto series = line.substr(0, space);
    const auto metric = series.substr(0, series.find('{'));
    if (metric != name) continue;
    if (!labels.empty() && series.find(labels) == std::string::npos) continue;
    sum += std::stod(line.substr(space + 1));
  }
  return sum;
}

TEST_CASE("service: /metrics is Prometheus text with request, denial, lease and audit counters") {
  ServiceFixture f;
  // The scraper below is known by its CN, so this deployment allows CN names.
  f.Prepare("us").config["identity"] = {{"allow_common_name", true}};
  f.region("us").config["access"].push_back({{"principal", kCnOnlyName}, {"allow", {"metrics"}}});
  WriteConfig(f.region("us"));
  f.Start("us");
  auto app = f.Client("us", f.pki().us_app());
  const std::string canary = "Metrics-Canary-Plaintext-7781";
  const std::string record = "record-canary-991";
  const auto ct = RemoteEncrypt(*app, "email", canary, "/email", record);
  auto lease = app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "deterministic"}, {"label", "email"}}}));
  REQUIRE(lease.status == 200);
  const auto field_key = lease.json()["items"][0]["ok"]["field_key"].get<std::string>();
  REQUIRE(app->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", record)})).status == 200);
  auto alice = f.Client("us", f.pki().cn_engineer());
  REQUIRE(alice->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", record)})).responded());
  REQUIRE(app->Post("/v1/leases", "{oops").status == 400);

  auto r = f.Client("us", f.pki().cn_only())->Get("/metrics");
  REQUIRE(r.status == 200);
  CHECK_THAT(r.content_type, Catch::StartsWith("text/plain"));
  const std::string& text = r.body;
  INFO(text);

  // Every line is a comment or `name{labels} value`.
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*\})? [-+0-9.eEInfa]+$)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    CAPTURE(line);
    CHECK(std::regex_match(line, sample));
  }
  for (const std::string name :
       {"sovereign_requests_total", "sovereign_denials_total", "sovereign_leases_total", "sovereign_audit_writes_total",
        "sovereign_batch_items_total", "sovereign_request_seconds"}) {
    CHECK_THAT(text, Catch::Contains("# TYPE " + name));
  }
  CHECK(SampleValue(text, "sovereign_requests_total") >= 5);
  CHECK(SampleValue(text, "sovereign_requests_total", "code=\"400\"") >= 1);
  CHECK(SampleValue(text, "sovereign_denials_total") >= 1);
  CHECK(SampleValue(text, "sovereign_leases_total") >= 1);
  CHECK(SampleValue(text, "sovereign_audit_writes_total", "outcome=\"ok\"") >= 4);
  CHECK(SampleValue(text, "sovereign_request_seconds_count") >= 5);

  // Nothing protected, and nobody, appears.
  for (const auto& secret : {canary, Base64Url(canary), record, ct, ct.substr(5, 24), field_key,
                             field_key.substr(0, 16), std::string("spiffe://"), std::string("svc/app"),
                             std::string("alice"), std::string(kCnOnlyName), std::string("/email")}) {
    CAPTURE(secret);
    CHECK(text.find(secret) == std::string::npos);
  }
}

TEST_CASE("service: /metrics needs a trusted client certificate") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  CHECK_FALSE(f.Client("us", std::nullopt)->Get("/metrics").responded());
  CHECK_FALSE(f.Client("us", f.pki().untrusted())->Get("/metrics").responded());
}

TEST_CASE("service: /metrics needs the 'metrics' permission; the offshore engineer and the app get 403") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  for (const auto& who : {f.pki().cn_engineer(), f.pki().us_app()}) {
    auto r = f.Client("us", who)->Get("/metrics");
    INFO(r.body);
    CHECK(r.status == 403);
    CHECK(r.body.find("sovereign_requests_total") == std::string::npos);
  }
  // The region's security staff hold it in the default test policy.
  CHECK(f.Client("us", f.pki().us_officer())->Get("/metrics").status == 200);
  const auto denied = AuditLines(f.region("us"));
  CHECK(std::any_of(denied.begin(), denied.end(), [](const json& e) {
    return e.value("op", "") == "metrics.read" && e.value("outcome", "") == "denied";
  }));
}

}  // namespace
}  // namespace sovereign::test
