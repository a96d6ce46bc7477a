// RatioReporter: prints the usual console output and remembers each
// benchmark's items_per_second, then prints a table of API throughput as a
// ratio of the raw OpenSSL baseline measured in the same run.
//
// It relies on the benchmark naming scheme of field_bench.cpp:
//   "<mode>/<op>/<impl>/<size>"        mode: random | deterministic
//                                      op:   encrypt | decrypt
//                                      impl: raw | raw_evp_siv | raw_ecb_cmac | api_binary | api_text
//   "<mode>/<op>/<impl>_mt/<size>/real_time/threads:<n>"   thread-scaling variants
// With --benchmark_repetitions the median aggregate is used; otherwise the
// median of the iteration runs. The ratios are informational: nothing fails.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

namespace sovereign_bench {

class RatioReporter : public benchmark::BenchmarkReporter {
 public:
  // `target` is the API/raw ratio the issue asks for at `target_size` bytes.
  RatioReporter(double target, std::int64_t target_size);

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  // PrintSummary writes the ratio table, the target check and thread scaling.
  void PrintSummary(std::ostream& out) const;

 private:
  // (function name, size, threads)
  using Key = std::tuple<std::string, std::int64_t, std::int64_t>;
  struct Samples {
    std::vector<double> iterations;
    double median_aggregate = -1;
  };

  // OpsPerSecond returns the collected rate, or a negative value when absent.
  double OpsPerSecond(const std::string& name, std::int64_t size, std::int64_t threads = 1) const;

  benchmark::ConsoleReporter console_;
  double target_;
  std::int64_t target_size_;
  std::map<Key, Samples> samples_;
  std::vector<std::string> errors_;
};

}  // namespace sovereign_bench
