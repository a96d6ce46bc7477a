// A plain steady_clock harness for the keystore service benchmark: run one
// operation from N threads for a fixed wall-clock duration and report the
// total rate and latency percentiles of the individual calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sovereign::bench {

// Op performs one timed call. It returns how many items the call handled
// (1 for a lease, the batch size for a batch), or 0 on failure, in which case
// it sets `error` (only the first error of a run is kept).
using Op = std::function<std::size_t(std::string& error)>;

// OpFactory builds thread `index`'s Op (its own connection etc.) before the
// clock starts; it may throw, which aborts the run with the message.
using OpFactory = std::function<Op(int index)>;

struct RunStats {
  int threads = 0;
  double seconds = 0;           // wall clock from start signal to the last thread's stop
  std::uint64_t calls = 0;      // successful calls
  std::uint64_t items = 0;      // items handled by successful calls
  std::uint64_t errors = 0;     // failed calls
  std::string first_error;
  double p50_us = 0, p99_us = 0, max_us = 0;  // latency of successful calls

  double calls_per_second() const { return seconds > 0 ? static_cast<double>(calls) / seconds : 0; }
  double items_per_second() const { return seconds > 0 ? static_cast<double>(items) / seconds : 0; }
};

// RunTimed runs `warmup` untimed calls per thread (connections, TLS
// handshakes, key caches), then releases all threads together and stops them
// after `duration`. Latencies of every successful timed call are kept.
RunStats RunTimed(int threads, std::chrono::duration<double> duration, const OpFactory& factory, int warmup = 3);

// Percentile of sorted `values` (nearest rank), 0 when empty.
double Percentile(const std::vector<float>& sorted, double p);

}  // namespace sovereign::bench
