// A holder of a certificate from the region's CA cannot pass for another
// principal at a real `sovereign serve`: exactly one URI SAN holding a valid,
// normalised SPIFFE ID; no CN fallback unless configured, and never as a
// SPIFFE ID; a certificate stops working when it expires, keep-alive and
// reconnect alike (no session resumption); TLS 1.2 offers AEAD suites only.
// Beside every hostile caller the in-region app keeps working.
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/support/service_fixture.hpp"
#include "tests/support/tls_probe.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const json kLeaseRequest = Items({{{"key", "users"}, {"mode", "random"}, {"label", "email"}}});

// Leased reports whether a lease answer handed out a field key.
bool Leased(const HttpResponse& r) {
  if (r.status != 200) return false;
  const json doc = r.json();
  return doc["items"].size() == 1 && doc["items"][0].contains("ok") && doc["items"][0]["ok"].contains("field_key");
}

// CheckIdentityRefused checks a 403 "denied" answer saying `why`, with no key in it.
void CheckIdentityRefused(const HttpResponse& r, const std::string& why) {
  INFO(r.status << " " << r.body << r.transport_error);
  REQUIRE(r.status == 403);
  CHECK(r.ErrorCode() == "denied");
  CHECK_THAT(r.body, Catch::Contains(why));
  CHECK(r.body.find("field_key") == std::string::npos);
}

// CheckAppWorks checks that the in-region app still gets a lease on `app`.
void CheckAppWorks(HttpsClient& app) {
  auto r = app.PostJson("/v1/leases", kLeaseRequest);
  INFO(r.status << " " << r.body << r.transport_error);
  CHECK(Leased(r));
}

// StartUs starts the "us" region with the default policy, CN principals allowed or not.
ServerProcess& StartUs(ServiceFixture& f, bool allow_common_name, json access = nullptr) {
  Region& us = f.Prepare("us", std::move(access));
  if (allow_common_name) {
    us.config["identity"] = {{"allow_common_name", true}};
    WriteConfig(us);
  }
  return f.Start("us");
}

CertFiles IssueWithUris(ServiceFixture& f, const std::string& name, std::vector<std::string> uris,
                        std::string common_name = "app") {
  ClientCertSpec spec;
  spec.uri_sans = std::move(uris);
  spec.common_name = std::move(common_name);
  return f.pki().IssueClientCert(name, spec);
}

TEST_CASE("service: a CN-only certificate whose CN spoofs the app's SPIFFE ID gets nothing, and no audit entry names the app") {
  for (const bool allow_common_name : {false, true}) {
    INFO("identity.allow_common_name " << allow_common_name);
    ServiceFixture f;
    StartUs(f, allow_common_name);
    auto app = f.Client("us", f.pki().us_app());
    const std::string why = allow_common_name ? "looks like a SPIFFE ID" : "no URI SAN";
    int n = 0;
    for (const std::string& cn : {std::string(kUsAppId), std::string("SPIFFE://corp.example/region/us/svc/app"),
                                 std::string("corp.example/region/us/svc/app")}) {
      INFO(cn);
      ClientCertSpec spec;
      spec.common_name = cn;
      auto spoof = f.Client("us", f.pki().IssueClientCert("spoof-" + std::to_string(n++), spec));
      const std::size_t app_entries = AuditLines(f.region("us")).size();
      CheckIdentityRefused(spoof->PostJson("/v1/leases", kLeaseRequest), why);
      CheckIdentityRefused(
          spoof->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")})), why);
      CheckIdentityRefused(spoof->Get("/v1/health"), why);
      // Refused before any key use: the log has no entry for it, under any name.
      CHECK(AuditLines(f.region("us")).size() == app_entries);
      CheckAppWorks(*app);
    }
    CHECK(CountAudit(f.region("us"), kUsAppId, "ok") >= 3);
  }
}

TEST_CASE("service: unnormalised SPIFFE IDs are refused although a …/region/us/svc/* rule exists") {
  const std::string svc = "spiffe://corp.example/region/us/svc";
  const std::vector<std::string> ids = {
      svc + "/../../cn/eng/alice", svc + "/./app",       svc + "//app",        svc + "/app/",
      svc + "/%2e%2e/%2e%2e/cn",   svc + "/%61pp",       svc + "/app?x=1",     svc + "/app#x",
      "SPIFFE://corp.example/region/us/svc/app",          "spiffe://Corp.example/region/us/svc/app",
      "spiffe://corp.example:443/region/us/svc/app",      "spiffe://app@corp.example/region/us/svc/app",
  };
  for (const bool allow_common_name : {false, true}) {
    INFO("identity.allow_common_name " << allow_common_name);
    ServiceFixture f;
    StartUs(f, allow_common_name);
    auto app = f.Client("us", f.pki().us_app());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      INFO(ids[i]);
      // The CN is a valid CN principal: it must not be used instead of the bad URI.
      auto hostile = f.Client("us", IssueWithUris(f, "bad-id-" + std::to_string(i), {ids[i]}, "batch-job"));
      CheckIdentityRefused(hostile->PostJson("/v1/leases", kLeaseRequest), "is not a valid SPIFFE ID");
      CheckAppWorks(*app);
    }
    // The same holder with the ID in normal form is the app's peer under the rule.
    auto normal = f.Client("us", IssueWithUris(f, "normal-id", {svc + "/batch"}));
    CHECK(Leased(normal->PostJson("/v1/leases", kLeaseRequest)));
  }
}

TEST_CASE("service: a certificate with two URI SANs is refused, whichever comes first") {
  ServiceFixture f;
  StartUs(f, false);
  auto app = f.Client("us", f.pki().us_app());
  const std::vector<std::vector<std::string>> pairs = {
      {kUsAppId, kCnEngineerId}, {kCnEngineerId, kUsAppId}, {kUsAppId, kUsAppId}, {kUsAppId, "https://corp.example/x"}};
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    INFO(pairs[i][0] << " , " << pairs[i][1]);
    auto two = f.Client("us", IssueWithUris(f, "two-" + std::to_string(i), pairs[i]));
    CheckIdentityRefused(two->PostJson("/v1/leases", kLeaseRequest),
                         "the client certificate has 2 URI SANs; an X509-SVID has exactly one");
    CheckAppWorks(*app);
  }
  CHECK(CountAudit(f.region("us"), kCnEngineerId, "denied") == 0);
}

TEST_CASE("service: CN principals only where the deployment allows them, and never under a spiffe:// rule") {
  json access = DefaultAccess("us");
  access.push_back({{"principal", kCnOnlyName}, {"allow", {"lease"}}, {"keys", {"users"}}, {"labels", {"email"}}});
  {
    ServiceFixture f;
    StartUs(f, false, access);
    auto job = f.Client("us", f.pki().cn_only());
    CheckIdentityRefused(job->PostJson("/v1/leases", kLeaseRequest), "allow_common_name");
    CheckIdentityRefused(job->Get("/v1/health"), "no URI SAN");
    CheckAppWorks(*f.Client("us", f.pki().us_app()));
    CHECK(CountAudit(f.region("us"), kCnOnlyName, "ok") == 0);
  }
  {
    ServiceFixture f;
    StartUs(f, true, access);
    auto job = f.Client("us", f.pki().cn_only());
    CHECK(Leased(job->PostJson("/v1/leases", kLeaseRequest)));
    CHECK(CountAudit(f.region("us"), kCnOnlyName, "ok") == 1);
    // Its rule is all it has: the spiffe://…/svc/* rule that grants encrypt never matches a CN.
    auto enc = job->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", {}, "x")}));
    INFO(enc.body);
    CHECK((enc.status == 403 || (enc.status == 200 && enc.json()["items"][0]["error"]["code"] == "denied")));
    CheckAppWorks(*f.Client("us", f.pki().us_app()));
  }
}

TEST_CASE("service: a certificate that expires on an open keep-alive connection is refused on its next request and "
          "cannot resume on a reconnect") {
  ServiceFixture f;
  auto& server = StartUs(f, false);
  auto app = f.Client("us", f.pki().us_app());
  ClientCertSpec spec;
  spec.uri_sans = {"spiffe://corp.example/region/us/svc/short-lived"};
  spec.not_after = seconds(4);
  const CertFiles short_lived = f.pki().IssueClientCert("short-lived", spec);
  // notAfter is at most 4 s after this instant, and at least 3 s after it.
  const auto issued = std::chrono::steady_clock::now();

  // While valid: a full handshake works, and the server gives nothing to resume with.
  for (const int version : {TLS1_2_VERSION, 0}) {
    TlsProbeOptions first;
    first.max_version = version;
    TlsProbeResult fresh = ProbeTls(server.port(), f.pki().ca(), short_lived, first);
    INFO(fresh.protocol << " " << fresh.error);
    REQUIRE(fresh.http_status == 200);
    CHECK_FALSE(fresh.resumable);
    TlsProbeOptions again = first;
    again.resume = fresh.session;
    TlsProbeResult second = ProbeTls(server.port(), f.pki().ca(), short_lived, again);
    CHECK(second.http_status == 200);
    CHECK_FALSE(second.session_reused);
  }
  TlsProbeOptions save;
  save.max_version = TLS1_2_VERSION;
  const TlsProbeResult saved = ProbeTls(server.port(), f.pki().ca(), short_lived, save);
  REQUIRE(saved.http_status == 200);

  auto keep = f.Client("us", short_lived);
  REQUIRE(std::chrono::steady_clock::now() < issued + seconds(3));
  REQUIRE(Leased(keep->PostJson("/v1/leases", kLeaseRequest)));

  // One connection, kept busy past notAfter: every request is answered (a new
  // handshake would fail instead), first allowed, then refused.
  int refused = 0;
  while (std::chrono::steady_clock::now() < issued + seconds(5)) {
    auto r = keep->Get("/v1/health");
    INFO(r.status << " " << r.body << r.transport_error);
    REQUIRE(r.responded());
    if (r.status == 403) {
      CHECK_THAT(r.body, Catch::Contains("has expired"));
      ++refused;
    } else {
      CHECK(refused == 0);  // never valid again once refused
      CHECK(r.status == 200);
    }
    CheckAppWorks(*app);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(refused > 0);
  auto late = keep->PostJson("/v1/leases", kLeaseRequest);
  CheckIdentityRefused(late, "has expired");

  // A reconnect that offers the earlier session is a full handshake, and fails.
  TlsProbeOptions resume;
  resume.max_version = TLS1_2_VERSION;
  resume.resume = saved.session;
  const TlsProbeResult reconnect = ProbeTls(server.port(), f.pki().ca(), short_lived, resume);
  INFO(reconnect.error);
  CHECK_FALSE(reconnect.session_reused);
  CHECK(reconnect.http_status == 0);
  CHECK_FALSE(f.Client("us", short_lived)->Get("/v1/health").responded());
  CHECK(CountAudit(f.region("us"), "spiffe://corp.example/region/us/svc/short-lived", "ok") == 1);
  CheckAppWorks(*f.Client("us", f.pki().us_app()));
}

TEST_CASE("service: a TLS 1.2 client offering only CBC suites cannot connect; AEAD clients can") {
  ServiceFixture f;
  auto& server = StartUs(f, false);
  auto app = f.Client("us", f.pki().us_app());
  const auto probe = [&](int version, const std::string& ciphers) {
    TlsProbeOptions options;
    options.max_version = version;
    options.tls12_ciphers = ciphers;
    return ProbeTls(server.port(), f.pki().ca(), f.pki().us_app(), options);
  };
  for (const std::string cbc : {"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256",
                                "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA:AES256-SHA:AES128-SHA256:AES256-SHA256"}) {
    INFO(cbc);
    const TlsProbeResult r = probe(TLS1_2_VERSION, cbc);
    INFO(r.error);
    CHECK_FALSE(r.handshake_ok);
    CHECK_THAT(r.error, Catch::StartsWith("handshake:"));  // offered and refused, not a client set-up error
    CHECK(r.http_status == 0);
    CheckAppWorks(*app);
  }
  for (const std::string aead : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                 "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    INFO(aead);
    const TlsProbeResult r = probe(TLS1_2_VERSION, aead);
    INFO(r.error);
    CHECK(r.protocol == "TLSv1.2");
    CHECK(r.cipher == aead);
    CHECK(r.http_status == 200);
  }
  // A client offering CBC and AEAD gets an AEAD suite.
  const TlsProbeResult mixed = probe(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256");
  CHECK(mixed.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");
  const TlsProbeResult tls13 = probe(0, "");
  CHECK(tls13.protocol == "TLSv1.3");
  CHECK(tls13.http_status == 200);
  CheckAppWorks(*app);
}

}  // namespace
}  // namespace sovereign::test
