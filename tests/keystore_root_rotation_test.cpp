// keystore rotate-root: every wrapped secret moves to a new root key in one
// transaction, the audit chain continues, and an interrupted rotation is
// finished or undone on the next open.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/root_rotation.hpp"
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

struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "us";
  std::vector<std::pair<std::string, std::string>> sealed;  // ciphertext, plaintext

  Fixture() {
    auto ks = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(ks.ok());
    REQUIRE((*ks)->CreateKey("users").ok());
    for (int v = 1; v <= 3; ++v) {
      auto client = Client::New(*ks);
      REQUIRE(client.ok());
      const std::string value = "value under version " + std::to_string(v);
      auto ct = (*client)->Encrypt({"us", "users", "email", Mode::kRandom}, value, {"/email", std::nullopt});
      REQUIRE(ct.ok());
      sealed.emplace_back(*ct, value);
      REQUIRE((*ks)->RotateKey("users").ok());
    }
  }

  void CheckDecryptsAll() const {
    auto ks = EmbeddedKeystore::Open(dir);
    INFO(ks.status().ToString());
    REQUIRE(ks.ok());
    auto client = Client::New(*ks);
    REQUIRE(client.ok());
    for (const auto& [ct, value] : sealed) {
      auto pt = (*client)->Decrypt(ct, {"/email", std::nullopt});
      INFO(pt.status().ToString());
      REQUIRE(pt.ok());
      CHECK(*pt == value);
    }
  }
};

void CheckAuditVerifies(const fs::path& dir) {
  auto verified = ki::VerifyKeystoreAuditLog(dir);
  INFO(verified.status().ToString());
  CHECK(verified.ok());
}

TEST_CASE("rotate-root: every version decrypts under the new key, the old key opens nothing, the audit log verifies") {
  Fixture f;
  const std::string old_key = test::ReadFile(f.dir / "root.key");
  auto rotated = ki::RotateRootKey(f.dir, "unix:operator");
  INFO(rotated.status().ToString());
  REQUIRE(rotated.ok());
  CHECK(*rotated == 4);  // versions 1..4 of "users"
  CHECK(test::ReadFile(f.dir / "root.key") != old_key);
  CHECK_FALSE(fs::exists(f.dir / "root.key.new"));
  CHECK(test::FileMode(f.dir / "root.key") == 0600);
  f.CheckDecryptsAll();
  CheckAuditVerifies(f.dir);
  const auto lines = test::ReadLines(f.dir / "audit.log");
  bool recorded = false;
  for (const auto& line : lines) recorded = recorded || nlohmann::json::parse(line)["op"] == "keystore.rotate_root";
  CHECK(recorded);

  // A second rotation, then the old key file put back: it belongs to nothing.
  REQUIRE(ki::RotateRootKey(f.dir, "unix:operator").ok());
  f.CheckDecryptsAll();
  CheckAuditVerifies(f.dir);
  test::WriteFile(f.dir / "root.key", old_key);
  auto reopened = EmbeddedKeystore::Open(f.dir);
  CHECK(reopened.code() == ErrorCode::kFailedPrecondition);
}

TEST_CASE("rotate-root: a new key left beside an uncommitted rotation is dropped on open") {
  Fixture f;
  const std::string old_key = test::ReadFile(f.dir / "root.key");
  REQUIRE(ki::CreateRootKeyFile(f.dir, ki::kNewRootKeyFileName).ok());  // the crash came before the commit
  f.CheckDecryptsAll();
  CHECK_FALSE(fs::exists(f.dir / "root.key.new"));
  CHECK(test::ReadFile(f.dir / "root.key") == old_key);
  CheckAuditVerifies(f.dir);
}

TEST_CASE("rotate-root: a committed rotation whose rename was lost is finished on open") {
  Fixture f;
  const std::string old_key = test::ReadFile(f.dir / "root.key");
  REQUIRE(ki::RotateRootKey(f.dir, "unix:operator").ok());
  const std::string new_key = test::ReadFile(f.dir / "root.key");
  // The state a crash after the commit and before the rename leaves.
  fs::rename(f.dir / "root.key", f.dir / "root.key.new");
  test::WriteFile(f.dir / "root.key", old_key);
  fs::permissions(f.dir / "root.key", fs::perms::owner_read | fs::perms::owner_write);
  f.CheckDecryptsAll();
  CHECK_FALSE(fs::exists(f.dir / "root.key.new"));
  CHECK(test::ReadFile(f.dir / "root.key") == new_key);
  CheckAuditVerifies(f.dir);
}

TEST_CASE("rotate-root: a keystore opened before the rotation refuses to add versions until reopened") {
  Fixture f;
  auto before = EmbeddedKeystore::Open(f.dir);
  REQUIRE(before.ok());
  REQUIRE(ki::RotateRootKey(f.dir, "unix:operator").ok());
  CHECK((*before)->RotateKey("users").code() == ErrorCode::kFailedPrecondition);
  CHECK((*before)->CreateKey("payments").code() == ErrorCode::kFailedPrecondition);
  auto after = EmbeddedKeystore::Open(f.dir);
  REQUIRE(after.ok());
  CHECK((*after)->RotateKey("users").ok());
  f.CheckDecryptsAll();
}

TEST_CASE("rotate-root: the CLI rotates, and audit verify passes over the whole log") {
  Fixture f;
  auto r = test::RunCli({"keystore", "rotate-root", "--dir", f.dir.string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto verify = test::RunCli({"audit", "verify", "--keystore", f.dir.string()});
  INFO(verify.err);
  CHECK(verify.exit_code == 0);
  f.CheckDecryptsAll();
}

}  // namespace
}  // namespace sovereign
