#include "pipeline/internal/csv.hpp"

namespace sovereign::pipeline {

bool SplitCsvRecord(std::string_view r, std::vector<CsvCell>& cells) {
  cells.clear();
  std::size_t i = 0;
  while (true) {
    const std::size_t begin = i;
    if (i < r.size() && r[i] == '"') {
      ++i;
      while (true) {
        const std::size_t q = r.find('"', i);
        if (q == std::string_view::npos) return false;
        if (q + 1 < r.size() && r[q + 1] == '"') {
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      cells.push_back({begin, i, true});
      if (i == r.size()) return true;
      if (r[i] != ',') return false;
      ++i;
      continue;
    }
    const std::size_t comma = r.find(',', i);
    const std::size_t end = comma == std::string_view::npos ? r.size() : comma;
    if (r.substr(i, end - i).find('"') != std::string_view::npos) return false;
    cells.push_back({begin, end, false});
    if (comma == std::string_view::npos) return true;
    i = comma + 1;
  }
}

void CsvCellValue(std::string_view record, const CsvCell& cell, std::string& out) {
  if (!cell.quoted) {
    out.append(record.substr(cell.begin, cell.end - cell.begin));
    return;
  }
  const std::string_view inner = record.substr(cell.begin + 1, cell.end - cell.begin - 2);
  for (std::size_t i = 0; i < inner.size(); ++i) {
    out.push_back(inner[i]);
    if (inner[i] == '"') ++i;  // "" is one quote
  }
}

void AppendCsvCell(std::string_view value, std::string& out) {
  const bool quote = value.find_first_of(",\"\r\n") != std::string_view::npos ||
                     (!value.empty() && (value.front() == ' ' || value.back() == ' '));
  if (!quote) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

bool ParseCsvHeader(std::string_view record, std::vector<std::string>& columns) {
  if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
  // A UTF-8 byte order mark is not part of the first column's name.
  if (record.substr(0, 3) == "\xEF\xBB\xBF") record.remove_prefix(3);
  std::vector<CsvCell> cells;
  if (!SplitCsvRecord(record, cells)) return false;
  columns.clear();
  for (const auto& c : cells) {
    columns.emplace_back();
    CsvCellValue(record, c, columns.back());
  }
  return true;
}

}  // namespace sovereign::pipeline
