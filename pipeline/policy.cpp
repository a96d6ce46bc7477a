// FieldPolicy::Parse: the policy document, validated before any record is read.
#include "sovereign/policy.hpp"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "pipeline/internal/pointer.hpp"
#include "sovereign/envelope.hpp"
#include "sdk/internal/json_strict.hpp"

namespace sovereign {

namespace {

using Json = nlohmann::json;

Status PolicyError(std::string_view source, std::string_view where, std::string_view what) {
  return Status(ErrorCode::kInvalidArgument, fmt::format("{}: {}: {}", source, where, what));
}

Status CheckMembers(const Json& object, std::initializer_list<std::string_view> allowed, std::string_view source,
                    std::string_view where) {
  for (const auto& [name, value] : object.items()) {
    bool known = false;
    for (auto a : allowed) known = known || a == name;
    if (!known) return PolicyError(source, where, fmt::format("unknown member \"{}\"", name));
  }
  return OkStatus();
}

// Overlap reports whether two patterns can select the same value or one can
// select a value that contains a value the other selects.
bool Overlap(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i] && a[i] != pipeline::kWildcard && b[i] != pipeline::kWildcard) return false;
  }
  return true;
}

Result<PolicyField> ParseField(const Json& entry, std::string_view source, const std::string& where) {
  if (!entry.is_object()) return PolicyError(source, where, "must be an object");
  SOVEREIGN_RETURN_IF_ERROR(CheckMembers(entry, {"path", "key", "label", "mode", "index", "subject"}, source, where));
  PolicyField field;
  if (!entry.contains("path") || !entry["path"].is_string()) {
    return PolicyError(source, where, "needs \"path\", a JSON Pointer string");
  }
  field.path = entry["path"].get<std::string>();
  const std::string at = fmt::format("{} ({})", where, field.path);
  auto segments = pipeline::ParsePointer(field.path);
  if (!segments.ok() || segments->empty()) {
    return PolicyError(source, at, "\"path\" is not a JSON Pointer to a member (e.g. \"/email\")");
  }
  field.segments = std::move(segments).value();
  if (!entry.contains("key") || !entry["key"].is_string() || entry["key"].get<std::string>().empty()) {
    return PolicyError(source, at, "needs \"key\", a key name");
  }
  field.key = entry["key"].get<std::string>();
  if (entry.contains("label")) {
    if (!entry["label"].is_string() || entry["label"].get<std::string>().empty()) {
      return PolicyError(source, at, "\"label\" must be a non-empty string");
    }
    field.label = entry["label"].get<std::string>();
  } else {
    for (auto it = field.segments.rbegin(); it != field.segments.rend() && field.label.empty(); ++it) {
      if (*it != pipeline::kWildcard) field.label = *it;
    }
    if (field.label.empty()) return PolicyError(source, at, "needs \"label\": the path has no named segment");
  }
  if (entry.contains("mode")) {
    const auto& m = entry["mode"];
    auto mode = m.is_string() ? ParseMode(m.get<std::string>()) : Result<Mode>(Status(ErrorCode::kInvalidArgument, ""));
    if (!mode.ok() || *mode == Mode::kIndex) {
      return PolicyError(source, at, fmt::format("unknown mode {} (expected \"random\" or \"deterministic\")", m.dump()));
    }
    field.mode = *mode;
  }
  if (entry.contains("index")) {
    const auto& index = entry["index"];
    const std::string iat = at + ": index";
    if (!index.is_object()) return PolicyError(source, iat, "must be an object");
    SOVEREIGN_RETURN_IF_ERROR(CheckMembers(index, {"path", "bits", "normalize"}, source, iat));
    PolicyIndex spec;
    if (!index.contains("path") || !index["path"].is_string()) return PolicyError(source, iat, "needs \"path\"");
    spec.path = index["path"].get<std::string>();
    auto isegs = pipeline::ParsePointer(spec.path);
    if (!isegs.ok() || isegs->size() != 1 || (*isegs)[0] == pipeline::kWildcard) {
      return PolicyError(source, iat, "\"path\" must name one top-level member, e.g. \"/email_index\"");
    }
    for (const auto& s : field.segments) {
      if (s == pipeline::kWildcard) return PolicyError(source, iat, "a wildcard field cannot have an index");
    }
    if (index.contains("bits")) {
      const auto& bits = index["bits"];
      if (!bits.is_number_unsigned() || bits.get<unsigned>() < kMinIndexBits || bits.get<unsigned>() > kMaxIndexBits) {
        return PolicyError(source, iat, fmt::format("\"bits\" must be {}..{}", kMinIndexBits, kMaxIndexBits));
      }
      spec.options.bits = bits.get<unsigned>();
    }
    if (index.contains("normalize")) {
      auto n = index["normalize"].is_string() ? ParseIndexNormalization(index["normalize"].get<std::string>())
                                              : Result<IndexNormalization>(Status(ErrorCode::kInvalidArgument, ""));
      if (!n.ok()) return PolicyError(source, iat, "\"normalize\" must be exact, trim-casefold or digits");
      spec.options.normalization = *n;
    }
    field.index = std::move(spec);
  }
  if (entry.contains("subject")) {
    const auto& subject = entry["subject"];
    auto segs = subject.is_string() ? pipeline::ParsePointer(subject.get<std::string>())
                                    : Result<std::vector<std::string>>(Status(ErrorCode::kInvalidArgument, ""));
    if (!segs.ok() || segs->empty() || pipeline::HasWildcard(*segs)) {
      return PolicyError(source, at, "\"subject\" must be a JSON Pointer to one member, without wildcards (e.g. \"/user_id\")");
    }
    if (field.index) {
      return PolicyError(source, at,
                         "a field with a \"subject\" cannot have an \"index\": the index is keyed by the key version, "
                         "so shredding the subject would leave it behind");
    }
    field.subject = subject.get<std::string>();
  }
  return field;
}

Status ParseRegion(const Json& doc, std::string_view source, RegionRule& rule) {
  if (!doc.contains("region")) return PolicyError(source, "region", "is required (a region name or {\"from\", \"default\"})");
  const Json& r = doc["region"];
  auto check_region = [&](const Json& v) -> Status {
    if (!v.is_string() || !ValidateRegion(v.get<std::string>()).ok()) {
      return PolicyError(source, "region", fmt::format("{} is not a region name", v.dump()));
    }
    return OkStatus();
  };
  if (r.is_string()) {
    SOVEREIGN_RETURN_IF_ERROR(check_region(r));
    rule.fallback = r.get<std::string>();
    return OkStatus();
  }
  if (!r.is_object()) return PolicyError(source, "region", "must be a region name or an object");
  SOVEREIGN_RETURN_IF_ERROR(CheckMembers(r, {"from", "default"}, source, "region"));
  if (!r.contains("from") || !r["from"].is_string()) return PolicyError(source, "region", "needs \"from\", a JSON Pointer");
  rule.from_pointer = r["from"].get<std::string>();
  auto segs = pipeline::ParsePointer(rule.from_pointer);
  if (!segs.ok() || segs->empty() || pipeline::HasWildcard(*segs)) {
    return PolicyError(source, "region.from", "must be a JSON Pointer to one member, without wildcards");
  }
  rule.from = std::move(segs).value();
  if (r.contains("default")) {
    SOVEREIGN_RETURN_IF_ERROR(check_region(r["default"]));
    rule.fallback = r["default"].get<std::string>();
  }
  return OkStatus();
}

}  // namespace

bool FieldPolicy::has_random_fields() const {
  for (const auto& f : fields_) {
    if (f.mode == Mode::kRandom) return true;
  }
  return false;
}

Result<FieldPolicy> FieldPolicy::Parse(std::string_view json_text, std::string_view source) {
  std::string duplicate;
  const Json doc = internal::ParseJsonNoDuplicates(json_text, duplicate);
  if (doc.is_discarded() || !doc.is_object()) return PolicyError(source, "document", "must be a JSON object");
  // Which of two equal names counts differs between JSON readers: a reviewer could read another policy.
  if (!duplicate.empty()) return PolicyError(source, "document", "duplicate member " + duplicate);
  SOVEREIGN_RETURN_IF_ERROR(CheckMembers(doc, {"keystores", "region", "record_id", "fields"}, source, "document"));
  FieldPolicy policy;
  if (doc.contains("keystores")) {
    if (!doc["keystores"].is_object()) return PolicyError(source, "keystores", "must be an object of regions");
    policy.keystores_ = doc["keystores"].dump();
  }
  SOVEREIGN_RETURN_IF_ERROR(ParseRegion(doc, source, policy.region_));
  if (doc.contains("record_id")) {
    const Json& id = doc["record_id"];
    auto segs = id.is_string() ? pipeline::ParsePointer(id.get<std::string>())
                               : Result<std::vector<std::string>>(Status(ErrorCode::kInvalidArgument, ""));
    if (!segs.ok() || segs->empty() || pipeline::HasWildcard(*segs)) {
      return PolicyError(source, "record_id", "must be a JSON Pointer to one member, without wildcards");
    }
    policy.record_id_ = std::move(segs).value();
    policy.record_id_pointer_ = id.get<std::string>();
  }
  if (!doc.contains("fields") || !doc["fields"].is_array() || doc["fields"].empty()) {
    return PolicyError(source, "fields", "must be a non-empty array");
  }
  std::set<std::string> index_paths;
  for (std::size_t i = 0; i < doc["fields"].size(); ++i) {
    const std::string where = fmt::format("fields[{}]", i);
    auto field = ParseField(doc["fields"][i], source, where);
    if (!field.ok()) return field.status();
    const std::string at = fmt::format("{} ({})", where, field->path);
    for (std::size_t j = 0; j < policy.fields_.size(); ++j) {
      if (Overlap(policy.fields_[j].segments, field->segments)) {
        return PolicyError(source, at,
                           policy.fields_[j].path == field->path
                               ? fmt::format("is listed twice (also fields[{}])", j)
                               : fmt::format("overlaps fields[{}] ({})", j, policy.fields_[j].path));
      }
    }
    if (!policy.record_id_.empty() && Overlap(policy.record_id_, field->segments)) {
      return PolicyError(source, at, "covers the record id, which must stay in clear to bind ciphertexts");
    }
    if (!policy.region_.from.empty() && Overlap(policy.region_.from, field->segments)) {
      return PolicyError(source, at, "covers the region source, which must stay in clear");
    }
    policy.fields_.push_back(std::move(field).value());
  }
  // Subjects are read in clear at encrypt and rewrap (and bind at decrypt),
  // so no field may cover one; fields naming the same pointer share a slot.
  std::vector<std::string> subject_pointers;
  for (std::size_t i = 0; i < policy.fields_.size(); ++i) {
    auto& f = policy.fields_[i];
    if (f.subject.empty()) continue;
    const std::string at = fmt::format("fields[{}] ({})", i, f.path);
    const std::vector<std::string> sseg = pipeline::ParsePointer(f.subject).value();
    for (const auto& g : policy.fields_) {
      if (Overlap(g.segments, sseg)) {
        return PolicyError(source, at,
                           fmt::format("subject {} is covered by field {}; it must stay in clear to pick the subject key",
                                       f.subject, g.path));
      }
      if (g.index && Overlap(pipeline::ParsePointer(g.index->path).value(), sseg)) {
        return PolicyError(source, at, fmt::format("subject {} is the index member of field {}", f.subject, g.path));
      }
    }
    auto slot = std::find(subject_pointers.begin(), subject_pointers.end(), f.subject);
    if (slot == subject_pointers.end()) {
      subject_pointers.push_back(f.subject);
      policy.subjects_.push_back(sseg);
      slot = subject_pointers.end() - 1;
    }
    f.subject_slot = static_cast<int>(slot - subject_pointers.begin());
  }
  for (std::size_t i = 0; i < policy.fields_.size(); ++i) {
    const auto& f = policy.fields_[i];
    if (!f.index) continue;
    const std::string at = fmt::format("fields[{}] ({}): index", i, f.path);
    const std::vector<std::string> iseg = pipeline::ParsePointer(f.index->path).value();
    if (!index_paths.insert(f.index->path).second) return PolicyError(source, at, "path is used by another index");
    for (const auto& g : policy.fields_) {
      if (Overlap(g.segments, iseg)) return PolicyError(source, at, fmt::format("path overlaps field {}", g.path));
    }
    if ((!policy.record_id_.empty() && Overlap(policy.record_id_, iseg)) ||
        (!policy.region_.from.empty() && Overlap(policy.region_.from, iseg))) {
      return PolicyError(source, at, "path overlaps the record id or region source");
    }
  }
  return policy;
}

Result<FieldPolicy> FieldPolicy::ParseFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status(ErrorCode::kInvalidArgument, fmt::format("cannot read policy {}", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  auto policy = Parse(text.str(), file.string());
  if (policy.ok()) policy->base_dir_ = file.parent_path().empty() ? "." : file.parent_path();
  return policy;
}

void RecordStats::Add(const RecordStats& o) {
  fields_encrypted += o.fields_encrypted;
  fields_decrypted += o.fields_decrypted;
  fields_rewrapped += o.fields_rewrapped;
  fields_skipped += o.fields_skipped;
  denied += o.denied;
  shredded += o.shredded;
  for (const auto& [k, v] : o.rewrapped_from) rewrapped_from[k] += v;
}

}  // namespace sovereign
