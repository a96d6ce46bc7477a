// The TLS layer refuses anyone without a trusted, valid client certificate,
// and a refused handshake does not disturb the server.
#include <catch2/catch.hpp>

#include "tests/support/run_process.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

TEST_CASE("service: no certificate, an untrusted CA's or an expired one: no HTTP answer at all") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const auto before = f.region("us").store_dir / "audit.log";
  const auto audit_size = std::filesystem::file_size(before);
  const struct {
    const char* name;
    std::optional<CertFiles> identity;
  } refused[] = {
      {"no client certificate", std::nullopt},
      {"certificate from an untrusted CA", f.pki().untrusted()},
      {"expired certificate", f.pki().expired()},
  };
  for (const auto& who : refused) {
    for (const std::string path : {"/v1/health", "/metrics"}) {
      INFO(who.name << " " << path);
      auto client = f.Client("us", who.identity);
      auto r = client->Get(path);
      CHECK_FALSE(r.responded());
      auto lease = client->PostJson("/v1/leases", Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}}));
      CHECK_FALSE(lease.responded());
      CHECK(lease.body.empty());
    }
    // The server is unharmed and still serves a trusted client.
    auto ok = f.Client("us", f.pki().us_app())->Get("/v1/health");
    CHECK(ok.status == 200);
  }
  CHECK(server.Running());
  // Nobody was authenticated, so nothing used a key.
  CHECK(std::filesystem::file_size(before) == audit_size);
}

TEST_CASE("service: a client that does not trust the server's CA refuses to talk") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  HttpsClient wrong_ca(server.port(), f.pki().untrusted_ca(), f.pki().us_app());
  CHECK_FALSE(wrong_ca.Get("/v1/health").responded());
  auto cli = RunCli({"field", "encrypt", "--keystore", server.Url(), "--tls-cert", f.pki().us_app().cert.string(),
                     "--tls-key", f.pki().us_app().key.string(), "--tls-ca", f.pki().untrusted_ca().string(), "--key",
                     "users", "--label", "email", "--path", "/email"},
                    "secret-value");
  CHECK(cli.exit_code == 1);
  CHECK(cli.out.empty());
  CHECK(cli.err.find("secret-value") == std::string::npos);
}

TEST_CASE("service: the CLI with a refused certificate fails with one line and no output") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  for (const auto& identity : {f.pki().untrusted(), f.pki().expired()}) {
    auto r = RunCli(Concat({"field", "encrypt", "--key", "users", "--label", "email", "--path", "/email"},
                           f.Remote("us", identity)),
                    "secret-value");
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(f.server("us").Running());
}

TEST_CASE("service: many refused handshakes in a row leave the server serving") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  for (int i = 0; i < 50; ++i) {
    HttpsClient anonymous(server.port(), f.pki().ca(), std::nullopt);
    CHECK_FALSE(anonymous.Get("/v1/health").responded());
  }
  auto ok = f.Client("us", f.pki().us_app())->Get("/v1/health");
  CHECK(ok.status == 200);
}

}  // namespace
}  // namespace sovereign::test
