// Strict reading of JSON objects for configuration files and API requests:
// unknown members are errors, wrong types are errors, and every message names
// the member by its JSON Pointer (RFC 6901), e.g. "unknown member 'foo' at /tls/foo".
//
// Messages quote member names and paths, never member values: a request body
// may carry plaintext.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

// MemberPath returns the JSON Pointer of member `name` (escaped) of the value at `where`,
// for messages: control characters are shown as \uXXXX so none reaches a log line.
std::string MemberPath(std::string_view where, std::string_view name);
// ElementPath returns the JSON Pointer of element `index` of the array at `where`.
std::string ElementPath(std::string_view where, std::size_t index);

// ExpectObject checks that `value` (at `where`) is an object whose members are
// all in `allowed`. kInvalidArgument otherwise.
Status ExpectObject(const nlohmann::json& value, std::string_view where,
                    std::initializer_list<std::string_view> allowed);

// Member returns the member `name` of `object`, or nullptr when absent.
const nlohmann::json* Member(const nlohmann::json& object, std::string_view name);

// ReadString reads string member `name`. Absent: kInvalidArgument when
// `required`, else `out` is left unchanged and ok is returned.
Status ReadString(const nlohmann::json& object, std::string_view where, std::string_view name, std::string& out,
                  bool required);

// ReadOptionalString is ReadString that also accepts null and reports presence.
Status ReadOptionalString(const nlohmann::json& object, std::string_view where, std::string_view name,
                          std::optional<std::string>& out);

// ReadStringArray reads an optional array of strings.
Status ReadStringArray(const nlohmann::json& object, std::string_view where, std::string_view name,
                       std::vector<std::string>& out);

// ReadUnsigned reads an optional non-negative integer member within [min, max].
Status ReadUnsigned(const nlohmann::json& object, std::string_view where, std::string_view name, std::uint64_t min,
                    std::uint64_t max, std::optional<std::uint64_t>& out);

}  // namespace sovereign::keystore_internal
