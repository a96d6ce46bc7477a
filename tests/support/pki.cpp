#include "tests/support/pki.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace sovereign::test {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

[[noreturn]] void Fail(const char* what) { throw std::runtime_error(std::string("test PKI: ") + what); }

void Check(int ok, const char* what) {
  if (ok != 1) Fail(what);
}

Pkey NewKey() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) Fail("EVP_PKEY_Q_keygen");
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) Fail("X509V3_EXT_conf_nid");
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  Check(ok, "X509_add_ext");
}

// AddUriSans adds a subjectAltName extension holding one URI per element of
// `uris`, bytes as given: the config syntax would split on commas and refuse
// some of the malformed values the tests need.
void AddUriSans(X509* cert, const std::vector<std::string>& uris) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) Fail("sk_GENERAL_NAME_new_null");
  for (const std::string& uri : uris) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (name == nullptr || text == nullptr ||
        ASN1_STRING_set(text, uri.data(), static_cast<int>(uri.size())) != 1) {
      GENERAL_NAME_free(name);
      ASN1_IA5STRING_free(text);
      GENERAL_NAMES_free(names);
      Fail("URI SAN");
    }
    GENERAL_NAME_set0_value(name, GEN_URI, text);
    if (sk_GENERAL_NAME_push(names, name) <= 0) {
      GENERAL_NAME_free(name);
      GENERAL_NAMES_free(names);
      Fail("sk_GENERAL_NAME_push");
    }
  }
  const int ok = X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);
  Check(ok, "X509_add1_ext_i2d");
}

// CertSpec says what to put in a certificate; defaults make a week-long client leaf.
struct CertSpec {
  std::string common_name;
  std::string subject_alt_names;  // X509V3 config syntax, e.g. "URI:spiffe://…"; empty for none
  std::vector<std::string> uris;  // raw URI SANs, used instead of subject_alt_names when not empty
  bool is_ca = false;
  bool server = false;
  long not_before_offset = -3600;          // seconds from now
  long not_after_offset = 7L * 24 * 3600;  // seconds from now
};

CertSpec CaSpec() {
  CertSpec spec;
  spec.common_name = "Sovereign test root CA";
  spec.is_ca = true;
  return spec;
}

CertSpec LeafSpec(std::string common_name, std::string subject_alt_names, bool server = false) {
  CertSpec spec;
  spec.common_name = std::move(common_name);
  spec.subject_alt_names = std::move(subject_alt_names);
  spec.server = server;
  return spec;
}

// Issue builds a v3 certificate for `subject_key`, signed by `issuer_key`
// under `issuer` (self-signed when `issuer` is null).
Cert Issue(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key) {
  Cert cert(X509_new());
  if (!cert) Fail("X509_new");
  Check(X509_set_version(cert.get(), 2), "X509_set_version");
  unsigned char serial[16];
  Check(RAND_bytes(serial, sizeof serial), "RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) Fail("serial");
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(cert.get());
  Check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Sovereign tests"),
                                   -1, -1, 0),
        "subject O");
  if (!spec.common_name.empty()) {
    Check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(spec.common_name.data()),
                                     static_cast<int>(spec.common_name.size()), -1, 0),
          "subject CN");
  }
  Check(X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name), "issuer");
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_offset) == nullptr) Fail("notBefore");
  if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_offset) == nullptr) Fail("notAfter");
  Check(X509_set_pubkey(cert.get(), subject_key), "X509_set_pubkey");

  X509* signer = issuer ? issuer : cert.get();
  AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (spec.is_ca) {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), signer, NID_ext_key_usage, spec.server ? "serverAuth" : "clientAuth");
  }
  if (!spec.uris.empty()) {
    AddUriSans(cert.get(), spec.uris);
  } else if (!spec.subject_alt_names.empty()) {
    AddExtension(cert.get(), signer, NID_subject_alt_name, spec.subject_alt_names);
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) Fail("X509_sign");
  return cert;
}

void WriteFile(const std::filesystem::path& path, const std::string& data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  ::fchmod(fd, mode);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw std::system_error(errno, std::generic_category(), "write " + path.string());
    }
    done += static_cast<std::size_t>(w);
  }
  ::close(fd);
}

template <typename WriteFn>
std::string Pem(WriteFn write) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) Fail("PEM write");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

void WriteCert(const std::filesystem::path& path, X509* cert) {
  WriteFile(path, Pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); }), 0644);
}

void WriteKey(const std::filesystem::path& path, EVP_PKEY* key) {
  WriteFile(path,
            Pem([key](BIO* b) { return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); }),
            0600);
}

}  // namespace

struct TestPki::Keys {
  Pkey ca_key;
  Cert ca_cert;
};

TestPki::TestPki(const std::filesystem::path& dir) : dir_(dir), keys_(std::make_unique<Keys>()) {
  std::filesystem::create_directories(dir_);
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all);

  keys_->ca_key = NewKey();
  keys_->ca_cert = Issue(CaSpec(), keys_->ca_key.get(), nullptr, keys_->ca_key.get());
  ca_ = dir_ / "ca.pem";
  WriteCert(ca_, keys_->ca_cert.get());

  Pkey server_key = NewKey();
  Cert server_cert = Issue(LeafSpec("localhost", "DNS:localhost,IP:127.0.0.1", true), server_key.get(),
                           keys_->ca_cert.get(), keys_->ca_key.get());
  server_ = {dir_ / "server.pem", dir_ / "server.key"};
  WriteCert(server_.cert, server_cert.get());
  WriteKey(server_.key, server_key.get());

  us_app_ = IssueClient("us-app", kUsAppId, "us-app");
  us_officer_ = IssueClient("us-officer", kUsOfficerId, "us-officer");
  cn_engineer_ = IssueClient("cn-engineer", kCnEngineerId, "alice");
  eu_app_ = IssueClient("eu-app", kEuAppId, "eu-app");
  eu_officer_ = IssueClient("eu-officer", kEuOfficerId, "eu-officer");
  cn_only_ = IssueClient("cn-only", "", kCnOnlyName);

  // Same SPIFFE ID as the US app, but signed by a CA the servers do not trust.
  Pkey other_ca_key = NewKey();
  Cert other_ca = Issue(CaSpec(), other_ca_key.get(), nullptr, other_ca_key.get());
  untrusted_ca_ = dir_ / "untrusted-ca.pem";
  WriteCert(untrusted_ca_, other_ca.get());
  Pkey untrusted_key = NewKey();
  Cert untrusted_cert = Issue(LeafSpec("us-app", std::string("URI:") + kUsAppId), untrusted_key.get(), other_ca.get(),
                              other_ca_key.get());
  untrusted_ = {dir_ / "untrusted.pem", dir_ / "untrusted.key"};
  WriteCert(untrusted_.cert, untrusted_cert.get());
  WriteKey(untrusted_.key, untrusted_key.get());

  // Trusted issuer, valid from two days ago to yesterday.
  Pkey expired_key = NewKey();
  CertSpec expired_spec = LeafSpec("us-app", std::string("URI:") + kUsAppId);
  expired_spec.not_before_offset = -2L * 24 * 3600;
  expired_spec.not_after_offset = -24L * 3600;
  Cert expired_cert = Issue(expired_spec, expired_key.get(), keys_->ca_cert.get(), keys_->ca_key.get());
  expired_ = {dir_ / "expired.pem", dir_ / "expired.key"};
  WriteCert(expired_.cert, expired_cert.get());
  WriteKey(expired_.key, expired_key.get());
}

TestPki::~TestPki() = default;

CertFiles TestPki::IssueClient(const std::string& name, const std::string& spiffe_id, const std::string& common_name) {
  Pkey key = NewKey();
  Cert cert = Issue(LeafSpec(common_name, spiffe_id.empty() ? "" : "URI:" + spiffe_id), key.get(), keys_->ca_cert.get(),
                    keys_->ca_key.get());
  CertFiles files{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  WriteCert(files.cert, cert.get());
  WriteKey(files.key, key.get());
  return files;
}

CertFiles TestPki::IssueClientCert(const std::string& name, const ClientCertSpec& client) {
  CertSpec spec = LeafSpec(client.common_name, "");
  spec.uris = client.uri_sans;
  spec.not_before_offset = static_cast<long>(client.not_before.count());
  spec.not_after_offset = static_cast<long>(client.not_after.count());
  Pkey key = NewKey();
  Cert cert = Issue(spec, key.get(), keys_->ca_cert.get(), keys_->ca_key.get());
  CertFiles files{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  WriteCert(files.cert, cert.get());
  WriteKey(files.key, key.get());
  return files;
}

}  // namespace sovereign::test
