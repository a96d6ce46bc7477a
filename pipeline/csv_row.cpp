// CsvHeader and the record functions for CSV rows (every cell a string).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pipeline/internal/csv_row.hpp"
#include "pipeline/internal/pointer.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign {

Result<CsvHeader> CsvHeader::New(const FieldPolicy& policy, std::vector<std::string> columns) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].empty()) return Status(ErrorCode::kInvalidArgument, fmt::format("CSV column {} has no name", i + 1));
    for (std::size_t j = 0; j < i; ++j) {
      if (columns[i] == columns[j]) {
        return Status(ErrorCode::kInvalidArgument, fmt::format("CSV column \"{}\" appears twice", columns[i]));
      }
    }
  }
  CsvHeader header;
  header.columns_ = std::move(columns);
  // Every column the policy names must be in the header, spelled exactly:
  // a policy column missing from a file ("SSN" for /ssn) would otherwise
  // leave that column's values in the clear without a word.
  auto need = [&](const std::vector<std::string>& segments, const std::string& what) -> Status {
    if (segments.size() != 1 || segments[0] == pipeline::kWildcard) {
      return Status(ErrorCode::kInvalidArgument, fmt::format("{}: a CSV path is /column_name", what));
    }
    if (header.Column(segments[0]) < 0) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("{}: column {} is not in the CSV header (names must match exactly)", what,
                                nlohmann::json(segments[0]).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
    return OkStatus();
  };
  for (std::size_t i = 0; i < policy.fields().size(); ++i) {
    const auto& f = policy.fields()[i];
    SOVEREIGN_RETURN_IF_ERROR(need(f.segments, fmt::format("fields[{}] ({})", i, f.path)));
    if (f.index && header.Column(pipeline::ParsePointer(f.index->path).value()[0]) < 0) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("fields[{}] ({}): index column {} is not in the CSV header", i, f.path, f.index->path));
    }
  }
  if (!policy.record_id().empty()) SOVEREIGN_RETURN_IF_ERROR(need(policy.record_id(), "record_id"));
  if (!policy.region().from.empty()) SOVEREIGN_RETURN_IF_ERROR(need(policy.region().from, "region.from"));
  for (std::size_t i = 0; i < policy.fields().size(); ++i) {
    const auto& f = policy.fields()[i];
    if (f.subject.empty()) continue;
    SOVEREIGN_RETURN_IF_ERROR(need(pipeline::ParsePointer(f.subject).value(),
                                   fmt::format("fields[{}] ({}): subject", i, f.path)));
  }
  return header;
}

int CsvHeader::Column(std::string_view name) const {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

namespace pipeline {

Status ApplyRow(FieldCodec& codec, const FieldPolicy& policy, const CsvHeader& header, Operation op,
                OnDenied on_denied, std::vector<std::string>& row, std::vector<bool>& changed, RecordStats& stats) {
  if (row.size() != header.columns().size()) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("row has {} columns, the header {}", row.size(), header.columns().size()));
  }
  changed.assign(row.size(), false);
  auto cell = [&](const std::vector<std::string>& segments) -> int {
    return segments.empty() ? -1 : header.Column(segments[0]);
  };
  RecordBinding binding;
  std::optional<std::string> region;
  if (int c = cell(policy.region().from); c >= 0 && !row[c].empty()) region = row[c];
  if (int c = cell(policy.record_id()); c >= 0 && !row[c].empty()) binding.record_id = row[c];
  for (const auto& pointer : policy.subjects()) {
    auto& subject = binding.subjects.emplace_back();
    if (int c = cell(pointer); c >= 0 && !row[c].empty()) subject = row[c];
  }
  // Only encryption needs the region (a ciphertext's header names its own) and the id check.
  if (op == Operation::kEncrypt) {
    auto r = ResolveRegion(policy, region, false);
    if (!r.ok()) return r.status();
    binding.region = std::move(r).value();
    SOVEREIGN_RETURN_IF_ERROR(CheckBinding(policy, binding));
  }
  std::string out, plaintext;
  std::vector<std::string> result = row;
  for (const auto& field : policy.fields()) {
    const int c = cell(field.segments);
    if (c < 0 || result[c].empty()) continue;  // a missing column or an empty cell (CSV's null)
    const std::string& value = result[c];
    out.clear();
    const bool is_ct = AlreadyEncrypted(value, field);
    Status s;
    if (op == Operation::kEncrypt) {
      if (is_ct) {
        ++stats.fields_skipped;
        continue;
      }
      SOVEREIGN_RETURN_IF_ERROR(codec.Encrypt(field, binding, false, value, out));
      if (field.index) {
        auto index = codec.Index(field, binding.region, value);
        if (!index.ok()) return index.status();
        const int ic = header.Column(ParsePointer(field.index->path).value()[0]);
        result[ic] = std::move(index).value();
        changed[ic] = true;
      }
      ++stats.fields_encrypted;
    } else if (!IsTextCiphertext(value)) {
      ++stats.fields_skipped;
      continue;
    } else if (op == Operation::kRewrap) {
      bool did = false;
      std::string from, index;
      s = codec.Rewrap(field, binding, value, out, did, from, index);
      if (s.ok() && !index.empty()) {
        const int ic = header.Column(ParsePointer(field.index->path).value()[0]);
        result[ic] = index;
        changed[ic] = true;
      }
      if (s.ok() && !did) {
        ++stats.fields_skipped;
        continue;
      }
      if (s.ok()) {
        ++stats.fields_rewrapped;
        ++stats.rewrapped_from[from];
      }
    } else {
      bool json_value = false;
      s = codec.Decrypt(field, binding, value, plaintext, json_value);
      if (s.ok() && json_value) {
        s = Status(ErrorCode::kInvalidCiphertext, fmt::format("field {}: holds a JSON value, not CSV text", field.path));
      }
      if (s.ok()) {
        out = plaintext;
        ++stats.fields_decrypted;
      }
    }
    if (s.code() == ErrorCode::kShredded && (op == Operation::kRewrap || on_denied != OnDenied::kFail)) {
      // Unrecoverable by design: rewrap leaves it; decrypt keeps or redacts it as it would a denied field.
      ++stats.shredded;
      if (op == Operation::kRewrap || on_denied == OnDenied::kKeep) continue;
      out = std::string(kRedactedMarker);
    } else if (!s.ok()) {
      if (s.code() != ErrorCode::kDenied || on_denied == OnDenied::kFail) return s;
      ++stats.denied;
      if (on_denied == OnDenied::kKeep) continue;
      out = std::string(kRedactedMarker);
    }
    result[c] = out;
    changed[c] = true;
  }
  row = std::move(result);
  return OkStatus();
}

}  // namespace pipeline

namespace {

Result<RecordStats> RowOp(const Client& client, const FieldPolicy& policy, const CsvHeader& header,
                          std::vector<std::string>& row, pipeline::Operation op, OnDenied on_denied) {
  pipeline::FieldCodec codec(client, policy);
  RecordStats stats;
  std::vector<bool> changed;
  SOVEREIGN_RETURN_IF_ERROR(pipeline::ApplyRow(codec, policy, header, op, on_denied, row, changed, stats));
  return stats;
}

}  // namespace

Result<RecordStats> ProtectRow(const Client& client, const FieldPolicy& policy, const CsvHeader& header,
                               std::vector<std::string>& row) {
  return RowOp(client, policy, header, row, pipeline::Operation::kEncrypt, OnDenied::kFail);
}
Result<RecordStats> UnprotectRow(const Client& client, const FieldPolicy& policy, const CsvHeader& header,
                                 std::vector<std::string>& row, OnDenied on_denied) {
  return RowOp(client, policy, header, row, pipeline::Operation::kDecrypt, on_denied);
}
Result<RecordStats> RewrapRow(const Client& client, const FieldPolicy& policy, const CsvHeader& header,
                              std::vector<std::string>& row) {
  return RowOp(client, policy, header, row, pipeline::Operation::kRewrap, OnDenied::kKeep);
}

}  // namespace sovereign
