// Rollback detection through a real `sovereign serve`: someone with the
// keystore host's disk puts back copies of catalog.db and audit.log taken
// before a subject was shredded. With a witness configured the service
// refuses to start and says so; without one the restore goes unnoticed and
// the shredded subject decrypts again (the documented limit). Forged and
// foreign witnesses are refused; normal restarts and the in-region app work.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kSubject = "subject-Alice-Q9";
const std::string kValue = "ann@example.com";

// Access is the default policy with the app's label named, so the app may
// bring it into use by encrypting.
json Access() {
  json access = DefaultAccess("us");
  access[0]["labels"] = {"email"};
  return access;
}

fs::path WitnessPath(ServiceFixture& f, const std::string& region) { return f.root() / "witness" / (region + ".heads"); }

// UseWitness points the region's configuration at `witness`.
void UseWitness(Region& region, const fs::path& witness) {
  fs::create_directories(witness.parent_path());
  region.config["witness"] = {{"path", witness.string()}};
  WriteConfig(region);
}

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Copy and Restore take and put back the catalog (with its WAL, if any) and
// the audit log while the server is stopped: an older, self-consistent pair.
void Copy(const Region& region, const fs::path& to) {
  fs::create_directories(to);
  for (const char* name : {"catalog.db", "catalog.db-wal", "audit.log"}) {
    if (fs::exists(region.store_dir / name)) {
      fs::copy_file(region.store_dir / name, to / name, fs::copy_options::overwrite_existing);
    }
  }
}
void Restore(const Region& region, const fs::path& from) {
  for (const char* name : {"catalog.db-wal", "catalog.db-shm"}) fs::remove(region.store_dir / name);
  for (const char* name : {"catalog.db", "catalog.db-wal", "audit.log"}) {
    if (fs::exists(from / name)) {
      fs::copy_file(from / name, region.store_dir / name, fs::copy_options::overwrite_existing);
    }
  }
}

// StartError starts the region's server and returns why it did not start
// ("" if it did).
std::string StartError(ServiceFixture& f, const std::string& region) {
  try {
    f.Start(region);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

std::string EncryptForSubject(HttpsClient& app) {
  json item = EncryptItem("users", "email", "random", "/email", "u-1", kValue);
  item["subject"] = kSubject;
  auto r = app.PostJson("/v1/encrypt", Items({item}));
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 200);
  return r.json()["items"][0]["ciphertext"].get<std::string>();
}

// Decrypt returns the plaintext, or the item's error code.
std::string Decrypt(HttpsClient& app, const std::string& ciphertext) {
  auto r = app.PostJson("/v1/decrypt", Items({DecryptItem(ciphertext, "/email", "u-1")}));
  INFO(r.status << " " << r.body);
  REQUIRE(r.status == 200);
  const json item = r.json()["items"][0];
  if (item.contains("error")) return item["error"]["code"].get<std::string>();
  return Base64UrlDecode(item["plaintext"].get<std::string>());
}

void Shred(ServiceFixture& f) {
  auto r = f.Client("us", f.pki().us_officer())
               ->PostJson("/v1/keys/users/subjects/shred", {{"subject", kSubject}, {"reason", "erasure request 42"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
}

// RestoreBeforeShred encrypts for a subject, copies the stopped store, shreds
// the subject through the service, stops it and puts the copy back.
void RestoreBeforeShred(ServiceFixture& f, std::string& ciphertext) {
  auto& us = f.region("us");
  f.Start("us");
  ciphertext = EncryptForSubject(*f.Client("us", f.pki().us_app()));
  REQUIRE(f.server("us").Stop() == 0);
  const fs::path backup = f.root() / "backup";
  Copy(us, backup);
  f.Start("us");
  Shred(f);
  CHECK(Decrypt(*f.Client("us", f.pki().us_app()), ciphertext) == "shredded");
  REQUIRE(f.server("us").Stop() == 0);
  Restore(us, backup);
}

TEST_CASE("service: a store put back to before a shred does not start when a witness is configured") {
  ServiceFixture f;
  auto& us = f.Prepare("us", Access());
  UseWitness(us, WitnessPath(f, "us"));
  std::string ciphertext;
  RestoreBeforeShred(f, ciphertext);

  const std::string error = StartError(f, "us");
  INFO(error);
  CHECK(error.find("exited, exit code 1") != std::string::npos);
  CHECK(error.find("refusing to start: rollback detected") != std::string::npos);
  CHECK(error.find(WitnessPath(f, "us").string()) != std::string::npos);
  CHECK(error.find("listening on") == std::string::npos);

  // The same finding offline.
  auto verified = RunCli({"audit", "verify", "--keystore", us.store_dir.string(), "--witness",
                          WitnessPath(f, "us").string()});
  CHECK(verified.exit_code == 1);
  CHECK(verified.err.find("rollback detected") != std::string::npos);
}

TEST_CASE("service: without a witness the same restore goes unnoticed and the shredded subject decrypts again") {
  // This is the documented limit (docs/operations.md#rollback-witness): the
  // pair is self-consistent, so one host cannot see it.
  ServiceFixture f;
  f.Prepare("us", Access());
  std::string ciphertext;
  RestoreBeforeShred(f, ciphertext);
  REQUIRE(StartError(f, "us").empty());
  CHECK(f.server("us").WaitForOutput("no rollback witness configured", {}, std::chrono::seconds(5)));
  CHECK(Decrypt(*f.Client("us", f.pki().us_app()), ciphertext) == kValue);
  auto verified = RunCli({"audit", "verify", "--keystore", f.region("us").store_dir.string()});
  CHECK(verified.exit_code == 0);
}

TEST_CASE("service: with a witness, restarts work and the in-region app keeps working, every change witnessed") {
  ServiceFixture f;
  auto& us = f.Prepare("us", Access());
  const fs::path witness = WitnessPath(f, "us");
  UseWitness(us, witness);
  auto& first = f.Start("us");
  CHECK(first.WaitForOutput("created it (first use)", {}, std::chrono::seconds(5)));
  std::string ciphertext;
  {
    auto app = f.Client("us", f.pki().us_app());
    ciphertext = RemoteEncrypt(*app, "email", kValue, "/email", "u-1");
    CHECK(Decrypt(*app, ciphertext) == kValue);
    auto lease = app->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
    CHECK(lease.status == 200);
  }
  auto rotate = f.Client("us", f.pki().us_officer())->Post("/v1/keys/users/rotate", "");
  CHECK(rotate.status == 200);
  // What was acknowledged is witnessed: the witness's last head is the log's last entry.
  CHECK(json::parse(Lines(witness).back())["seq"] == AuditLines(us).back()["seq"]);
  // A policy reload is recorded, and witnessed, too.
  const auto mark = first.Mark();
  first.Hup();
  REQUIRE(first.WaitForOutput("access policy reloaded", mark, std::chrono::seconds(10)));
  CHECK(AuditLines(us).back()["op"] == "policy.reload");
  CHECK(json::parse(Lines(witness).back())["seq"] == AuditLines(us).back()["seq"]);
  REQUIRE(f.server("us").Stop() == 0);

  for (int restart = 0; restart < 2; ++restart) {
    auto& server = f.Start("us");
    CHECK(server.WaitForOutput("is at seq", {}, std::chrono::seconds(5)));
    CHECK(server.WaitForOutput(": no rollback", {}, std::chrono::seconds(5)));
    auto app = f.Client("us", f.pki().us_app());
    CHECK(Decrypt(*app, ciphertext) == kValue);
    CHECK(Decrypt(*app, RemoteEncrypt(*app, "email", kValue, "/email", "u-1")) == kValue);
    REQUIRE(server.Stop() == 0);
  }
  CHECK(json::parse(Lines(witness).back())["seq"] == AuditLines(us).back()["seq"]);
  auto verified = RunCli({"audit", "verify", "--keystore", us.store_dir.string(), "--witness", witness.string()});
  INFO(verified.err);
  CHECK(verified.exit_code == 0);
}

TEST_CASE("service: a forged witness line refuses the start") {
  ServiceFixture f;
  auto& us = f.Prepare("us", Access());
  const fs::path witness = WitnessPath(f, "us");
  UseWitness(us, witness);
  f.Start("us");
  REQUIRE(f.server("us").Stop() == 0);
  // Without the key, a line claiming any head cannot be made to verify.
  json forged = json::parse(Lines(witness).back());
  forged["seq"] = 1;
  std::ofstream(witness, std::ios::app) << forged.dump() << "\n";
  const std::string error = StartError(f, "us");
  INFO(error);
  CHECK(error.find("refusing to start: witness") != std::string::npos);
  CHECK(error.find("line 2 MAC does not verify") != std::string::npos);
}

TEST_CASE("service: another region's witness refuses the start") {
  ServiceFixture f;
  auto& us = f.Prepare("us", Access());
  auto& eu = f.Prepare("eu");
  UseWitness(eu, WitnessPath(f, "eu"));
  f.Start("eu");
  REQUIRE(f.server("eu").Stop() == 0);
  UseWitness(us, WitnessPath(f, "eu"));
  const std::string error = StartError(f, "us");
  INFO(error);
  CHECK(error.find("is a head of region 'eu', not of this keystore's region 'us'") != std::string::npos);
}

TEST_CASE("service: a change that cannot be witnessed is answered 503 and nothing is served") {
  ServiceFixture f;
  auto& us = f.Prepare("us", Access());
  const fs::path witness = WitnessPath(f, "us");
  UseWitness(us, witness);
  f.Start("us");
  fs::remove(witness);
  auto rotate = f.Client("us", f.pki().us_officer())->Post("/v1/keys/users/rotate", "");
  CHECK(rotate.status == 503);
  CHECK(rotate.ErrorCode() == "keystore_unavailable");
  // The operator learns why from the log; the caller never sees the path.
  CHECK(rotate.body.find(witness.string()) == std::string::npos);
  CHECK(f.server("us").WaitForOutput("not acknowledged", {}, std::chrono::seconds(5)));
  auto lease = f.Client("us", f.pki().us_app())
                   ->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
  CHECK(lease.body.find("field_key") == std::string::npos);
  CHECK(lease.status == 503);
}

}  // namespace
}  // namespace sovereign::test
