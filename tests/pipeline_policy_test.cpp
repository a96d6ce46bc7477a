// FieldPolicy parsing and the one-record API (nlohmann::json and CSV rows).
#include <catch2/catch.hpp>

#include "sovereign/keystore.hpp"
#include "sovereign/policy.hpp"
#include "tests/support/pipeline_support.hpp"

namespace sovereign {
namespace {

using nlohmann::ordered_json;
using test::OrderedJson;

std::string Policy(const std::string& fields, const std::string& extra = "") {
  return R"({"region": "us", "record_id": "/id")" + extra + R"(, "fields": )" + fields + "}";
}

std::string ParseError(const std::string& text) {
  auto p = FieldPolicy::Parse(text, "p.json");
  REQUIRE(!p.ok());
  CHECK(p.code() == ErrorCode::kInvalidArgument);
  return p.status().message();
}

struct World {
  test::TempDir tmp;
  std::unique_ptr<Client> client;
  std::shared_ptr<EmbeddedKeystore> keystore;
  World() {
    keystore = EmbeddedKeystore::Init(tmp.path() / "us", "us").value();
    REQUIRE(keystore->CreateKey("users").ok());
    client = Client::New(keystore).value();
  }
};

}  // namespace

TEST_CASE("policy: each kind of error names the offending entry before any record is read") {
  CHECK_THAT(ParseError(Policy(R"([{"path": "/email", "key": "users", "mode": "fast"}])")),
             Catch::Contains("p.json") && Catch::Contains("fields[0] (/email)") && Catch::Contains("unknown mode"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "email", "key": "users"}])")), Catch::Contains("fields[0] (email)"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a~2", "key": "users"}])")), Catch::Contains("not a JSON Pointer"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users"}, {"path": "/a", "key": "users"}])")),
             Catch::Contains("fields[1] (/a)") && Catch::Contains("listed twice"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a/*", "key": "users"}, {"path": "/a/b", "key": "users"}])")),
             Catch::Contains("fields[1] (/a/b)") && Catch::Contains("overlaps fields[0]"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "colour": "red"}])")),
             Catch::Contains("unknown member \"colour\""));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a"}])")), Catch::Contains("needs \"key\""));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/id", "key": "users"}])")), Catch::Contains("record id"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/*", "key": "users"}])")), Catch::Contains("needs \"label\""));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "index": {"path": "/x/y"}}])")),
             Catch::Contains("index"));
  CHECK_THAT(ParseError(Policy("[]")), Catch::Contains("fields"));
  CHECK_THAT(ParseError(R"({"region": "US", "fields": [{"path": "/a", "key": "k"}]})"), Catch::Contains("region"));
  CHECK_THAT(ParseError(R"({"region": "us", "fields": [{"path": "/a", "key": "k"}], "extra": 1})"),
             Catch::Contains("unknown member \"extra\""));
  CHECK_THAT(ParseError("{not json"), Catch::Contains("JSON object"));
  // A member named twice could read as either value: refused, named by its pointer.
  CHECK_THAT(ParseError(Policy(R"([{"path": "/ssn", "key": "users", "path": "/note"}])")),
             Catch::Contains("duplicate member /fields/0/path"));
  CHECK_THAT(ParseError(R"({"region": "us", "region": "eu", "fields": [{"path": "/a", "key": "k"}]})"),
             Catch::Contains("duplicate member /region"));
}

TEST_CASE("policy: label defaults to the last named segment and mode to random") {
  auto p = FieldPolicy::Parse(Policy(R"([{"path": "/devices/*/ip", "key": "users"},
                                         {"path": "/a~1b", "key": "users", "mode": "deterministic"}])"));
  REQUIRE(p.ok());
  CHECK(p->fields()[0].label == "ip");
  CHECK(p->fields()[0].mode == Mode::kRandom);
  CHECK(p->fields()[1].label == "a/b");
  CHECK(p->fields()[1].mode == Mode::kDeterministic);
  CHECK(p->record_id_pointer() == "/id");
}

TEST_CASE("record API: Protect then Unprotect gives back the same JSON, types and member order") {
  World w;
  auto policy = FieldPolicy::Parse(test::UsersPolicy().dump()).value();
  for (const auto& original : test::GenerateUsers(200, 7)) {
    ordered_json record = original;
    auto protected_stats = Protect(*w.client, policy, record);
    REQUIRE(protected_stats.ok());
    for (const auto& plaintext : test::PlaintextValues({original})) {
      CHECK(record.dump().find(ordered_json(plaintext).dump()) == std::string::npos);
    }
    auto stats = Unprotect(*w.client, policy, record);
    REQUIRE(stats.ok());
    CHECK(stats->fields_decrypted == protected_stats->fields_encrypted);
    record.erase("email_index");
    CHECK(record.dump() == original.dump());
  }
}

TEST_CASE("record API: a random-mode ciphertext moved to another record fails; deterministic ones join") {
  World w;
  auto policy = FieldPolicy::Parse(test::UsersPolicy().dump()).value();
  ordered_json a = {{"id", "a"}, {"email", "same@x.org"}, {"ssn", "111"}};
  ordered_json b = {{"id", "b"}, {"email", "same@x.org"}, {"ssn", "222"}};
  REQUIRE(Protect(*w.client, policy, a).ok());
  REQUIRE(Protect(*w.client, policy, b).ok());
  CHECK(a["email"] == b["email"]);
  CHECK(a["email_index"] == b["email_index"]);
  b["ssn"] = a["ssn"];
  const ordered_json before = b;
  auto moved = Unprotect(*w.client, policy, b);
  REQUIRE(!moved.ok());
  CHECK(moved.code() == ErrorCode::kInvalidCiphertext);
  CHECK_THAT(moved.status().message(), Catch::Contains("/ssn") && !Catch::Contains("111"));
  CHECK(b == before);  // all or nothing
}

TEST_CASE("record API: an existing ciphertext is not encrypted twice and a record without id is refused") {
  World w;
  auto policy = FieldPolicy::Parse(test::UsersPolicy().dump()).value();
  ordered_json r = {{"id", "a"}, {"ssn", "111"}};
  REQUIRE(Protect(*w.client, policy, r).ok());
  const ordered_json once = r;
  auto again = Protect(*w.client, policy, r);
  REQUIRE(again.ok());
  CHECK(again->fields_skipped == 1);
  CHECK(r == once);
  ordered_json no_id = {{"ssn", "111"}};
  auto refused = Protect(*w.client, policy, no_id);
  CHECK(refused.code() == ErrorCode::kInvalidArgument);
  CHECK(no_id["ssn"] == "111");
}

TEST_CASE("record API: CSV rows round-trip and empty cells stay empty") {
  World w;
  auto policy = FieldPolicy::Parse(Policy(R"([{"path": "/email", "key": "users", "mode": "deterministic"},
                                              {"path": "/ssn", "key": "users"}])"))
                    .value();
  auto header = CsvHeader::New(policy, {"id", "email", "ssn", "note"});
  REQUIRE(header.ok());
  std::vector<std::string> row = {"7", "a,\"b\"@x.org", "", "n"};
  const auto original = row;
  REQUIRE(ProtectRow(*w.client, policy, *header, row).ok());
  CHECK(row[1].rfind("sov1:", 0) == 0);
  CHECK(row[2].empty());
  REQUIRE(UnprotectRow(*w.client, policy, *header, row).ok());
  CHECK(row == original);
  CHECK(!CsvHeader::New(policy, {"id", "id"}).ok());
  std::vector<std::string> short_row = {"7", "x"};
  CHECK(!ProtectRow(*w.client, policy, *header, short_row).ok());
}

TEST_CASE("policy: a bad subject is refused, naming the entry") {
  CHECK_THAT(ParseError(Policy(R"([{"path": "/email", "key": "users", "subject": "/users/*"}])")),
             Catch::Contains("p.json") && Catch::Contains("fields[0] (/email)") && Catch::Contains("without wildcards"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/email", "key": "users", "subject": "user"}])")),
             Catch::Contains("fields[0] (/email)") && Catch::Contains("\"subject\""));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/email", "key": "users", "subject": 7}])")),
             Catch::Contains("fields[0] (/email)"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/email", "key": "users", "subject": "/user",
                                    "index": {"path": "/email_index"}}])")),
             Catch::Contains("fields[0] (/email)") && Catch::Contains("cannot have an \"index\"") &&
                 Catch::Contains("shredding"));
  // Covered by a field: directly, by a wildcard, or inside an encrypted object.
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "subject": "/user"},
                                   {"path": "/user", "key": "users"}])")),
             Catch::Contains("fields[0] (/a)") && Catch::Contains("covered by field /user"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "subject": "/meta/user"},
                                   {"path": "/meta/*", "key": "users", "label": "m"}])")),
             Catch::Contains("fields[0] (/a)") && Catch::Contains("covered by field /meta/*"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "subject": "/meta/user"},
                                   {"path": "/meta", "key": "users"}])")),
             Catch::Contains("covered by field /meta"));
  CHECK_THAT(ParseError(Policy(R"([{"path": "/a", "key": "users", "subject": "/ix"},
                                   {"path": "/b", "key": "users", "index": {"path": "/ix"}}])")),
             Catch::Contains("fields[0] (/a)") && Catch::Contains("index member"));
  // The record id may be the subject, and fields may share one.
  auto p = FieldPolicy::Parse(Policy(R"([{"path": "/a", "key": "users", "subject": "/id"},
                                         {"path": "/b", "key": "users", "subject": "/id"},
                                         {"path": "/c", "key": "users", "subject": "/org"},
                                         {"path": "/d", "key": "users"}])"));
  REQUIRE(p.ok());
  CHECK(p->subjects().size() == 2);
  CHECK(p->fields()[0].subject_slot == 0);
  CHECK(p->fields()[1].subject_slot == 0);
  CHECK(p->fields()[2].subject_slot == 1);
  CHECK(p->fields()[3].subject_slot == -1);
  // CSV: the subject column must be in the header.
  auto header = CsvHeader::New(*p, {"id", "a", "b", "c", "d"});
  REQUIRE(!header.ok());
  CHECK_THAT(header.status().message(), Catch::Contains("fields[2] (/c): subject") && Catch::Contains("\"org\""));
}

TEST_CASE("record API: subject fields round-trip, need a subject, and shredding erases only that subject") {
  World w;
  auto policy = FieldPolicy::Parse(Policy(R"([{"path": "/email", "key": "users", "subject": "/user"},
                                              {"path": "/tags/*", "key": "users", "label": "tag", "subject": "/user"}])"))
                    .value();
  ordered_json a = {{"id", "a"}, {"user", "alice"}, {"email", "a@x.org"}, {"tags", {"x", 1}}};
  ordered_json b = {{"id", "b"}, {"user", 17}, {"email", "b@x.org"}};
  const ordered_json a0 = a, b0 = b;
  REQUIRE(Protect(*w.client, policy, a).ok());
  REQUIRE(Protect(*w.client, policy, b).ok());
  ordered_json none = {{"id", "c"}, {"email", "c-secret"}};
  auto refused = Protect(*w.client, policy, none);
  CHECK(refused.code() == ErrorCode::kInvalidArgument);
  CHECK_THAT(refused.status().message(), Catch::Contains("field /email: no subject at /user") &&
                                             !Catch::Contains("c-secret"));
  REQUIRE(w.keystore->ShredSubject("users", "alice", "erasure").ok());
  ordered_json a_keep = a, a_redact = a, a_fail = a, b_back = b;
  auto kept = Unprotect(*w.client, policy, a_keep);
  REQUIRE(kept.ok());
  CHECK(kept->shredded == 3);
  CHECK(a_keep == a);
  auto redacted = Unprotect(*w.client, policy, a_redact, OnDenied::kRedact);
  REQUIRE(redacted.ok());
  CHECK(a_redact["email"] == std::string(kRedactedMarker));
  auto failed = Unprotect(*w.client, policy, a_fail, OnDenied::kFail);
  CHECK(failed.code() == ErrorCode::kShredded);
  CHECK(a_fail == a);
  auto other = Unprotect(*w.client, policy, b_back);
  REQUIRE(other.ok());
  CHECK(other->shredded == 0);
  CHECK(b_back == b0);
  // CSV rows: the subject is a column.
  auto csv_policy = FieldPolicy::Parse(Policy(R"([{"path": "/email", "key": "users", "subject": "/user"}])")).value();
  auto header = CsvHeader::New(csv_policy, {"id", "user", "email"}).value();
  std::vector<std::string> row = {"r", "bob", "bob@x.org"};
  REQUIRE(ProtectRow(*w.client, csv_policy, header, row).ok());
  CHECK(row[2].rfind("sov1:", 0) == 0);
  REQUIRE(UnprotectRow(*w.client, csv_policy, header, row).ok());
  CHECK(row[2] == "bob@x.org");
  std::vector<std::string> no_subject = {"r", "", "x@x.org"};
  CHECK(ProtectRow(*w.client, csv_policy, header, no_subject).code() == ErrorCode::kInvalidArgument);
  // A Client that never cached alice's key is refused. (One that cached it
  // before the shred keeps encrypting with it until the cache entry expires:
  // the SDK's cache, not the pipeline, decides that.)
  auto fresh = Client::New(w.keystore).value();
  std::vector<std::string> alice_row = {"r", "alice", "new@x.org"};
  CHECK(ProtectRow(*fresh, csv_policy, header, alice_row).code() == ErrorCode::kShredded);
}

}  // namespace sovereign
