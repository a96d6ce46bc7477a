// sovereign encrypt / decrypt over NDJSON streams, run as the real binary.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

ProcessResult Pipe(const std::string& command, const std::string& policy, const std::string& input,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args{command, "--policy", policy};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCli(args, input);
}

}  // namespace

TEST_CASE("ndjson: decrypt(encrypt(x)) equals x for generated records, byte for byte outside the index") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const auto records = GenerateUsers(500, 1);
  const std::string input = Ndjson(records);
  auto enc = Pipe("encrypt", policy, input);
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  const json summary = Summary(enc);
  CHECK(summary["records_in"] == 500);
  CHECK(summary["records_out"] == 500);
  CHECK(summary["dead_letter"] == 0);
  CHECK(summary["fields_encrypted"].get<int>() > 500);
  auto dec = Pipe("decrypt", policy, enc.out);
  REQUIRE(dec.exit_code == 0);
  CHECK(Summary(dec)["fields_decrypted"] == summary["fields_encrypted"]);
  const auto lines = Lines(dec.out);
  REQUIRE(lines.size() == records.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto back = OrderedJson::parse(lines[i]);
    back.erase("email_index");
    INFO("record " << i);
    CHECK(back == records[i]);
    CHECK(back.dump() == records[i].dump());  // member order too
  }
}

TEST_CASE("ndjson: no plaintext of any policy field survives in the encrypted output") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const auto records = GenerateUsers(300, 2);
  auto enc = Pipe("encrypt", policy, Ndjson(records));
  REQUIRE(enc.exit_code == 0);
  const auto secrets = PlaintextValues(records);
  REQUIRE(secrets.size() > 300);
  for (const auto& s : secrets) {
    const std::string escaped = json(s).dump();
    INFO(escaped);
    CHECK(enc.out.find(s) == std::string::npos);
    CHECK(enc.out.find(escaped.substr(1, escaped.size() - 2)) == std::string::npos);
  }
  // Fields outside the policy pass through unchanged.
  CHECK(enc.out.find("\"plan\":\"pro\"") != std::string::npos);
}

TEST_CASE("ndjson: everything outside policy paths is copied byte for byte") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::string line = R"({ "id" : "u1", "n": 1.50, "e": 1E+2, "s": "\u00e9\/", "ssn" : "x" , "z":[ ]})";
  auto enc = Pipe("encrypt", policy, line + "\n");
  REQUIRE(enc.exit_code == 0);
  const std::string out = Lines(enc.out).at(0);
  CHECK(out.rfind(R"({ "id" : "u1", "n": 1.50, "e": 1E+2, "s": "\u00e9\/", "ssn" : "sov1:)", 0) == 0);
  CHECK(out.substr(out.size() - 12) == R"(" , "z":[ ]})");
  auto dec = Pipe("decrypt", policy, enc.out);
  CHECK(dec.out == line + "\n");
}

TEST_CASE("ndjson: deterministic fields join across rows; random ones moved to another record fail") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::string input = R"({"id":"a","email":"same@x.org","ssn":"111-11-1111"})"
                            "\n"
                            R"({"id":"b","email":"same@x.org","ssn":"222-22-2222"})"
                            "\n";
  auto enc = Pipe("encrypt", policy, input);
  REQUIRE(enc.exit_code == 0);
  auto lines = Lines(enc.out);
  auto a = OrderedJson::parse(lines[0]), b = OrderedJson::parse(lines[1]);
  CHECK(a["email"] == b["email"]);
  CHECK(a["email_index"] == b["email_index"]);
  CHECK(a["ssn"] != b["ssn"]);
  b["ssn"] = a["ssn"];
  const std::string dead = w.File("dead.ndjson");
  auto dec = Pipe("decrypt", policy, a.dump() + "\n" + b.dump() + "\n", {"--dead-letter", dead});
  CHECK(dec.exit_code == 2);
  CHECK(Lines(dec.out).size() == 1);
  const auto dl = Lines(ReadFile(dead));
  REQUIRE(dl.size() == 1);
  auto entry = json::parse(dl[0]);
  CHECK(entry["line"] == 2);
  CHECK_THAT(entry["reason"].get<std::string>(), Catch::Contains("/ssn") && Catch::Contains("invalid_ciphertext"));
  CHECK(entry["record"] == b.dump());
  // Record a decrypts; the failure of b reveals nothing of a's value.
  CHECK(Lines(dec.out)[0].find("111-11-1111") != std::string::npos);
  CHECK(entry["reason"].get<std::string>().find("111-11-1111") == std::string::npos);
  CHECK(dec.err.find("111-11-1111") == std::string::npos);
}

TEST_CASE("ndjson: every record ends up in the output or the dead letters, never lost") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  auto records = GenerateUsers(100, 3);
  std::string input;
  const std::vector<std::string> bad = {
      "{\"id\":\"x\",", "[1,2,3]", "{\"id\":\"bad-utf8\",\"ssn\":\"\xff\xfe\"}", "{\"ssn\":\"no id\"}",
      "{\"id\":\"r\",\"residency\":\"eu\",\"ssn\":\"other region\"}", "{\"id\":\"r\",\"residency\":7}",
      "{\"id\":\"x\"} trailing", "{\"id\":\"x\",\"s\":\"\\q\"}", "{\"id\":\"x\",\"n\":01}"};
  for (std::size_t i = 0; i < records.size(); ++i) {
    input += records[i].dump() + "\n";
    if (i % 10 == 5) input += bad[(i / 10) % bad.size()] + "\n";
  }
  const std::string out = w.File("out.ndjson"), dead = w.File("dead.ndjson");
  auto enc = RunCli({"encrypt", "--policy", policy, "--out", out, "--dead-letter", dead, "--threads", "2"}, input);
  CHECK(enc.exit_code == 2);
  const json s = Summary(enc);
  CHECK(s["records_in"] == 110);
  CHECK(s["records_in"].get<int>() == s["records_out"].get<int>() + s["dead_letter"].get<int>());
  CHECK(s["dead_letter"] == 10);
  CHECK(Lines(ReadFile(out)).size() == 100);
  const auto dl = Lines(ReadFile(dead));
  REQUIRE(dl.size() == 10);
  std::size_t with_base64 = 0;
  for (const auto& line : dl) {
    auto e = json::parse(line);
    CHECK(e["line"].get<int>() > 0);
    CHECK(!e["reason"].get<std::string>().empty());
    with_base64 += e.contains("record_base64");
    CHECK((e.contains("record") || e.contains("record_base64")));
  }
  CHECK(with_base64 == 1);
  // Without --dead-letter the reasons go to stderr without the record.
  auto bare = Pipe("encrypt", policy, "{\"ssn\":\"no id 4242\"}\n");
  CHECK(bare.exit_code == 2);
  CHECK_THAT(bare.err, Catch::Contains("\"line\":1") && !Catch::Contains("4242"));
}

TEST_CASE("ndjson: several threads give the same output, in order, as one") {
  PipelineWorld w;
  OrderedJson policy = UsersPolicy();
  for (auto& f : policy["fields"]) f["mode"] = "deterministic";
  const std::string path = w.WritePolicy(policy);
  // Enough records for many 1 MiB chunks.
  const std::string input = Ndjson(GenerateUsers(12000, 4));
  auto one = Pipe("encrypt", path, input, {"--threads", "1"});
  auto four = Pipe("encrypt", path, input, {"--threads", "4"});
  REQUIRE(one.exit_code == 0);
  REQUIRE(four.exit_code == 0);
  CHECK(one.out == four.out);
  auto back = Pipe("decrypt", path, four.out, {"--threads", "3"});
  REQUIRE(back.exit_code == 0);
  CHECK(Lines(back.out).size() == 12000);
}

TEST_CASE("ndjson: records of several regions go under their own region's keys") {
  PipelineWorld w({"us", "eu"});
  const std::string policy = w.WritePolicy(UsersPolicy());
  const auto records = GenerateUsers(200, 5, {"us", "eu"});
  auto enc = Pipe("encrypt", policy, Ndjson(records) + R"({"id":"z","residency":"cn","ssn":"nowhere"})" "\n");
  CHECK(enc.exit_code == 2);
  CHECK(Summary(enc)["dead_letter"] == 1);
  // Each region's keystore alone opens only its own records.
  const std::string us_only = w.WritePolicy(
      [&] {
        OrderedJson p = UsersPolicy();
        p["keystores"] = {{"us", {{"dir", w.KeystoreDir("us")}}}};
        return p;
      }(),
      "us.json");
  auto dec = Pipe("decrypt", us_only, enc.out, {"--dead-letter", w.File("dead.ndjson")});
  const auto lines = Lines(dec.out);
  const json s = Summary(dec);
  std::size_t eu_with_fields = 0;
  for (const auto& r : records) eu_with_fields += r["residency"] == "eu" && r.contains("email");
  CHECK(s["dead_letter"].get<std::size_t>() >= eu_with_fields);
  CHECK(s["dead_letter"].get<std::size_t>() > 0);
  auto both = Pipe("decrypt", policy, enc.out);
  REQUIRE(both.exit_code == 0);
  CHECK(Summary(both)["records_out"] == 200);
}

TEST_CASE("ndjson: a bad policy or unreadable input is fatal (exit 1) before any output") {
  PipelineWorld w;
  const std::string out = w.File("out.ndjson");
  OrderedJson bad = UsersPolicy();
  bad["fields"][1]["mode"] = "fast";
  auto r = RunCli({"encrypt", "--policy", w.WritePolicy(bad), "--out", out}, "{}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("fields[1] (/ssn)"));
  OrderedJson unknown_key = UsersPolicy();
  unknown_key["fields"][0]["key"] = "nope";
  r = RunCli({"encrypt", "--policy", w.WritePolicy(unknown_key), "--out", out}, "{}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("fields[0] (/email)") && Catch::Contains("nope"));
  r = RunCli({"encrypt", "--policy", w.WritePolicy(UsersPolicy()), "--in", w.File("missing.ndjson"), "--out", out});
  CHECK(r.exit_code == 1);
  r = RunCli({"encrypt", "--policy", w.WritePolicy(UsersPolicy()), "--region", "eu", "--out", out}, "{}\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--region"));
  struct stat st{};
  CHECK(stat(out.c_str(), &st) != 0);
}

TEST_CASE("ndjson: --out is complete and private when it appears") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::string out = w.File("out.ndjson");
  auto r = RunCli({"encrypt", "--policy", policy, "--out", out}, Ndjson(GenerateUsers(50, 6)));
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.empty());
  CHECK(Lines(ReadFile(out)).size() == 50);
  struct stat st{};
  REQUIRE(stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  for (const auto& e : std::filesystem::directory_iterator(w.dir())) {
    CHECK(e.path().filename().string().find(".sovereign-") == std::string::npos);
  }
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("ndjson: a decrypted JSON value with line breaks stays on one line; decrypt needs no region") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  // A ciphertext made outside the pipeline: 0xFF + JSON text with a newline in it.
  auto ct = RunCli({"field", "encrypt", "--keystore", w.KeystoreDir("us"), "--key", "users", "--label", "ssn",
                    "--path", "/ssn", "--record-id", "u1"},
                   std::string("\xFF[1,\n2]"));
  REQUIRE(ct.exit_code == 0);
  const std::string line = R"({"id":"u1","residency":7,"ssn":")" + Lines(ct.out)[0] + "\"}\n";
  auto dec = RunCli({"decrypt", "--policy", policy}, line);
  INFO(dec.err);
  REQUIRE(dec.exit_code == 0);
  CHECK(dec.out == "{\"id\":\"u1\",\"residency\":7,\"ssn\":[1, 2]}\n");
  // Encrypting that record is refused: its region is not a string.
  auto enc = RunCli({"encrypt", "--policy", policy}, dec.out);
  CHECK(enc.exit_code == 2);
  CHECK_THAT(enc.err, Catch::Contains("region at /residency is not a string"));
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("ndjson: --progress draws a progress line on stderr; it is off when stderr is not a terminal") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::string input = Ndjson(GenerateUsers(20, 8));
  auto forced = RunCli({"encrypt", "--policy", policy, "--progress"}, input);
  REQUIRE(forced.exit_code == 0);
  CHECK_THAT(forced.err, Catch::Contains("20 records") && Catch::Contains("MB/s"));
  auto plain = RunCli({"encrypt", "--policy", policy}, input);
  CHECK(plain.err.find("MB/s") == std::string::npos);
  CHECK(forced.out.size() == plain.out.size());
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("ndjson: a record naming its id, region or blind index twice is dead-lettered, not half-rewritten") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  const std::vector<std::string> ambiguous = {
      R"({"id":"u1","email":"a@x.org","email":"b@x.org","email_index":"old"})",  // two values, one index member
      R"({"id":"u1","email":"a@x.org","email":"b@x.org"})",
      R"({"id":"u1","id":"u2","ssn":"123-45-6789"})",
      R"({"id":"u1","residency":"us","residency":"eu","ssn":"123-45-6789"})",
      R"({"id":"u1","email":"a@x.org","email_index":"1","email_index":"2"})",
  };
  std::string input;
  for (const auto& line : ambiguous) input += line + "\n";
  const std::string dead = w.File("dead.ndjson");
  auto enc = Pipe("encrypt", policy, input, {"--dead-letter", dead});
  CHECK(enc.exit_code == 2);
  CHECK(Summary(enc)["dead_letter"] == ambiguous.size());
  CHECK(enc.out.empty());
  for (const auto& line : Lines(ReadFile(dead))) {
    CHECK_THAT(json::parse(line)["reason"].get<std::string>(), Catch::Contains("more than once") ||
                                                                    Catch::Contains("more than one value"));
  }
}

TEST_CASE("ndjson: a plaintext that only looks like a ciphertext is encrypted; a real one is skipped") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  auto first = Pipe("encrypt", policy, R"({"id":"u1","ssn":"123-45-6789"})" "\n");
  REQUIRE(first.exit_code == 0);
  const std::string real = json::parse(Lines(first.out).at(0))["ssn"].get<std::string>();
  const std::string input = R"({"id":"u1","ssn":"sov1:12345678"})" "\n" + json({{"id", "u1"}, {"ssn", real}}).dump() + "\n";
  auto enc = Pipe("encrypt", policy, input);
  REQUIRE(enc.exit_code == 0);
  CHECK(Summary(enc)["fields_encrypted"] == 1);
  CHECK(Summary(enc)["fields_skipped"] == 1);
  const auto lines = Lines(enc.out);
  CHECK(lines.at(0).find("sov1:12345678") == std::string::npos);
  CHECK(json::parse(lines.at(1))["ssn"] == real);
}

TEST_CASE("ndjson: an empty record id binds nothing, so random-mode fields of such a record are dead-lettered") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(UsersPolicy());
  auto enc = Pipe("encrypt", policy, R"({"id":"","ssn":"123-45-6789"})" "\n");
  CHECK(enc.exit_code == 2);
  CHECK(Summary(enc)["dead_letter"] == 1);
  CHECK(enc.out.find("123-45-6789") == std::string::npos);
}

}  // namespace sovereign::test
