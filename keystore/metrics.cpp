#include "keystore/internal/metrics.hpp"

#include <fmt/format.h>

namespace sovereign::keystore_internal {
namespace {

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string PrometheusLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Metrics::CountRequest(std::string_view endpoint, int code, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(endpoint), code}];
  Histogram& h = latency_[std::string(endpoint)];
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::CountDenial(std::string_view permission, std::uint64_t n) {
  std::lock_guard lock(mu_);
  denials_[std::string(permission)] += n;
}

void Metrics::CountLeases(std::uint64_t n) {
  std::lock_guard lock(mu_);
  leases_ += n;
}

void Metrics::CountAuditWrite(bool ok) {
  std::lock_guard lock(mu_);
  ++audit_writes_[ok ? 1 : 0];
}

void Metrics::CountBatchItems(std::string_view endpoint, std::string_view outcome, std::uint64_t n) {
  if (n == 0) return;
  std::lock_guard lock(mu_);
  batch_items_[{std::string(endpoint), std::string(outcome)}] += n;
}

std::string Metrics::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  auto it = std::back_inserter(out);

  Header(out, "sovereign_requests_total", "counter", "Requests answered, by endpoint and HTTP status code.");
  for (const auto& [k, v] : requests_) {
    fmt::format_to(it, "sovereign_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n", PrometheusLabelValue(k.first),
                   k.second, v);
  }

  Header(out, "sovereign_request_seconds", "histogram", "Request latency in seconds, by endpoint.");
  for (const auto& [endpoint, h] : latency_) {
    const std::string e = PrometheusLabelValue(endpoint);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      fmt::format_to(it, "sovereign_request_seconds_bucket{{endpoint=\"{}\",le=\"{}\"}} {}\n", e, kLatencyBuckets[i],
                     cumulative);
    }
    fmt::format_to(it, "sovereign_request_seconds_bucket{{endpoint=\"{}\",le=\"+Inf\"}} {}\n", e, h.count);
    fmt::format_to(it, "sovereign_request_seconds_sum{{endpoint=\"{}\"}} {}\n", e, h.sum);
    fmt::format_to(it, "sovereign_request_seconds_count{{endpoint=\"{}\"}} {}\n", e, h.count);
  }

  Header(out, "sovereign_denials_total", "counter", "Requests or batch items denied by the access policy.");
  for (const auto& [permission, v] : denials_) {
    fmt::format_to(it, "sovereign_denials_total{{permission=\"{}\"}} {}\n", PrometheusLabelValue(permission), v);
  }

  Header(out, "sovereign_leases_total", "counter", "Field keys handed out by /v1/leases.");
  fmt::format_to(it, "sovereign_leases_total {}\n", leases_);

  Header(out, "sovereign_audit_writes_total", "counter", "Audit log appends, by outcome.");
  fmt::format_to(it, "sovereign_audit_writes_total{{outcome=\"ok\"}} {}\n", audit_writes_[1]);
  fmt::format_to(it, "sovereign_audit_writes_total{{outcome=\"error\"}} {}\n", audit_writes_[0]);

  Header(out, "sovereign_batch_items_total", "counter", "Batch items processed, by endpoint and outcome.");
  for (const auto& [k, v] : batch_items_) {
    fmt::format_to(it, "sovereign_batch_items_total{{endpoint=\"{}\",outcome=\"{}\"}} {}\n",
                   PrometheusLabelValue(k.first), PrometheusLabelValue(k.second), v);
  }
  return out;
}

}  // namespace sovereign::keystore_internal
