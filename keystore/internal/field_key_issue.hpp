// PrepareIssue: the catalog work of one field key request inside an issue
// group's transaction — find the key, version and label (registering a new
// label), unwrap the version secret and derive the field key — without
// auditing or committing anything; the group does both for all its requests.
//
// Security: the version secret is unwrapped into SecretBytes and wiped on
// return; the derived key is handed out only by the group, once the audit
// record is durable and the transaction has committed.
#pragma once

#include <chrono>
#include <optional>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/issue_queue.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/subjects.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// PreparedIssue is what one request produced: an event to record, with the
// key or with the reason it was refused (unknown key, version or label,
// unusable version); or, without an event, an error after which the caller
// must undo the request's catalog changes and record nothing (as a failed
// transaction did before group commit).
struct PreparedIssue {
  std::optional<AuditEvent> event;
  Status status;  // the refusal or the error; ok when there is a key
  // The key when status is ok. When an encryption key was refused because
  // its subject was shredded: a decoy — the real header with random key
  // bytes nothing stores (IssueRequest::decoy).
  std::optional<FieldKeyMaterial> key;
};

// PrepareIssue prepares `request`. The caller holds a BEGIN IMMEDIATE
// transaction on `files.catalog`; `now` is the group's time (entries and
// expiry).
// `secrets` is the group's cache of unwrapped secrets (see GroupSecrets).
PreparedIssue PrepareIssue(KeystoreFiles& files, const IssueRequest& request, TimePoint now,
                           std::chrono::seconds ttl, GroupSecrets& secrets);

}  // namespace sovereign::keystore_internal
