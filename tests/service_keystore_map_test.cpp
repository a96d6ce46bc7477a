// A region map (--keystores FILE): one command line reaches a keystore per
// region, encrypts where it is told and decrypts wherever each ciphertext
// was made — embedded directories and services alike.
#include <catch2/catch.hpp>

#include <fstream>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;

std::filesystem::path WriteMap(const std::filesystem::path& dir, const json& map) {
  const auto path = dir / "keystores.json";
  std::ofstream(path) << map.dump(2);
  return path;
}

}  // namespace

TEST_CASE("service: a region map routes encryption by --region and decryption by the ciphertext's region") {
  ServiceFixture f;
  f.Prepare("us");
  f.Prepare("eu");
  f.Start("us");
  f.Start("eu");
  // A third region as an embedded directory, beside the two services.
  const auto sg_dir = (f.root() / "sg-store").string();
  REQUIRE(RunCli({"keystore", "init", "--dir", sg_dir, "--region", "sg"}).exit_code == 0);
  REQUIRE(RunCli({"keys", "create", "--keystore", sg_dir, "--key", "users"}).exit_code == 0);

  auto entry = [&](const std::string& region, const CertFiles& id) {
    return json{{"url", f.server(region).Url()},
                {"cert", id.cert.string()},
                {"key", id.key.string()},
                {"ca", f.pki().ca().string()}};
  };
  const auto map = WriteMap(f.root(), {{"us", entry("us", f.pki().us_app())},
                                       {"eu", entry("eu", f.pki().eu_app())},
                                       {"sg", {{"dir", sg_dir}}}});
  auto encrypt = [&](const std::string& region, const std::string& value) {
    return RunCli({"field", "encrypt", "--keystores", map.string(), "--region", region, "--key", "users", "--label",
                   "email", "--path", "/email", "--record-id", "r-1"},
                  value);
  };
  auto decrypt = [&](const std::string& ciphertext) {
    return RunCli({"field", "decrypt", "--keystores", map.string(), "--path", "/email", "--record-id", "r-1"},
                  ciphertext);
  };
  for (const std::string region : {"us", "eu", "sg"}) {
    auto ct = encrypt(region, region + "-user@example.com");
    INFO(region << ": " << ct.err);
    REQUIRE(ct.exit_code == 0);
    auto pt = decrypt(ct.out);
    INFO(pt.err);
    CHECK(pt.exit_code == 0);
    CHECK(pt.out == region + "-user@example.com");
  }

  auto ambiguous = RunCli({"field", "encrypt", "--keystores", map.string(), "--key", "users", "--label", "email",
                           "--path", "/email"},
                          "x");
  CHECK(ambiguous.exit_code == 2);
  CHECK_THAT(ambiguous.err, Catch::Contains("--region"));
  auto unknown = encrypt("jp", "x");
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("'jp'"));

  // A map that reaches only the US cannot open an EU ciphertext, and says which region is missing.
  const auto us_only_dir = f.root() / "us-only";
  std::filesystem::create_directories(us_only_dir);
  const auto us_only = WriteMap(us_only_dir, {{"us", entry("us", f.pki().us_app())}});
  auto eu_ct = encrypt("eu", "eu-secret");
  REQUIRE(eu_ct.exit_code == 0);
  auto refused = RunCli({"field", "decrypt", "--keystores", us_only.string(), "--path", "/email", "--record-id", "r-1"},
                        eu_ct.out);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("'eu'") && !Catch::Contains("eu-secret"));
}

TEST_CASE("service: a region map with a mistake is refused naming the entry") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  const std::string url = f.server("us").Url();
  const CertFiles id = f.pki().us_app();
  struct Case {
    json map;
    std::string names;
  };
  const Case cases[] = {
      {{{"us", {{"url", url}, {"cert", id.cert.string()}, {"key", id.key.string()}, {"ca", f.pki().ca().string()},
                {"port", "1"}}}},
       "unknown member \"port\""},
      {{{"us", {{"url", url}, {"cert", id.cert.string()}}}}, "\"key\""},
      {{{"us", {{"dir", "/nonexistent"}, {"url", url}}}}, "exactly one"},
      {{{"EU", {{"dir", "/nonexistent"}}}}, "'EU'"},
      // The map says eu, the keystore at the URL serves us.
      {{{"eu", {{"url", url}, {"cert", id.cert.string()}, {"key", id.key.string()}, {"ca", f.pki().ca().string()}}}},
       "serves region 'us'"},
  };
  for (const auto& c : cases) {
    const auto map = WriteMap(f.root(), c.map);
    auto r = RunCli({"keys", "list", "--keystores", map.string()});
    INFO(c.map.dump() << " -> " << r.err);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.err, Catch::Contains(c.names));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  // A region named twice could route to either keystore: refused.
  const auto twice = f.root() / "twice.json";
  std::ofstream(twice) << R"({"us": {"dir": "/a"}, "us": {"dir": "/b"}})";
  auto r = RunCli({"keys", "list", "--keystores", twice.string()});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("duplicate member /us"));
}

}  // namespace sovereign::test
