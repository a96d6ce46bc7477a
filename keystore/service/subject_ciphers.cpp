// Per-request issue of subject keys for remote encrypt and decrypt (see the header).
#include "keystore/service/subject_ciphers.hpp"

#include <fmt/format.h>

namespace sovereign::service {

void SubjectCiphers::Add(std::string id, const ki::FieldKeyRequest& request) {
  if (ciphers_.emplace(id, Cipher(Status(ErrorCode::kInternal, "subject key not issued"))).second) {
    ids_.push_back(std::move(id));
    requests_.push_back(request);
  }
}

Status SubjectCiphers::Fetch(Service& service) {
  if (requests_.empty()) return OkStatus();
  std::vector<std::optional<FieldKeyMaterial>> decoys;
  auto issued = service.keystore().FieldKeysAs(kServicePrincipal, "field_key.issue", requests_, &decoys);
  for (std::size_t r = 0; r < issued.size() && r < ids_.size(); ++r) {
    service.metrics().CountAuditWrite(issued[r].code() != ErrorCode::kKeystoreUnavailable);
    if (issued[r].code() == ErrorCode::kKeystoreUnavailable) return issued[r].status();
    Cipher& slot = ciphers_.at(ids_[r]);
    if (!issued[r].ok()) {
      slot = issued[r].status();
      if (r < decoys.size() && decoys[r]) {
        auto decoy = internal::FieldCipher::New(std::move(*decoys[r]));
        if (decoy.ok()) decoys_.emplace(ids_[r], std::move(decoy).value());
      }
      continue;
    }
    auto cipher = internal::FieldCipher::New(std::move(issued[r]).value());
    if (cipher.ok()) {
      slot = std::move(cipher).value();
    } else {
      slot = cipher.status();
    }
  }
  return OkStatus();
}

// Length-prefixed, so no choice of key, label and subject (which may hold
// any byte, and are not validated yet here) collides with another.
std::string SubjectKeyId(const FieldSpec& spec) {
  std::string id(1, static_cast<char>(spec.mode));
  id += fmt::format("{}:{}{}:{}", spec.key.size(), spec.key, spec.label.size(), spec.label);
  id += *spec.subject;
  return id;
}

std::string HeaderKeyId(const EnvelopeHeader& h) {
  return fmt::format("{}/{}/{}/{}/{}", h.key_id, h.key_version, static_cast<int>(h.mode), h.label_id,
                     std::string_view(reinterpret_cast<const char*>(h.subject->data()), h.subject->size()));
}

Status OpenSubjectItem(const SubjectCiphers::Cipher& cipher, std::string_view text, const FieldContext& context,
                       std::string& out) {
  SOVEREIGN_RETURN_IF_ERROR(ValidateContext(context));
  if (!cipher.ok()) return cipher.status();
  auto bytes = FromText(text);
  if (!bytes.ok()) return Status(ErrorCode::kInvalidCiphertext, "invalid ciphertext");
  auto header = ParseEnvelopeHeader(*bytes);
  if (!header.ok()) return Status(ErrorCode::kInvalidCiphertext, "invalid ciphertext");
  auto session = (*cipher)->Borrow();
  if (!session.ok()) return Status(ErrorCode::kInternal, "cannot make a cipher context");
  return session.OpenAppend(*bytes, header->second, context, out);
}

}  // namespace sovereign::service
