// The catalog work of one field key request of an issue group (see the header).
#include "keystore/internal/field_key_issue.hpp"

#include <string>
#include <utility>

#include <fmt/format.h>

#include "keystore/internal/key_lifecycle.hpp"
#include "keystore/internal/subjects.hpp"
#include "keystore/internal/wrap.hpp"
#include "sdk/internal/hmac_sha256.hpp"

namespace sovereign::keystore_internal {
namespace {

struct Ctx {
  KeystoreFiles& files;
  std::chrono::seconds ttl;
  GroupSecrets& secrets;
};

PreparedIssue Refused(AuditEvent event, Status why) {
  event.outcome = "error";
  event.reason = std::string(ErrorCodeName(why.code()));
  return PreparedIssue{std::move(event), std::move(why), std::nullopt};
}

PreparedIssue Failed(Status error) { return PreparedIssue{std::nullopt, std::move(error), std::nullopt}; }

// Material is an issued key (or a decoy) with the header it goes with.
FieldKeyMaterial Material(const Ctx& c, const KeyRow& key, std::uint32_t version, Mode mode, std::string label,
                          std::uint32_t label_id, const std::optional<SubjectTag>& subject, SecretBytes bytes,
                          TimePoint expires_at) {
  FieldKeyMaterial out;
  out.region = c.files.region;
  out.key_name = key.name;
  out.key_id = key.id;
  out.version = version;
  out.mode = mode;
  out.label = std::move(label);
  out.label_id = label_id;
  out.subject_tag = subject;
  out.key = std::move(bytes);
  out.expires_at = expires_at;
  return out;
}

// Prepare unwraps `version` of `key` and derives the field key; the caller
// returns it only once the audit record is durable and the transaction
// (which may register the label) has committed.
PreparedIssue Prepare(Ctx& c, AuditEvent event, TimePoint now, const KeyRow& key, std::uint32_t version, Mode mode,
                      std::string label, std::uint32_t label_id, bool primary,
                      const std::optional<SubjectTag>& subject) {
  event.key_id = key.id;
  event.versions = {version};
  auto row = c.files.catalog.FindVersion(key.id, version);
  if (!row.ok()) return Failed(row.status());
  if (!*row) {
    return Refused(std::move(event), Status(ErrorCode::kKeyNotFound,
                                            fmt::format("key '{}' has no version {}", key.name, version)));
  }
  const KeyVersionState state = EffectiveState(key, **row);
  if (state != KeyVersionState::kEnabled || !(*row)->wrapped) {
    return Refused(std::move(event),
                   Status(ErrorCode::kKeyVersionUnusable,
                          fmt::format("key '{}' version {} is {}", key.name, version, KeyVersionStateName(state))));
  }
  const std::uint64_t id = std::uint64_t{key.id} << 32 | version;
  auto cached = c.secrets.version_secrets.find(id);
  if (cached == c.secrets.version_secrets.end()) {
    auto unwrapped = UnwrapSecret(c.files.root_key, KeyVersionAssociatedData(c.files.region, key.id, version),
                                  *(*row)->wrapped, fmt::format("key '{}' version {}", key.name, version));
    if (!unwrapped.ok()) return Refused(std::move(event), unwrapped.status());
    cached = c.secrets.version_secrets.insert_or_assign(id, std::move(unwrapped).value()).first;
  }
  const SecretBytes* secret = &cached->second;
  Result<SecretBytes> field_key = Status(ErrorCode::kInternal, "no field key derived");
  if (subject) {
    // A subject key is made on first use for encryption (by name) only; a
    // decryption naming a tag the catalog does not hold is refused.
    field_key = SubjectFieldKey(c.files, key, version, *secret, *subject, mode, label, /*create=*/primary, now,
                                &event.subject_created, &c.secrets);
    const ErrorCode code = field_key.ok() ? ErrorCode::kOk : field_key.status().code();
    if (code == ErrorCode::kShredded && primary) {
      // Refused and audited as shredded; the decoy (a random key under the
      // real header) is for callers that must not learn of the shred.
      PreparedIssue refused = Refused(std::move(event), field_key.status());
      refused.key = Material(c, key, version, mode, std::move(label), label_id, subject,
                             SecretBytes::Random(FieldKeySize(mode)), now);
      return refused;
    }
    if (code == ErrorCode::kShredded || code == ErrorCode::kKeyNotFound) {
      return Refused(std::move(event), field_key.status());
    }
  } else {
    field_key = internal::DeriveFieldKey(*secret, mode, label);
  }
  if (!field_key.ok()) return Failed(field_key.status());
  // Only a random-mode key of the primary version secret may encrypt with
  // random nonces: those issues make up the version's usage bound
  // (docs/rotation.md). Each subject key is a key of its own, with the same
  // per-issue budget, so subject issues do not count towards it.
  Status counted =
      c.files.catalog.RecordUse(key.id, version, now, primary && mode == Mode::kRandom && !subject.has_value());
  if (!counted.ok()) return Failed(counted);

  return PreparedIssue{std::move(event), OkStatus(),
                       Material(c, key, version, mode, std::move(label), label_id, subject,
                                std::move(field_key).value(), now + c.ttl)};
}

PreparedIssue PrepareByName(Ctx& c, const IssueRequest& r, TimePoint now) {
  AuditEvent event = Event(r.principal, r.op, r.key_name);
  event.labels = {std::string(r.label)};
  event.mode = r.mode;
  auto key = c.files.catalog.FindKey(r.key_name);
  if (!key.ok()) return Failed(key.status());
  if (!*key) {
    return Refused(std::move(event), Status(ErrorCode::kKeyNotFound, fmt::format("key '{}' not found in region '{}'",
                                                                                r.key_name, c.files.region)));
  }
  auto label_id = c.files.catalog.FindLabelId(r.label);
  if (!label_id.ok()) return Failed(label_id.status());
  if (!*label_id) {
    // Labels get region-wide ids on first use; the id is what envelopes carry.
    auto inserted = c.files.catalog.InsertLabel(r.label, now);
    if (!inserted.ok()) return Failed(inserted.status());
    *label_id = *inserted;
  }
  std::optional<SubjectTag> tag;
  if (r.subject) {
    auto tagged = TagSubject(c.files, **key, *r.subject, now, &c.secrets);
    if (!tagged.ok()) return Failed(tagged.status());
    tag = *tagged;
    event.subject = HexTag(*tag);
  }
  return Prepare(c, std::move(event), now, **key, (*key)->primary_version, r.mode, std::string(r.label), **label_id,
                 /*primary=*/true, tag);
}

PreparedIssue PrepareById(Ctx& c, const IssueRequest& r, TimePoint now) {
  AuditEvent event = Event(r.principal, r.op, "");
  event.key_id = r.key_id;
  event.versions = {r.version};
  event.mode = r.mode;
  auto key = c.files.catalog.FindKey(r.key_id);
  if (!key.ok()) return Failed(key.status());
  if (!*key) {
    return Refused(std::move(event), Status(ErrorCode::kKeyNotFound, fmt::format("key id {} not found in region '{}'",
                                                                                r.key_id, c.files.region)));
  }
  event.key = (*key)->name;
  auto label = c.files.catalog.FindLabelName(r.label_id);
  if (!label.ok()) return Failed(label.status());
  if (!*label) {
    return Refused(std::move(event), Status(ErrorCode::kKeyNotFound, fmt::format("label id {} not found in region '{}'",
                                                                                r.label_id, c.files.region)));
  }
  event.labels = {**label};
  if (r.subject_tag) event.subject = HexTag(*r.subject_tag);
  return Prepare(c, std::move(event), now, **key, r.version, r.mode, std::move(*label).value(), r.label_id,
                 /*primary=*/false, r.subject_tag);
}

}  // namespace

PreparedIssue PrepareIssue(KeystoreFiles& files, const IssueRequest& request, TimePoint now,
                           std::chrono::seconds ttl, GroupSecrets& secrets) {
  Ctx c{files, ttl, secrets};
  return request.by_name ? PrepareByName(c, request, now) : PrepareById(c, request, now);
}

}  // namespace sovereign::keystore_internal
