// An offshore principal (the CN engineer) running the pipeline against the US
// keystore service gets ciphertexts (keep) or markers (redact), never plaintext.
#include <catch2/catch.hpp>

#include "tests/support/pipeline_support.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

}  // namespace

TEST_CASE("offshore: the CN engineer decrypting a stream gets ciphertext or markers and nothing else") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  // The policy names no keystores: the CLI's --keystore options reach the service.
  OrderedJson policy = UsersPolicy();
  const std::string policy_path = (f.root() / "policy.json").string();
  WriteFile(policy_path, policy.dump());
  const auto records = GenerateUsers(40, 21);
  const auto app = f.Remote("us", f.pki().us_app());
  const auto alice = f.Remote("us", f.pki().cn_engineer());

  auto enc = RunCli(Concat({"encrypt", "--policy", policy_path}, app), Ndjson(records));
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  const int fields = Summary(enc)["fields_encrypted"].get<int>();
  const auto secrets = PlaintextValues(records);

  auto keep = RunCli(Concat({"decrypt", "--policy", policy_path}, alice), enc.out);
  INFO(keep.err);
  CHECK(keep.exit_code == 0);
  CHECK(keep.out == enc.out);  // every ciphertext kept, byte for byte
  CHECK(Summary(keep)["denied"] == fields);
  CHECK(Summary(keep)["fields_decrypted"] == 0);

  auto redact = RunCli(Concat({"decrypt", "--policy", policy_path, "--on-denied", "redact"}, alice), enc.out);
  CHECK(redact.exit_code == 0);
  CHECK(Summary(redact)["denied"] == fields);
  CHECK(redact.out.find("sov1:") == std::string::npos);
  const auto lines = Lines(redact.out);
  REQUIRE(lines.size() == records.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto r = OrderedJson::parse(lines[i]);
    if (records[i].contains("ssn") && !records[i]["ssn"].is_null()) CHECK(r["ssn"] == "[redacted]");
    CHECK(r["plan"] == records[i]["plan"]);
  }
  for (const auto& s : secrets) {
    CHECK(keep.out.find(s) == std::string::npos);
    CHECK(redact.out.find(s) == std::string::npos);
    CHECK(redact.err.find(s) == std::string::npos);
  }

  // fail: records with a protected field go to the dead letters, as ciphertext.
  const std::string dead = (f.root() / "dead.ndjson").string();
  auto fail = RunCli(Concat({"decrypt", "--policy", policy_path, "--on-denied", "fail", "--dead-letter", dead}, alice),
                     enc.out);
  CHECK(fail.exit_code == 2);
  const json s = Summary(fail);
  CHECK(s["records_in"].get<int>() == s["records_out"].get<int>() + s["dead_letter"].get<int>());
  CHECK(s["dead_letter"].get<int>() > 0);
  const std::string dead_text = ReadFile(dead);
  CHECK_THAT(dead_text, Catch::Contains("denied"));
  for (const auto& secret : secrets) CHECK(dead_text.find(secret) == std::string::npos);

  // The US application reads everything.
  auto app_dec = RunCli(Concat({"decrypt", "--policy", policy_path}, app), enc.out);
  REQUIRE(app_dec.exit_code == 0);
  CHECK(Summary(app_dec)["fields_decrypted"] == fields);
}

}  // namespace sovereign::test
