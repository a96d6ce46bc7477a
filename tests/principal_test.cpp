// Principals come from the client certificate: the first spiffe:// URI SAN,
// else the subject CN; nothing that could forge a log line is accepted.
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "keystore/internal/principal.hpp"

namespace sovereign {
namespace {

namespace ki = keystore_internal;

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// MakeCert builds a self-signed certificate with subject CN `cn` (none when
// empty) and subjectAltName `san` in OpenSSL's config syntax (none when empty).
X509Ptr MakeCert(const std::string& cn, const std::string& san) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509Ptr cert(X509_new());
  REQUIRE(X509_set_version(cert.get(), 2) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  REQUIRE(X509_set_pubkey(cert.get(), key) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("corp"), -1, -1, 0);
  if (!cn.empty()) {
    REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.data()),
                                       static_cast<int>(cn.size()), -1, 0) == 1);
  }
  REQUIRE(X509_set_issuer_name(cert.get(), name) == 1);
  if (!san.empty()) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    REQUIRE(ext != nullptr);
    REQUIRE(X509_add_ext(cert.get(), ext, -1) == 1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  EVP_PKEY_free(key);
  return cert;
}

std::string PrincipalOf(const X509Ptr& cert) {
  auto principal = ki::PrincipalFromCertificate(cert.get());
  INFO(principal.status().ToString());
  REQUIRE(principal.ok());
  return *principal;
}

TEST_CASE("the SPIFFE ID in the URI SAN is the principal, whatever the CN says") {
  auto cert = MakeCert("spiffe://corp.example/region/us/security/officer",
                       "URI:spiffe://corp.example/region/cn/eng/alice");
  CHECK(PrincipalOf(cert) == "spiffe://corp.example/region/cn/eng/alice");
}

TEST_CASE("the first spiffe:// URI wins; other URIs and DNS names are skipped") {
  auto cert = MakeCert("app", "DNS:app.example, URI:https://corp.example/app, "
                              "URI:spiffe://corp.example/region/us/svc/app, URI:spiffe://corp.example/other");
  CHECK(PrincipalOf(cert) == "spiffe://corp.example/region/us/svc/app");
}

TEST_CASE("without a spiffe:// URI the subject CN is the principal") {
  CHECK(PrincipalOf(MakeCert("batch-job-7", "")) == "batch-job-7");
  CHECK(PrincipalOf(MakeCert("batch-job-7", "DNS:job.example, URI:https://corp.example/x")) == "batch-job-7");
  CHECK(PrincipalOf(MakeCert("bjørn", "")) == "bjørn");  // UTF-8 is kept as UTF-8
}

TEST_CASE("a URI scheme that only resembles spiffe is not a SPIFFE ID") {
  CHECK(PrincipalOf(MakeCert("fallback", "URI:SPIFFE://corp.example/x")) == "fallback");
  CHECK(PrincipalOf(MakeCert("fallback", "URI:spiffe:/corp.example/x")) == "fallback");
}

TEST_CASE("no certificate, or one naming no principal, is denied") {
  auto none = ki::PrincipalFromCertificate(nullptr);
  CHECK(none.code() == ErrorCode::kDenied);
  auto anonymous = ki::PrincipalFromCertificate(MakeCert("", "DNS:app.example").get());
  CHECK(anonymous.code() == ErrorCode::kDenied);
}

TEST_CASE("names with control characters are refused, so they cannot forge log lines") {
  auto cn = ki::PrincipalFromCertificate(MakeCert("app\nprincipal=root", "").get());
  CHECK(cn.code() == ErrorCode::kDenied);
  // A bad SPIFFE URI falls back to the CN rather than being accepted.
  CHECK(PrincipalOf(MakeCert("fallback", "URI:spiffe://corp.example/a\tb")) == "fallback");
}

}  // namespace
}  // namespace sovereign
