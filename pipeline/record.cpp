// Protect / Unprotect / Rewrap of one nlohmann::json record.
#include <charconv>

#include <fmt/format.h>

#include "pipeline/internal/field_codec.hpp"
#include "pipeline/internal/pointer.hpp"
#include "sovereign/envelope.hpp"
#include "sovereign/policy.hpp"

namespace sovereign {

namespace {

using pipeline::FieldCodec;
using pipeline::RecordBinding;

enum class Op { kProtect, kUnprotect, kRewrap };

template <typename J, typename F>
void Visit(J& node, const std::vector<std::string>& segments, std::size_t i, F& f) {
  if (i == segments.size()) {
    f(node);
    return;
  }
  const std::string& seg = segments[i];
  if (seg == pipeline::kWildcard) {
    if (node.is_object() || node.is_array()) {
      for (auto& child : node) Visit(child, segments, i + 1, f);
    }
  } else if (node.is_object()) {
    auto it = node.find(seg);
    if (it != node.end()) Visit(*it, segments, i + 1, f);
  } else if (node.is_array()) {
    std::size_t index = 0;
    const char* end = seg.data() + seg.size();
    auto [ptr, ec] = std::from_chars(seg.data(), end, index);
    if (ec == std::errc() && ptr == end && (seg == "0" || seg[0] != '0') && index < node.size()) {
      Visit(node[index], segments, i + 1, f);
    }
  }
}

template <typename J>
const J* Find(const J& record, const std::vector<std::string>& segments) {
  const J* found = nullptr;
  auto take = [&](const J& v) { found = &v; };
  Visit(record, segments, 0, take);
  return found;
}

template <typename J>
Result<RecordBinding> Bind(const FieldPolicy& policy, const J& record, bool encrypting) {
  RecordBinding binding;
  std::optional<std::string> region_value;
  bool not_a_string = false;
  if (!policy.region().from.empty()) {
    if (const J* r = Find(record, policy.region().from); r != nullptr && !r->is_null()) {
      if (r->is_string()) region_value = r->template get<std::string>();
      else not_a_string = true;
    }
  }
  // Only encryption needs the region: a ciphertext's header names its own.
  if (encrypting) {
    auto region = pipeline::ResolveRegion(policy, region_value, not_a_string);
    if (!region.ok()) return region.status();
    binding.region = std::move(region).value();
  }
  if (!policy.record_id().empty()) {
    if (const J* id = Find(record, policy.record_id()); id != nullptr) {
      if (id->is_string()) binding.record_id = id->template get<std::string>();
      else if (id->is_number_integer()) binding.record_id = id->dump();
    }
  }
  for (const auto& pointer : policy.subjects()) {
    auto& subject = binding.subjects.emplace_back();
    if (const J* v = Find(record, pointer); v != nullptr) {
      if (v->is_string() && !v->template get_ref<const std::string&>().empty()) {
        subject = v->template get<std::string>();
      } else if (v->is_number_integer()) {
        subject = v->dump();  // as the NDJSON path reads it: integers only
      }
    }
  }
  if (encrypting) SOVEREIGN_RETURN_IF_ERROR(pipeline::CheckBinding(policy, binding));
  return binding;
}

template <typename J>
Result<RecordStats> Apply(const Client& client, const FieldPolicy& policy, J& record, Op op, OnDenied on_denied) {
  auto binding = Bind(policy, record, op == Op::kProtect);
  if (!binding.ok()) return binding.status();
  FieldCodec codec(client, policy);
  J result = record;
  RecordStats stats;
  Status failure;
  std::string text, plaintext;
  // Index members are added after the walk: inserting while visiting would move the values.
  std::vector<std::pair<std::string, std::string>> indexes;
  for (const PolicyField& field : policy.fields()) {
    auto apply = [&](J& value) {
      if (!failure.ok() || value.is_null()) return;
      const bool is_ct = value.is_string() && IsTextCiphertext(value.template get_ref<const std::string&>());
      text.clear();
      if (op == Op::kProtect) {
        if (is_ct && pipeline::AlreadyEncrypted(value.template get_ref<const std::string&>(), field)) {
          ++stats.fields_skipped;
          return;
        }
        const std::string json_text = value.is_string() ? std::string() : value.dump();
        const std::string& bytes = value.is_string() ? value.template get_ref<const std::string&>() : json_text;
        failure = codec.Encrypt(field, *binding, !value.is_string(), bytes, text);
        if (failure.ok() && field.index) {
          auto index = codec.Index(field, binding->region, bytes);
          if (!index.ok()) failure = index.status();
          else indexes.emplace_back(field.index->path, std::move(index).value());
        }
        if (failure.ok()) {
          value = text;
          ++stats.fields_encrypted;
        }
        return;
      }
      if (!is_ct) {
        ++stats.fields_skipped;
        return;
      }
      const std::string& ct = value.template get_ref<const std::string&>();
      Status s;
      if (op == Op::kRewrap) {
        bool changed = false;
        std::string from, index;
        s = codec.Rewrap(field, *binding, ct, text, changed, from, index);
        if (s.ok() && changed) {
          if (!index.empty()) indexes.emplace_back(field.index->path, index);
          value = text;
          ++stats.fields_rewrapped;
          ++stats.rewrapped_from[from];
        } else if (s.ok()) {
          ++stats.fields_skipped;
        }
      } else {
        bool json_value = false;
        s = codec.Decrypt(field, *binding, ct, plaintext, json_value);
        if (s.ok()) {
          value = json_value ? J::parse(plaintext) : J(plaintext);
          ++stats.fields_decrypted;
        }
      }
      if (s.code() == ErrorCode::kShredded && (op == Op::kRewrap || on_denied != OnDenied::kFail)) {
        // Unrecoverable by design: rewrap leaves it; decrypt keeps or redacts it as it would a denied field.
        ++stats.shredded;
        if (op == Op::kUnprotect && on_denied == OnDenied::kRedact) value = std::string(kRedactedMarker);
        return;
      }
      if (s.code() == ErrorCode::kDenied && on_denied != OnDenied::kFail) {
        ++stats.denied;
        if (on_denied == OnDenied::kRedact) value = std::string(kRedactedMarker);
        return;
      }
      failure = s;
    };
    Visit(result, field.segments, 0, apply);
    if (!failure.ok()) return failure;
  }
  for (auto& [pointer, index] : indexes) {
    if (result.is_object()) result[pipeline::ParsePointer(pointer).value()[0]] = std::move(index);
  }
  record = std::move(result);
  return stats;
}

}  // namespace

Result<RecordStats> Protect(const Client& client, const FieldPolicy& policy, nlohmann::ordered_json& record) {
  return Apply(client, policy, record, Op::kProtect, OnDenied::kFail);
}
Result<RecordStats> Protect(const Client& client, const FieldPolicy& policy, nlohmann::json& record) {
  return Apply(client, policy, record, Op::kProtect, OnDenied::kFail);
}
Result<RecordStats> Unprotect(const Client& client, const FieldPolicy& policy, nlohmann::ordered_json& record,
                              OnDenied on_denied) {
  return Apply(client, policy, record, Op::kUnprotect, on_denied);
}
Result<RecordStats> Unprotect(const Client& client, const FieldPolicy& policy, nlohmann::json& record,
                              OnDenied on_denied) {
  return Apply(client, policy, record, Op::kUnprotect, on_denied);
}
Result<RecordStats> Rewrap(const Client& client, const FieldPolicy& policy, nlohmann::ordered_json& record) {
  return Apply(client, policy, record, Op::kRewrap, OnDenied::kKeep);
}

}  // namespace sovereign
