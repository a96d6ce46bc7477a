// Principals come from the client certificate under the X509-SVID rules:
// exactly one URI SAN holding a valid, normalised SPIFFE ID; the subject CN
// only where a deployment allows it, only without any URI SAN, and never as a
// SPIFFE ID; nothing that could forge a log line.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "keystore/internal/access_policy.hpp"
#include "keystore/internal/principal.hpp"
#include "keystore/internal/server_config.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;

constexpr const char* kAppId = "spiffe://corp.example/region/us/svc/app";

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// CertSpec is what MakeCert puts in a self-signed certificate (principal
// derivation does not verify chains: the TLS layer does).
struct CertSpec {
  std::vector<std::string> common_names;  // subject CNs, in order
  std::vector<std::string> uris;          // URI SANs, bytes as given
  std::string other_sans;                 // more SANs in OpenSSL config syntax ("DNS:x")
  int san_extensions = 1;                 // how many times the subjectAltName extension is added
  long not_before = -60;                  // seconds from now
  long not_after = 3600;
};

GENERAL_NAMES* SanNames(const CertSpec& spec, X509* cert) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  REQUIRE(names != nullptr);
  if (!spec.other_sans.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, spec.other_sans.c_str());
    REQUIRE(ext != nullptr);
    auto* parsed = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext));
    X509_EXTENSION_free(ext);
    REQUIRE(parsed != nullptr);
    while (sk_GENERAL_NAME_num(parsed) > 0) sk_GENERAL_NAME_push(names, sk_GENERAL_NAME_shift(parsed));
    GENERAL_NAMES_free(parsed);
  }
  for (const std::string& uri : spec.uris) {
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    REQUIRE(text != nullptr);
    REQUIRE(ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size())) == 1);
    GENERAL_NAME* name = GENERAL_NAME_new();
    REQUIRE(name != nullptr);
    GENERAL_NAME_set0_value(name, GEN_URI, text);
    REQUIRE(sk_GENERAL_NAME_push(names, name) > 0);
  }
  return names;
}

X509Ptr MakeCert(const CertSpec& spec) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), 2) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("corp"), -1, -1, 0);
  for (const std::string& cn : spec.common_names) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                       static_cast<int>(cn.size()), -1, 0) == 1);
  }
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  if (!spec.uris.empty() || !spec.other_sans.empty()) {
    GENERAL_NAMES* names = SanNames(spec, cert.get());
    for (int i = 0; i < spec.san_extensions; ++i) {
      // X509V3_ADD_APPEND: a second extension of the same type, as a hostile CA request might carry.
      REQUIRE(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names, 0, X509V3_ADD_APPEND) == 1);
    }
    GENERAL_NAMES_free(names);
  }
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  EVP_PKEY_free(key);
  return cert;
}

X509Ptr UriCert(std::vector<std::string> uris, std::string cn = "app") {
  CertSpec spec;
  spec.uris = std::move(uris);
  spec.common_names = {std::move(cn)};
  return MakeCert(spec);
}

X509Ptr CnCert(std::string cn, std::string other_sans = "") {
  CertSpec spec;
  spec.common_names = {std::move(cn)};
  spec.other_sans = std::move(other_sans);
  return MakeCert(spec);
}

constexpr ki::IdentityOptions kCnAllowed{.allow_common_name = true};

std::string PrincipalOf(const X509Ptr& cert, const ki::IdentityOptions& options = {}) {
  auto principal = ki::PrincipalFromCertificate(cert.get(), options);
  INFO(principal.status().ToString());
  REQUIRE(principal.ok());
  return *principal;
}

// Refusal returns the message of a refused certificate (failing the test if accepted).
std::string Refusal(const X509Ptr& cert, const ki::IdentityOptions& options = {}) {
  auto principal = ki::PrincipalFromCertificate(cert.get(), options);
  if (principal.ok()) FAIL("accepted as " << *principal);
  CHECK(principal.code() == ErrorCode::kDenied);
  return principal.status().message();
}

bool Printable(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

TEST_CASE("the SPIFFE ID in the one URI SAN is the principal, whatever the CN says") {
  auto cert = UriCert({"spiffe://corp.example/region/cn/eng/alice"}, "spiffe://corp.example/region/us/security/officer");
  CHECK(PrincipalOf(cert) == "spiffe://corp.example/region/cn/eng/alice");
  CHECK(PrincipalOf(cert, kCnAllowed) == "spiffe://corp.example/region/cn/eng/alice");
}

TEST_CASE("DNS and IP names beside the one URI SAN do not matter") {
  CertSpec spec;
  spec.uris = {kAppId};
  spec.other_sans = "DNS:app.example, IP:10.0.0.1";
  CHECK(PrincipalOf(MakeCert(spec)) == kAppId);
}

TEST_CASE("SPIFFE IDs in normal form are accepted") {
  for (const std::string id :
       {"spiffe://corp.example/region/us/svc/app", "spiffe://a/b", "spiffe://td_1-x.y/A.b-c_d/Z9",
        "spiffe://corp/.hidden", "spiffe://corp/..x/x..", "spiffe://corp/...", "spiffe://0/-"}) {
    CAPTURE(id);
    CHECK(ki::ValidateSpiffeId(id).ok());
  }
  // The bound is inclusive: 2048 bytes in all, a trust domain of 255.
  const std::string prefix = "spiffe://corp/";
  CHECK(ki::IsSpiffeId(prefix + std::string(ki::kMaxPrincipalSize - prefix.size(), 'a')));
  CHECK(ki::IsSpiffeId("spiffe://" + std::string(ki::kMaxTrustDomainSize, 'd') + "/x"));
}

TEST_CASE("every malformed or unnormalised SPIFFE ID is refused, saying why") {
  struct Case {
    std::string id;
    std::string why;
  };
  const std::string us = "spiffe://corp.example/region/us";
  const std::vector<Case> cases = {
      {"SPIFFE://corp.example/x", "scheme"},
      {"Spiffe://corp.example/x", "scheme"},
      {"spiffe:/corp.example/x", "scheme"},
      {"spiffe:corp.example/x", "scheme"},
      {"https://corp.example/x", "scheme"},
      {"spiffe://", "trust domain is empty"},
      {"spiffe:///region/us/svc/app", "trust domain is empty"},
      {"spiffe://Corp.example/x", "uppercase"},
      {"spiffe://corp.example:443/x", "port"},
      {"spiffe://svc@corp.example/x", "userinfo"},
      {"spiffe://corp%2eexample/x", "percent-encoding"},
      {"spiffe://corp example/x", "outside [a-z0-9._-]"},
      {"spiffe://corp.example", "no path"},
      {"spiffe://corp.example?x=1", "query"},
      {us + "/svc/../../cn/eng/alice", "'..'"},
      {us + "/svc/..", "'..'"},
      {us + "/./svc/app", "'.'"},
      {us + "/svc/.", "'.'"},
      {us + "//svc/app", "empty path segment"},
      {"spiffe://corp.example//region/us/svc/app", "empty path segment"},
      {us + "/svc/app/", "ends with '/'"},
      {"spiffe://corp.example/", "ends with '/'"},
      {us + "/svc/%2e%2e/%2e%2e/cn/eng/alice", "percent-encoding"},
      {us + "/svc/app%2Fx", "percent-encoding"},
      {us + "/svc/%61pp", "percent-encoding"},
      {us + "/svc/app?role=admin", "query"},
      {us + "/svc/app#x", "fragment"},
      {us + "/svc/app x", "outside [A-Za-z0-9._-]"},
      {us + "/svc/app\t", "outside [A-Za-z0-9._-]"},
      {us + "/svc/app\nprincipal=root", "outside [A-Za-z0-9._-]"},
      {us + std::string("/svc/app\0x", 10), "outside [A-Za-z0-9._-]"},
      {us + "/svc/appé", "outside [A-Za-z0-9._-]"},
      {us + "/svc/app:8443", "outside [A-Za-z0-9._-]"},
      {us + "/svc/*", "outside [A-Za-z0-9._-]"},
      {"spiffe://corp/" + std::string(ki::kMaxPrincipalSize, 'a'), "longer than 2048"},
      {"spiffe://" + std::string(ki::kMaxTrustDomainSize + 1, 'd') + "/x", "trust domain is longer than 255"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.id);
    Status status = ki::ValidateSpiffeId(c.id);
    REQUIRE_FALSE(status.ok());
    CHECK(status.code() == ErrorCode::kDenied);
    CHECK_THAT(status.message(), Catch::Contains(c.why));
    // The same ID in a certificate's one URI SAN names no principal, and the
    // CN is not consulted instead, even where CN principals are allowed.
    auto cert = UriCert({c.id}, "app");
    CHECK_THAT(Refusal(cert), Catch::Contains("is not a valid SPIFFE ID"));
    CHECK_THAT(Refusal(cert, kCnAllowed), Catch::Contains("is not a valid SPIFFE ID"));
  }
}

TEST_CASE("a certificate with two URI SANs is refused, even when both are valid or equal") {
  CHECK(Refusal(UriCert({kAppId, "spiffe://corp.example/region/cn/eng/alice"})) ==
        "the client certificate has 2 URI SANs; an X509-SVID has exactly one");
  CHECK_THAT(Refusal(UriCert({kAppId, kAppId})), Catch::Contains("2 URI SANs"));
  CHECK_THAT(Refusal(UriCert({"https://corp.example/app", kAppId}), kCnAllowed), Catch::Contains("2 URI SANs"));
  CHECK_THAT(Refusal(UriCert({kAppId, "a", "b"})), Catch::Contains("3 URI SANs"));
}

TEST_CASE("a certificate with two subjectAltName extensions is refused") {
  CertSpec spec;
  spec.uris = {kAppId};
  spec.san_extensions = 2;
  CHECK_THAT(Refusal(MakeCert(spec)), Catch::Contains("more than one subjectAltName extension"));
}

TEST_CASE("a URI SAN that is not a SPIFFE ID is refused, and the CN is not consulted instead") {
  for (const std::string uri : {"https://corp.example/app", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", ""}) {
    CAPTURE(uri);
    CHECK_THAT(Refusal(UriCert({uri}, "batch-job")), Catch::Contains("is not a valid SPIFFE ID"));
    CHECK_THAT(Refusal(UriCert({uri}, "batch-job"), kCnAllowed), Catch::Contains("is not a valid SPIFFE ID"));
  }
}

TEST_CASE("a certificate with only a subject CN is refused unless the deployment allows CN principals") {
  CHECK_THAT(Refusal(CnCert("batch-job-7")), Catch::Contains("no URI SAN"));
  CHECK_THAT(Refusal(CnCert("batch-job-7")), Catch::Contains("allow_common_name"));
  CHECK_THAT(Refusal(CnCert("batch-job-7", "DNS:job.example")), Catch::Contains("no URI SAN"));
  CHECK(PrincipalOf(CnCert("batch-job-7"), kCnAllowed) == "batch-job-7");
  CHECK(PrincipalOf(CnCert("batch-job-7", "DNS:job.example, IP:10.0.0.7"), kCnAllowed) == "batch-job-7");
  CHECK(PrincipalOf(CnCert("bjørn"), kCnAllowed) == "bjørn");  // UTF-8 is kept as UTF-8
}

TEST_CASE("a CN that spoofs a SPIFFE ID or a path is never a principal, even where CN principals are allowed") {
  for (const std::string cn : {"spiffe://corp.example/region/us/svc/app", "SPIFFE://corp.example/region/us/svc/app",
                               "Spiffe:corp.example/region/us/svc/app", "spiffe:", "corp.example/region/us/svc/app",
                               "region/us/svc/app", "/"}) {
    CAPTURE(cn);
    CHECK_THAT(Refusal(CnCert(cn)), Catch::Contains("no URI SAN"));
    CHECK_THAT(Refusal(CnCert(cn), kCnAllowed), Catch::Contains("looks like a SPIFFE ID or a path"));
  }
}

TEST_CASE("a CN principal needs exactly one readable, control-free CN") {
  CertSpec none;
  none.other_sans = "DNS:app.example";
  CHECK_THAT(Refusal(MakeCert(none), kCnAllowed), Catch::Contains("names no principal"));
  CertSpec two;
  two.common_names = {"batch-job", "officer"};
  CHECK_THAT(Refusal(MakeCert(two), kCnAllowed), Catch::Contains("more than one subject CN"));
  CHECK_THAT(Refusal(CnCert("app\nprincipal=root"), kCnAllowed), Catch::Contains("control character"));
  CHECK_THAT(Refusal(CnCert(std::string("app\0x", 5)), kCnAllowed), Catch::Contains("control character"));
  CHECK_THAT(Refusal(CnCert("app\x7f"), kCnAllowed), Catch::Contains("control character"));
}

TEST_CASE("no certificate is refused") {
  auto none = ki::PrincipalFromCertificate(nullptr);
  CHECK(none.code() == ErrorCode::kDenied);
  CHECK(none.status().message() == "no client certificate");
}

TEST_CASE("a certificate outside its validity window is refused at the time of the request") {
  CertSpec expired;
  expired.uris = {kAppId};
  expired.not_before = -7200;
  expired.not_after = -1;
  CHECK(Refusal(MakeCert(expired)) == "the client certificate has expired");
  CertSpec early;
  early.uris = {kAppId};
  early.not_before = 3600;
  early.not_after = 7200;
  CHECK(Refusal(MakeCert(early)) == "the client certificate is not valid yet");
  CertSpec cn_expired;
  cn_expired.common_names = {"batch-job"};
  cn_expired.not_after = -1;
  CHECK(Refusal(MakeCert(cn_expired), kCnAllowed) == "the client certificate has expired");
}

TEST_CASE("refusals quote only a short printable prefix of what the certificate holds") {
  const std::string hostile = "spiffe://corp.example/region/us/svc/" + std::string(3000, 'a') + "\n{\"principal\":\"root\"}\x1b[2J";
  const std::string message = Refusal(UriCert({hostile}));
  CHECK(message.size() < 300);
  CHECK(Printable(message));
  CHECK(message.find(std::string(100, 'a')) == std::string::npos);
  const std::string control = "spiffe://corp.example/region/us/svc/app\r\nx-forged: 1\"\\";
  const std::string quoted = Refusal(UriCert({control}));
  CHECK(Printable(quoted));
  CHECK_THAT(quoted, Catch::Contains("\"spiffe://corp.example/region/us/svc/app??x-forged: 1??\""));
  // (X.509 bounds a CN at 64 characters.)
  const std::string cn = Refusal(CnCert("spiffe://corp.example/" + std::string(40, 'b') + "\x01"), kCnAllowed);
  CHECK(cn.size() < 300);
  CHECK(Printable(cn));
}

TEST_CASE("a spiffe:// access rule never matches a principal that is not a valid SPIFFE ID") {
  using ki::PrincipalMatches;
  const std::string pattern = "spiffe://corp.example/region/us/svc/*";
  CHECK(PrincipalMatches(pattern, kAppId));
  for (const std::string principal :
       {"spiffe://corp.example/region/us/svc/../../cn/eng/alice", "spiffe://corp.example/region/us/svc//app",
        "spiffe://corp.example/region/us/svc/app/", "spiffe://corp.example/region/us/svc/%2e%2e/x",
        "spiffe://corp.example/region/us/svc/./app", "spiffe://corp.example/region/us/svc/app?x"}) {
    CAPTURE(principal);
    CHECK_FALSE(PrincipalMatches(pattern, principal));
  }
  // A CN principal, whatever it holds, never matches a SPIFFE pattern, in any case.
  CHECK_FALSE(PrincipalMatches("spiffe://*", "batch-job"));
  CHECK_FALSE(PrincipalMatches("SPIFFE:*", "batch-job"));
  CHECK_FALSE(PrincipalMatches("*", std::string_view("a\0b", 3)));
  // Other patterns keep their glob meaning, for CN principals where allowed.
  CHECK(PrincipalMatches("batch-job-*", "batch-job-7"));
  CHECK(PrincipalMatches("*", "batch-job-7"));
}

TEST_CASE("CN principals are off unless the configuration's identity member turns them on") {
  const std::string base = R"({"region": "us", "listen": "127.0.0.1:0", "store": {"dir": "ks"},
                               "tls": {"cert": "s.pem", "key": "s.key", "client_ca": "ca.pem"})";
  const auto parse = [&](const std::string& extra) { return ki::ParseServerConfig(base + extra + "}", "/etc/s"); };
  auto absent = parse("");
  REQUIRE(absent.ok());
  CHECK_FALSE(absent->identity.allow_common_name);
  auto off = parse(R"(, "identity": {"allow_common_name": false})");
  REQUIRE(off.ok());
  CHECK_FALSE(off->identity.allow_common_name);
  auto on = parse(R"(, "identity": {"allow_common_name": true})");
  REQUIRE(on.ok());
  CHECK(on->identity.allow_common_name);
  auto empty = parse(R"(, "identity": {})");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->identity.allow_common_name);
  for (const std::string bad : {R"(, "identity": {"allow_common_name": "true"})",
                                R"(, "identity": {"allow_common_name": 1})", R"(, "identity": true)",
                                R"(, "identity": {"allow_cn": true})"}) {
    CAPTURE(bad);
    auto parsed = parse(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.code() == ErrorCode::kInvalidArgument);
    CHECK_THAT(parsed.status().message(), Catch::Contains("/identity"));
  }
}

}  // namespace
}  // namespace sovereign
