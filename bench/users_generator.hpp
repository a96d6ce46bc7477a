// GenerateUsersFile writes a realistic users NDJSON file for the pipeline
// benchmark: ids, names with accents, emails, phone numbers, SSNs, a nested
// address, devices with IPs, timestamps, tags, a residency and numbers.
#pragma once

#include <cstdint>
#include <string>

namespace sovereign_bench {

// GenerateUsersFile writes `records` lines to `path` and returns its size in bytes.
std::uint64_t GenerateUsersFile(const std::string& path, std::uint64_t records, std::uint32_t seed = 42);

// UsersPolicyJson is the 5-field policy the benchmark uses, over keystore `dir`.
std::string UsersPolicyJson(const std::string& keystore_dir);

}  // namespace sovereign_bench
