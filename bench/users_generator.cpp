#include "bench/users_generator.hpp"

#include <cstdio>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

namespace sovereign_bench {

std::uint64_t GenerateUsersFile(const std::string& path, std::uint64_t records, std::uint32_t seed) {
  static const char* kFirst[] = {"Ann", "Björn", "Chloé", "Dmitri", "Eve", "François", "Grace", "Hiroshi", "Inès", "José"};
  static const char* kLast[] = {"Smith", "Müller", "O'Brien", "García", "Nakamura", "Dubois", "Kowalski", "Søren"};
  static const char* kCities[] = {"Springfield", "München", "São Paulo", "Zürich", "New York", "Kraków"};
  static const char* kOs[] = {"ios", "android", "macos", "windows", "linux"};
  static const char* kTags[] = {"beta", "vip", "newsletter", "churn-risk", "trial"};
  static const char* kRegions[] = {"us", "us", "us", "eu"};
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path);
  std::mt19937_64 rng(seed);
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };
  std::string line;
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < records; ++i) {
    const char* first = kFirst[pick(10)];
    const char* last = kLast[pick(8)];
    line = fmt::format(
        R"({{"id":"u-{:08d}","name":"{} {}","email":"{}.{}{}@example.com","phone":"+1-555-{:04d}","ssn":"{:03d}-{:02d}-{:04d}",)"
        R"("address":{{"street":"{} Main St","city":"{}","zip":"{:05d}"}},"devices":[)",
        i, first, last, first, last, pick(1000), pick(10000), pick(1000), pick(100), pick(10000), pick(9999) + 1,
        kCities[pick(6)], pick(100000));
    for (std::size_t d = 0, n = 1 + pick(3); d < n; ++d) {
      line += fmt::format(R"({}{{"ip":"10.{}.{}.{}","os":"{}","last_seen":"2026-0{}-{:02d}T{:02d}:{:02d}:00Z"}})",
                          d ? "," : "", pick(256), pick(256), pick(256), kOs[pick(5)], 1 + pick(9), 1 + pick(28),
                          pick(24), pick(60));
    }
    line += fmt::format(R"(],"created_at":"2025-{:02d}-{:02d}","plan":"{}","tags":["{}","{}"],"score":{}.{},)"
                        R"("active":{},"residency":"{}"}})"
                        "\n",
                        1 + pick(12), 1 + pick(28), pick(2) ? "pro" : "free", kTags[pick(5)], kTags[pick(5)],
                        pick(100), pick(100), pick(2) ? "true" : "false", kRegions[pick(4)]);
    std::fwrite(line.data(), 1, line.size(), f);
    bytes += line.size();
  }
  if (std::fclose(f) != 0) throw std::runtime_error("cannot write " + path);
  return bytes;
}

std::string UsersPolicyJson(const std::string& keystore_dir) {
  return fmt::format(R"({{
  "keystores": {{"us": {{"dir": "{}"}}}},
  "region": "us",
  "record_id": "/id",
  "fields": [
    {{"path": "/email", "key": "users", "label": "email", "mode": "deterministic", "index": {{"path": "/email_index", "bits": 32}}}},
    {{"path": "/ssn", "key": "users", "mode": "random"}},
    {{"path": "/phone", "key": "users", "mode": "random"}},
    {{"path": "/address/*", "key": "users", "label": "address", "mode": "random"}},
    {{"path": "/devices/*/ip", "key": "users", "label": "ip", "mode": "random"}}
  ]
}}
)",
                     keystore_dir);
}

}  // namespace sovereign_bench
