// Crypto-shredding through the real CLI and a real `sovereign serve`: fields
// encrypted for a subject decrypt until the subject is shredded, then never;
// other subjects and fields without a subject are untouched; the shred is
// audited by tag and reason, never by subject id.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "sovereign/remote_keystore.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

constexpr int kExitDenied = 3;
constexpr int kExitShredded = 6;
// Subject ids no tag, key name or other audit member can contain by chance.
const std::string kAlice = "subject-Alice-Q9";
const std::string kBob = "subject-Bob-Z7";
const std::string kReason = "erasure request 42";

struct Cli {
  std::vector<std::string> where;
  ProcessResult Run(std::vector<std::string> command, const std::string& input = {}) const {
    return RunCli(Concat(std::move(command), where), input);
  }
  ProcessResult TryEncrypt(const std::string& value, const std::optional<std::string>& subject) const {
    std::vector<std::string> command = {"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"};
    if (subject) command = Concat(std::move(command), {"--subject", *subject});
    return Run(command, value);
  }
  std::string Encrypt(const std::string& value, const std::optional<std::string>& subject) const {
    auto r = TryEncrypt(value, subject);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
  ProcessResult Decrypt(const std::string& ct) const { return Run({"field", "decrypt", "--path", "/email"}, ct); }
  ProcessResult Shred(const std::string& subject, std::vector<std::string> extra = {}) const {
    return Run(Concat({"subjects", "shred", "--key", "users", "--subject", subject, "--reason", kReason}, extra));
  }
};

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The whole story: `app` encrypts and decrypts, `officer` shreds, `reader`
// decrypts (the same as app, or a principal with only `decrypt`).
void ExerciseShred(const Cli& officer, const Cli& app, const Cli& reader, const std::filesystem::path& audit_log) {
  const std::string alice1 = app.Encrypt("ann@example.com", kAlice);
  REQUIRE(officer.Run({"keys", "rotate", "--key", "users"}).exit_code == 0);
  const std::string alice2 = app.Encrypt("ann@work.example", kAlice);
  const std::string bob = app.Encrypt("bob@example.com", kBob);
  const std::string plain = app.Encrypt("carol@example.com", std::nullopt);
  CHECK(alice1 != alice2);
  CHECK(reader.Decrypt(alice1).out == "ann@example.com");
  CHECK(reader.Decrypt(alice2).out == "ann@work.example");

  auto shred = officer.Shred(kAlice);
  INFO(shred.err);
  REQUIRE(shred.exit_code == 0);
  CHECK(shred.out.starts_with("shredded subject "));
  CHECK(shred.out.ends_with(" of key 'users': 2 subject keys destroyed\n"));
  const std::string tag = shred.out.substr(17, 32);

  for (const std::string& ct : {alice1, alice2}) {
    auto gone = reader.Decrypt(ct);
    CHECK(gone.exit_code == kExitShredded);
    CHECK(gone.out.empty());
    CHECK(gone.err.find("shredded") != std::string::npos);
    CHECK(gone.err.find(kAlice) == std::string::npos);
  }
  CHECK(reader.Decrypt(bob).out == "bob@example.com");
  CHECK(reader.Decrypt(plain).out == "carol@example.com");

  auto again = officer.Shred(kAlice, {"--json"});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  const json report = json::parse(again.out);
  CHECK(report["already_shredded"] == true);
  CHECK(report["subject_tag"] == tag);
  CHECK(report["key"] == "users");
  CHECK(report["subject_keys_destroyed"] == 0);
  CHECK(officer.Shred(kAlice).out.find("already shredded") != std::string::npos);

  auto refused = app.TryEncrypt("ann@new.example", kAlice);
  CHECK(refused.exit_code == kExitShredded);
  CHECK(refused.out.empty());

  auto status = officer.Run({"keys", "status", "--key", "users", "--json"});
  REQUIRE(status.exit_code == 0);
  const json key = json::parse(status.out);
  CHECK(key["subject_keys"] == 1);  // bob's, in version 2
  CHECK(key["shredded_subjects"] == 1);
  auto table = officer.Run({"keys", "status", "--key", "users"});
  CHECK(table.out.find("subject keys: 1; shredded subjects: 1") != std::string::npos);

  // Audited by tag and reason; the subject id appears nowhere in the log.
  const std::string log = ReadFile(audit_log);
  CHECK(log.find(kAlice) == std::string::npos);
  CHECK(log.find(kBob) == std::string::npos);
  std::size_t shreds = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    const json entry = json::parse(line);
    if (entry["op"] != "subject.shred" || entry["outcome"] != "ok") continue;
    ++shreds;
    CHECK(entry["subject"] == tag);
    CHECK(entry["note"] == kReason);
    CHECK(entry["key"] == "users");
  }
  CHECK(shreds == 3);
}

TEST_CASE("cli subjects: shred on a keystore directory makes the subject's fields unrecoverable, only theirs") {
  TempDir tmp;
  const std::string dir = (tmp.path() / "us").string();
  REQUIRE(RunCli({"keystore", "init", "--dir", dir, "--region", "us"}).exit_code == 0);
  REQUIRE(RunCli({"keys", "create", "--keystore", dir, "--key", "users"}).exit_code == 0);
  const Cli local{{"--keystore", dir}};
  ExerciseShred(local, local, local, std::filesystem::path(dir) / "audit.log");
  auto verified = RunCli({"audit", "verify", "--keystore", dir});
  INFO(verified.err);
  CHECK(verified.exit_code == 0);
}

constexpr const char* kReaderId = "spiffe://corp.example/region/us/batch/reader";
constexpr const char* kWriterId = "spiffe://corp.example/region/us/batch/writer";

// The default policy plus a principal that may only decrypt and one that may only encrypt.
json AccessWithReaderAndWriter() {
  json access = DefaultAccess("us");
  access.push_back({{"principal", kReaderId}, {"allow", {"decrypt"}}, {"keys", {"*"}}, {"labels", {"*"}}});
  access.push_back({{"principal", kWriterId}, {"allow", {"encrypt"}}, {"keys", {"*"}}, {"labels", {"email"}}});
  return access;
}

TEST_CASE("cli subjects: the same against a keystore service, with a principal that may only decrypt") {
  ServiceFixture f;
  f.Prepare("us", AccessWithReaderAndWriter());
  f.Start("us");
  const Cli officer{f.Remote("us", f.pki().us_officer())};
  const Cli app{f.Remote("us", f.pki().us_app())};
  const Cli reader{f.Remote("us", f.pki().IssueClient("reader", kReaderId, "reader"))};
  ExerciseShred(officer, app, reader, f.region("us").store_dir / "audit.log");
}

TEST_CASE("cli subjects: remote encryption and decryption for a subject stop at once when it is shredded") {
  ServiceFixture f;
  f.Prepare("us", AccessWithReaderAndWriter());
  f.Start("us");
  const Cli officer{f.Remote("us", f.pki().us_officer())};
  const Cli writer{f.Remote("us", f.pki().IssueClient("writer", kWriterId, "writer"))};
  const Cli reader{f.Remote("us", f.pki().IssueClient("reader", kReaderId, "reader"))};
  // Neither may hold keys: the service encrypts and decrypts for them, and
  // the service's own cached keys must not outlive the shred.
  const std::string alice = writer.Encrypt("ann@example.com", kAlice);
  const std::string bob = writer.Encrypt("bob@example.com", kBob);
  CHECK(reader.Decrypt(alice).out == "ann@example.com");
  CHECK(reader.Decrypt(bob).out == "bob@example.com");
  REQUIRE(officer.Shred(kAlice).exit_code == 0);
  auto gone = reader.Decrypt(alice);
  CHECK(gone.exit_code == kExitShredded);
  CHECK(gone.err.find("shredded") != std::string::npos);
  CHECK(reader.Decrypt(bob).out == "bob@example.com");
  // The writer may not decrypt, so it is not told of the shred (that would
  // be an erasure oracle): it gets a ciphertext nobody can open.
  auto written = writer.TryEncrypt("ann@new.example", kAlice);
  REQUIRE(written.exit_code == 0);
  CHECK(reader.Decrypt(written.out).exit_code == kExitShredded);

  // The same over HTTP: the item's code is shredded, not invalid_ciphertext.
  const auto text = [](const std::string& cli_output) { return cli_output.substr(0, cli_output.size() - 1); };
  auto http = f.Client("us", f.pki().IssueClient("reader2", kReaderId, "reader2"));
  auto r = http->PostJson("/v1/decrypt", Items({DecryptItem(text(alice), "/email", std::nullopt),
                                                DecryptItem(text(bob), "/email", std::nullopt)}));
  REQUIRE(r.status == 200);
  const json items = r.json()["items"];
  CHECK(items[0]["error"]["code"] == "shredded");
  CHECK(items[1].contains("plaintext"));
}

TEST_CASE("cli subjects: a principal without admin cannot shred, and the refusal is audited") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const Cli app{f.Remote("us", f.pki().us_app())};
  const std::string ct = app.Encrypt("ann@example.com", kAlice);
  auto refused = app.Shred(kAlice);
  CHECK(refused.exit_code == kExitDenied);
  CHECK(app.Decrypt(ct).out == "ann@example.com");
  auto http = f.Client("us", f.pki().us_app());
  auto r = http->PostJson("/v1/keys/users/subjects/shred", {{"subject", kAlice}, {"reason", kReason}});
  CHECK(r.status == 403);
  std::size_t denied = 0;
  for (const auto& entry : AuditLines(f.region("us"))) {
    if (entry["op"] == "subject.shred") {
      CHECK(entry["outcome"] == "denied");
      CHECK(entry["principal"] == kUsAppId);
      ++denied;
    }
  }
  CHECK(denied == 2);
}

TEST_CASE("remote keystore: 300 subjects in one FieldKeys call come back in order, each audited") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto keystore = f.Keystore("us", f.pki().us_app());
  std::vector<std::string> subjects;
  for (int i = 0; i < 300; ++i) subjects.push_back("subject-" + std::to_string(i));
  std::vector<FieldKeyRequest> by_name(subjects.size());
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    by_name[i].key_name = "users";
    by_name[i].label = "email";
    by_name[i].mode = Mode::kDeterministic;
    by_name[i].subject = subjects[i];
  }
  auto issued = keystore->FieldKeys(by_name);
  REQUIRE(issued.size() == subjects.size());
  std::set<SubjectTag> tags;
  std::vector<FieldKeyRequest> by_tag(subjects.size());
  for (std::size_t i = 0; i < issued.size(); ++i) {
    INFO(i << ": " << issued[i].status().message());
    REQUIRE(issued[i].ok());
    REQUIRE(issued[i]->subject_tag);
    CHECK(issued[i]->key_name == "users");
    tags.insert(*issued[i]->subject_tag);
    by_tag[i].by_name = false;
    by_tag[i].key_id = issued[i]->key_id;
    by_tag[i].version = issued[i]->version;
    by_tag[i].label_id = issued[i]->label_id;
    by_tag[i].mode = Mode::kDeterministic;
    by_tag[i].subject_tag = issued[i]->subject_tag;
  }
  CHECK(tags.size() == subjects.size());
  // Asked again by tag (as a decryptor would), each answer is the same key at the same index.
  auto again = keystore->FieldKeys(by_tag);
  REQUIRE(again.size() == subjects.size());
  for (std::size_t i = 0; i < again.size(); ++i) {
    REQUIRE(again[i].ok());
    CHECK(again[i]->subject_tag == issued[i]->subject_tag);
    CHECK(again[i]->key.Equals(issued[i]->key));
  }
  std::size_t audited = 0;
  std::size_t created = 0;
  for (const auto& entry : AuditLines(f.region("us"))) {
    if (entry["op"] == "lease" && entry["outcome"] == "ok" && entry.contains("subject")) {
      ++audited;
      CHECK(entry["principal"] == kUsAppId);
      if (entry.value("subject_created", false)) ++created;
    }
  }
  CHECK(audited == 600);
  CHECK(created == 300);

  // A tag no subject has: no key.
  FieldKeyRequest unknown = by_tag[0];
  unknown.subject_tag->fill(0x5a);
  auto missing = keystore->FieldKeys({&unknown, 1});
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].code() == ErrorCode::kKeyNotFound);

  // A malformed tag or subject fails the request, naming the item.
  auto http = f.Client("us", f.pki().us_app());
  auto bad_tag = http->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}},
                                                     {{"key_id", 1}, {"version", 1}, {"mode", "random"},
                                                      {"label_id", 1}, {"subject_tag", "ABCD"}}}));
  CHECK(bad_tag.status == 400);
  CHECK(bad_tag.body.find("/items/1/subject_tag") != std::string::npos);
  auto bad_subject = http->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"},
                                                          {"subject", ""}}}));
  CHECK(bad_subject.status == 400);
  CHECK(bad_subject.body.find("/items/0/subject") != std::string::npos);
}

TEST_CASE("remote keystore: FieldKeys splits a batch over the service's 1000-item limit and keeps the order") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto keystore = f.Keystore("us", f.pki().us_app());
  std::vector<std::string> subjects;
  for (int i = 0; i < 1001; ++i) subjects.push_back("subject-" + std::to_string(i));
  std::vector<FieldKeyRequest> requests(subjects.size());
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    requests[i].key_name = "users";
    requests[i].label = "email";
    requests[i].subject = subjects[i];
  }
  // One bad request fails alone, before anything is sent.
  requests[7].subject = std::string_view("\xff\xfe", 2);
  auto issued = keystore->FieldKeys(requests);
  REQUIRE(issued.size() == subjects.size());
  CHECK(issued[7].code() == ErrorCode::kInvalidArgument);
  std::set<SubjectTag> tags;
  for (std::size_t i = 0; i < issued.size(); ++i) {
    if (i == 7) continue;
    INFO(i << ": " << issued[i].status().message());
    REQUIRE(issued[i].ok());
    tags.insert(*issued[i]->subject_tag);
  }
  CHECK(tags.size() == subjects.size() - 1);
  // The last one, sent in the second request, is the same subject key when asked alone.
  auto alone = keystore->FieldKeys({&requests.back(), 1});
  REQUIRE(alone.size() == 1);
  REQUIRE(alone[0].ok());
  CHECK(alone[0]->subject_tag == issued.back()->subject_tag);
  CHECK(alone[0]->key.Equals(issued.back()->key));
}

}  // namespace
}  // namespace sovereign::test
