// Principal: who a client is, derived only from its verified TLS client
// certificate — never from anything the request says.
//
// The rules are those of an X509-SVID (SPIFFE X.509-SVID specification §2,
// §4): the certificate must carry exactly one subjectAltName URI, and that
// URI must be a valid SPIFFE ID (see ValidateSpiffeId). A certificate with no
// URI SAN, two or more, or one that is not a valid SPIFFE ID names no
// principal. The subject CN is never consulted unless a deployment turns it
// on (IdentityOptions::allow_common_name), and then only for certificates
// with no URI SAN at all; a CN that looks like a SPIFFE ID or a path is
// refused even then, so a CN can never stand in for a SPIFFE ID.
//
// Certificates are also refused outside their validity window at the time of
// the call: a keep-alive connection cannot outlive its certificate.
//
// Security: refusal messages say why and quote at most a short, printable
// ASCII prefix of the certificate's content (never control characters), so a
// hostile certificate cannot forge log lines or flood an answer.
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// kMaxPrincipalSize bounds a principal (the SPIFFE specification's 2048-byte
// URI bound; a CN principal is bounded the same way).
inline constexpr std::size_t kMaxPrincipalSize = 2048;
// kMaxTrustDomainSize is the SPIFFE specification's trust domain bound.
inline constexpr std::size_t kMaxTrustDomainSize = 255;

// IdentityOptions is the deployment's `identity` configuration member.
struct IdentityOptions {
  // allow_common_name lets a certificate with no URI SAN at all be known by
  // its subject CN. Off by default: a CN is whatever the CA was asked to put
  // there, and it has no structure a policy can rely on.
  bool allow_common_name = false;
};

// ValidateSpiffeId returns ok when `id` is a SPIFFE ID in its only accepted
// (normalised) form: "spiffe://" in lowercase, a trust domain of [a-z0-9._-],
// then one or more "/segment" where each segment is non-empty, is not "." or
// "..", and holds only [A-Za-z0-9._-]; no trailing '/', percent-encoding,
// query, fragment, userinfo or port; at most kMaxPrincipalSize bytes, the
// trust domain at most kMaxTrustDomainSize. A trust domain's own ID (no path)
// names no workload and is refused. Otherwise kDenied saying which rule
// failed (the message does not quote `id`).
Status ValidateSpiffeId(std::string_view id);

// IsSpiffeId is ValidateSpiffeId(id).ok().
bool IsSpiffeId(std::string_view id);

// PrincipalFromCertificate returns the principal named by `cert` (which the
// TLS layer has already verified against the client CA) under the rules
// above. kDenied saying why when it names none or is outside its validity
// window; `cert` may be null (no certificate: also kDenied).
Result<std::string> PrincipalFromCertificate(X509* cert, const IdentityOptions& options = {});

}  // namespace sovereign::keystore_internal
