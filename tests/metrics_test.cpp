// The /metrics formatter: Prometheus text format, cumulative buckets, escaped
// label values, and nothing but route templates, codes and outcome words.
#include <sstream>

#include <catch2/catch.hpp>

#include "keystore/internal/metrics.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;

bool HasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

TEST_CASE("a fresh registry renders every family with zero counters") {
  ki::Metrics metrics;
  const std::string text = metrics.Render();
  for (const char* family : {"sovereign_requests_total", "sovereign_request_seconds", "sovereign_denials_total",
                             "sovereign_leases_total", "sovereign_audit_writes_total", "sovereign_batch_items_total"}) {
    CHECK_THAT(text, Catch::Contains(std::string("# TYPE ") + family + " "));
    CHECK_THAT(text, Catch::Contains(std::string("# HELP ") + family + " "));
  }
  CHECK(HasLine(text, "sovereign_leases_total 0"));
  CHECK(HasLine(text, "sovereign_audit_writes_total{outcome=\"ok\"} 0"));
  CHECK(HasLine(text, "sovereign_audit_writes_total{outcome=\"error\"} 0"));
  CHECK(text.back() == '\n');
}

TEST_CASE("counters add up per label set") {
  ki::Metrics metrics;
  metrics.CountRequest("/v1/leases", 200, 0.001);
  metrics.CountRequest("/v1/leases", 200, 0.002);
  metrics.CountRequest("/v1/leases", 403, 0.001);
  metrics.CountDenial("decrypt", 3);
  metrics.CountDenial("decrypt");
  metrics.CountLeases(5);
  metrics.CountAuditWrite(true);
  metrics.CountAuditWrite(false);
  metrics.CountBatchItems("/v1/decrypt", "ok", 7);
  metrics.CountBatchItems("/v1/decrypt", "denied", 0);  // zero adds no series
  const std::string text = metrics.Render();
  CHECK(HasLine(text, "sovereign_requests_total{endpoint=\"/v1/leases\",code=\"200\"} 2"));
  CHECK(HasLine(text, "sovereign_requests_total{endpoint=\"/v1/leases\",code=\"403\"} 1"));
  CHECK(HasLine(text, "sovereign_denials_total{permission=\"decrypt\"} 4"));
  CHECK(HasLine(text, "sovereign_leases_total 5"));
  CHECK(HasLine(text, "sovereign_audit_writes_total{outcome=\"ok\"} 1"));
  CHECK(HasLine(text, "sovereign_audit_writes_total{outcome=\"error\"} 1"));
  CHECK(HasLine(text, "sovereign_batch_items_total{endpoint=\"/v1/decrypt\",outcome=\"ok\"} 7"));
  CHECK_THAT(text, !Catch::Contains("outcome=\"denied\""));
}

TEST_CASE("histogram buckets are cumulative and end with +Inf, sum and count") {
  ki::Metrics metrics;
  metrics.CountRequest("/v1/decrypt", 200, 0.0004);  // first bucket
  metrics.CountRequest("/v1/decrypt", 200, 0.003);   // le=0.005
  metrics.CountRequest("/v1/decrypt", 200, 60.0);    // only +Inf
  const std::string text = metrics.Render();
  CHECK(HasLine(text, "sovereign_request_seconds_bucket{endpoint=\"/v1/decrypt\",le=\"0.0005\"} 1"));
  CHECK(HasLine(text, "sovereign_request_seconds_bucket{endpoint=\"/v1/decrypt\",le=\"0.0025\"} 1"));
  CHECK(HasLine(text, "sovereign_request_seconds_bucket{endpoint=\"/v1/decrypt\",le=\"0.005\"} 2"));
  CHECK(HasLine(text, "sovereign_request_seconds_bucket{endpoint=\"/v1/decrypt\",le=\"5\"} 2"));
  CHECK(HasLine(text, "sovereign_request_seconds_bucket{endpoint=\"/v1/decrypt\",le=\"+Inf\"} 3"));
  CHECK(HasLine(text, "sovereign_request_seconds_count{endpoint=\"/v1/decrypt\"} 3"));
  CHECK_THAT(text, Catch::Contains("sovereign_request_seconds_sum{endpoint=\"/v1/decrypt\"} 60.003"));
}

TEST_CASE("label values are escaped so no value can break the format") {
  CHECK(ki::PrometheusLabelValue("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  ki::Metrics metrics;
  metrics.CountBatchItems("/v1/x", "bad\"\n}", 1);
  const std::string text = metrics.Render();
  CHECK(HasLine(text, "sovereign_batch_items_total{endpoint=\"/v1/x\",outcome=\"bad\\\"\\n}\"} 1"));
}

TEST_CASE("every sample line is name{labels} value or name value") {
  ki::Metrics metrics;
  metrics.CountRequest("/v1/keys/{name}/rotate", 200, 0.01);
  metrics.CountDenial("admin");
  std::istringstream in(metrics.Render());
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    INFO(line);
    CHECK(line.rfind("sovereign_", 0) == 0);
    const auto space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    const std::string value = line.substr(space + 1);
    CHECK_FALSE(value.empty());
    CHECK(value.find_first_not_of("0123456789.e+-") == std::string::npos);
  }
}

}  // namespace
}  // namespace sovereign
