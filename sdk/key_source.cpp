#include "sovereign/key_source.hpp"

namespace sovereign {

namespace {

std::vector<Result<std::string>> Unsupported(std::size_t n) {
  return std::vector<Result<std::string>>(
      n, Result<std::string>(Status(ErrorCode::kFailedPrecondition, "this keystore has no remote operations")));
}

}  // namespace

KeySource::~KeySource() = default;

std::vector<Result<std::string>> KeySource::RemoteEncrypt(std::span<const RemoteEncryptItem> items) {
  return Unsupported(items.size());
}

std::vector<Result<std::string>> KeySource::RemoteDecrypt(std::span<const RemoteDecryptItem> items) {
  return Unsupported(items.size());
}

}  // namespace sovereign
