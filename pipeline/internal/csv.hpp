// RFC 4180 CSV records: cells with their raw byte ranges, so unchanged cells
// can be copied verbatim, and minimal quoting for new cells.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sovereign::pipeline {

struct CsvCell {
  std::size_t begin, end;  // raw range in the record, quotes included
  bool quoted;
};

// SplitCsvRecord splits one record (no terminator) into cells. False when a
// quoted cell is unterminated or followed by anything but a comma, or an
// unquoted cell contains a quote.
bool SplitCsvRecord(std::string_view record, std::vector<CsvCell>& cells);

// CsvCellValue appends the value of `cell` (quotes removed, "" unescaped).
void CsvCellValue(std::string_view record, const CsvCell& cell, std::string& out);

// AppendCsvCell appends `value`, quoted only when it holds a comma, quote,
// CR or LF, or starts or ends with a space.
void AppendCsvCell(std::string_view value, std::string& out);

// ParseCsvHeader parses a header record into column names.
bool ParseCsvHeader(std::string_view record, std::vector<std::string>& columns);

}  // namespace sovereign::pipeline
