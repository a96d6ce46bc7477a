// The CSV stream transform: split, apply the policy, rewrite only the cells it changed.
#include "pipeline/internal/csv.hpp"
#include "pipeline/internal/csv_row.hpp"
#include "pipeline/internal/json_text.hpp"

namespace sovereign::pipeline {

namespace {

class CsvTransform final : public RecordTransform {
 public:
  CsvTransform(const Client& client, const FieldPolicy& policy, const CsvHeader& header, TransformOptions options)
      : policy_(policy), header_(header), codec_(client, policy), options_(options) {}

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
  const FieldPolicy& policy_;
  const CsvHeader& header_;
  FieldCodec codec_;
  TransformOptions options_;
  std::vector<CsvCell> cells_;
  std::vector<std::string> row_;
  std::vector<bool> changed_;
};

}  // namespace

std::unique_ptr<RecordTransform> NewCsvTransform(const Client& client, const FieldPolicy& policy,
                                                 const CsvHeader& header, TransformOptions options) {
  return std::make_unique<CsvTransform>(client, policy, header, options);
}

}  // namespace sovereign::pipeline
