#include "bench/ratio_reporter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace sovereign_bench {

namespace {

benchmark::ConsoleReporter::OutputOptions ConsoleOptions() {
  const int tabular = benchmark::ConsoleReporter::OO_Tabular;
  const int color = isatty(STDOUT_FILENO) != 0 ? benchmark::ConsoleReporter::OO_Color : 0;
  return static_cast<benchmark::ConsoleReporter::OutputOptions>(tabular | color);
}

std::string Rate(double ops) {
  if (ops < 0) return "-";
  char buf[32];
  if (ops >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3fM", ops / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fk", ops / 1e3);
  }
  return buf;
}

std::string Ratio(double api, double raw) {
  if (api < 0 || raw <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", api / raw);
  return buf;
}

double Median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// SizeOf parses the first "/"-separated argument of a run name ("32" in "32/real_time").
std::int64_t SizeOf(const std::string& args) {
  return args.empty() ? 0 : std::strtoll(args.c_str(), nullptr, 10);
}

}  // namespace

RatioReporter::RatioReporter(double target, std::int64_t target_size)
    : console_(ConsoleOptions()), target_(target), target_size_(target_size) {}

bool RatioReporter::ReportContext(const Context& context) { return console_.ReportContext(context); }

void RatioReporter::Finalize() { console_.Finalize(); }

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  console_.ReportRuns(runs);
  for (const Run& run : runs) {
    if (run.error_occurred) {
      errors_.push_back(run.benchmark_name() + ": " + run.error_message);
      continue;
    }
    const auto it = run.counters.find("items_per_second");
    if (it == run.counters.end()) continue;
    Samples& s = samples_[Key{run.run_name.function_name, SizeOf(run.run_name.args), run.threads}];
    if (run.run_type == Run::RT_Iteration) {
      s.iterations.push_back(it->second.value);
    } else if (run.aggregate_name == "median") {
      s.median_aggregate = it->second.value;
    }
  }
}

double RatioReporter::OpsPerSecond(const std::string& name, std::int64_t size, std::int64_t threads) const {
  const auto it = samples_.find(Key{name, size, threads});
  if (it == samples_.end()) return -1;
  return it->second.median_aggregate >= 0 ? it->second.median_aggregate : Median(it->second.iterations);
}

void RatioReporter::PrintSummary(std::ostream& out) const {
  std::set<std::int64_t> sizes;
  for (const auto& [key, s] : samples_) {
    if (std::get<0>(key).ends_with("/raw")) sizes.insert(std::get<1>(key));
  }
  char line[320];
  out << "\nSummary: ops/s (median), public API vs raw OpenSSL measured in this run\n"
      << "  raw: random = AES-256-GCM on a reused keyed ctx + pooled nonces;"
         " deterministic = S2V over a reused CMAC ctx + reused AES-256-CTR ctx\n"
      << "  EVP-SIV: OpenSSL's AES-256-SIV re-keyed per message (reference only)\n"
      << "  ECB-SIV: S2V with CMAC by hand over a reused AES-256-ECB ctx + CTR (reference: what S2V could cost)\n\n";
  std::snprintf(line, sizeof line, "%-13s %-7s %6s  %10s  %10s  %10s  %10s  %8s  %8s  %8s  %10s  %10s\n", "mode",
                "op", "bytes", "raw", "API bin", "API text", "API app", "bin/raw", "text/raw", "app/raw", "EVP-SIV",
                "ECB-SIV");
  out << line;
  const char* const modes[] = {"random", "deterministic"};
  const char* const ops[] = {"encrypt", "decrypt"};
  for (const char* mode : modes) {
    for (const char* op : ops) {
      const std::string prefix = std::string(mode) + "/" + op + "/";
      for (const std::int64_t size : sizes) {
        const double raw = OpsPerSecond(prefix + "raw", size);
        if (raw < 0) continue;
        const double bin = OpsPerSecond(prefix + "api_binary", size);
        const double text = OpsPerSecond(prefix + "api_text", size);
        const double append = OpsPerSecond(prefix + "api_append", size);
        const double evp = OpsPerSecond(prefix + "raw_evp_siv", size);
        const double ecb = OpsPerSecond(prefix + "raw_ecb_cmac", size);
        std::snprintf(line, sizeof line, "%-13s %-7s %6lld  %10s  %10s  %10s  %10s  %8s  %8s  %8s  %10s  %10s\n", mode,
                      op, static_cast<long long>(size), Rate(raw).c_str(), Rate(bin).c_str(), Rate(text).c_str(),
                      Rate(append).c_str(), Ratio(bin, raw).c_str(), Ratio(text, raw).c_str(),
                      Ratio(append, raw).c_str(), Rate(evp).c_str(), Rate(ecb).c_str());
        out << line;
      }
    }
  }

  std::snprintf(line, sizeof line, "\nTarget (informational): public API >= %.2fx raw ops/s at %lld bytes\n", target_,
                static_cast<long long>(target_size_));
  out << line;
  for (const char* mode : modes) {
    for (const char* op : ops) {
      const std::string prefix = std::string(mode) + "/" + op + "/";
      const double raw = OpsPerSecond(prefix + "raw", target_size_);
      for (const char* form : {"api_binary", "api_text", "api_append"}) {
        const double api = OpsPerSecond(prefix + form, target_size_);
        if (raw <= 0 || api < 0) continue;
        const double ratio = api / raw;
        std::snprintf(line, sizeof line, "  %-13s %-7s %-10s %5.2fx  %s\n", mode, op, form, ratio,
                      ratio >= target_ ? "meets target" : "BELOW target");
        out << line;
      }
    }
  }

  bool header = false;
  for (const auto& [key, s] : samples_) {
    const auto& [name, size, threads] = key;
    if (!name.ends_with("_mt") || threads != 1) continue;
    if (!header) {
      out << "\nThread scaling of one shared Client (wall-clock ops/s, all threads together)\n";
      header = true;
    }
    const double one = OpsPerSecond(name, size, 1);
    std::string row = "  " + name + "/" + std::to_string(size) + ": 1 thread " + Rate(one);
    for (std::int64_t n = 2; n <= 64; ++n) {
      const double many = OpsPerSecond(name, size, n);
      if (many < 0) continue;
      row += ", " + std::to_string(n) + " threads " + Rate(many) + " (" + Ratio(many, one) + ")";
    }
    out << row << "\n";
  }
  if (!errors_.empty()) {
    out << "\nBenchmarks that reported an error:\n";
    for (const auto& e : errors_) out << "  " << e << "\n";
  }
  out.flush();
}

}  // namespace sovereign_bench
