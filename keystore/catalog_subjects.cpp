// Catalog: per-subject keys and shreds (see catalog.hpp and docs/keystore.md).
#include "keystore/internal/catalog.hpp"

namespace sovereign::keystore_internal {
namespace {

Result<std::optional<std::vector<std::uint8_t>>> OneBlob(Statement& s) {
  auto row = s.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<std::vector<std::uint8_t>>();
  return std::optional<std::vector<std::uint8_t>>(s.ColumnBlob(0));
}

}  // namespace

Result<std::optional<std::vector<std::uint8_t>>> Catalog::FindSubjectSecret(std::uint32_t key_id) {
  auto s = db_.Prepare("SELECT wrapped FROM subject_secrets WHERE key_id = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id});
  return OneBlob(*s);
}

Status Catalog::InsertSubjectSecret(std::uint32_t key_id, std::span<const std::uint8_t> wrapped,
                                    TimePoint created_at) {
  auto s = db_.Prepare("INSERT INTO subject_secrets (key_id, wrapped, created_at) VALUES (?, ?, ?)");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).BindBlob(2, wrapped).Bind(3, ToMicros(created_at));
  return s->Run();
}

Result<std::vector<Catalog::WrappedVersion>> Catalog::ListWrappedSubjectSecrets() {
  auto s = db_.Prepare("SELECT key_id, wrapped FROM subject_secrets");
  if (!s.ok()) return s.status();
  std::vector<WrappedVersion> out;
  for (;;) {
    auto row = s->Step();
    if (!row.ok()) return row.status();
    if (!*row) return out;
    out.push_back(WrappedVersion{static_cast<std::uint32_t>(s->ColumnInt(0)), 0, s->ColumnBlob(1)});
  }
}

Status Catalog::SetWrappedSubjectSecret(std::uint32_t key_id, std::span<const std::uint8_t> wrapped) {
  auto s = db_.Prepare("UPDATE subject_secrets SET wrapped = ? WHERE key_id = ?");
  if (!s.ok()) return s.status();
  s->BindBlob(1, wrapped).Bind(2, std::int64_t{key_id});
  return s->Run();
}

Result<std::optional<std::vector<std::uint8_t>>> Catalog::FindSubjectKey(std::uint32_t key_id, std::uint32_t version,
                                                                         std::span<const std::uint8_t> tag) {
  auto s = db_.Prepare("SELECT wrapped FROM subject_keys WHERE key_id = ? AND tag = ? AND version = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).BindBlob(2, tag).Bind(3, std::int64_t{version});
  return OneBlob(*s);
}

Status Catalog::InsertSubjectKey(std::uint32_t key_id, std::uint32_t version, std::span<const std::uint8_t> tag,
                                 std::span<const std::uint8_t> wrapped, TimePoint created_at) {
  auto s = db_.Prepare(
      "INSERT INTO subject_keys (key_id, tag, version, wrapped, created_at) VALUES (?, ?, ?, ?, ?)");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).BindBlob(2, tag).Bind(3, std::int64_t{version});
  s->BindBlob(4, wrapped).Bind(5, ToMicros(created_at));
  return s->Run();
}

Result<bool> Catalog::IsShredded(std::uint32_t key_id, std::span<const std::uint8_t> tag) {
  auto s = db_.Prepare("SELECT 1 FROM subject_shreds WHERE key_id = ? AND tag = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).BindBlob(2, tag);
  auto row = s->Step();
  if (!row.ok()) return row.status();
  return *row;
}

Result<std::uint64_t> Catalog::Shred(std::uint32_t key_id, std::span<const std::uint8_t> tag, TimePoint now) {
  auto del = db_.Prepare("DELETE FROM subject_keys WHERE key_id = ? AND tag = ?");
  if (!del.ok()) return del.status();
  del->Bind(1, std::int64_t{key_id}).BindBlob(2, tag);
  SOVEREIGN_RETURN_IF_ERROR(del->Run());
  const auto deleted = static_cast<std::uint64_t>(db_.Changes());
  auto ins = db_.Prepare("INSERT OR IGNORE INTO subject_shreds (key_id, tag, shredded_at) VALUES (?, ?, ?)");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, std::int64_t{key_id}).BindBlob(2, tag).Bind(3, ToMicros(now));
  SOVEREIGN_RETURN_IF_ERROR(ins->Run());
  return deleted;
}

Status Catalog::DeleteSubjectKeys(std::uint32_t key_id, std::uint32_t version) {
  auto s = db_.Prepare("DELETE FROM subject_keys WHERE key_id = ? AND version = ?");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id}).Bind(2, std::int64_t{version});
  return s->Run();
}

Result<std::pair<std::uint64_t, std::uint64_t>> Catalog::SubjectCounts(std::uint32_t key_id) {
  auto s = db_.Prepare(
      "SELECT (SELECT count(*) FROM subject_keys WHERE key_id = ?1), "
      "(SELECT count(*) FROM subject_shreds WHERE key_id = ?1)");
  if (!s.ok()) return s.status();
  s->Bind(1, std::int64_t{key_id});
  auto row = s->Step();
  if (!row.ok()) return row.status();
  if (!*row) return Status(ErrorCode::kInternal, "catalog: subject count returned no row");
  return std::pair<std::uint64_t, std::uint64_t>(static_cast<std::uint64_t>(s->ColumnInt(0)),
                                                 static_cast<std::uint64_t>(s->ColumnInt(1)));
}

}  // namespace sovereign::keystore_internal
