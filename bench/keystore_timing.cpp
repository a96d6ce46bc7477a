#include "bench/keystore_timing.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace sovereign::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct ThreadResult {
  std::vector<float> latencies_us;
  std::uint64_t items = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  std::string setup_error;
};

}  // namespace

double Percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return static_cast<double>(sorted[std::min(index, sorted.size() - 1)]);
}

RunStats RunTimed(int threads, std::chrono::duration<double> duration, const OpFactory& factory, int warmup) {
  std::vector<ThreadResult> results(static_cast<std::size_t>(threads));
  std::atomic<bool> stop{false};
  std::latch ready(threads + 1);
  std::latch go(1);
  std::vector<std::thread> workers;
  workers.reserve(results.size());
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ThreadResult& r = results[static_cast<std::size_t>(t)];
      Op op;
      try {
        op = factory(t);
        std::string error;
        for (int i = 0; i < warmup; ++i) {
          if (op(error) == 0 && r.first_error.empty()) r.first_error = "warm-up: " + error;
        }
      } catch (const std::exception& e) {
        r.setup_error = e.what();
      }
      r.latencies_us.reserve(1 << 16);
      ready.count_down();
      go.wait();
      if (!r.setup_error.empty()) return;
      std::string error;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto start = Clock::now();
        const std::size_t items = op(error);
        const auto end = Clock::now();
        if (items == 0) {
          if (r.errors++ == 0 && r.first_error.empty()) r.first_error = error;
          continue;
        }
        r.items += items;
        r.latencies_us.push_back(std::chrono::duration<float, std::micro>(end - start).count());
      }
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  go.count_down();
  std::this_thread::sleep_for(duration);
  stop.store(true);
  for (auto& w : workers) w.join();
  const auto end = Clock::now();

  RunStats stats;
  stats.threads = threads;
  stats.seconds = std::chrono::duration<double>(end - start).count();
  std::vector<float> all;
  for (auto& r : results) {
    if (!r.setup_error.empty()) throw std::runtime_error("benchmark thread set-up failed: " + r.setup_error);
    stats.calls += r.latencies_us.size();
    stats.items += r.items;
    stats.errors += r.errors;
    if (stats.first_error.empty()) stats.first_error = r.first_error;
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  std::sort(all.begin(), all.end());
  stats.p50_us = Percentile(all, 50);
  stats.p99_us = Percentile(all, 99);
  stats.max_us = all.empty() ? 0 : static_cast<double>(all.back());
  return stats;
}

}  // namespace sovereign::bench
