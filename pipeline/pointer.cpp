#include "pipeline/internal/pointer.hpp"

#include "sovereign/envelope.hpp"

namespace sovereign::pipeline {

Result<std::vector<std::string>> ParsePointer(std::string_view pointer) {
  SOVEREIGN_RETURN_IF_ERROR(ValidateJsonPointer(pointer));
  std::vector<std::string> segments;
  if (pointer.empty()) return segments;
  std::size_t pos = 1;
  while (true) {
    const std::size_t end = pointer.find('/', pos);
    const std::string_view raw = pointer.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    std::string seg;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~') {
        seg.push_back(raw[i + 1] == '1' ? '/' : '~');  // ValidateJsonPointer checked the escape
        ++i;
      } else {
        seg.push_back(raw[i]);
      }
    }
    segments.push_back(std::move(seg));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return segments;
}

bool HasWildcard(const std::vector<std::string>& segments) {
  for (const auto& s : segments) {
    if (s == kWildcard) return true;
  }
  return false;
}

}  // namespace sovereign::pipeline
