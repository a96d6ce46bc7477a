// keystore.json parsing: the issue's example, defaults, and a clear error for
// every malformation, naming the member and its JSON path.
#include <fstream>

#include <catch2/catch.hpp>

#include "keystore/internal/server_config.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;
namespace fs = std::filesystem;
using Json = nlohmann::json;

const char* kIssueExample = R"({
  "region": "us",
  "listen": "127.0.0.1:8443",
  "store": {"dir": "/var/lib/sovereign/us"},
  "tls": {"cert": "server.pem", "key": "server.key", "client_ca": "ca.pem"},
  "audit": {"path": "/var/lib/sovereign/us/audit.log"},
  "lease_ttl_seconds": 300,
  "access": [
    {"principal": "spiffe://corp.example/region/us/svc/*", "allow": ["lease", "encrypt", "decrypt"], "keys": ["users"], "labels": ["*"]},
    {"principal": "spiffe://corp.example/region/us/security/*", "allow": ["admin", "audit"]},
    {"principal": "spiffe://corp.example/region/cn/*", "allow": ["encrypt"], "keys": ["users"]}
  ]
})";

Json Minimal() {
  return Json::parse(R"({"region": "us", "listen": "127.0.0.1:0", "store": {"dir": "ks"},
                         "tls": {"cert": "s.pem", "key": "s.key", "client_ca": "ca.pem"}})");
}

std::string Error(const Json& config) {
  auto parsed = ki::ParseServerConfig(config.dump(), "/etc/sovereign");
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.code() == ErrorCode::kInvalidArgument);
  return parsed.status().message();
}

TEST_CASE("the issue's example configuration parses, relative paths against the config's directory") {
  auto config = ki::ParseServerConfig(kIssueExample, "/etc/sovereign");
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->region == "us");
  CHECK(config->listen_host == "127.0.0.1");
  CHECK(config->listen_port == 8443);
  CHECK(config->store_dir == fs::path("/var/lib/sovereign/us"));
  CHECK(config->tls.cert == fs::path("/etc/sovereign/server.pem"));
  CHECK(config->tls.key == fs::path("/etc/sovereign/server.key"));
  CHECK(config->tls.client_ca == fs::path("/etc/sovereign/ca.pem"));
  CHECK(config->audit_path == fs::path("/var/lib/sovereign/us/audit.log"));
  CHECK(config->lease_ttl == std::chrono::seconds(300));
  CHECK(config->access.rules().size() == 3);
}

TEST_CASE("optional members take their defaults") {
  auto config = ki::ParseServerConfig(Minimal().dump(), "/etc/sovereign");
  REQUIRE(config.ok());
  CHECK(config->listen_port == 0);
  CHECK(config->store_dir == fs::path("/etc/sovereign/ks"));
  CHECK(config->audit_path == fs::path("/etc/sovereign/ks/audit.log"));
  CHECK(config->lease_ttl == ki::kDefaultLeaseTtl);
  CHECK(config->access.rules().empty());  // deny everything
}

TEST_CASE("unknown members are errors naming the member and its path, at every level") {
  Json c = Minimal();
  c["tsl"] = Json::object();
  CHECK_THAT(Error(c), Catch::Contains("tsl") && Catch::Contains("/tsl"));
  c = Minimal();
  c["tls"]["ca"] = "x";
  CHECK_THAT(Error(c), Catch::Contains("/tls/ca"));
  c = Minimal();
  c["store"]["path"] = "x";
  CHECK_THAT(Error(c), Catch::Contains("/store/path"));
  c = Minimal();
  c["audit"] = {{"file", "x"}};
  CHECK_THAT(Error(c), Catch::Contains("/audit/file"));
  c = Minimal();
  c["access"] = Json::parse(R"([{"principal": "p", "allow": ["audit"], "label": ["x"]}])");
  CHECK_THAT(Error(c), Catch::Contains("/access/0/label"));
}

TEST_CASE("wrong types name the member") {
  Json c = Minimal();
  c["region"] = 1;
  CHECK_THAT(Error(c), Catch::Contains("/region"));
  c = Minimal();
  c["listen"] = 8443;
  CHECK_THAT(Error(c), Catch::Contains("/listen"));
  c = Minimal();
  c["store"] = "ks";
  CHECK_THAT(Error(c), Catch::Contains("/store"));
  c = Minimal();
  c["tls"]["cert"] = Json::array();
  CHECK_THAT(Error(c), Catch::Contains("/tls/cert"));
  c = Minimal();
  c["lease_ttl_seconds"] = "300";
  CHECK_THAT(Error(c), Catch::Contains("/lease_ttl_seconds"));
  c = Minimal();
  c["lease_ttl_seconds"] = 1.5;
  CHECK_THAT(Error(c), Catch::Contains("/lease_ttl_seconds"));
  c = Minimal();
  c["access"] = Json::object();
  CHECK_THAT(Error(c), Catch::Contains("/access"));
}

TEST_CASE("missing required members are named") {
  for (const char* member : {"region", "listen", "store", "tls"}) {
    Json c = Minimal();
    c.erase(member);
    CHECK_THAT(Error(c), Catch::Contains(std::string("/") + member));
  }
  for (const char* member : {"cert", "key", "client_ca"}) {
    Json c = Minimal();
    c["tls"].erase(member);
    CHECK_THAT(Error(c), Catch::Contains(std::string("/tls/") + member));
  }
  Json c = Minimal();
  c["store"].erase("dir");
  CHECK_THAT(Error(c), Catch::Contains("/store/dir"));
}

TEST_CASE("values are checked: region, listen, lease TTL, empty paths, audit path") {
  Json c = Minimal();
  c["region"] = "US";
  CHECK_THAT(Error(c), Catch::Contains("/region"));
  for (const char* listen : {"127.0.0.1", "127.0.0.1:", ":8443", "127.0.0.1:65536", "127.0.0.1:-1", "::1:8443",
                             "127.0.0.1:80x"}) {
    c = Minimal();
    c["listen"] = listen;
    INFO(listen);
    CHECK_THAT(Error(c), Catch::Contains("/listen"));
  }
  for (int ttl : {0, -5, 86401}) {
    c = Minimal();
    c["lease_ttl_seconds"] = ttl;
    CHECK_THAT(Error(c), Catch::Contains("/lease_ttl_seconds"));
  }
  c = Minimal();
  c["tls"]["key"] = "";
  CHECK_THAT(Error(c), Catch::Contains("/tls/key"));
  c = Minimal();
  c["audit"] = {{"path", "/var/log/elsewhere.log"}};
  CHECK_THAT(Error(c), Catch::Contains("/audit/path"));
  c = Minimal();
  c["access"] = Json::parse(R"([{"principal": "p", "allow": ["root"]}])");
  CHECK_THAT(Error(c), Catch::Contains("root") && Catch::Contains("/access/0/allow/0"));
  CHECK_THAT(ki::ParseServerConfig("{not json", "/").status().message(), Catch::Contains("not valid JSON"));
  // An access rule named twice could read as either: refused, named by its pointer.
  std::string twice = Minimal().dump();
  twice.insert(1, R"("region":"eu",)");
  CHECK_THAT(ki::ParseServerConfig(twice, "/").status().message(), Catch::Contains("duplicate member /region"));
  std::string rule = Minimal().dump();
  rule.insert(rule.size() - 1, R"(,"access":[{"principal":"p","allow":["audit"],"allow":["admin"]}])");
  CHECK_THAT(ki::ParseServerConfig(rule, "/").status().message(), Catch::Contains("duplicate member /access/0/allow"));
  CHECK_THAT(ki::ParseServerConfig("[]", "/").status().message(), Catch::Contains("object"));
}

TEST_CASE("listen accepts host names, IPv6 in brackets and port 0") {
  std::string host;
  std::uint16_t port = 1;
  REQUIRE(ki::ParseListen("[::1]:0", host, port).ok());
  CHECK(host == "::1");
  CHECK(port == 0);
  REQUIRE(ki::ParseListen("keystore.us.internal:443", host, port).ok());
  CHECK(host == "keystore.us.internal");
  CHECK(port == 443);
  REQUIRE(ki::ParseListen("0.0.0.0:65535", host, port).ok());
  CHECK(port == 65535);
}

TEST_CASE("the audit path may name the store's log, also relatively") {
  Json c = Minimal();
  c["audit"] = {{"path", "ks/audit.log"}};
  auto config = ki::ParseServerConfig(c.dump(), "/etc/sovereign");
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->audit_path == fs::path("/etc/sovereign/ks/audit.log"));
  c["audit"] = Json::object();
  CHECK(ki::ParseServerConfig(c.dump(), "/etc/sovereign").ok());
}

TEST_CASE("LoadServerConfig reads a file, resolves paths beside it and prefixes errors with its name") {
  test::TempDir tmp;
  const fs::path path = tmp.path() / "keystore.json";
  {
    std::ofstream out(path);
    out << Minimal().dump();
  }
  auto config = ki::LoadServerConfig(path);
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  CHECK(config->store_dir == tmp.path() / "ks");
  {
    std::ofstream out(path, std::ios::trunc);
    out << R"({"region": "us", "bogus": 1})";
  }
  auto bad = ki::LoadServerConfig(path);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains(path.string()) && Catch::Contains("/bogus"));
  CHECK_FALSE(ki::LoadServerConfig(tmp.path() / "missing.json").ok());
}

}  // namespace
}  // namespace sovereign
