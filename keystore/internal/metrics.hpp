// Metrics: the keystore service's counters and latency histograms, rendered
// in the Prometheus text exposition format (version 0.0.4) for GET /metrics.
//
// Security: label values are only endpoint route templates (never raw paths,
// which may name keys), HTTP codes, permission names and outcome words. No
// metric carries a principal, key bytes, plaintext or record value.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace sovereign::keystore_internal {

// Upper bounds (seconds) of the request latency histogram buckets; +Inf is implicit.
inline constexpr std::array<double, 13> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,   5.0};

class Metrics {
 public:
  // CountRequest records one answered request on `endpoint` (a route
  // template such as "/v1/keys/{name}/rotate") with HTTP status `code`.
  void CountRequest(std::string_view endpoint, int code, double seconds);
  // CountDenial records one denied request or item for `permission`.
  void CountDenial(std::string_view permission, std::uint64_t n = 1);
  // CountLeases records field keys handed out by /v1/leases.
  void CountLeases(std::uint64_t n);
  // CountAuditWrite records one audit append, `ok` or failed.
  void CountAuditWrite(bool ok);
  // CountBatchItems records `n` batch items of `endpoint` with `outcome`
  // ("ok", "denied", or an error code name).
  void CountBatchItems(std::string_view endpoint, std::string_view outcome, std::uint64_t n);

  // Render returns every metric in the Prometheus text format.
  std::string Render() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };

  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, std::uint64_t> denials_;
  std::uint64_t leases_ = 0;
  std::array<std::uint64_t, 2> audit_writes_{};  // [error, ok]
  std::map<std::pair<std::string, std::string>, std::uint64_t> batch_items_;
};

// PrometheusLabelValue escapes `value` for use between double quotes.
std::string PrometheusLabelValue(std::string_view value);

}  // namespace sovereign::keystore_internal
