// TestPki: a throwaway X.509 PKI generated at test time for the service tests.
//
// Every certificate and key is P-256, written as PEM into a directory the
// caller owns (keys 0600). Nothing is cached between test runs: each TestPki
// has its own CAs, so a certificate from one run never verifies in another.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sovereign::test {

// CertFiles names one identity's certificate and private key files.
struct CertFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
};

// The SPIFFE IDs the service tests use.
inline constexpr const char* kUsAppId = "spiffe://corp.example/region/us/svc/app";
inline constexpr const char* kUsOfficerId = "spiffe://corp.example/region/us/security/officer";
inline constexpr const char* kCnEngineerId = "spiffe://corp.example/region/cn/eng/alice";
inline constexpr const char* kEuAppId = "spiffe://corp.example/region/eu/svc/app";
inline constexpr const char* kEuOfficerId = "spiffe://corp.example/region/eu/security/officer";
// Subject CN of the certificate that carries no URI SAN (a principal only
// where the server config sets identity.allow_common_name).
inline constexpr const char* kCnOnlyName = "batch-job.corp.example";

// ClientCertSpec says what IssueClientCert puts in a client certificate.
struct ClientCertSpec {
  // One subjectAltName URI per element, written byte for byte (no parsing, no
  // escaping): malformed and hostile values are the point.
  std::vector<std::string> uri_sans;
  // Subject CN; none when empty.
  std::string common_name;
  // Validity window, relative to now.
  std::chrono::seconds not_before{-3600};
  std::chrono::seconds not_after{7L * 24 * 3600};
};

class TestPki {
 public:
  // TestPki generates, under `dir` (created if needed):
  //   ca.pem                      the trusted root CA (servers' client_ca, clients' CA)
  //   server.pem/.key             CN=localhost, SAN DNS:localhost, IP:127.0.0.1
  //   us-app, us-officer, cn-engineer, eu-app, eu-officer  client certs with the URI SANs above
  //   cn-only                     client cert with only subject CN kCnOnlyName (no URI SAN)
  //   untrusted                   client cert for kUsAppId from another CA (untrusted-ca.pem)
  //   expired                     client cert for kUsAppId from the trusted CA, notAfter yesterday
  // Throws std::runtime_error when OpenSSL fails.
  explicit TestPki(const std::filesystem::path& dir);
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& ca() const { return ca_; }
  const std::filesystem::path& untrusted_ca() const { return untrusted_ca_; }
  const CertFiles& server() const { return server_; }
  const CertFiles& us_app() const { return us_app_; }
  const CertFiles& us_officer() const { return us_officer_; }
  const CertFiles& cn_engineer() const { return cn_engineer_; }
  const CertFiles& eu_app() const { return eu_app_; }
  const CertFiles& eu_officer() const { return eu_officer_; }
  const CertFiles& cn_only() const { return cn_only_; }
  const CertFiles& untrusted() const { return untrusted_; }
  const CertFiles& expired() const { return expired_; }

  // IssueClient issues one more client certificate from the trusted CA, named
  // `name` in the directory, with URI SAN `spiffe_id` (none when empty) and
  // subject CN `common_name`.
  CertFiles IssueClient(const std::string& name, const std::string& spiffe_id, const std::string& common_name);
  // IssueClientCert issues one more client certificate from the trusted CA,
  // named `name` in the directory, exactly as `spec` says.
  CertFiles IssueClientCert(const std::string& name, const ClientCertSpec& spec);

 private:
  struct Keys;
  std::filesystem::path dir_;
  std::unique_ptr<Keys> keys_;
  std::filesystem::path ca_, untrusted_ca_;
  CertFiles server_, us_app_, us_officer_, cn_engineer_, eu_app_, eu_officer_, cn_only_, untrusted_, expired_;
};

}  // namespace sovereign::test
