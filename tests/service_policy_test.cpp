// Lease lifetimes come from the config, and SIGHUP reloads the access policy:
// a revoked principal gets nothing new, a bad policy leaves the old one.
#include <time.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <thread>

#include "sovereign/client.hpp"
#include "tests/support/service_fixture.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const json kLease = Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}});

// ParseRfc3339 reads "YYYY-MM-DDTHH:MM:SS[.fff]Z" as UTC.
std::chrono::system_clock::time_point ParseRfc3339(const std::string& s) {
  std::tm tm{};
  REQUIRE(strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
  REQUIRE(s.back() == 'Z');
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

bool Granted(const HttpResponse& r) { return r.status == 200 && r.json()["items"][0].contains("ok"); }

// WaitFor polls `pred` every 50 ms for up to 15 s.
template <typename Pred>
bool WaitFor(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

TEST_CASE("service: leases carry the configured TTL and expiry") {
  ServiceFixture f;
  f.Prepare("us", nullptr, 2);
  f.Start("us");
  const auto before = std::chrono::system_clock::now();
  auto r = f.Client("us", f.pki().us_app())->PostJson("/v1/leases", kLease);
  REQUIRE(r.status == 200);
  auto doc = r.json();
  CHECK(doc["ttl_seconds"] == 2);
  const auto expires = ParseRfc3339(doc["items"][0]["ok"]["expires_at"].get<std::string>());
  CHECK(expires >= before - 1s);
  CHECK(expires <= std::chrono::system_clock::now() + 3s);
}

TEST_CASE("service: a Client drops an expired lease and asks again; after revocation it gets no key") {
  ServiceFixture f;
  auto& us = f.Prepare("us", nullptr, 1);
  auto& server = f.Start("us");
  auto client = Client::New(f.Keystore("us", f.pki().us_app()));
  REQUIRE(client.ok());
  const FieldSpec spec{"us", "users", "email", Mode::kRandom};
  const FieldContext context{"/email", std::nullopt};
  auto leases = [&](const std::string& outcome) {
    std::size_t n = 0;
    for (const auto& e : AuditLines(us)) {
      if (e.value("principal", "") == kUsAppId && e.value("op", "") == "lease" && e.value("outcome", "") == outcome) ++n;
    }
    return n;
  };
  REQUIRE((*client)->Encrypt(spec, "a", context).ok());
  const std::size_t after_first = leases("ok");
  CHECK(after_first >= 1);
  REQUIRE((*client)->Encrypt(spec, "b", context).ok());
  CHECK(leases("ok") == after_first);  // cached within the TTL
  std::this_thread::sleep_for(1500ms);
  REQUIRE((*client)->Encrypt(spec, "c", context).ok());
  CHECK(leases("ok") > after_first);  // expired: leased again

  // Revoke the app's lease permission; once reloaded and the lease expired,
  // the app gets no key — the Client falls back to remote encryption, which
  // the policy still grants: the reload changed exactly what it said.
  us.config["access"][0]["allow"] = {"encrypt", "decrypt"};
  WriteConfig(us);
  server.Hup();
  auto app = f.Client("us", f.pki().us_app());
  REQUIRE(WaitFor([&] { return !Granted(app->PostJson("/v1/leases", kLease)); }));
  std::this_thread::sleep_for(1500ms);
  const std::size_t granted = leases("ok");
  auto remote = (*client)->Encrypt(spec, "d", context);
  REQUIRE(remote.ok());
  CHECK((*client)->Decrypt(*remote, context).value() == "d");
  CHECK(leases("ok") == granted);
  CHECK(leases("denied") >= 1);
}

TEST_CASE("service: SIGHUP reloads the policy; a bad policy is rejected with a log line and the old one stays") {
  ServiceFixture f;
  auto& us = f.Prepare("us");
  auto& server = f.Start("us");
  auto app = f.Client("us", f.pki().us_app());
  auto alice = f.Client("us", f.pki().cn_engineer());
  REQUIRE(Granted(app->PostJson("/v1/leases", kLease)));
  const json good = us.config;

  const std::vector<std::pair<std::string, std::function<void(json&)>>> bad_policies = {
      {"unknown member in a rule", [](json& c) { c["access"][0]["permissions"] = {"lease"}; }},
      {"unknown permission",
       [](json& c) {
         c["access"][0]["allow"] = {"lease", "everything"};
       }},
      {"access is not an array", [](json& c) { c["access"] = "all"; }},
      {"unknown config key", [](json& c) { c["acess"] = json::array(); }},
  };
  for (const auto& [name, mutate] : bad_policies) {
    CAPTURE(name);
    us.config = good;
    // Also revoke the app, so that a wrongly accepted file would show.
    us.config["access"][0]["allow"] = {"decrypt"};
    mutate(us.config);
    WriteConfig(us);
    const auto mark = server.Mark();
    server.Hup();
    CHECK(server.WaitForOutput("policy", mark, 10s));
    CHECK(Granted(app->PostJson("/v1/leases", kLease)));
    CHECK(server.Running());
  }
  {
    // Not JSON at all.
    std::ofstream(us.config_path, std::ios::trunc) << "{\"region\": \"us\", ";
    const auto mark = server.Mark();
    server.Hup();
    CHECK(server.WaitForOutput("policy", mark, 10s));
    CHECK(Granted(app->PostJson("/v1/leases", kLease)));
  }

  // A good policy takes effect: the CN engineer loses encrypt, the app keeps lease.
  us.config = good;
  us.config["access"].erase(2);
  WriteConfig(us);
  server.Hup();
  const auto encrypt_denied = [&] {
    auto r = alice->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")}));
    return r.status == 403 || (r.status == 200 && r.json()["items"][0].contains("error"));
  };
  CHECK(WaitFor(encrypt_denied));
  CHECK(Granted(app->PostJson("/v1/leases", kLease)));
  // The reload is audited.
  std::size_t reloads = 0;
  for (const auto& e : AuditLines(us)) {
    if (e.value("op", "").find("policy") != std::string::npos) ++reloads;
  }
  CHECK(reloads >= 1);
}

}  // namespace
}  // namespace sovereign::test
