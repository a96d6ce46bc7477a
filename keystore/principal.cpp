#include "keystore/internal/principal.hpp"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <optional>
#include <string_view>

namespace sovereign::keystore_internal {
namespace {

constexpr std::string_view kSpiffeScheme = "spiffe://";

bool Acceptable(std::string_view name) {
  if (name.empty() || name.size() > kMaxPrincipalSize) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::optional<std::string> SpiffeUri(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return std::nullopt;
  std::optional<std::string> found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                          static_cast<std::size_t>(ASN1_STRING_length(uri)));
    if (text.substr(0, kSpiffeScheme.size()) == kSpiffeScheme && Acceptable(text)) found = std::string(text);
  }
  GENERAL_NAMES_free(names);
  return found;
}

std::optional<std::string> CommonName(X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (subject == nullptr) return std::nullopt;
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0 || utf8 == nullptr) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(size));
  OPENSSL_free(utf8);
  if (!Acceptable(text)) return std::nullopt;
  return text;
}

}  // namespace

Result<std::string> PrincipalFromCertificate(X509* cert) {
  if (cert == nullptr) return Status(ErrorCode::kDenied, "no client certificate");
  if (auto uri = SpiffeUri(cert)) return *uri;
  if (auto cn = CommonName(cert)) return *cn;
  return Status(ErrorCode::kDenied, "the client certificate names no principal (no spiffe:// URI SAN, no CN)");
}

}  // namespace sovereign::keystore_internal
