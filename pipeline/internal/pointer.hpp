// JSON Pointer segments for policy paths, with "*" as the wildcard segment.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sovereign/status.hpp"

namespace sovereign::pipeline {

inline constexpr std::string_view kWildcard = "*";

// ParsePointer splits an RFC 6901 pointer into unescaped segments
// ("" gives none). kInvalidArgument for a bad pointer.
Result<std::vector<std::string>> ParsePointer(std::string_view pointer);

// HasWildcard reports whether any segment is "*".
bool HasWildcard(const std::vector<std::string>& segments);

}  // namespace sovereign::pipeline
