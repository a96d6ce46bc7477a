#include "sovereign/status.hpp"

#include <string>

namespace sovereign {

std::string_view ErrorCodeName(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidCiphertext: return "invalid_ciphertext";
    case ErrorCode::kKeyNotFound: return "key_not_found";
    case ErrorCode::kKeyVersionUnusable: return "key_version_unusable";
    case ErrorCode::kWrongRegion: return "wrong_region";
    case ErrorCode::kDenied: return "denied";
    case ErrorCode::kKeystoreUnavailable: return "keystore_unavailable";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kShredded: return "shredded";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
  }
  return "unknown";
}

ErrorCode ErrorCodeFromName(std::string_view name) noexcept {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kResourceExhausted); ++i) {
    if (ErrorCodeName(static_cast<ErrorCode>(i)) == name) return static_cast<ErrorCode>(i);
  }
  return ErrorCode::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ErrorCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace sovereign
