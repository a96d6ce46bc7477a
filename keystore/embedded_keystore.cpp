// EmbeddedKeystoreImpl: key management and field key issuance over the
// catalog, the root key and the audit log of one keystore directory.
#include <limits>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "keystore/internal/field_key_issue.hpp"
#include "keystore/internal/issue_queue.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "keystore/internal/subjects.hpp"
#include "keystore/internal/wrap.hpp"
#include "sdk/internal/hmac_sha256.hpp"

namespace sovereign::keystore_internal {
namespace {

constexpr std::size_t kVersionSecretSize = 32;

bool IsKnownMode(Mode mode) {
  return mode == Mode::kRandom || mode == Mode::kDeterministic || mode == Mode::kIndex;
}

// Thread safety: one mutex serialises every use of the SQLite connection and
// of the audit log's MAC context; BEGIN IMMEDIATE serialises writers across
// processes. Field key issues are group-committed (IssueQueue): concurrent
// requests share one transaction, one audit fsync and one commit. Security:
// the root and audit keys live in SecretBytes for the object's lifetime;
// version secrets are unwrapped per request and wiped.
//
// The ServiceKeystore methods take the acting principal per call; the
// EmbeddedKeystore ones act as options.principal.
class EmbeddedKeystoreImpl final : public EmbeddedKeystore, public ServiceKeystore {
 public:
  EmbeddedKeystoreImpl(KeystoreFiles files, EmbeddedKeystoreOptions options, AuditLog audit)
      : files_(std::move(files)), options_(std::move(options)), audit_(std::move(audit)) {}

  const std::string& region() const noexcept override { return files_.region; }
  const std::filesystem::path& directory() const noexcept override { return files_.dir; }

  Result<KeyInfo> CreateKey(std::string_view name) override { return CreateKeyAs({}, name); }
  Result<KeyInfo> RotateKey(std::string_view name) override { return RotateKeyAs({}, name); }
  Result<KeyInfo> RetireVersionsBelow(std::string_view name, std::uint32_t version) override {
    return ChangeKeyAs({}, name, KeyChange{KeyChange::Kind::kRetireBelow, version});
  }
  Result<KeyInfo> SetVersionEnabled(std::string_view name, std::uint32_t version, bool enabled) override {
    return ChangeKeyAs({}, name, KeyChange{enabled ? KeyChange::Kind::kEnable : KeyChange::Kind::kDisable, version});
  }
  Result<KeyInfo> DestroyVersion(std::string_view name, std::uint32_t version) override {
    return ChangeKeyAs({}, name, KeyChange{KeyChange::Kind::kDestroy, version});
  }
  Result<ShredReport> ShredSubject(std::string_view name, std::string_view subject, std::string_view reason) override {
    return ShredSubjectAs({}, name, subject, reason);
  }
  std::vector<Result<FieldKeyMaterial>> FieldKeys(std::span<const FieldKeyRequest> requests) override {
    return FieldKeysAs({}, kIssueOp, requests);
  }
  Result<FieldKeyMaterial> PrimaryFieldKey(std::string_view key_name, Mode mode, std::string_view label) override {
    return PrimaryFieldKeyAs({}, kIssueOp, key_name, mode, label);
  }
  Result<FieldKeyMaterial> FieldKey(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                    std::uint32_t label_id) override {
    return FieldKeyAs({}, kIssueOp, key_id, version, mode, label_id);
  }

  Result<KeyInfo> CreateKeyAs(std::string_view principal, std::string_view name) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    std::lock_guard lock(mu_);
    const auto now = std::chrono::system_clock::now();
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return tx.status();
    AuditEvent event = Event(principal, "key.create", name);
    auto existing = catalog().FindKey(name);
    if (!existing.ok()) return existing.status();
    if (*existing) {
      event.key_id = (*existing)->id;
      return Refuse(*tx, event, now,
                    Status(ErrorCode::kAlreadyExists,
                           fmt::format("key '{}' already exists in region '{}'", name, region())));
    }
    auto id = catalog().InsertKey(name, now);
    if (!id.ok()) return id.status();
    SOVEREIGN_RETURN_IF_ERROR(AddVersion(*id, 1, now));
    event.key_id = *id;
    event.versions = {1};
    return CommitAudited(*tx, event, now, *id);
  }

  Result<KeyInfo> RotateKeyAs(std::string_view principal, std::string_view name) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    std::lock_guard lock(mu_);
    const auto now = std::chrono::system_clock::now();
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return tx.status();
    AuditEvent event = Event(principal, "key.rotate", name);
    auto key = catalog().FindKey(name);
    if (!key.ok()) return key.status();
    if (!*key) return Refuse(*tx, event, now, KeyNotFound(name));
    const std::uint32_t id = (*key)->id;
    event.key_id = id;
    auto max = catalog().MaxVersion(id);
    if (!max.ok()) return max.status();
    if (*max == std::numeric_limits<std::uint32_t>::max()) {
      return Refuse(*tx, event, now,
                    Status(ErrorCode::kFailedPrecondition, fmt::format("key '{}' has no version numbers left", name)));
    }
    const std::uint32_t version = *max + 1;
    SOVEREIGN_RETURN_IF_ERROR(AddVersion(id, version, now));
    SOVEREIGN_RETURN_IF_ERROR(catalog().SetPrimaryVersion(id, version));
    event.versions = {version};
    return CommitAudited(*tx, event, now, id);
  }

  Result<KeyInfo> ChangeKeyAs(std::string_view principal, std::string_view name, const KeyChange& change) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    std::lock_guard lock(mu_);
    Result<KeyInfo> info = ChangeKeyLocked(principal, name, change);
    if (info.ok() && change.kind == KeyChange::Kind::kDestroy) {
      // (The version's subject keys went with it: ApplyKeyChange deleted them.)
      // The committed pages no longer hold the secret (secure_delete); the
      // WAL still holds older frames that did, until truncated. The
      // checkpoint waits up to the busy timeout for readers in other
      // processes; if it cannot finish, the destroy (committed) stands and a
      // later complete checkpoint truncates the WAL (docs/rotation.md).
      (void)catalog().WipeWal();
    }
    return info;
  }

  Result<ShredReport> ShredSubjectAs(std::string_view principal, std::string_view name, std::string_view subject,
                                     std::string_view reason) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    SOVEREIGN_RETURN_IF_ERROR(ValidateSubject(subject));
    SOVEREIGN_RETURN_IF_ERROR(ValidateShredReason(reason));
    std::lock_guard lock(mu_);
    Result<ShredReport> report = ShredLocked(principal, name, subject, reason);
    // As for a destroyed version: truncate the WAL frames that still hold
    // the deleted wrapped keys (postponed if another process is reading).
    if (report.ok()) report->wal_truncation_postponed = !catalog().WipeWal().ok();
    return report;
  }

  Result<KeyInfo> GetKey(std::string_view name) override {
    SOVEREIGN_RETURN_IF_ERROR(ValidateKeyName(name));
    std::lock_guard lock(mu_);
    auto tx = Transaction::BeginRead(catalog().db());
    if (!tx.ok()) return tx.status();
    auto key = catalog().FindKey(name);
    if (!key.ok()) return key.status();
    if (!*key) return KeyNotFound(name);
    return Describe(**key);
  }

  Result<std::vector<KeyInfo>> ListKeys() override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::BeginRead(catalog().db());
    if (!tx.ok()) return tx.status();
    auto keys = catalog().ListKeys();
    if (!keys.ok()) return keys.status();
    std::vector<KeyInfo> out;
    for (const KeyRow& row : *keys) {
      auto info = Describe(row);
      if (!info.ok()) return info.status();
      out.push_back(std::move(info).value());
    }
    return out;
  }

  Result<FieldKeyMaterial> PrimaryFieldKeyAs(std::string_view principal, std::string_view op, std::string_view key_name,
                                             Mode mode, std::string_view label) override {
    FieldKeyRequest request;
    request.key_name = key_name;
    request.label = label;
    request.mode = mode;
    return std::move(FieldKeysAs(principal, op, {&request, 1}).front());
  }

  Result<FieldKeyMaterial> FieldKeyAs(std::string_view principal, std::string_view op, std::uint32_t key_id,
                                      std::uint32_t version, Mode mode, std::uint32_t label_id) override {
    FieldKeyRequest request;
    request.by_name = false;
    request.key_id = key_id;
    request.version = version;
    request.label_id = label_id;
    request.mode = mode;
    return std::move(FieldKeysAs(principal, op, {&request, 1}).front());
  }

  std::vector<Result<FieldKeyMaterial>> FieldKeysAs(std::string_view principal, std::string_view op,
                                                    std::span<const FieldKeyRequest> requests,
                                                    std::vector<std::optional<FieldKeyMaterial>>* decoys = nullptr) override {
    // Malformed requests are answered here and never queued or audited.
    std::vector<IssueRequest> issues(requests.size());
    std::vector<IssueRequest*> queued;
    queued.reserve(requests.size());
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const FieldKeyRequest& r = requests[i];
      IssueRequest& issue = issues[i];
      Status valid = r.by_name ? ValidateKeyName(r.key_name) : OkStatus();
      if (valid.ok() && r.by_name) valid = ValidateLabel(r.label);
      if (valid.ok() && !IsKnownMode(r.mode)) valid = Status(ErrorCode::kInvalidArgument, "unknown mode");
      if (valid.ok()) valid = ValidateSubjectRequest(r);
      if (!valid.ok()) {
        issue.result = std::move(valid);
        continue;
      }
      static_cast<FieldKeyRequest&>(issue) = r;
      issue.principal = principal;
      issue.op = op;
      queued.push_back(&issue);
    }
    issues_.SubmitAll(queued, [this](std::span<IssueRequest* const> group) { RunIssueGroup(group); });
    std::vector<Result<FieldKeyMaterial>> out;
    out.reserve(issues.size());
    if (decoys != nullptr) {
      decoys->clear();
      decoys->resize(issues.size());
    }
    for (std::size_t i = 0; i < issues.size(); ++i) {
      out.push_back(std::move(*issues[i].result));
      if (decoys != nullptr) (*decoys)[i] = std::move(issues[i].decoy);
    }
    return out;
  }

  Status Record(std::string_view principal, const AuditEvent& event) override {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::system_clock::now();
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return Status(ErrorCode::kKeystoreUnavailable, tx.status().message());
    AuditEvent as = event;
    as.principal = std::string(principal);
    SOVEREIGN_RETURN_IF_ERROR(audit_.Append(catalog(), as, now));
    Status committed = tx->Commit();
    if (!committed.ok()) return Status(ErrorCode::kKeystoreUnavailable, committed.message());
    return OkStatus();
  }

  Result<ResolvedNames> ResolveNames(std::uint32_t key_id, std::uint32_t label_id) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::BeginRead(catalog().db());
    if (!tx.ok()) return tx.status();
    ResolvedNames names;
    auto key = catalog().FindKey(key_id);
    if (!key.ok()) return key.status();
    if (*key) names.key = (*key)->name;
    auto label = catalog().FindLabelName(label_id);
    if (!label.ok()) return label.status();
    names.label = std::move(label).value();
    return names;
  }

  Result<bool> HasLabel(std::string_view label) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::BeginRead(catalog().db());
    if (!tx.ok()) return tx.status();
    auto id = catalog().FindLabelId(label);
    if (!id.ok()) return id.status();
    return id->has_value();
  }

  Result<AuditPage> ReadAudit(std::uint64_t after, std::size_t limit) override {
    AuditPage page;
    {
      std::lock_guard lock(mu_);
      auto tx = Transaction::BeginRead(catalog().db());
      if (!tx.ok()) return tx.status();
      auto head = catalog().ReadAuditHead();
      if (!head.ok()) return head.status();
      page.head = std::move(head).value();
    }
    // Lines up to the head only: they are committed, and the head names the last.
    auto lines = ReadAuditLines(audit_.path(), after, page.head.seq, limit);
    if (!lines.ok()) return lines.status();
    page.entries = std::move(lines).value();
    return page;
  }

 private:
  static constexpr std::string_view kIssueOp = "field_key.issue";

  Catalog& catalog() { return files_.catalog; }

  // ValidateSubjectRequest checks the subject part of a request: an id by
  // name, a tag by ids, never both, and no blind index (an index is keyed by
  // the version, so a shred would not erase it: docs/keystore.md).
  static Status ValidateSubjectRequest(const FieldKeyRequest& r) {
    if (!r.subject && !r.subject_tag) return OkStatus();
    if (r.mode == Mode::kIndex) {
      return Status(ErrorCode::kInvalidArgument, "blind indexes are not per subject");
    }
    if (r.by_name ? r.subject_tag.has_value() : r.subject.has_value()) {
      return Status(ErrorCode::kInvalidArgument,
                    "a subject is named by its id to encrypt and by its tag to decrypt");
    }
    return r.subject ? ValidateSubject(*r.subject) : OkStatus();
  }

  Status KeyNotFound(std::string_view name) const {
    return Status(ErrorCode::kKeyNotFound, fmt::format("key '{}' not found in region '{}'", name, region()));
  }

  Result<ShredReport> ShredLocked(std::string_view principal, std::string_view name, std::string_view subject,
                                  std::string_view reason) {
    const auto now = std::chrono::system_clock::now();
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return tx.status();
    AuditEvent event = Event(principal, "subject.shred", name);
    event.note = std::string(reason);
    auto key = catalog().FindKey(name);
    if (!key.ok()) return key.status();
    if (!*key) return Refuse(*tx, event, now, KeyNotFound(name));
    event.key_id = (*key)->id;
    auto tag = TagSubject(files_, **key, subject, now);
    if (!tag.ok()) return tag.status();
    event.subject = HexTag(*tag);
    ShredReport report;
    report.key = std::string(name);
    report.subject_tag = event.subject;
    auto already = catalog().IsShredded((*key)->id, *tag);
    if (!already.ok()) return already.status();
    report.already_shredded = *already;
    auto deleted = catalog().Shred((*key)->id, *tag, now);
    if (!deleted.ok()) return deleted.status();
    report.subject_keys_destroyed = *deleted;
    event.counts = nlohmann::json::array(
        {{{"subject_keys_destroyed", *deleted}, {"already_shredded", report.already_shredded}}});
    SOVEREIGN_RETURN_IF_ERROR(audit_.Append(catalog(), event, now));
    SOVEREIGN_RETURN_IF_ERROR(tx->Commit());
    return report;
  }

  Result<KeyInfo> ChangeKeyLocked(std::string_view principal, std::string_view name, const KeyChange& change) {
    const auto now = std::chrono::system_clock::now();
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return tx.status();
    AuditEvent event = Event(principal, KeyChangeOp(change.kind), name);
    event.versions = {change.version};
    auto key = catalog().FindKey(name);
    if (!key.ok()) return key.status();
    if (!*key) return Refuse(*tx, event, now, KeyNotFound(name));
    event.key_id = (*key)->id;
    Status applied = ApplyKeyChange(catalog(), **key, change);
    const bool refused = applied.code() == ErrorCode::kFailedPrecondition ||
                         applied.code() == ErrorCode::kKeyNotFound || applied.code() == ErrorCode::kInvalidArgument;
    if (refused) return Refuse(*tx, event, now, applied);
    if (!applied.ok()) return applied;  // rolled back, nothing recorded
    return CommitAudited(*tx, event, now, (*key)->id);
  }

  // AddVersion creates a random version secret and stores it wrapped. It
  // refuses when the catalog is no longer wrapped under this object's root
  // key (`keystore rotate-root` ran since it opened): a version wrapped under
  // the old key would be lost with it.
  Status AddVersion(std::uint32_t key_id, std::uint32_t version, TimePoint now) {
    SOVEREIGN_RETURN_IF_ERROR(CheckRootKeyCurrent(files_));
    SecretBytes secret = SecretBytes::Random(kVersionSecretSize);
    auto wrapped = WrapSecret(files_.root_key, KeyVersionAssociatedData(region(), key_id, version), secret);
    if (!wrapped.ok()) return wrapped.status();
    return catalog().InsertVersion(key_id, version, now, *wrapped);
  }

  Result<KeyInfo> Describe(const KeyRow& row) {
    KeyInfo info;
    info.name = row.name;
    info.id = row.id;
    info.primary_version = row.primary_version;
    info.min_decrypt_version = row.min_decrypt_version;
    info.created_at = row.created_at;
    auto versions = catalog().ListVersions(row.id);
    if (!versions.ok()) return versions.status();
    for (const KeyVersionRow& v : *versions) {
      KeyVersionInfo version;
      version.version = v.version;
      version.state = EffectiveState(row, v);
      version.created_at = v.created_at;
      version.issues = v.issues;
      version.random_issues = v.random_issues;
      version.last_used_at = v.last_used_at;
      info.versions.push_back(version);
    }
    auto subjects = catalog().SubjectCounts(row.id);
    if (!subjects.ok()) return subjects.status();
    info.subject_keys = subjects->first;
    info.shredded_subjects = subjects->second;
    return info;
  }

  // Refuse records a failed request in the audit log and returns `why`, or
  // kKeystoreUnavailable if the refusal itself cannot be recorded.
  Status Refuse(Transaction& tx, AuditEvent event, TimePoint now, Status why) {
    event.outcome = "error";
    event.reason = std::string(ErrorCodeName(why.code()));
    SOVEREIGN_RETURN_IF_ERROR(audit_.Append(catalog(), event, now));
    SOVEREIGN_RETURN_IF_ERROR(tx.Commit());
    return why;
  }

  Result<KeyInfo> CommitAudited(Transaction& tx, const AuditEvent& event, TimePoint now, std::uint32_t key_id) {
    SOVEREIGN_RETURN_IF_ERROR(audit_.Append(catalog(), event, now));
    auto key = catalog().FindKey(key_id);
    if (!key.ok()) return key.status();
    if (!*key) return Status(ErrorCode::kInternal, "catalog: key vanished inside its own transaction");
    auto info = Describe(**key);
    if (!info.ok()) return info.status();
    SOVEREIGN_RETURN_IF_ERROR(tx.Commit());
    return info;
  }

  // RunIssueGroup issues every request of `group` in one BEGIN IMMEDIATE
  // transaction, records all their audit events with one append (one fsync)
  // and commits once; only then does any request get its key. If the append
  // or the commit fails, every request that was to be recorded fails with
  // that error (fail closed) and no key leaves.
  void RunIssueGroup(std::span<IssueRequest* const> group) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::system_clock::now();
    const auto fail_all = [&](const Status& error) {
      for (IssueRequest* r : group) r->result = error;
    };
    auto tx = Transaction::BeginImmediate(catalog().db());
    if (!tx.ok()) return fail_all(tx.status());
    std::vector<PreparedIssue> prepared;
    std::vector<AuditEvent> events;
    GroupSecrets secrets;
    prepared.reserve(group.size());
    for (IssueRequest* r : group) {
      // A savepoint per request: an error undoes only that request's changes.
      if (Status s = catalog().db().Exec("SAVEPOINT issue"); !s.ok()) return fail_all(s);
      prepared.push_back(PrepareIssue(files_, *r, now, options_.field_key_ttl, secrets));
      // A rolled-back request may have created a subject secret that is now
      // gone: nothing it cached may serve the next request.
      if (!prepared.back().event) secrets.Clear();
      Status s = prepared.back().event ? OkStatus() : catalog().db().Exec("ROLLBACK TO issue");
      if (s.ok()) s = catalog().db().Exec("RELEASE issue");
      if (!s.ok()) return fail_all(s);
      if (prepared.back().event) events.push_back(*prepared.back().event);
    }
    Status recorded = audit_.AppendMany(catalog(), events, now);
    if (recorded.ok() && !events.empty()) recorded = tx->Commit();
    for (std::size_t i = 0; i < group.size(); ++i) {
      PreparedIssue& p = prepared[i];
      if (p.event && !recorded.ok()) {
        group[i]->result = recorded;
      } else if (p.key && p.status.ok()) {
        group[i]->result = std::move(*p.key);
      } else {
        group[i]->result = p.status;
        if (p.status.code() == ErrorCode::kShredded) group[i]->decoy = std::move(p.key);
      }
    }
  }

  IssueQueue issues_;
  std::mutex mu_;
  KeystoreFiles files_;
  EmbeddedKeystoreOptions options_;
  AuditLog audit_;
};

}  // namespace

namespace {

Result<std::shared_ptr<EmbeddedKeystoreImpl>> NewImpl(KeystoreFiles files, EmbeddedKeystoreOptions options) {
  if (options.principal.empty()) options.principal = DefaultPrincipal();
  if (options.field_key_ttl <= std::chrono::seconds::zero()) {
    return Status(ErrorCode::kInvalidArgument, "field_key_ttl must be positive");
  }
  auto audit = AuditLog::New(files.dir / kAuditLogFileName, files.audit_key, files.region, options.principal);
  if (!audit.ok()) return audit.status();
  return std::make_shared<EmbeddedKeystoreImpl>(std::move(files), std::move(options), std::move(audit).value());
}

}  // namespace

Result<std::shared_ptr<EmbeddedKeystore>> NewEmbeddedKeystore(KeystoreFiles files, EmbeddedKeystoreOptions options) {
  auto impl = NewImpl(std::move(files), std::move(options));
  if (!impl.ok()) return impl.status();
  return std::shared_ptr<EmbeddedKeystore>(std::move(impl).value());
}

ServiceKeystore::~ServiceKeystore() = default;

Result<OpenedKeystore> OpenServiceKeystore(const std::filesystem::path& dir, EmbeddedKeystoreOptions options,
                                           OpenChecks checks) {
  auto files = OpenKeystoreFiles(dir, checks);
  if (!files.ok()) return files.status();
  auto impl = NewImpl(std::move(files).value(), std::move(options));
  if (!impl.ok()) return impl.status();
  return OpenedKeystore{*impl, *impl};
}

}  // namespace sovereign::keystore_internal
