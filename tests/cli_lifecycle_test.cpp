// keys retire | disable | enable | destroy | status through the real CLI, on
// an embedded directory and against a keystore service (permission `admin`).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

constexpr int kExitUsage = 2;
constexpr int kExitDenied = 3;
constexpr int kExitKeyVersionUnusable = 5;

// Cli runs commands against one keystore location (a directory, or a URL with
// an identity), keys "users".
struct Cli {
  std::vector<std::string> where;
  ProcessResult Run(std::vector<std::string> command, const std::string& input = {}) const {
    return RunCli(Concat(std::move(command), where), input);
  }
  std::string Encrypt(const std::string& value) const {
    auto r = Run({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"}, value);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
  }
  ProcessResult Decrypt(const std::string& ct) const { return Run({"field", "decrypt", "--path", "/email"}, ct); }
  json Status() const {
    auto r = Run({"keys", "status", "--key", "users", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }
};

std::string StateOf(const json& status, unsigned version) {
  for (const auto& v : status["versions"]) {
    if (v["version"] == version) return v["state"];
  }
  return "missing";
}

// The whole lifecycle, as the officer (`admin`) and the application see it.
void ExerciseLifecycle(const Cli& officer, const Cli& app) {
  const std::string v1 = app.Encrypt("ann@example.com");
  REQUIRE(officer.Run({"keys", "rotate", "--key", "users"}).exit_code == 0);
  const std::string v2 = app.Encrypt("bob@example.com");
  REQUIRE(officer.Run({"keys", "rotate", "--key", "users"}).exit_code == 0);

  auto disabled = officer.Run({"keys", "disable", "--key", "users", "--version", "2"});
  INFO(disabled.err);
  REQUIRE(disabled.exit_code == 0);
  auto denied_pt = app.Decrypt(v2);
  CHECK(denied_pt.exit_code == kExitKeyVersionUnusable);
  CHECK(denied_pt.out.empty());
  CHECK(denied_pt.err == "sovereign: cannot decrypt: key 'users' version 2 is disabled\n");
  REQUIRE(officer.Run({"keys", "enable", "--key", "users", "--version", "2"}).exit_code == 0);
  CHECK(app.Decrypt(v2).out == "bob@example.com");

  REQUIRE(officer.Run({"keys", "retire", "--key", "users", "--below", "2"}).exit_code == 0);
  auto retired = app.Decrypt(v1);
  CHECK(retired.exit_code == kExitKeyVersionUnusable);
  CHECK(retired.err == "sovereign: cannot decrypt: key 'users' version 1 is retired\n");

  // Destroying needs --confirm, and never touches the primary.
  CHECK(officer.Run({"keys", "destroy", "--key", "users", "--version", "2"}).exit_code == kExitUsage);
  CHECK(officer.Run({"keys", "destroy", "--key", "users", "--version", "3", "--confirm"}).exit_code == 1);
  REQUIRE(officer.Run({"keys", "destroy", "--key", "users", "--version", "2", "--confirm"}).exit_code == 0);
  auto destroyed = app.Decrypt(v2);
  CHECK(destroyed.exit_code == kExitKeyVersionUnusable);
  CHECK(destroyed.err == "sovereign: cannot decrypt: key 'users' version 2 is destroyed\n");

  const json status = officer.Status();
  CHECK(status["primary_version"] == 3);
  CHECK(status["min_decrypt_version"] == 2);
  CHECK(StateOf(status, 1) == "retired");
  CHECK(StateOf(status, 2) == "destroyed");
  CHECK(StateOf(status, 3) == "enabled");
  CHECK(status["versions"][0]["issues"].get<std::uint64_t>() >= 1);
  CHECK(status["versions"][0]["last_used_at"].is_string());
  CHECK(status["versions"][2]["last_used_at"].is_null());
  CHECK(status["warnings"].empty());
  auto table = officer.Run({"keys", "status", "--key", "users"});
  REQUIRE(table.exit_code == 0);
  CHECK(table.out.find("destroyed") != std::string::npos);
}

TEST_CASE("cli lifecycle: disable, enable, retire, destroy and status on a keystore directory") {
  TempDir tmp;
  const std::string dir = (tmp.path() / "us").string();
  REQUIRE(RunCli({"keystore", "init", "--dir", dir, "--region", "us"}).exit_code == 0);
  REQUIRE(RunCli({"keys", "create", "--keystore", dir, "--key", "users"}).exit_code == 0);
  const Cli local{{"--keystore", dir}};
  ExerciseLifecycle(local, local);
  auto verified = RunCli({"audit", "verify", "--keystore", dir});
  INFO(verified.err);
  CHECK(verified.exit_code == 0);
}

TEST_CASE("cli lifecycle: the same commands against a keystore service, admin only, every change audited") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const Cli officer{f.Remote("us", f.pki().us_officer())};
  const Cli app{f.Remote("us", f.pki().us_app())};
  // The application may lease and decrypt but not administer.
  auto refused = app.Run({"keys", "disable", "--key", "users", "--version", "1"});
  CHECK(refused.exit_code == kExitDenied);
  ExerciseLifecycle(officer, app);

  std::vector<std::string> ops;
  for (const auto& entry : AuditLines(f.region("us"))) {
    const std::string op = entry["op"];
    if (op == "key.disable" || op == "key.enable" || op == "key.retire" || op == "key.destroy") {
      ops.push_back(op + ":" + entry["outcome"].get<std::string>());
    }
  }
  const std::vector<std::string> expected = {"key.disable:denied", "key.disable:ok", "key.enable:ok",
                                             "key.retire:ok",      "key.destroy:error", "key.destroy:ok"};
  CHECK(ops == expected);
}

}  // namespace
}  // namespace sovereign::test
