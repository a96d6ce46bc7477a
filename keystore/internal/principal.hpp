// Principal: who a client is, derived only from its verified TLS client
// certificate — never from anything the request says.
//
// The principal is the first subjectAltName URI that starts with "spiffe://",
// else the certificate's (first) subject commonName. A name holding a NUL or
// any other control character, or longer than kMaxPrincipalSize bytes, is not
// accepted (it could forge log lines or fool glob matching).
#pragma once

#include <openssl/x509.h>

#include <cstddef>
#include <string>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

inline constexpr std::size_t kMaxPrincipalSize = 2048;

// PrincipalFromCertificate returns the principal named by `cert` (which the
// TLS layer has already verified). kDenied when the certificate names none;
// `cert` may be null (no certificate: also kDenied).
Result<std::string> PrincipalFromCertificate(X509* cert);

}  // namespace sovereign::keystore_internal
