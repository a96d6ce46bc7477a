// Helpers for the pipeline tests: keystores in a temp dir, a policy file,
// generated user records with awkward values, and the summary line.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign::test {

using OrderedJson = nlohmann::ordered_json;

// PipelineWorld holds embedded keystores (key "users" in each region) and
// a policy naming them.
class PipelineWorld {
 public:
  explicit PipelineWorld(const std::vector<std::string>& regions = {"us"});
  const std::filesystem::path& dir() const { return tmp_.path(); }
  std::string KeystoreDir(const std::string& region) const { return (tmp_.path() / region).string(); }
  // WritePolicy writes `policy` (its "keystores" filled in when absent) and returns its path.
  std::string WritePolicy(OrderedJson policy, const std::string& name = "policy.json") const;
  std::string File(const std::string& name) const { return (tmp_.path() / name).string(); }

 private:
  TempDir tmp_;
  std::vector<std::string> regions_;
};

// UsersPolicy is the example policy (5 field rules, one with an index).
OrderedJson UsersPolicy();

// GenerateUsers makes `n` records with unicode, quotes and escapes, empty
// strings, nested arrays, numbers, booleans, nulls and missing fields.
std::vector<OrderedJson> GenerateUsers(std::size_t n, std::uint32_t seed, const std::vector<std::string>& regions = {"us"});

// Ndjson joins records, one compact line each.
std::string Ndjson(const std::vector<OrderedJson>& records);

// Lines splits text into lines (without the '\n').
std::vector<std::string> Lines(const std::string& text);

// Summary parses the summary line of a pipeline command's stderr (the last one).
nlohmann::json Summary(const ProcessResult& r);

// ReadFile / WriteFile: whole files, bytes exactly.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);

// PlaintextValues lists the string leaves (length >= 8) at the users policy's paths.
std::vector<std::string> PlaintextValues(const std::vector<OrderedJson>& records);

}  // namespace sovereign::test
