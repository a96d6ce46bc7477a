// The sovereign command-line tool, run as a real process.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/test_support.hpp"

using sovereign::test::ProcessResult;
using sovereign::test::RunCli;

namespace {

struct Keystore {
  sovereign::test::TempDir tmp;
  std::string dir = (tmp.path() / "us").string();
  Keystore() {
    auto r = RunCli({"keystore", "init", "--dir", dir, "--region", "us"});
    REQUIRE(r.exit_code == 0);
    REQUIRE(RunCli({"keys", "create", "--keystore", dir, "--key", "users"}).exit_code == 0);
  }
  ProcessResult Encrypt(const std::string& value, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"field", "encrypt", "--keystore", dir, "--key", "users", "--label", "email",
                                  "--path", "/email"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args, value);
  }
  ProcessResult Decrypt(const std::string& ciphertext, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"field", "decrypt", "--keystore", dir, "--path", "/email"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args, ciphertext);
  }
};

bool OneLine(const std::string& s) { return !s.empty() && s.back() == '\n' && std::count(s.begin(), s.end(), '\n') == 1; }

}  // namespace

TEST_CASE("cli: keystore init creates a private directory and refuses to run twice") {
  Keystore ks;
  struct stat st{};
  REQUIRE(stat(ks.dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(stat((ks.dir + "/root.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto again = RunCli({"keystore", "init", "--dir", ks.dir, "--region", "us"});
  CHECK(again.exit_code != 0);
  CHECK(OneLine(again.err));
}

TEST_CASE("cli: field encrypt and decrypt round-trip the exact bytes of stdin") {
  Keystore ks;
  for (std::string value : {std::string("ann@example.com\n"), std::string(""), std::string("a\0b\xff\r\n", 6),
                            std::string(70000, 'q')}) {
    auto ct = ks.Encrypt(value);
    REQUIRE(ct.exit_code == 0);
    CHECK(ct.out.rfind("sov1:", 0) == 0);
    CHECK(OneLine(ct.out));
    auto pt = ks.Decrypt(ct.out);
    REQUIRE(pt.exit_code == 0);
    CHECK(pt.out == value);
    // Surrounding whitespace around the ciphertext is accepted.
    CHECK(ks.Decrypt("  \n" + ct.out + " \t\n").out == value);
  }
}

TEST_CASE("cli: --strip-newline removes exactly one trailing newline") {
  Keystore ks;
  auto ct = ks.Encrypt("ann@example.com\r\n", {"--strip-newline"});
  REQUIRE(ct.exit_code == 0);
  CHECK(ks.Decrypt(ct.out).out == "ann@example.com");
  auto ct2 = ks.Encrypt("two\n\n", {"--strip-newline"});
  CHECK(ks.Decrypt(ct2.out).out == "two\n");
}

TEST_CASE("cli: a ciphertext moved to another record fails with exit code 4 and no plaintext") {
  Keystore ks;
  auto ct = ks.Encrypt("SECRET-VALUE-42", {"--record-id", "user-1"});
  REQUIRE(ct.exit_code == 0);
  CHECK(ks.Decrypt(ct.out, {"--record-id", "user-1"}).out == "SECRET-VALUE-42");
  auto moved = ks.Decrypt(ct.out, {"--record-id", "user-2"});
  CHECK(moved.exit_code == 4);
  CHECK(moved.out.empty());
  CHECK(OneLine(moved.err));
  CHECK_THAT(moved.err, Catch::Contains("invalid ciphertext") && !Catch::Contains("SECRET"));
  auto no_record = ks.Decrypt(ct.out);
  CHECK(no_record.exit_code == 4);
  std::string tampered = ct.out;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  CHECK(ks.Decrypt(tampered, {"--record-id", "user-1"}).exit_code == 4);
}

TEST_CASE("cli: deterministic mode gives equal ciphertexts, random mode different") {
  Keystore ks;
  auto a = ks.Encrypt("ann@example.com", {"--mode", "deterministic"});
  auto b = ks.Encrypt("ann@example.com", {"--mode", "deterministic"});
  auto c = ks.Encrypt("ann@example.com", {"--mode", "random"});
  auto d = ks.Encrypt("ann@example.com");
  REQUIRE((a.exit_code == 0 && b.exit_code == 0 && c.exit_code == 0 && d.exit_code == 0));
  CHECK(a.out == b.out);
  CHECK(c.out != d.out);
  CHECK(ks.Decrypt(a.out).out == "ann@example.com");
  CHECK(ks.Encrypt("x", {"--mode", "fast"}).exit_code == 2);
}

TEST_CASE("cli: rotation keeps old ciphertexts readable and lists versions") {
  Keystore ks;
  auto old_ct = ks.Encrypt("before rotation");
  auto rotated = RunCli({"keys", "rotate", "--keystore", ks.dir, "--key", "users"});
  REQUIRE(rotated.exit_code == 0);
  CHECK_THAT(rotated.out, Catch::Contains("version 2 is now primary"));
  auto new_ct = ks.Encrypt("after rotation");
  CHECK(ks.Decrypt(old_ct.out).out == "before rotation");
  CHECK(ks.Decrypt(new_ct.out).out == "after rotation");

  auto list = RunCli({"keys", "list", "--keystore", ks.dir, "--json"});
  REQUIRE(list.exit_code == 0);
  auto doc = nlohmann::json::parse(list.out);
  CHECK(doc["region"] == "us");
  REQUIRE(doc["keys"].size() == 1);
  CHECK(doc["keys"][0]["name"] == "users");
  CHECK(doc["keys"][0]["primary_version"] == 2);
  CHECK(doc["keys"][0]["versions"].size() == 2);
  CHECK(doc["keys"][0]["versions"][0]["state"] == "enabled");
  auto table = RunCli({"keys", "list", "--keystore", ks.dir});
  CHECK_THAT(table.out, Catch::Contains("users") && Catch::Contains("1 enabled, 2 enabled"));
}

TEST_CASE("cli: --keystore may come from SOVEREIGN_KEYSTORE") {
  Keystore ks;
  auto ct = RunCli({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"}, "v",
                   {{"SOVEREIGN_KEYSTORE", ks.dir}});
  REQUIRE(ct.exit_code == 0);
  auto pt = RunCli({"field", "decrypt", "--path", "/email"}, ct.out, {{"SOVEREIGN_KEYSTORE", ks.dir}});
  CHECK(pt.out == "v");
  auto missing = RunCli({"field", "decrypt", "--path", "/email"}, ct.out);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("--keystore"));
}

TEST_CASE("cli: field index prints a hex blind index of the requested width") {
  Keystore ks;
  auto idx = [&](const std::string& value, std::vector<std::string> extra) {
    std::vector<std::string> args{"field", "index", "--keystore", ks.dir, "--key", "users", "--label", "email"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunCli(args, value);
  };
  auto a = idx("Ann@Example.com\n", {"--bits", "24"});
  auto b = idx("ann@example.com", {"--bits", "24"});
  REQUIRE(a.exit_code == 0);
  CHECK(a.out == b.out);
  CHECK(a.out.size() == 7);
  CHECK(idx("x", {"--bits", "65"}).exit_code == 2);
  CHECK(idx("x", {"--bits", "4"}).exit_code == 2);
  CHECK(idx("x", {"--normalize", "soundex"}).exit_code == 2);
}

TEST_CASE("cli: errors are one line naming what is wrong") {
  Keystore ks;
  auto unknown = RunCli({"field", "encrypt", "--keystore", ks.dir, "--key", "payments", "--label", "card", "--path",
                         "/card"},
                        "4111111111111111");
  CHECK(unknown.exit_code == 1);
  CHECK(OneLine(unknown.err));
  CHECK_THAT(unknown.err, Catch::Contains("payments") && !Catch::Contains("4111"));

  auto bad_path = RunCli({"field", "encrypt", "--keystore", ks.dir, "--key", "users", "--label", "email", "--path",
                          "email"},
                         "x");
  CHECK(bad_path.exit_code == 2);
  CHECK_THAT(bad_path.err, Catch::Contains("JSON Pointer"));

  auto no_keystore = RunCli({"keys", "list", "--keystore", (ks.tmp.path() / "absent").string()});
  CHECK(no_keystore.exit_code == 1);
  CHECK(OneLine(no_keystore.err));

  std::filesystem::permissions(ks.dir + "/root.key", std::filesystem::perms(0644));
  auto loose = RunCli({"keys", "list", "--keystore", ks.dir});
  CHECK(loose.exit_code != 0);
  CHECK_THAT(loose.err, Catch::Contains("root.key"));
}

TEST_CASE("cli: every command has --help") {
  const std::vector<std::vector<std::string>> commands = {
      {}, {"keystore"}, {"keystore", "init"}, {"keys"}, {"keys", "create"}, {"keys", "rotate"}, {"keys", "list"},
      {"field"}, {"field", "encrypt"}, {"field", "decrypt"}, {"field", "index"}};
  for (auto args : commands) {
    args.push_back("--help");
    auto r = RunCli(args);
    INFO(args.size());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("Usage"));
  }
  CHECK(RunCli({"frobnicate"}).exit_code == 2);
}
