#include "keystore/internal/principal.hpp"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <string_view>

namespace sovereign::keystore_internal {
namespace {

constexpr std::string_view kSpiffeScheme = "spiffe://";
// How much of a refused name a message may quote.
constexpr std::size_t kQuotedPrefix = 64;

Status Denied(std::string message) { return Status(ErrorCode::kDenied, std::move(message)); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsTrustDomainChar(char c) { return IsLower(c) || IsDigit(c) || c == '.' || c == '-' || c == '_'; }
bool IsPathChar(char c) { return IsLower(c) || IsUpper(c) || IsDigit(c) || c == '.' || c == '-' || c == '_'; }

// Quote returns a bounded, printable-ASCII prefix of `text` in double quotes,
// for messages: every other byte (controls, quotes, backslashes, non-ASCII)
// shows as '?', so nothing a certificate holds can shape a log line.
std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kQuotedPrefix; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? static_cast<char>(c) : '?';
  }
  if (text.size() > kQuotedPrefix) out += "...";
  out += '"';
  return out;
}

// Why a character is refused, in the words of the URI syntax it would carry.
std::string_view TrustDomainCharProblem(char c) {
  switch (c) {
    case '%': return "percent-encoding in the trust domain";
    case '@': return "userinfo in the trust domain";
    case ':': return "a port in the trust domain";
    case '?': return "a query";
    case '#': return "a fragment";
    default: return IsUpper(c) ? "an uppercase letter in the trust domain"
                               : "a trust domain character outside [a-z0-9._-]";
  }
}

std::string_view PathCharProblem(char c) {
  switch (c) {
    case '%': return "percent-encoding in the path";
    case '?': return "a query";
    case '#': return "a fragment";
    default: return "a path character outside [A-Za-z0-9._-]";
  }
}

Status ValidatePath(std::string_view path) {
  // `path` starts with '/'; each '/' opens a segment that must be non-empty.
  std::size_t pos = 0;
  while (pos < path.size()) {
    const std::size_t next = path.find('/', pos + 1);
    const std::string_view segment = path.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
    if (segment.empty()) {
      return Denied(next == std::string_view::npos ? "it ends with '/'" : "it has an empty path segment");
    }
    if (segment == "." || segment == "..") return Denied("it has a '.' or '..' path segment");
    for (char c : segment) {
      if (!IsPathChar(c)) return Denied(fmt::format("it has {}", PathCharProblem(c)));
    }
    pos = next;
  }
  return OkStatus();
}

bool HasControlCharacter(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool StartsWithSpiffeAnyCase(std::string_view text) {
  constexpr std::string_view kPrefix = "spiffe:";
  if (text.size() < kPrefix.size()) return false;
  for (std::size_t i = 0; i < kPrefix.size(); ++i) {
    char c = text[i];
    if (IsUpper(c)) c = static_cast<char>(c - 'A' + 'a');
    if (c != kPrefix[i]) return false;
  }
  return true;
}

Status CheckValidityWindow(const X509* cert) {
  // X509_cmp_current_time: -1 when the time is at or before now, 1 after, 0 unreadable.
  const ASN1_TIME* not_before = X509_get0_notBefore(cert);
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (not_before == nullptr || not_after == nullptr) return Denied("the client certificate has no validity period");
  const int before = X509_cmp_current_time(not_before);
  const int after = X509_cmp_current_time(not_after);
  if (before == 0 || after == 0) return Denied("the client certificate's validity period cannot be read");
  if (before > 0) return Denied("the client certificate is not valid yet");
  if (after < 0) return Denied("the client certificate has expired");
  return OkStatus();
}

// UriSans is what a certificate's subjectAltName holds as URIs: how many, and the first.
struct UriSans {
  std::size_t count = 0;
  std::string first;
};

// ReadUriSans reads the subjectAltName extension; kDenied when it is repeated
// or cannot be parsed (never "no URI SAN": that would let a CN be consulted).
Result<UriSans> ReadUriSans(const X509* cert) {
  int found = -1;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &found, nullptr));
  UriSans sans;
  if (names == nullptr) {
    if (found == -1) return sans;  // no subjectAltName extension
    return Denied(found == -2 ? "the client certificate has more than one subjectAltName extension"
                              : "the client certificate's subjectAltName extension cannot be parsed");
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    if (sans.count++ == 0) {
      const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
      sans.first.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                        static_cast<std::size_t>(ASN1_STRING_length(uri)));
    }
  }
  GENERAL_NAMES_free(names);
  return sans;
}

Result<std::string> CommonNamePrincipal(const X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int index = subject == nullptr ? -1 : X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return Denied("the client certificate names no principal (no URI SAN, no subject CN)");
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
    return Denied("the client certificate has more than one subject CN");
  }
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int size = ASN1_STRING_to_UTF8(&utf8, data);
  if (size < 0 || utf8 == nullptr) return Denied("the client certificate's subject CN cannot be read");
  std::string cn(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(size));
  OPENSSL_free(utf8);
  if (cn.empty() || cn.size() > kMaxPrincipalSize) {
    return Denied(fmt::format("the client certificate's subject CN must hold 1 to {} bytes", kMaxPrincipalSize));
  }
  if (HasControlCharacter(cn)) return Denied("the client certificate's subject CN holds a control character");
  // A CN never stands in for a SPIFFE ID or anything path-like that a
  // policy pattern could mistake for one.
  if (StartsWithSpiffeAnyCase(cn) || cn.find('/') != std::string::npos) {
    return Denied(fmt::format("the client certificate's subject CN {} looks like a SPIFFE ID or a path; "
                              "a SPIFFE ID is accepted only as the certificate's one URI SAN",
                              Quote(cn)));
  }
  return cn;
}

}  // namespace

Status ValidateSpiffeId(std::string_view id) {
  if (id.size() > kMaxPrincipalSize) return Denied(fmt::format("it is longer than {} bytes", kMaxPrincipalSize));
  if (id.substr(0, kSpiffeScheme.size()) != kSpiffeScheme) return Denied("its scheme is not \"spiffe://\" (lowercase)");
  const std::string_view rest = id.substr(kSpiffeScheme.size());
  const std::size_t slash = rest.find('/');
  const std::string_view trust_domain = rest.substr(0, slash);
  if (trust_domain.empty()) return Denied("its trust domain is empty");
  if (trust_domain.size() > kMaxTrustDomainSize) {
    return Denied(fmt::format("its trust domain is longer than {} bytes", kMaxTrustDomainSize));
  }
  for (char c : trust_domain) {
    if (!IsTrustDomainChar(c)) return Denied(fmt::format("it has {}", TrustDomainCharProblem(c)));
  }
  if (slash == std::string_view::npos) return Denied("it has no path (a trust domain's own ID names no workload)");
  return ValidatePath(rest.substr(slash));
}

bool IsSpiffeId(std::string_view id) { return ValidateSpiffeId(id).ok(); }

Result<std::string> PrincipalFromCertificate(X509* cert, const IdentityOptions& options) {
  if (cert == nullptr) return Denied("no client certificate");
  SOVEREIGN_RETURN_IF_ERROR(CheckValidityWindow(cert));
  auto sans = ReadUriSans(cert);
  if (!sans.ok()) return sans.status();
  if (sans->count > 1) {
    return Denied(fmt::format("the client certificate has {} URI SANs; an X509-SVID has exactly one", sans->count));
  }
  if (sans->count == 1) {
    Status valid = ValidateSpiffeId(sans->first);
    if (!valid.ok()) {
      return Denied(fmt::format("the client certificate's URI SAN {} is not a valid SPIFFE ID: {}",
                                Quote(sans->first), valid.message()));
    }
    return std::move(sans->first);
  }
  if (!options.allow_common_name) {
    return Denied("the client certificate has no URI SAN; an X509-SVID has exactly one, holding a SPIFFE ID "
                  "(subject CN principals are off: configuration member /identity/allow_common_name)");
  }
  return CommonNamePrincipal(cert);
}

}  // namespace sovereign::keystore_internal
