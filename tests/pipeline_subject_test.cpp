// Subject fields through the pipelines, run as the real binary: values
// encrypted under per-subject keys, a shredded subject's fields as their own
// outcome, rewrap after rotation, and many subjects in one run.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "tests/support/pipeline_support.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

OrderedJson SubjectPolicy() {
  return OrderedJson::parse(R"({"region": "us", "record_id": "/id", "fields": [
      {"path": "/email", "key": "users", "mode": "deterministic", "subject": "/user"},
      {"path": "/ssn", "key": "users", "subject": "/user"},
      {"path": "/plan", "key": "users"}]})");
}

// Users makes `n` records of `subjects` distinct users (record i belongs to user i % subjects).
std::vector<OrderedJson> Users(std::size_t n, std::size_t subjects) {
  std::vector<OrderedJson> out;
  for (std::size_t i = 0; i < n; ++i) {
    OrderedJson r;
    r["id"] = fmt::format("r{}", i);
    r["user"] = fmt::format("user-{}", i % subjects);
    r["email"] = fmt::format("mail{}@x.org", i % subjects);
    r["ssn"] = i % 3 == 0 ? OrderedJson(static_cast<std::int64_t>(100000 + i)) : OrderedJson(fmt::format("ssn-{}", i));
    r["plan"] = "pro";
    out.push_back(r);
  }
  return out;
}

ProcessResult Pipe(const std::string& command, const std::string& policy, const std::string& input,
                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args{command, "--policy", policy};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunCli(args, input);
}

void Shred(PipelineWorld& w, const std::string& subject) {
  auto ks = EmbeddedKeystore::Open(w.KeystoreDir("us"));
  REQUIRE(ks.ok());
  auto report = (*ks)->ShredSubject("users", subject, "erasure request");
  REQUIRE(report.ok());
  CHECK(report->subject_keys_destroyed >= 1);
}

}  // namespace

TEST_CASE("subject: ndjson decrypt(encrypt(x)) equals x, with one subject key per user") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  const auto records = Users(300, 40);
  auto enc = Pipe("encrypt", policy, Ndjson(records));
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  CHECK(Summary(enc)["fields_encrypted"] == 900);
  // Deterministic subject fields: equal values of one subject are equal ciphertexts.
  const auto lines = Lines(enc.out);
  CHECK(json::parse(lines[0])["email"] == json::parse(lines[40])["email"]);
  auto dec = Pipe("decrypt", policy, enc.out);
  INFO(dec.err);
  REQUIRE(dec.exit_code == 0);
  CHECK(Summary(dec)["fields_decrypted"] == 900);
  CHECK(Summary(dec)["shredded"] == 0);
  CHECK(dec.out == Ndjson(records));
}

TEST_CASE("subject: csv round trip with a subject column") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  std::string input = "id,user,email,ssn,plan\n";
  for (int i = 0; i < 100; ++i) {
    input += fmt::format("r{},u{},m{}@x.org,\"1,2\",{}\n", i, i % 7, i, i % 4 ? "pro" : "");
  }
  auto enc = Pipe("encrypt", policy, input, {"--format", "csv"});
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  CHECK(enc.out.find("m3@x.org") == std::string::npos);
  auto dec = Pipe("decrypt", policy, enc.out, {"--format", "csv"});
  INFO(dec.err);
  REQUIRE(dec.exit_code == 0);
  CHECK(dec.out == input);

  // The subject column must be in the header, like the record id.
  auto missing = Pipe("encrypt", policy, "id,email,ssn,plan\nr1,a,b,c\n", {"--format", "csv"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("fields[0] (/email): subject") && Catch::Contains("\"user\""));
  CHECK(missing.out.empty());
}

TEST_CASE("subject: records without a usable subject are dead-lettered, naming field and subject path") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  const std::string input =
      R"({"id":"a","user":"u1","email":"e1","ssn":"s1"})"
      "\n"
      R"({"id":"b","email":"e2-secret","ssn":"s2"})"
      "\n"
      R"({"id":"c","user":null,"email":"e3-secret"})"
      "\n"
      R"({"id":"d","user":"","ssn":"s4-secret"})"
      "\n"
      R"({"id":"e","user":{"n":1},"ssn":"s5-secret"})"
      "\n"
      R"({"id":"f","user":true,"ssn":"s6-secret"})"
      "\n"
      R"({"id":"g","user":42,"ssn":"s7"})"
      "\n"
      R"({"id":"h","user":"u2","plan":"only a field without subject"})"
      "\n";
  auto enc = Pipe("encrypt", policy, input, {"--dead-letter", w.File("dead.ndjson")});
  REQUIRE(enc.exit_code == 2);
  const json s = Summary(enc);
  CHECK(s["records_in"] == 8);
  CHECK(s["records_out"] == 3);
  CHECK(s["dead_letter"] == 5);
  CHECK(s["records_in"].get<int>() == s["records_out"].get<int>() + s["dead_letter"].get<int>());
  const auto dead = Lines(ReadFile(w.File("dead.ndjson")));
  REQUIRE(dead.size() == 5);
  for (const auto& d : dead) {
    const std::string reason = json::parse(d)["reason"];
    INFO(reason);
    CHECK_THAT(reason, Catch::Contains("no subject at /user") &&
                           (Catch::Contains("field /email") || Catch::Contains("field /ssn")));
    CHECK(reason.find("secret") == std::string::npos);
  }
  // A number is a subject: its JSON text; it decrypts back.
  auto dec = Pipe("decrypt", policy, enc.out);
  REQUIRE(dec.exit_code == 0);
  CHECK(dec.out.find(R"({"id":"g","user":42,"ssn":"s7"})") != std::string::npos);
}

TEST_CASE("subject: after a shred, that user's fields are shredded (keep, redact, fail) and every other user's decrypt") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  const auto records = Users(60, 6);  // user-0..user-5, 10 records each
  auto enc = Pipe("encrypt", policy, Ndjson(records));
  REQUIRE(enc.exit_code == 0);
  Shred(w, "user-2");

  auto keep = Pipe("decrypt", policy, enc.out);
  INFO(keep.err);
  REQUIRE(keep.exit_code == 0);
  json s = Summary(keep);
  CHECK(s["shredded"] == 20);
  CHECK(s["denied"] == 0);
  CHECK(s["fields_decrypted"] == 60 * 3 - 20);
  const auto enc_lines = Lines(enc.out);
  auto lines = Lines(keep.out);
  for (std::size_t i = 0; i < records.size(); ++i) {
    INFO("record " << i);
    if (i % 6 == 2) {
      CHECK(lines[i] == enc_lines[i].substr(0, enc_lines[i].find(",\"plan\"")) + ",\"plan\":\"pro\"}");
    } else {
      CHECK(lines[i] == records[i].dump());
    }
  }

  auto redact = Pipe("decrypt", policy, enc.out, {"--on-denied", "redact"});
  REQUIRE(redact.exit_code == 0);
  CHECK(Summary(redact)["shredded"] == 20);
  lines = Lines(redact.out);
  for (std::size_t i = 2; i < records.size(); i += 6) {
    const json r = json::parse(lines[i]);
    CHECK(r["email"] == std::string(kRedactedMarker));
    CHECK(r["ssn"] == std::string(kRedactedMarker));
    CHECK(r["plan"] == "pro");
  }

  auto fail = Pipe("decrypt", policy, enc.out, {"--on-denied", "fail", "--dead-letter", w.File("dead.ndjson")});
  REQUIRE(fail.exit_code == 2);
  s = Summary(fail);
  CHECK(s["dead_letter"] == 10);
  CHECK(s["records_out"] == 50);
  for (const auto& d : Lines(ReadFile(w.File("dead.ndjson")))) {
    CHECK_THAT(json::parse(d)["reason"].get<std::string>(), Catch::Contains("shredded"));
  }

  // Encrypting for the shredded subject is refused; others still work.
  auto again = Pipe("encrypt", policy, Ndjson({records[2], records[3]}), {"--dead-letter", w.File("dead2.ndjson")});
  CHECK(again.exit_code == 2);
  CHECK(Summary(again)["dead_letter"] == 1);
  CHECK_THAT(ReadFile(w.File("dead2.ndjson")), Catch::Contains("shredded"));

  // Rewrap leaves the shredded values as they are and counts them; not dead letters.
  auto rewrap = Pipe("rewrap", policy, enc.out);
  INFO(rewrap.err);
  REQUIRE(rewrap.exit_code == 0);
  CHECK(Summary(rewrap)["shredded"] == 20);
  CHECK(rewrap.out == enc.out);
}

TEST_CASE("subject: a ciphertext moved to another subject's record fails to decrypt") {
  PipelineWorld w;
  OrderedJson no_record_id = SubjectPolicy();
  no_record_id.erase("record_id");  // bound to the subject alone, in both modes
  for (const auto& p : {SubjectPolicy(), no_record_id}) {
    const std::string policy = w.WritePolicy(p);
    auto enc = Pipe("encrypt", policy, Ndjson(Users(2, 2)));
    REQUIRE(enc.exit_code == 0);
    auto lines = Lines(enc.out);
    for (const std::string member : {"email", "ssn"}) {
      OrderedJson a = OrderedJson::parse(lines[0]), b = OrderedJson::parse(lines[1]);
      b[member] = a[member];
      auto dec = Pipe("decrypt", policy, b.dump() + "\n", {"--dead-letter", w.File("dead.ndjson")});
      INFO(member);
      CHECK(dec.exit_code == 2);
      CHECK_THAT(ReadFile(w.File("dead.ndjson")), Catch::Contains("field /" + member + ": invalid_ciphertext"));
    }
  }
}

TEST_CASE("subject: rewrap after a rotation re-encrypts subject fields for the same subject") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  const auto records = Users(50, 5);
  auto v1 = Pipe("encrypt", policy, Ndjson(records));
  REQUIRE(v1.exit_code == 0);
  REQUIRE(RunCli({"keys", "rotate", "--keystore", w.KeystoreDir("us"), "--key", "users"}).exit_code == 0);
  auto rewrapped = Pipe("rewrap", policy, v1.out);
  INFO(rewrapped.err);
  REQUIRE(rewrapped.exit_code == 0);
  CHECK(Summary(rewrapped)["fields_rewrapped"] == 150);
  CHECK(Summary(rewrapped)["rewrapped_from"]["us/users/v1"] == 150);
  auto dec = Pipe("decrypt", policy, rewrapped.out);
  REQUIRE(dec.exit_code == 0);
  CHECK(dec.out == Ndjson(records));
  // Still the subject's own key: shredding the subject erases the rewrapped values too.
  Shred(w, "user-1");
  auto after = Pipe("decrypt", policy, rewrapped.out);
  REQUIRE(after.exit_code == 0);
  CHECK(Summary(after)["shredded"] == 20);
  CHECK(Summary(after)["fields_decrypted"] == 130);
}

TEST_CASE("subject: 2,000 distinct subjects in one run, over several chunks and threads") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(SubjectPolicy());
  const auto records = Users(6000, 2000);
  const std::string input = Ndjson(records);
  auto enc = Pipe("encrypt", policy, input, {"--threads", "2"});
  INFO(enc.err);
  REQUIRE(enc.exit_code == 0);
  CHECK(Summary(enc)["fields_encrypted"] == 18000);
  auto ks = EmbeddedKeystore::Open(w.KeystoreDir("us"));
  REQUIRE(ks.ok());
  auto status = (*ks)->GetKey("users");
  REQUIRE(status.ok());
  CHECK(status->subject_keys == 2000);
  ks->reset();
  auto dec = Pipe("decrypt", policy, enc.out, {"--threads", "2"});
  REQUIRE(dec.exit_code == 0);
  CHECK(dec.out == input);
}

}  // namespace sovereign::test

namespace sovereign::test {

TEST_CASE("subject: rewrap moves a value to its record's new subject, so shredding the new subject erases it") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(OrderedJson::parse(R"({"region": "us", "record_id": "/id",
      "fields": [{"path": "/ssn", "key": "users", "subject": "/user"}]})"));
  auto enc = Pipe("encrypt", policy, R"({"id":"order-1","user":"customer-a","ssn":"123"})" "\n");
  REQUIRE(enc.exit_code == 0);
  // The order moves to customer B; the stored value is still under A's key.
  std::string moved = enc.out;
  moved.replace(moved.find("customer-a"), 10, "customer-b");
  auto rewrapped = Pipe("rewrap", policy, moved);
  INFO(rewrapped.err);
  REQUIRE(rewrapped.exit_code == 0);
  CHECK(Summary(rewrapped)["fields_rewrapped"] == 1);
  CHECK(rewrapped.out != moved);
  // Unchanged the second time: already under B's key.
  auto again = Pipe("rewrap", policy, rewrapped.out);
  REQUIRE(again.exit_code == 0);
  CHECK(again.out == rewrapped.out);
  Shred(w, "customer-a");
  auto kept = Pipe("decrypt", policy, rewrapped.out);
  REQUIRE(kept.exit_code == 0);
  CHECK_THAT(kept.out, Catch::Contains(R"("ssn":"123")"));
  Shred(w, "customer-b");
  auto gone = Pipe("decrypt", policy, rewrapped.out);
  REQUIRE(gone.exit_code == 0);
  CHECK(Summary(gone)["shredded"] == 1);
}

TEST_CASE("subject: an integer subject is its decimal text; other numbers are no subject") {
  PipelineWorld w;
  const std::string policy = w.WritePolicy(OrderedJson::parse(R"({"region": "us",
      "fields": [{"path": "/ssn", "key": "users", "mode": "deterministic", "subject": "/user"}]})"));
  auto enc = Pipe("encrypt", policy,
                  R"({"user":7,"ssn":"1"})" "\n" R"({"user":"7","ssn":"1"})" "\n" R"({"user":1E2,"ssn":"1"})" "\n"
                  R"({"user":-0,"ssn":"1"})" "\n" R"({"user":1.5,"ssn":"1"})" "\n",
                  {"--dead-letter", w.File("dead.ndjson")});
  CHECK(enc.exit_code == 2);
  const auto lines = Lines(enc.out);
  REQUIRE(lines.size() == 2);
  // Deterministic under one subject key: equal ciphertexts for 7 and "7".
  CHECK(OrderedJson::parse(lines[0])["ssn"] == OrderedJson::parse(lines[1])["ssn"]);
  CHECK(Lines(ReadFile(w.File("dead.ndjson"))).size() == 3);
}

}  // namespace sovereign::test
