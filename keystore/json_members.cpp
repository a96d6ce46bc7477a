#include "keystore/internal/json_members.hpp"

#include <fmt/format.h>

#include "sdk/internal/json_strict.hpp"

namespace sovereign::keystore_internal {
namespace {

using Json = nlohmann::json;

Status Invalid(std::string message) { return Status(ErrorCode::kInvalidArgument, std::move(message)); }

std::string_view TypeName(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "binary";
}

Status WrongType(std::string_view path, std::string_view expected, const Json& value) {
  return Invalid(fmt::format("member {} must be {}, not {}", path.empty() ? "/" : path, expected, TypeName(value)));
}

}  // namespace

std::string MemberPath(std::string_view where, std::string_view name) {
  return internal::JsonMemberPath(where, name);
}

std::string ElementPath(std::string_view where, std::size_t index) { return internal::JsonElementPath(where, index); }

Status ExpectObject(const Json& value, std::string_view where, std::initializer_list<std::string_view> allowed) {
  if (!value.is_object()) return WrongType(where, "an object", value);
  for (const auto& [name, member] : value.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == name;
    if (!known) {
      // The name is attacker-controlled in requests: quote it through JSON so
      // control characters cannot forge log lines.
      return Invalid(fmt::format("unknown member {} at {}", internal::JsonQuotedName(name), MemberPath(where, name)));
    }
  }
  return OkStatus();
}

const Json* Member(const Json& object, std::string_view name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

Status ReadString(const Json& object, std::string_view where, std::string_view name, std::string& out,
                  bool required) {
  const Json* member = Member(object, name);
  if (member == nullptr) {
    if (required) return Invalid(fmt::format("missing member {}", MemberPath(where, name)));
    return OkStatus();
  }
  if (!member->is_string()) return WrongType(MemberPath(where, name), "a string", *member);
  out = member->get<std::string>();
  return OkStatus();
}

Status ReadOptionalString(const Json& object, std::string_view where, std::string_view name,
                          std::optional<std::string>& out) {
  out.reset();
  const Json* member = Member(object, name);
  if (member == nullptr || member->is_null()) return OkStatus();
  if (!member->is_string()) return WrongType(MemberPath(where, name), "a string or null", *member);
  out = member->get<std::string>();
  return OkStatus();
}

Status ReadStringArray(const Json& object, std::string_view where, std::string_view name,
                       std::vector<std::string>& out) {
  const Json* member = Member(object, name);
  if (member == nullptr) return OkStatus();
  const std::string path = MemberPath(where, name);
  if (!member->is_array()) return WrongType(path, "an array of strings", *member);
  out.clear();
  for (std::size_t i = 0; i < member->size(); ++i) {
    const Json& element = (*member)[i];
    if (!element.is_string()) return WrongType(ElementPath(path, i), "a string", element);
    out.push_back(element.get<std::string>());
  }
  return OkStatus();
}

Status ReadUnsigned(const Json& object, std::string_view where, std::string_view name, std::uint64_t min,
                    std::uint64_t max, std::optional<std::uint64_t>& out) {
  const Json* member = Member(object, name);
  if (member == nullptr) return OkStatus();
  const std::string path = MemberPath(where, name);
  if (!member->is_number_integer()) return WrongType(path, "an integer", *member);
  if (member->is_number_integer() && !member->is_number_unsigned()) {
    return Invalid(fmt::format("member {} must be between {} and {}", path, min, max));
  }
  const auto value = member->get<std::uint64_t>();
  if (value < min || value > max) return Invalid(fmt::format("member {} must be between {} and {}", path, min, max));
  out = value;
  return OkStatus();
}

}  // namespace sovereign::keystore_internal
