// Key version lifecycle of the embedded keystore: retire, disable, enable,
// destroy, their refusals, their audit records, and the distinct outcome a
// decrypt gets for each unusable state.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "keystore/internal/keystore_dir.hpp"
#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  std::shared_ptr<EmbeddedKeystore> ks;
  Fixture() {
    auto init = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(init.ok());
    ks = *init;
    REQUIRE(ks->CreateKey("users").ok());
  }
  // A fresh client each time: no cached key hides the keystore's answer.
  std::unique_ptr<Client> NewClient() {
    auto client = Client::New(ks);
    REQUIRE(client.ok());
    return std::move(client).value();
  }
  std::string Encrypt(const std::string& value) {
    auto ct = NewClient()->Encrypt({"us", "users", "email", Mode::kRandom}, value, {"/email", std::nullopt});
    REQUIRE(ct.ok());
    return *ct;
  }
  Result<std::string> Decrypt(const std::string& ct) { return NewClient()->Decrypt(ct, {"/email", std::nullopt}); }
};

KeyVersionState StateOf(const KeyInfo& key, std::uint32_t version) {
  for (const auto& v : key.versions) {
    if (v.version == version) return v.state;
  }
  FAIL("no version " << version);
  return KeyVersionState::kEnabled;
}

std::vector<nlohmann::json> Audit(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& line : test::ReadLines(dir / "audit.log")) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST_CASE("lifecycle: a decrypt of a disabled, retired or destroyed version names the state, never invalid ciphertext") {
  Fixture f;
  const std::string v1 = f.Encrypt("ann@example.com");
  REQUIRE(f.ks->RotateKey("users").ok());
  const std::string v2 = f.Encrypt("bob@example.com");
  REQUIRE(f.ks->RotateKey("users").ok());
  const std::string v3 = f.Encrypt("cat@example.com");
  REQUIRE(f.ks->RotateKey("users").ok());

  REQUIRE(f.ks->SetVersionEnabled("users", 2, false).ok());
  auto disabled = f.Decrypt(v2);
  CHECK(disabled.code() == ErrorCode::kKeyVersionUnusable);
  CHECK(disabled.status().message() == "key 'users' version 2 is disabled");

  REQUIRE(f.ks->RetireVersionsBelow("users", 2).ok());
  auto retired = f.Decrypt(v1);
  CHECK(retired.code() == ErrorCode::kKeyVersionUnusable);
  CHECK(retired.status().message() == "key 'users' version 1 is retired");

  REQUIRE(f.ks->DestroyVersion("users", 3).ok());
  auto destroyed = f.Decrypt(v3);
  CHECK(destroyed.code() == ErrorCode::kKeyVersionUnusable);
  CHECK(destroyed.status().message() == "key 'users' version 3 is destroyed");

  REQUIRE(f.ks->SetVersionEnabled("users", 2, true).ok());
  auto enabled = f.Decrypt(v2);
  REQUIRE(enabled.ok());
  CHECK(*enabled == "bob@example.com");
}

TEST_CASE("lifecycle: the primary can be neither disabled, destroyed nor retired") {
  Fixture f;
  REQUIRE(f.ks->RotateKey("users").ok());
  CHECK(f.ks->SetVersionEnabled("users", 2, false).code() == ErrorCode::kFailedPrecondition);
  CHECK(f.ks->DestroyVersion("users", 2).code() == ErrorCode::kFailedPrecondition);
  CHECK(f.ks->RetireVersionsBelow("users", 3).code() == ErrorCode::kFailedPrecondition);
  auto key = f.ks->GetKey("users");
  REQUIRE(key.ok());
  CHECK(StateOf(*key, 2) == KeyVersionState::kEnabled);
  CHECK(key->min_decrypt_version == 1);
  // Encryption goes on under the primary.
  CHECK(f.Decrypt(f.Encrypt("x")).ok());
}

TEST_CASE("lifecycle: retiring is not undone and retired or destroyed versions cannot be enabled") {
  Fixture f;
  REQUIRE(f.ks->RotateKey("users").ok());
  REQUIRE(f.ks->RotateKey("users").ok());
  auto retired = f.ks->RetireVersionsBelow("users", 3);
  REQUIRE(retired.ok());
  CHECK(retired->min_decrypt_version == 3);
  CHECK(StateOf(*retired, 1) == KeyVersionState::kRetired);
  CHECK(StateOf(*retired, 2) == KeyVersionState::kRetired);
  CHECK(f.ks->RetireVersionsBelow("users", 3).ok());  // already in effect
  CHECK(f.ks->RetireVersionsBelow("users", 2).code() == ErrorCode::kFailedPrecondition);
  CHECK(f.ks->SetVersionEnabled("users", 1, true).code() == ErrorCode::kFailedPrecondition);
  REQUIRE(f.ks->DestroyVersion("users", 1).ok());
  CHECK(f.ks->SetVersionEnabled("users", 1, true).code() == ErrorCode::kFailedPrecondition);
  CHECK(f.ks->DestroyVersion("users", 1).ok());  // already destroyed
  auto key = f.ks->GetKey("users");
  REQUIRE(key.ok());
  CHECK(StateOf(*key, 1) == KeyVersionState::kDestroyed);
  CHECK(f.ks->DestroyVersion("users", 9).code() == ErrorCode::kKeyNotFound);
  CHECK(f.ks->SetVersionEnabled("nobody", 1, false).code() == ErrorCode::kKeyNotFound);
}

TEST_CASE("lifecycle: destroy wipes the wrapped secret from the catalog, its WAL and free pages") {
  Fixture f;
  REQUIRE(f.ks->RotateKey("users").ok());
  std::vector<std::uint8_t> wrapped;
  {
    auto files = ki::OpenKeystoreFiles(f.dir);
    REQUIRE(files.ok());
    auto row = files->catalog.FindVersion(1, 1);
    REQUIRE(row.ok());
    REQUIRE(*row);
    wrapped = *(*row)->wrapped;
  }
  REQUIRE(wrapped.size() > 16);
  REQUIRE(f.ks->DestroyVersion("users", 1).ok());
  for (const char* file : {"catalog.db", "catalog.db-wal"}) {
    if (!fs::exists(f.dir / file)) continue;
    INFO(file);
    CHECK_FALSE(test::Contains(test::ReadFile(f.dir / file), wrapped));
  }
  CHECK(fs::file_size(f.dir / "catalog.db-wal") == 0);
}

TEST_CASE("lifecycle: every change is audited, refusals too, and the log still verifies") {
  Fixture f;
  REQUIRE(f.ks->RotateKey("users").ok());
  REQUIRE(f.ks->SetVersionEnabled("users", 1, false).ok());
  REQUIRE(f.ks->SetVersionEnabled("users", 1, true).ok());
  CHECK_FALSE(f.ks->DestroyVersion("users", 2).ok());
  REQUIRE(f.ks->RetireVersionsBelow("users", 2).ok());
  REQUIRE(f.ks->DestroyVersion("users", 1).ok());
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& entry : Audit(f.dir)) {
    const std::string op = entry["op"];
    if (op.rfind("key.", 0) == 0 && op != "key.create" && op != "key.rotate") seen.emplace_back(op, entry["outcome"]);
  }
  const std::vector<std::pair<std::string, std::string>> expected = {{"key.disable", "ok"},
                                                                     {"key.enable", "ok"},
                                                                     {"key.destroy", "error"},
                                                                     {"key.retire", "ok"},
                                                                     {"key.destroy", "ok"}};
  CHECK(seen == expected);
  auto verified = ki::VerifyKeystoreAuditLog(f.dir);
  INFO(verified.status().ToString());
  CHECK(verified.ok());
}

TEST_CASE("lifecycle: the keystore counts issues, random issues of the primary and the last use per version") {
  Fixture f;
  const std::string ct = f.Encrypt("ann@example.com");  // one random issue of the primary
  REQUIRE(f.Decrypt(ct).ok());                          // one issue by header
  auto key = f.ks->GetKey("users");
  REQUIRE(key.ok());
  const KeyVersionInfo& v1 = key->versions.at(0);
  CHECK(v1.issues == 2);
  CHECK(v1.random_issues == 1);
  REQUIRE(v1.last_used_at);
  CHECK(RandomEncryptionsBound(v1) == kRandomEncryptionsPerIssue);
  REQUIRE(f.ks->RotateKey("users").ok());
  auto rotated = f.ks->GetKey("users");
  REQUIRE(rotated.ok());
  CHECK(rotated->versions.at(1).issues == 0);
  CHECK_FALSE(rotated->versions.at(1).last_used_at);
}

TEST_CASE("lifecycle: a Client has a random-mode key issued again after its budget, keeping the bound an upper bound") {
  Fixture f;
  auto client = f.NewClient();
  const std::uint64_t n = kRandomEncryptionsPerIssue + 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto ct = client->Encrypt({"us", "users", "email", Mode::kRandom}, "x", {"/email", std::nullopt});
    if (!ct.ok()) FAIL("encryption " << i << ": " << ct.status().ToString());
  }
  auto key = f.ks->GetKey("users");
  REQUIRE(key.ok());
  CHECK(key->versions.at(0).random_issues == 2);
  CHECK(RandomEncryptionsBound(key->versions.at(0)) >= n);
  // Deterministic mode has no nonce budget: one issue serves every value.
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(client->Encrypt({"us", "users", "name", Mode::kDeterministic}, "y", {"/name", std::nullopt}).ok());
  }
  auto after = f.ks->GetKey("users");
  REQUIRE(after.ok());
  CHECK(after->versions.at(0).random_issues == 2);
  CHECK(after->versions.at(0).issues == 3);
}

TEST_CASE("lifecycle: a version 1 or 2 catalog is migrated in place and keeps its keys") {
  Fixture f;
  const std::string ct = f.Encrypt("ann@example.com");
  f.ks.reset();
  // Version 1 had neither the usage columns (2) nor the subject tables (3).
  const bool from_v1 = GENERATE(true, false);
  INFO("migrating from schema version " << (from_v1 ? 1 : 2));
  test::Sql(f.dir, "DROP TABLE subject_keys; DROP TABLE subject_shreds; DROP TABLE subject_secrets;");
  if (from_v1) {
    test::Sql(f.dir,
              "ALTER TABLE key_versions DROP COLUMN issues; ALTER TABLE key_versions DROP COLUMN random_issues;"
              "ALTER TABLE key_versions DROP COLUMN last_used_at; UPDATE meta SET schema_version = 1;");
  } else {
    test::Sql(f.dir, "UPDATE meta SET schema_version = 2;");
  }
  auto reopened = EmbeddedKeystore::Open(f.dir);
  INFO(reopened.status().ToString());
  REQUIRE(reopened.ok());
  f.ks = *reopened;
  auto pt = f.Decrypt(ct);
  REQUIRE(pt.ok());
  CHECK(*pt == "ann@example.com");
  auto key = f.ks->GetKey("users");
  REQUIRE(key.ok());
  CHECK(key->versions.at(0).issues == (from_v1 ? 1 : 2));  // v1: counting starts at the migration
  // The migrated catalog holds subject keys.
  auto client = Client::New(f.ks);
  REQUIRE(client.ok());
  FieldSpec spec{"us", "users", "email"};
  spec.subject = "user-1";
  auto sealed = (*client)->Encrypt(spec, "ann@example.com", {"/email", std::nullopt});
  INFO(sealed.status().ToString());
  REQUIRE(sealed.ok());
  CHECK((*client)->Decrypt(*sealed, {"/email", std::nullopt}).value() == "ann@example.com");
}

}  // namespace
}  // namespace sovereign
