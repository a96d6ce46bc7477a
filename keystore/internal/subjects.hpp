// Per-subject keys: the keystore side of crypto-shredding (docs/keystore.md).
//
//   subject tag  = HMAC-SHA256(key's subject secret, subject id)[0..16)
//   subject key  = 32 random bytes per (key, version, tag), stored wrapped
//                  under HKDF-SHA256(version secret, "sovereign/v1/subject-wrap")
//   field key    = DeriveFieldKey(subject key, mode, label)
//
// The subject secret (32 random bytes per key, wrapped under the root key) is
// what makes tags stable across versions, so one shred covers every version
// and a shredded subject stays shredded after rotation. Tags, never subject
// ids, are stored and audited.
//
// Functions run inside the caller's write transaction on `files.catalog`.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>

#include "keystore/internal/catalog.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "sovereign/envelope.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// GroupSecrets keeps the secrets an issue group's requests would otherwise
// unwrap over and over (one transaction: the rows cannot change under it):
// subject secrets by key id, and version secrets and subject wrapping keys by
// (key id, version). The caller clears it whenever a request's changes are
// rolled back, since a subject secret that request created is then gone.
struct GroupSecrets {
  std::map<std::uint32_t, SecretBytes> subject_secrets;
  std::map<std::uint64_t, SecretBytes> version_secrets;
  std::map<std::uint64_t, SecretBytes> wrapping_keys;
  void Clear() {
    subject_secrets.clear();
    version_secrets.clear();
    wrapping_keys.clear();
  }
};

// TagSubject returns the tag of `subject` under `key`, creating the key's
// subject secret first if it has none.
Result<SubjectTag> TagSubject(KeystoreFiles& files, const KeyRow& key, std::string_view subject, TimePoint now,
                              GroupSecrets* cache = nullptr);

// SubjectFieldKey returns the subject's field key for (mode, label) under
// `version` (whose unwrapped secret the caller holds). Refusals, for the
// caller to audit: kShredded for a shredded subject; kKeyNotFound when the
// subject has no key of that version and `create` is false. With `create`
// a missing subject key is made (and `*created` set).
Result<SecretBytes> SubjectFieldKey(KeystoreFiles& files, const KeyRow& key, std::uint32_t version,
                                    const SecretBytes& version_secret, const SubjectTag& tag, Mode mode,
                                    std::string_view label, bool create, TimePoint now, bool* created,
                                    GroupSecrets* cache = nullptr);

// HexTag is the tag as lowercase hex (how audit entries and tools show it).
std::string HexTag(const SubjectTag& tag);

}  // namespace sovereign::keystore_internal
