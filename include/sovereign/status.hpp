// Status and Result<T>: the single error channel of the Sovereign API.
//
// Expected failures (a denied principal, a tampered ciphertext, an unknown key)
// are values, not exceptions, so a pipeline can decide per field what to do.
// Messages never contain plaintext or key bytes: they name the setting, field
// or key at fault and nothing that was protected.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "sovereign/export.hpp"

namespace sovereign {

// ErrorCode is the closed set of outcomes an operation can have. New codes are
// only added with a new minor version and documented in docs/api.md.
enum class ErrorCode : int {
  kOk = 0,
  // The ciphertext failed authentication or is malformed. Deliberately says
  // nothing about which check failed.
  kInvalidCiphertext,
  // The named key, key version or label does not exist in the keystore.
  kKeyNotFound,
  // The key version exists but may not be used (retired, disabled, destroyed).
  kKeyVersionUnusable,
  // The ciphertext or request belongs to a region this keystore does not serve.
  kWrongRegion,
  // The principal is not allowed to perform the operation.
  kDenied,
  // The keystore cannot be reached or cannot answer (I/O, lock, network).
  kKeystoreUnavailable,
  // A caller-supplied argument is malformed (bad path, bad name, bad size).
  kInvalidArgument,
  // The object to create exists already.
  kAlreadyExists,
  // The operation is not possible in the current state (e.g. keystore not initialised).
  kFailedPrecondition,
  // A bug or an unexpected failure of a dependency (OpenSSL, SQLite).
  kInternal,
  // The field was encrypted for a subject whose key has been destroyed
  // (`subjects shred`): it is unrecoverable by design, not tampered with.
  kShredded,
  // A quota or a server limit refused the request; it may succeed later
  // (HTTP 429, with Retry-After). Nothing was done.
  kResourceExhausted,
};

// ErrorCodeName returns a stable lower_snake_case name for `code`
// ("invalid_ciphertext", "denied", ...), suitable for logs, JSON and metrics.
SOVEREIGN_EXPORT std::string_view ErrorCodeName(ErrorCode code) noexcept;

// ErrorCodeFromName maps a name ErrorCodeName returns back to its code;
// an unknown name gives kInternal (a newer peer's code this build lacks).
SOVEREIGN_EXPORT ErrorCode ErrorCodeFromName(std::string_view name) noexcept;

// Status is the outcome of an operation without a value: ok, or an error code
// with a message that is safe to log.
class SOVEREIGN_EXPORT [[nodiscard]] Status {
 public:
  // Status() is ok.
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const noexcept { return code_ == ErrorCode::kOk; }
  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // ToString returns "code_name: message", or "ok".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }

// Result<T> holds either a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design, like absl::StatusOr.
  Result(T value) : v_(std::move(value)) {}
  // `status` must not be ok.
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status(ErrorCode::kInternal, "Result built from an ok Status");
  }

  bool ok() const noexcept { return std::holds_alternative<T>(v_); }
  // status() is ok when the result holds a value.
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  ErrorCode code() const noexcept { return ok() ? ErrorCode::kOk : std::get<Status>(v_).code(); }

  // value() and the operators require ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace sovereign

// SOVEREIGN_RETURN_IF_ERROR returns the Status of `expr` from the enclosing
// function when it is not ok.
#define SOVEREIGN_RETURN_IF_ERROR(expr)            \
  do {                                             \
    ::sovereign::Status sov_status_ = (expr);      \
    if (!sov_status_.ok()) return sov_status_;     \
  } while (0)
