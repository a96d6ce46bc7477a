// SubjectCiphers: the per-subject field keys one remote encrypt or decrypt
// request needs, issued fresh from the keystore for that request.
//
// The service's Client caches field keys until their lease expires; a shred
// must stop remote encryption and decryption for the subject at once, so the
// keys of subject items bypass that cache: each request asks the keystore
// (which refuses a shredded subject) for all of its subject keys in one
// batch, sharing group commits, audited as the service (kServicePrincipal,
// op "field_key.issue", like the Client's own fetches).
//
// Thread safety: one SubjectCiphers serves one request on one thread.
// Security: the ciphers hold key bytes; they are wiped when it is destroyed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "keystore/service/service.hpp"
#include "sdk/internal/field_cipher.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::service {

class SubjectCiphers {
 public:
  using Cipher = Result<std::shared_ptr<internal::FieldCipher>>;

  // Add registers `request` under `id` (one id, one key: later Adds of the
  // same id are ignored). The views in `request` must outlive Fetch.
  void Add(std::string id, const ki::FieldKeyRequest& request);

  // Fetch issues every registered key in one batch. Not ok only when the
  // keystore cannot answer (the caller must then fail closed); a refused key
  // (kShredded, kKeyNotFound, kKeyVersionUnusable…) is kept for Get.
  Status Fetch(Service& service);

  // Get returns the cipher registered under `id`, or why there is none.
  const Cipher& Get(const std::string& id) const { return ciphers_.at(id); }

  // Decoy returns, for an encryption key refused because its subject was
  // shredded, a cipher under the real header with a key nothing stores
  // (ServiceKeystore::FieldKeysAs); null otherwise.
  const internal::FieldCipher* Decoy(const std::string& id) const {
    auto it = decoys_.find(id);
    return it == decoys_.end() ? nullptr : it->second.get();
  }

 private:
  std::map<std::string, Cipher> ciphers_;
  std::map<std::string, std::shared_ptr<internal::FieldCipher>> decoys_;
  std::vector<std::string> ids_;
  std::vector<ki::FieldKeyRequest> requests_;
};

// SubjectKeyId names the primary-version subject key an encrypt item uses.
std::string SubjectKeyId(const FieldSpec& spec);
// HeaderKeyId names the subject key an envelope header (with a tag) points at.
std::string HeaderKeyId(const EnvelopeHeader& header);

// OpenSubjectItem decrypts the text envelope `text` with `cipher` (its
// subject key, as fetched), appending the plaintext to `out`. Fails with the
// cipher's error (kShredded for a shredded subject) or kInvalidCiphertext.
Status OpenSubjectItem(const SubjectCiphers::Cipher& cipher, std::string_view text, const FieldContext& context,
                       std::string& out);

}  // namespace sovereign::service
