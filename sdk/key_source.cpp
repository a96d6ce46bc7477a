#include "sovereign/key_source.hpp"

namespace sovereign {

namespace {

std::vector<Result<std::string>> Unsupported(std::size_t n) {
  return std::vector<Result<std::string>>(
      n, Result<std::string>(Status(ErrorCode::kFailedPrecondition, "this keystore has no remote operations")));
}

}  // namespace

Status ValidateSubject(std::string_view subject) {
  if (subject.empty() || subject.size() > kMaxSubjectSize) {
    return Status(ErrorCode::kInvalidArgument, "subject must be 1-1024 bytes");
  }
  return OkStatus();
}

KeySource::~KeySource() = default;

std::vector<Result<FieldKeyMaterial>> KeySource::FieldKeys(std::span<const FieldKeyRequest> requests) {
  std::vector<Result<FieldKeyMaterial>> out;
  out.reserve(requests.size());
  for (const FieldKeyRequest& r : requests) {
    if (r.subject || r.subject_tag) {
      out.emplace_back(Status(ErrorCode::kFailedPrecondition, "this keystore has no per-subject keys"));
    } else if (r.by_name) {
      out.push_back(PrimaryFieldKey(r.key_name, r.mode, r.label));
    } else {
      out.push_back(FieldKey(r.key_id, r.version, r.mode, r.label_id));
    }
  }
  return out;
}

std::vector<Result<std::string>> KeySource::RemoteEncrypt(std::span<const RemoteEncryptItem> items) {
  return Unsupported(items.size());
}

std::vector<Result<std::string>> KeySource::RemoteDecrypt(std::span<const RemoteDecryptItem> items) {
  return Unsupported(items.size());
}

}  // namespace sovereign
