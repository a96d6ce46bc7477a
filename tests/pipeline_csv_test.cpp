// sovereign encrypt / decrypt over CSV streams.
#include <catch2/catch.hpp>

#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

OrderedJson CsvPolicy() {
  return OrderedJson::parse(R"({"region": {"from": "/residency", "default": "us"}, "record_id": "/id", "fields": [
      {"path": "/email", "key": "users", "mode": "deterministic", "index": {"path": "/email_index", "bits": 16}},
      {"path": "/ssn", "key": "users"}, {"path": "/note", "key": "users", "label": "note"}]})");
}

// Csv makes rows with commas, quotes, newlines inside quotes, unicode and empty cells.
std::string Csv(std::size_t n) {
  std::string out = "id,email,ssn,note,residency,email_index\r\n";
  const std::vector<std::string> notes = {"plain", "\"with, comma\"", "\"quote \"\"inside\"\"\"", "\"two\nlines\"",
                                          "Zoë 名前 🚀", "", "\" padded \""};
  for (std::size_t i = 0; i < n; ++i) {
    out += std::to_string(i) + ",user" + std::to_string(i % 13) + "@x.org," + (i % 5 == 0 ? "" : "123-45-" + std::to_string(1000 + i)) +
           "," + notes[i % notes.size()] + "," + (i % 2 ? "us" : "eu") + ",\r\n";
  }
  return out;
}

}  // namespace

TEST_CASE("csv: decrypt(encrypt(x)) gives the same cells, with quoting and multi-line cells") {
  PipelineWorld w({"us", "eu"});
  OrderedJson no_index = CsvPolicy();
  no_index["fields"][0].erase("index");
  const std::string policy = w.WritePolicy(no_index);
  const std::string input = Csv(300);
  auto enc = RunCli({"encrypt", "--policy", policy, "--format", "csv"}, input);
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  CHECK(Summary(enc)["records_in"] == 300);
  CHECK(enc.out.find("123-45-1001") == std::string::npos);
  CHECK(enc.out.find("inside") == std::string::npos);
  CHECK(enc.out.find("user3@x.org") == std::string::npos);
  auto dec = RunCli({"decrypt", "--policy", policy, "--format", "csv"}, enc.out);
  REQUIRE(dec.exit_code == 0);
  CHECK(Summary(dec)["fields_decrypted"] == Summary(enc)["fields_encrypted"]);
  // Output lines end in \n; otherwise every byte is as it was (the index column aside).
  std::string expected;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (input[i] != '\r' || i + 1 >= input.size() || input[i + 1] != '\n') expected.push_back(input[i]);
  }
  CHECK(dec.out == expected);
}

TEST_CASE("csv: deterministic cells join, and rows of the wrong width or bad quoting are dead-lettered") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(CsvPolicy());
  const std::string input =
      "id,email,ssn,note,residency,email_index\n1,a@x.org,1,n,us,\n2,a@x.org,2,n,us,\n3,short\n4,\"bad\"x,1,n,us,\n"
      "5,\xff,1,n,us,\n";
  const std::string dead = w.File("dead.ndjson");
  auto enc = RunCli({"encrypt", "--policy", policy, "--format", "csv", "--dead-letter", dead}, input);
  CHECK(enc.exit_code == 2);
  const json s = Summary(enc);
  CHECK(s["records_in"] == 5);
  CHECK(s["records_out"] == 2);
  CHECK(s["dead_letter"] == 3);
  const auto rows = Lines(enc.out);
  REQUIRE(rows.size() == 3);
  const auto cell = [](const std::string& row, int n) {
    std::size_t start = 0;
    for (int i = 0; i < n; ++i) start = row.find(',', start) + 1;
    return row.substr(start, row.find(',', start) - start);
  };
  CHECK(cell(rows[1], 1) == cell(rows[2], 1));
  CHECK(cell(rows[1], 5) == cell(rows[2], 5));
  CHECK(cell(rows[1], 5).size() == 4);
  const auto dl = Lines(ReadFile(dead));
  REQUIRE(dl.size() == 3);
  CHECK(json::parse(dl[0])["line"] == 4);
  CHECK_THAT(json::parse(dl[0])["reason"].get<std::string>(), Catch::Contains("columns"));
  CHECK(json::parse(dl[0])["record"] == "3,short");
}

TEST_CASE("csv: a policy path that is not a column name is refused before any row") {
  PipelineWorld w;
  OrderedJson p = CsvPolicy();
  p["fields"][2]["path"] = "/note/*";
  auto r = RunCli({"encrypt", "--policy", w.WritePolicy(p), "--format", "csv"}, "id,email,ssn,note,residency,email_index\n");
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("/note/*"));
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("csv: a header without a policy column, or spelling it differently, is refused before any row") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(CsvPolicy());
  for (const std::string header : {"id,email,SSN,note,residency,email_index", "id,email, ssn,note,residency,email_index",
                                   "id,email,note,residency,email_index", "email,ssn,note,residency,email_index",
                                   "id,email,ssn,note,email_index"}) {
    CAPTURE(header);
    auto r = RunCli({"encrypt", "--policy", policy, "--format", "csv"}, header + "\n1,a@x.org,123-45-6789,n,us,\n");
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("is not in the CSV header"));
    CHECK(r.out.find("123-45-6789") == std::string::npos);
  }
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("csv: an unbalanced quote cannot make memory grow with the input; the run stops and writes nothing") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(CsvPolicy());
  std::string input = "id,email,ssn,note,residency,email_index\n0,a@x.org,1,\"never closed,us,\n";
  const std::string row = "1,b@x.org,123-45-6789,plain note,us,\n";
  while (input.size() < (std::size_t{72} << 20)) input += row;
  const std::string out = w.File("out.csv");
  auto r = RunCli({"encrypt", "--policy", policy, "--format", "csv", "--out", out}, input);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("longer than 64 MiB") && Catch::Contains("unbalanced double quote"));
  CHECK_FALSE(std::filesystem::exists(out));
}

}  // namespace sovereign::test
