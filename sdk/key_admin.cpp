// Names that the keystore stores and the audit log records. Restricting them
// to short ASCII keeps catalog rows, audit lines and CLI output unambiguous.
#include <fmt/format.h>

#include "sovereign/key_admin.hpp"

namespace sovereign {
namespace {

constexpr std::size_t kMaxNameLength = 64;

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }

}  // namespace

std::string_view KeyVersionStateName(KeyVersionState state) noexcept {
  switch (state) {
    case KeyVersionState::kEnabled:
      return "enabled";
    case KeyVersionState::kDisabled:
      return "disabled";
    case KeyVersionState::kRetired:
      return "retired";
    case KeyVersionState::kDestroyed:
      return "destroyed";
  }
  return "unknown";
}

Result<KeyVersionState> ParseKeyVersionState(std::string_view name) {
  for (auto state : {KeyVersionState::kEnabled, KeyVersionState::kDisabled, KeyVersionState::kRetired,
                     KeyVersionState::kDestroyed}) {
    if (name == KeyVersionStateName(state)) return state;
  }
  return Status(ErrorCode::kInvalidArgument, "unknown key version state");
}

KeyAdmin::~KeyAdmin() = default;

Result<ShredReport> KeyAdmin::ShredSubject(std::string_view, std::string_view, std::string_view) {
  return Status(ErrorCode::kFailedPrecondition, "this keystore cannot shred subjects");
}

Status ValidateShredReason(std::string_view reason) {
  bool ok = reason.size() <= kMaxShredReasonSize;
  for (char c : reason) ok = ok && c >= 0x20 && c <= 0x7e;
  if (!ok) {
    return Status(ErrorCode::kInvalidArgument, "reason must be at most 256 printable ASCII characters");
  }
  return OkStatus();
}

std::uint64_t RandomEncryptionsBound(const KeyVersionInfo& version) noexcept {
  constexpr std::uint64_t kMax = ~std::uint64_t{0};
  if (version.random_issues > kMax / kRandomEncryptionsPerIssue) return kMax;
  return version.random_issues * kRandomEncryptionsPerIssue;
}

Status ValidateKeyName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength && IsLower(name.front());
  for (char c : name) ok = ok && (IsLower(c) || IsDigit(c) || c == '_' || c == '-');
  if (ok) return OkStatus();
  // The rejected name is not echoed: it may hold control characters or be huge.
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("key name ({} bytes) must be 1..{} characters of [a-z0-9_-] starting with a letter",
                            name.size(), kMaxNameLength));
}

Status ValidateLabel(std::string_view label) {
  bool ok = !label.empty() && label.size() <= kMaxNameLength;
  for (char c : label) ok = ok && (IsLower(c) || IsUpper(c) || IsDigit(c) || c == '_' || c == '.' || c == '-');
  if (ok) return OkStatus();
  return Status(ErrorCode::kInvalidArgument,
                fmt::format("label ({} bytes) must be 1..{} characters of [A-Za-z0-9_.-]", label.size(),
                            kMaxNameLength));
}

}  // namespace sovereign
