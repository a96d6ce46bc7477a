// An explicit --keystore always wins over SOVEREIGN_KEYSTORE, for every
// command that reaches a keystore: each runs with the environment only, the
// flag only, and both naming different keystores (regions aa and bb), and its
// effect must land in the keystore that should win.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign::test {
namespace {

enum class Given { kEnvironment, kFlag, kBoth };

struct TwoKeystores {
  TempDir tmp;
  std::string a = (tmp.path() / "aa").string();
  std::string b = (tmp.path() / "bb").string();
  TwoKeystores() {
    for (const auto& [dir, region] : {std::pair{a, "aa"}, std::pair{b, "bb"}}) {
      REQUIRE(RunCli({"keystore", "init", "--dir", dir, "--region", region}).exit_code == 0);
      REQUIRE(RunCli({"keys", "create", "--keystore", dir, "--key", "users"}).exit_code == 0);
    }
  }
  // Run runs `args` with the keystore given as `given`; the one that must be
  // used is A for the environment alone, B otherwise (the flag names B, the
  // environment A).
  ProcessResult Run(std::vector<std::string> args, Given given, const std::string& input = {}) const {
    std::map<std::string, std::string> env{{"SOVEREIGN_KEYSTORE", ""}, {"SOVEREIGN_KEYSTORES", ""}};
    if (given != Given::kFlag) env["SOVEREIGN_KEYSTORE"] = a;
    if (given != Given::kEnvironment) {
      args.push_back("--keystore");
      args.push_back(b);
    }
    return RunCli(args, input, env);
  }
  const std::string& Winner(Given given) const { return given == Given::kEnvironment ? a : b; }
  const std::string& Loser(Given given) const { return given == Given::kEnvironment ? b : a; }
  std::size_t Versions(const std::string& dir, const std::string& key = "users") const {
    auto r = RunCli({"keys", "status", "--keystore", dir, "--key", key, "--json"});
    if (r.exit_code != 0) return 0;
    return nlohmann::json::parse(r.out)["versions"].size();
  }
};

const char* Name(Given given) {
  switch (given) {
    case Given::kEnvironment: return "environment only";
    case Given::kFlag: return "flag only";
    case Given::kBoth: return "both, naming different keystores";
  }
  return "";
}

TEST_CASE("cli: an explicit --keystore beats SOVEREIGN_KEYSTORE for every command") {
  for (Given given : {Given::kEnvironment, Given::kFlag, Given::kBoth}) {
    SECTION(Name(given)) {
      TwoKeystores k;
      const std::string& winner = k.Winner(given);
      const std::string& loser = k.Loser(given);
      const std::string region = winner == k.a ? "aa" : "bb";

      // keys create, list, status.
      auto created = k.Run({"keys", "create", "--key", "orders"}, given);
      INFO(created.out << created.err);
      REQUIRE(created.exit_code == 0);
      CHECK(created.out.find("in region " + region) != std::string::npos);
      CHECK(k.Versions(winner, "orders") == 1);
      CHECK(k.Versions(loser, "orders") == 0);
      auto listed = k.Run({"keys", "list", "--json"}, given);
      REQUIRE(listed.exit_code == 0);
      CHECK(listed.out.find("orders") != std::string::npos);
      CHECK(k.Run({"keys", "status", "--key", "orders"}, given).exit_code == 0);

      // keys rotate, disable, enable.
      REQUIRE(k.Run({"keys", "rotate", "--key", "users"}, given).exit_code == 0);
      CHECK(k.Versions(winner) == 2);
      CHECK(k.Versions(loser) == 1);
      CHECK(k.Run({"keys", "disable", "--key", "users", "--version", "1"}, given).exit_code == 0);
      CHECK(k.Run({"keys", "enable", "--key", "users", "--version", "1"}, given).exit_code == 0);

      // field encrypt and decrypt: the ciphertext is the winner's region's.
      const std::vector<std::string> field{"--key", "users", "--label", "email", "--path", "/email"};
      std::vector<std::string> encrypt{"field", "encrypt"};
      encrypt.insert(encrypt.end(), field.begin(), field.end());
      auto ct = k.Run(encrypt, given, "ann@example.com");
      REQUIRE(ct.exit_code == 0);
      auto back = k.Run({"field", "decrypt", "--path", "/email"}, given, ct.out);
      CHECK(back.out == "ann@example.com");
      auto elsewhere = RunCli({"field", "decrypt", "--keystore", loser, "--path", "/email"}, ct.out,
                              {{"SOVEREIGN_KEYSTORE", ""}});
      CHECK(elsewhere.exit_code != 0);
      CHECK(RunCli({"field", "decrypt", "--keystore", winner, "--path", "/email"}, ct.out,
                   {{"SOVEREIGN_KEYSTORE", ""}})
                .out == "ann@example.com");

      // field index: the winner's index key.
      auto index = k.Run({"field", "index", "--key", "users", "--label", "email"}, given, "ann@example.com");
      REQUIRE(index.exit_code == 0);
      CHECK(index.out == RunCli({"field", "index", "--keystore", winner, "--key", "users", "--label", "email"},
                                "ann@example.com", {{"SOVEREIGN_KEYSTORE", ""}})
                             .out);

      // Pipelines: a policy without keystores of its own.
      const auto policy = k.tmp.path() / "p.json";
      std::ofstream(policy) << R"({"region": ")" << region
                            << R"(", "fields": [{"path": "/email", "key": "users", "label": "email"}]})";
      auto enc = k.Run({"encrypt", "--policy", policy.string()}, given, "{\"email\":\"ann@example.com\"}\n");
      INFO(enc.err);
      REQUIRE(enc.exit_code == 0);
      auto dec = k.Run({"decrypt", "--policy", policy.string()}, given, enc.out);
      CHECK(dec.out == "{\"email\":\"ann@example.com\"}\n");

      // subjects shred and audit verify act on the winner.
      CHECK(k.Run({"subjects", "shred", "--key", "users", "--subject", "u-1", "--reason", "test"}, given).exit_code ==
            0);
      std::ifstream winner_log(std::string(winner) + "/audit.log");
      const std::string log((std::istreambuf_iterator<char>(winner_log)), std::istreambuf_iterator<char>());
      CHECK(log.find("subject.shred") != std::string::npos);
      std::ifstream loser_log(std::string(loser) + "/audit.log");
      const std::string other((std::istreambuf_iterator<char>(loser_log)), std::istreambuf_iterator<char>());
      CHECK(other.find("subject.shred") == std::string::npos);
      CHECK(k.Run({"audit", "verify"}, given).exit_code == 0);
    }
  }
}

TEST_CASE("cli: SOVEREIGN_KEYSTORE and SOVEREIGN_KEYSTORES both set, with no flag, is a usage error") {
  TwoKeystores k;
  auto r = RunCli({"keys", "list"}, {}, {{"SOVEREIGN_KEYSTORE", k.a}, {"SOVEREIGN_KEYSTORES", k.b}});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("both set") != std::string::npos);
  // A flag settles it.
  CHECK(RunCli({"keys", "list", "--keystore", k.b}, {}, {{"SOVEREIGN_KEYSTORE", k.a}, {"SOVEREIGN_KEYSTORES", k.b}})
            .exit_code == 0);
}

}  // namespace
}  // namespace sovereign::test
