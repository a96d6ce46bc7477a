// The keystore acting for remote principals: per-call principals in the audit
// log, arbitrary fail-closed audit events, id-to-name resolution, audit pages.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;
namespace fs = std::filesystem;
using Json = nlohmann::json;
using test::TempDir;

struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  ki::OpenedKeystore ks;
  Fixture() {
    REQUIRE(EmbeddedKeystore::Init(dir, "us").ok());
    EmbeddedKeystoreOptions options;
    options.principal = "sovereign:serve";
    auto opened = ki::OpenServiceKeystore(dir, options);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    ks = *opened;
  }
  Json LastEntry() const { return Json::parse(test::ReadLines(dir / "audit.log").back()); }
};

TEST_CASE("both views share one keystore and the embedded view audits as the service") {
  Fixture f;
  CHECK(f.ks.service->region() == "us");
  REQUIRE(f.ks.embedded->CreateKey("users").ok());
  CHECK(f.LastEntry()["principal"] == "sovereign:serve");
  CHECK(f.LastEntry()["op"] == "key.create");
}

TEST_CASE("key changes and field keys are audited as the principal given per call") {
  Fixture f;
  const std::string officer = "spiffe://corp.example/region/us/security/officer";
  const std::string app = "spiffe://corp.example/region/us/svc/app";
  REQUIRE(f.ks.service->CreateKeyAs(officer, "users").ok());
  CHECK(f.LastEntry()["principal"] == officer);
  REQUIRE(f.ks.service->RotateKeyAs(officer, "users").ok());
  CHECK(f.LastEntry()["op"] == "key.rotate");
  CHECK(f.LastEntry()["principal"] == officer);

  auto key = f.ks.service->PrimaryFieldKeyAs(app, "lease", "users", Mode::kRandom, "email");
  REQUIRE(key.ok());
  CHECK(key->version == 2);
  Json entry = f.LastEntry();
  CHECK(entry["principal"] == app);
  CHECK(entry["op"] == "lease");
  CHECK(entry["labels"] == Json::array({"email"}));

  auto by_id = f.ks.service->FieldKeyAs(app, "lease", key->key_id, 1, Mode::kRandom, key->label_id);
  REQUIRE(by_id.ok());
  CHECK(f.LastEntry()["versions"] == Json::array({1}));
  CHECK(f.LastEntry()["principal"] == app);

  auto missing = f.ks.service->PrimaryFieldKeyAs(app, "lease", "nope", Mode::kRandom, "email");
  CHECK(missing.code() == ErrorCode::kKeyNotFound);
  CHECK(f.LastEntry()["outcome"] == "error");
  CHECK(f.LastEntry()["principal"] == app);
  REQUIRE(ki::VerifyKeystoreAuditLog(f.dir).ok());
}

TEST_CASE("Record appends any event with counts, and the log still verifies") {
  Fixture f;
  ki::AuditEvent event;
  event.op = "decrypt";
  event.outcome = "denied";
  event.reason = "no 'decrypt' permission";
  event.counts = Json::array({{{"key", "users"}, {"label", "ssn"}, {"denied", 3}}});
  REQUIRE(f.ks.service->Record("spiffe://corp.example/region/cn/eng/alice", event).ok());
  Json entry = f.LastEntry();
  CHECK(entry["op"] == "decrypt");
  CHECK(entry["outcome"] == "denied");
  CHECK(entry["principal"] == "spiffe://corp.example/region/cn/eng/alice");
  CHECK(entry["counts"][0]["denied"] == 3);
  auto verified = ki::VerifyKeystoreAuditLog(f.dir);
  INFO(verified.status().ToString());
  REQUIRE(verified.ok());
  CHECK(verified->entries == 2);
}

TEST_CASE("Record fails closed when the log cannot be written") {
  Fixture f;
  // Replace the log with a directory: every open for append fails.
  fs::remove(f.dir / "audit.log");
  fs::create_directory(f.dir / "audit.log");
  ki::AuditEvent event;
  event.op = "encrypt";
  CHECK(f.ks.service->Record("p", event).code() == ErrorCode::kKeystoreUnavailable);
  CHECK(f.ks.service->PrimaryFieldKeyAs("p", "lease", "users", Mode::kRandom, "email").code() ==
        ErrorCode::kKeystoreUnavailable);
}

TEST_CASE("ResolveNames maps envelope ids to names and reports unknown ids as absent") {
  Fixture f;
  REQUIRE(f.ks.embedded->CreateKey("users").ok());
  auto key = f.ks.embedded->PrimaryFieldKey("users", Mode::kRandom, "email");
  REQUIRE(key.ok());
  auto names = f.ks.service->ResolveNames(key->key_id, key->label_id);
  REQUIRE(names.ok());
  CHECK(names->key == std::optional<std::string>("users"));
  CHECK(names->label == std::optional<std::string>("email"));
  auto unknown = f.ks.service->ResolveNames(99, 98);
  REQUIRE(unknown.ok());
  CHECK_FALSE(unknown->key);
  CHECK_FALSE(unknown->label);
}

TEST_CASE("ReadAudit pages through committed entries exactly as stored") {
  Fixture f;
  for (const char* name : {"a", "b", "c", "d"}) REQUIRE(f.ks.embedded->CreateKey(name).ok());
  const auto lines = test::ReadLines(f.dir / "audit.log");
  REQUIRE(lines.size() == 5);
  auto page = f.ks.service->ReadAudit(1, 2);
  REQUIRE(page.ok());
  REQUIRE(page->entries.size() == 2);
  CHECK(page->entries[0] == lines[1]);
  CHECK(page->entries[1] == lines[2]);
  CHECK(page->head.seq == 5);
  auto rest = f.ks.service->ReadAudit(3, 1000);
  REQUIRE(rest.ok());
  REQUIRE(rest->entries.size() == 2);
  CHECK(rest->entries[1] == lines[4]);
  CHECK(f.ks.service->ReadAudit(5, 10)->entries.empty());
  CHECK(f.ks.service->ReadAudit(0, 0)->entries.empty());
}

TEST_CASE("audit verification of another copy of the log uses the keystore's head and key") {
  Fixture f;
  REQUIRE(f.ks.embedded->CreateKey("users").ok());
  const fs::path copy = f.tmp.path() / "copy.log";
  fs::copy_file(f.dir / "audit.log", copy);
  CHECK(ki::VerifyKeystoreAuditLog(f.dir, copy).ok());
  auto lines = test::ReadLines(copy);
  lines.pop_back();
  test::WriteLines(copy, lines);
  auto truncated = ki::VerifyKeystoreAuditLog(f.dir, copy);
  REQUIRE_FALSE(truncated.ok());
  CHECK_THAT(truncated.status().message(), Catch::Contains("truncated"));
}

}  // namespace
}  // namespace sovereign
