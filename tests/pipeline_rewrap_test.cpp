// sovereign rewrap after keys rotate: counts per old version, fields at the
// primary version left byte for byte, plaintext unchanged.
#include <catch2/catch.hpp>

#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

ProcessResult Pipe(const std::string& command, const std::string& policy, const std::string& input) {
  return RunCli({command, "--policy", policy}, input);
}

}  // namespace

TEST_CASE("rewrap: moves old-version fields to the primary version and leaves primary ones untouched") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const auto records = GenerateUsers(200, 11);
  auto v1 = Pipe("encrypt", policy, Ndjson(records));
  REQUIRE(v1.exit_code == 0);
  const auto v1_count = Summary(v1)["fields_encrypted"].get<int>();

  // Nothing to do before a rotation: output identical, byte for byte.
  auto same = Pipe("rewrap", policy, v1.out);
  REQUIRE(same.exit_code == 0);
  CHECK(same.out == v1.out);
  CHECK(Summary(same)["fields_rewrapped"] == 0);
  CHECK(Summary(same)["fields_skipped"] == v1_count);

  REQUIRE(RunCli({"keys", "rotate", "--keystore", w.KeystoreDir("us"), "--key", "users"}).exit_code == 0);
  // Half the stream is re-encrypted under version 2 before the rewrap.
  const auto v1_lines = Lines(v1.out);
  std::vector<OrderedJson> second_half(records.begin() + 100, records.end());
  auto v2 = Pipe("encrypt", policy, Ndjson(second_half));
  REQUIRE(v2.exit_code == 0);
  std::string mixed;
  for (std::size_t i = 0; i < 100; ++i) mixed += v1_lines[i] + "\n";
  mixed += v2.out;
  const auto v2_count = Summary(v2)["fields_encrypted"].get<int>();

  auto rewrapped = Pipe("rewrap", policy, mixed);
  INFO(rewrapped.err);
  REQUIRE(rewrapped.exit_code == 0);
  const json s = Summary(rewrapped);
  const int old_fields = s["fields_rewrapped"].get<int>();
  CHECK(old_fields > 0);
  CHECK(s["rewrapped_from"]["us/users/v1"] == old_fields);
  CHECK(s["rewrapped_from"].size() == 1);
  CHECK(s["fields_skipped"] == v2_count);
  // The version-2 half is byte-identical; the version-1 half changed.
  const auto out = Lines(rewrapped.out);
  const auto v2_lines = Lines(v2.out);
  for (std::size_t i = 0; i < 100; ++i) CHECK(out[100 + i] == v2_lines[i]);
  std::size_t changed = 0;
  for (std::size_t i = 0; i < 100; ++i) changed += out[i] != v1_lines[i];
  CHECK(changed > 50);
  // A second rewrap has nothing left to do.
  auto again = Pipe("rewrap", policy, rewrapped.out);
  CHECK(again.out == rewrapped.out);
  CHECK(Summary(again)["fields_rewrapped"] == 0);
  // The plaintext is what it was, and joins (ciphertext and index) hold across the halves.
  auto dec = Pipe("decrypt", policy, rewrapped.out);
  REQUIRE(dec.exit_code == 0);
  const auto back = Lines(dec.out);
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto r = OrderedJson::parse(back[i]);
    r.erase("email_index");
    CHECK(r == records[i]);
  }
  auto fresh = Pipe("encrypt", policy, Ndjson({records[0]}));
  const auto fresh_record = OrderedJson::parse(Lines(fresh.out)[0]);
  const auto rewrapped_record = OrderedJson::parse(out[0]);
  if (records[0].contains("email")) {
    CHECK(fresh_record["email"] == rewrapped_record["email"]);
    CHECK(fresh_record["email_index"] == rewrapped_record["email_index"]);
  }
}

}  // namespace sovereign::test
