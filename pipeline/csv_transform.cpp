// The CSV stream transform: split, apply the policy, rewrite only the cells it changed.
#include "pipeline/internal/csv.hpp"
#include "pipeline/internal/csv_row.hpp"
#include "pipeline/internal/json_text.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::pipeline {

namespace {

class CsvTransform final : public RecordTransform {
 public:
  CsvTransform(const Client& client, const FieldPolicy& policy, const CsvHeader& header, TransformOptions options)
      : client_(client), policy_(policy), header_(header), codec_(client, policy), options_(options) {}

  void Prepare(std::span<const std::string_view> records) override {
    if (policy_.subjects().empty()) return;  // no per-subject keys to fetch
    specs_.clear();
    ciphertexts_.clear();
    const int region_column = policy_.region().from.empty() ? -1 : header_.Column(policy_.region().from[0]);
    for (const std::string_view record : records) {
      if (!SplitCsvRecord(record, cells_) || cells_.size() != header_.columns().size()) continue;
      auto value = [&](int column) {
        std::string v;
        CsvCellValue(record, cells_[static_cast<std::size_t>(column)], v);
        return v;
      };
      std::optional<std::string> region_value;
      if (region_column >= 0) {
        if (std::string r = value(region_column); !r.empty()) region_value = std::move(r);
      }
      auto region = ResolveRegion(policy_, region_value, false);
      for (const auto& field : policy_.fields()) {
        if (field.subject.empty()) continue;
        const int c = header_.Column(field.segments[0]);
        const int sc = header_.Column(policy_.subjects()[static_cast<std::size_t>(field.subject_slot)][0]);
        if (c < 0 || sc < 0) continue;
        std::string subject = value(sc);
        if (subject.empty()) continue;
        const CsvCell& cell = cells_[static_cast<std::size_t>(c)];
        if (cell.begin == cell.end) continue;
        // A ciphertext cell never needs quoting: its raw range is its value.
        const std::string_view raw = record.substr(cell.begin, cell.end - cell.begin);
        const bool ciphertext = !cell.quoted && IsTextCiphertext(raw);
        if (options_.operation != Operation::kEncrypt && ciphertext) ciphertexts_.push_back(raw);
        if (region.ok() && (options_.operation == Operation::kRewrap || !ciphertext)) {
          specs_.push_back(FieldSpec{*region, field.key, field.label, field.mode, std::move(subject)});
        }
      }
    }
    if (options_.operation != Operation::kDecrypt && !specs_.empty()) client_.PrefetchKeys(specs_);
    if (!ciphertexts_.empty()) client_.PrefetchKeysFor(ciphertexts_);
  }

  Status Transform(std::string_view record, std::string& out, RecordStats& total) override {
    if (!IsValidUtf8(record)) return Status(ErrorCode::kInvalidArgument, "invalid UTF-8");
    if (!SplitCsvRecord(record, cells_)) return Status(ErrorCode::kInvalidArgument, "malformed CSV quoting");
    row_.resize(cells_.size());
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      row_[i].clear();
      CsvCellValue(record, cells_[i], row_[i]);
    }
    RecordStats stats;
    SOVEREIGN_RETURN_IF_ERROR(ApplyRow(codec_, policy_, header_, options_.operation, options_.on_denied, row_,
                                       changed_, stats));
    for (std::size_t i = 0; i < cells_.size(); ++i) {
      if (i > 0) out.push_back(',');
      if (changed_[i]) AppendCsvCell(row_[i], out);
      else out.append(record.substr(cells_[i].begin, cells_[i].end - cells_[i].begin));
    }
    out.push_back('\n');
    total.Add(stats);
    return OkStatus();
  }

 private:
  const Client& client_;
  const FieldPolicy& policy_;
  const CsvHeader& header_;
  FieldCodec codec_;
  TransformOptions options_;
  std::vector<CsvCell> cells_;
  std::vector<std::string> row_;
  std::vector<bool> changed_;
  std::vector<FieldSpec> specs_;
  std::vector<std::string_view> ciphertexts_;
};

}  // namespace

std::unique_ptr<RecordTransform> NewCsvTransform(const Client& client, const FieldPolicy& policy,
                                                 const CsvHeader& header, TransformOptions options) {
  return std::make_unique<CsvTransform>(client, policy, header, options);
}

}  // namespace sovereign::pipeline
