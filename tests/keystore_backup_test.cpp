// keystore backup / restore: a consistent, still-wrapped snapshot that a new
// directory restores from, with the root key kept apart.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/backup.hpp"
#include "keystore/internal/backup_format.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/root_key.hpp"
#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

struct Sealed {
  std::string ciphertext;
  std::string plaintext;
  std::string path;
};

struct Original {
  TempDir tmp;
  fs::path dir = tmp.path() / "us";
  fs::path backup = tmp.path() / "backup" / "us.sovbackup";
  fs::path root_key_copy = tmp.path() / "offline-root.key";
  std::vector<Sealed> sealed;

  Original() {
    auto ks = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("users").ok());
    REQUIRE((*ks)->CreateKey("payments").ok());
    for (int round = 0; round < 3; ++round) {
      auto client = Client::New(*ks);
      REQUIRE(client.ok());
      for (const char* key : {"users", "payments"}) {
        for (Mode mode : {Mode::kRandom, Mode::kDeterministic}) {
          const std::string value = fmt::format("{}-{}-{}", key, round, static_cast<int>(mode));
          auto ct = (*client)->Encrypt({"us", key, "email", mode}, value, {"/email", std::nullopt});
          REQUIRE(ct.ok());
          sealed.push_back({*ct, value, "/email"});
        }
      }
      REQUIRE((*ks)->RotateKey("users").ok());
    }
    fs::create_directories(backup.parent_path());
    // The root key is kept apart, as the operator would.
    fs::copy_file(dir / "root.key", root_key_copy);
    fs::permissions(root_key_copy, fs::perms::owner_read | fs::perms::owner_write);
  }
};

void CheckDecryptsAll(const fs::path& dir, const std::vector<Sealed>& sealed) {
  auto ks = EmbeddedKeystore::Open(dir);
  INFO(ks.status().ToString());
  REQUIRE(ks.ok());
  auto client = Client::New(*ks);
  REQUIRE(client.ok());
  for (const auto& s : sealed) {
    auto pt = (*client)->Decrypt(s.ciphertext, {s.path, std::nullopt});
    INFO(pt.status().ToString());
    REQUIRE(pt.ok());
    CHECK(*pt == s.plaintext);
  }
}

TEST_CASE("backup: a backup restored into a new directory decrypts everything the original could") {
  Original o;
  auto taken = ki::BackupKeystore(o.dir, o.backup, "unix:operator");
  INFO(taken.status().ToString());
  REQUIRE(taken.ok());
  CHECK(taken->region == "us");
  CHECK(test::FileMode(o.backup) == 0600);

  const fs::path restored = o.tmp.path() / "restored" / "us";
  auto done = ki::RestoreKeystore(o.backup, restored, o.root_key_copy, "unix:operator");
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  CHECK(test::FileMode(restored) == 0700);
  CHECK(test::FileMode(restored / "root.key") == 0600);

  auto verified = ki::VerifyKeystoreAuditLog(restored);
  INFO(verified.status().ToString());
  REQUIRE(verified.ok());
  std::vector<std::string> ops;
  for (const auto& line : test::ReadLines(restored / "audit.log")) ops.push_back(nlohmann::json::parse(line)["op"]);
  REQUIRE(ops.size() >= 3);
  CHECK(ops[ops.size() - 2] == "keystore.backup");
  CHECK(ops.back() == "keystore.restore");
  CheckDecryptsAll(restored, o.sealed);
  // The original is untouched and still works.
  CheckDecryptsAll(o.dir, o.sealed);
}

TEST_CASE("backup: the file holds no root key and no unwrapped secret, and is never replaced") {
  Original o;
  REQUIRE(ki::BackupKeystore(o.dir, o.backup, "unix:operator").ok());
  const std::string root_file = test::ReadFile(o.dir / "root.key");
  REQUIRE(root_file.size() == 40);
  const std::string root_key = root_file.substr(8);
  CHECK_FALSE(test::Contains(test::ReadFile(o.backup), test::Bytes(root_key)));
  CHECK(ki::BackupKeystore(o.dir, o.backup, "unix:operator").code() == ErrorCode::kAlreadyExists);
}

TEST_CASE("backup: restore refuses a non-empty target, a damaged backup and another keystore's root key") {
  Original o;
  REQUIRE(ki::BackupKeystore(o.dir, o.backup, "unix:operator").ok());
  // Never over an existing keystore or other files.
  CHECK(ki::RestoreKeystore(o.backup, o.dir, o.root_key_copy, "unix:operator").code() == ErrorCode::kAlreadyExists);
  CHECK_FALSE(ki::RestoreKeystore(o.backup, o.tmp.path(), o.root_key_copy, "unix:operator").ok());

  const std::string good = test::ReadFile(o.backup);
  const fs::path target = o.tmp.path() / "target";
  const fs::path damaged = o.tmp.path() / "damaged";
  for (std::size_t offset : {std::size_t{3}, good.size() / 2, good.size() - 2}) {
    std::string bad = good;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x01);
    test::WriteFile(damaged, bad);
    auto r = ki::RestoreKeystore(damaged, target, o.root_key_copy, "unix:operator");
    INFO(offset << ": " << r.status().ToString());
    CHECK(r.code() == ErrorCode::kFailedPrecondition);
    CHECK_FALSE(fs::exists(target));
  }
  test::WriteFile(damaged, good.substr(0, good.size() - 10));
  CHECK(ki::RestoreKeystore(damaged, target, o.root_key_copy, "unix:operator").code() ==
        ErrorCode::kFailedPrecondition);

  TempDir other;
  REQUIRE(EmbeddedKeystore::Init(other.path() / "us", "us").ok());
  auto foreign = ki::RestoreKeystore(o.backup, target, other.path() / "us" / "root.key", "unix:operator");
  CHECK(foreign.code() == ErrorCode::kFailedPrecondition);
  CHECK_FALSE(fs::exists(target));
}

TEST_CASE("backup: the CLI backs up and restores, and the restored keystore passes audit verify") {
  Original o;
  auto backup = test::RunCli({"keystore", "backup", "--dir", o.dir.string(), "--out", o.backup.string()});
  INFO(backup.err);
  REQUIRE(backup.exit_code == 0);
  const std::string restored = (o.tmp.path() / "restored").string();
  auto missing_key = test::RunCli({"keystore", "restore", "--dir", restored, "--from", o.backup.string()});
  CHECK(missing_key.exit_code == 2);
  auto restore = test::RunCli({"keystore", "restore", "--dir", restored, "--from", o.backup.string(), "--root-key",
                               o.root_key_copy.string()});
  INFO(restore.err);
  REQUIRE(restore.exit_code == 0);
  auto verify = test::RunCli({"audit", "verify", "--keystore", restored});
  INFO(verify.err);
  CHECK(verify.exit_code == 0);
  CheckDecryptsAll(restored, o.sealed);
  auto again = test::RunCli({"keystore", "restore", "--dir", restored, "--from", o.backup.string(), "--root-key",
                             o.root_key_copy.string()});
  CHECK(again.exit_code != 0);
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

// EditedImage is a catalog image after `sql` ran on it: what an attacker who
// holds the backup file can make of it.
std::string EditedImage(const Original& o, const std::string& catalog_image, const char* sql) {
  const fs::path image = o.tmp.path() / "image.db";
  test::WriteFile(image, catalog_image);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(image.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, (std::string("PRAGMA journal_mode=DELETE;") + sql).c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
  return test::ReadFile(image);
}

TEST_CASE("backup: restore refuses a re-checksummed backup whose catalog carries a planted trigger") {
  Original o;
  REQUIRE(ki::BackupKeystore(o.dir, o.backup, "unix:operator").ok());
  auto decoded = ki::DecodeBackup(test::ReadFile(o.backup));
  REQUIRE(decoded.ok());
  // An attacker with the backup file edits the catalog image and recomputes the checksums.
  const std::string image = EditedImage(o, decoded->catalog_image,
                                        "CREATE TABLE loot (wrapped BLOB);"
                                        "CREATE TRIGGER keep AFTER UPDATE ON key_versions BEGIN "
                                        "INSERT INTO loot VALUES (OLD.wrapped); END;");
  const fs::path target = o.tmp.path() / "target";
  const fs::path forged_file = o.tmp.path() / "forged.sovbackup";
  // Without the root key the forgery cannot carry a valid MAC.
  {
    auto forged = ki::EncodeBackup(decoded->header, image, decoded->audit_log,
                                   SecretBytes::Random(32));
    REQUIRE(forged.ok());
    test::WriteFile(forged_file, *forged);
    auto r = ki::RestoreKeystore(forged_file, target, o.root_key_copy, "unix:operator");
    CHECK(r.code() == ErrorCode::kFailedPrecondition);
    CHECK_THAT(r.status().message(), Catch::Contains("MAC"));
    CHECK_FALSE(fs::exists(target));
  }
  // With it (an insider), the trigger is still refused.
  auto root_key = ki::LoadRootKeyFile(o.dir, ki::kRootKeyFileName);
  REQUIRE(root_key.ok());
  auto forged = ki::EncodeBackup(decoded->header, image, decoded->audit_log, *root_key);
  REQUIRE(forged.ok());
  test::WriteFile(forged_file, *forged);
  auto r = ki::RestoreKeystore(forged_file, target, o.root_key_copy, "unix:operator");
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(r.status().message(), Catch::Contains("trigger"));
  CHECK_FALSE(fs::exists(target));
}

TEST_CASE("backup: a backup whose catalog was edited and re-checksummed is refused by its MAC") {
  Original o;
  REQUIRE(ki::BackupKeystore(o.dir, o.backup, "unix:operator").ok());
  auto decoded = ki::DecodeBackup(test::ReadFile(o.backup));
  REQUIRE(decoded.ok());
  // Lower a key's minimum decrypt version: no secret touched, every checksum right.
  const std::string image = EditedImage(o, decoded->catalog_image, "UPDATE keys SET min_decrypt_version = 1;");
  std::string file = test::ReadFile(o.backup);
  auto reencoded = ki::EncodeBackup(decoded->header, image, decoded->audit_log,
                                    SecretBytes::Random(32));
  REQUIRE(reencoded.ok());
  // Keep the original MAC line: the checksums match, the MAC does not.
  std::string forged = reencoded->substr(0, reencoded->size() - 65) + file.substr(file.size() - 65);
  const fs::path forged_file = o.tmp.path() / "forged.sovbackup";
  test::WriteFile(forged_file, forged);
  const fs::path target = o.tmp.path() / "target";
  auto r = ki::RestoreKeystore(forged_file, target, o.root_key_copy, "unix:operator");
  INFO(r.status().ToString());
  CHECK(r.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(r.status().message(), Catch::Contains("MAC"));
  CHECK_FALSE(fs::exists(target));
  // A format 1 file (no MAC) is refused with a message that says so.
  std::string v1 = file;
  const auto at = v1.find("\"format\":2");
  REQUIRE(at != std::string::npos);
  v1.replace(at, 10, "\"format\":1");
  test::WriteFile(forged_file, v1);
  auto old = ki::RestoreKeystore(forged_file, target, o.root_key_copy, "unix:operator");
  CHECK(old.code() == ErrorCode::kFailedPrecondition);
  CHECK_THAT(old.status().message(), Catch::Contains("format 1"));
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

TEST_CASE("backup: restore reads the root key file as the keystore does: no symlink, private, well-formed") {
  Original o;
  REQUIRE(ki::BackupKeystore(o.dir, o.backup, "unix:operator").ok());
  const fs::path target = o.tmp.path() / "target";
  const fs::path link = o.tmp.path() / "linked-root.key";
  fs::create_symlink(o.root_key_copy, link);
  CHECK(ki::RestoreKeystore(o.backup, target, link, "unix:operator").code() == ErrorCode::kFailedPrecondition);
  const fs::path readable = o.tmp.path() / "readable-root.key";
  fs::copy_file(o.root_key_copy, readable);
  fs::permissions(readable, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  CHECK(ki::RestoreKeystore(o.backup, target, readable, "unix:operator").code() == ErrorCode::kFailedPrecondition);
  const fs::path mangled = o.tmp.path() / "mangled-root.key";
  test::WriteFile(mangled, test::ReadFile(o.root_key_copy) + "x");
  fs::permissions(mangled, fs::perms::owner_read | fs::perms::owner_write);
  CHECK(ki::RestoreKeystore(o.backup, target, mangled, "unix:operator").code() == ErrorCode::kFailedPrecondition);
  CHECK_FALSE(fs::exists(target));
  CHECK(ki::RestoreKeystore(o.backup, target, o.root_key_copy, "unix:operator").ok());
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

TEST_CASE("backup: a backup that fails after it was recorded leaves an error entry after it in the audit log") {
  Original o;
  // A target under a regular file cannot be created, whoever runs the test.
  test::WriteFile(o.tmp.path() / "plain-file", "x");
  auto r = ki::BackupKeystore(o.dir, o.tmp.path() / "plain-file" / "us.sovbackup", "unix:operator");
  REQUIRE_FALSE(r.ok());
  const auto lines = test::ReadLines(o.dir / "audit.log");
  REQUIRE(lines.size() >= 2);
  const auto last = nlohmann::json::parse(lines.back());
  const auto before = nlohmann::json::parse(lines[lines.size() - 2]);
  CHECK(before["op"] == "keystore.backup");
  CHECK(before["outcome"] == "ok");
  CHECK(last["op"] == "keystore.backup");
  CHECK(last["outcome"] == "error");
}

}  // namespace
}  // namespace sovereign
