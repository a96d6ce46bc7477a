// The NDJSON splice transform: scan, encrypt or decrypt the policy values,
// copy everything else byte for byte.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <system_error>

#include <fmt/format.h>

#include "pipeline/internal/field_codec.hpp"
#include "pipeline/internal/json_scan.hpp"
#include "pipeline/internal/json_text.hpp"
#include "pipeline/internal/pointer.hpp"
#include "pipeline/internal/transform.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::pipeline {

namespace {

struct Splice {
  std::size_t begin, end;            // range of the input replaced
  std::size_t arena_begin, arena_end;  // replacement, in the arena
};

class NdjsonTransform final : public RecordTransform {
 public:
  NdjsonTransform(const Client& client, const FieldPolicy& policy, const PathTrie& trie, TransformOptions options)
      : client_(client), policy_(policy), codec_(client, policy), scanner_(&trie), options_(options) {}

  void Prepare(std::span<const std::string_view> records) override {
    prepared_count_ = next_prepared_ = 0;
    if (policy_.subjects().empty()) return;  // no per-subject keys to fetch
    // Kept across chunks, so the scans' vectors are reused.
    if (prepared_.size() < records.size()) prepared_.resize(records.size());
    prepared_count_ = records.size();
    specs_.clear();
    ciphertexts_.clear();
    for (std::size_t i = 0; i < records.size(); ++i) {
      Prepared& p = prepared_[i];
      p.record = records[i];
      p.scanned = scanner_.Scan(records[i], p.scan).ok();
      if (!p.scanned || !p.scan.root_is_object || p.scan.duplicate_binding) continue;
      RecordBinding binding;
      if (!Bind(records[i], p.scan, binding, options_.operation != Operation::kDecrypt).ok()) continue;
      for (const auto& v : p.scan.values) {
        const PolicyField& field = policy_.fields()[v.field];
        if (field.subject.empty()) continue;
        const std::string_view text = records[i].substr(v.begin, v.end - v.begin);
        const std::optional<std::string>& subject = SubjectOf(field, binding);
        if (text == "null" || !subject) continue;
        const bool ciphertext = text.front() == '"' && IsTextCiphertext(text.substr(1));
        if (options_.operation != Operation::kEncrypt && ciphertext) {
          ciphertexts_.push_back(text.substr(1, text.size() - 2));
        }
        // Rewrap re-encrypts under the primary version's subject key too.
        if (options_.operation == Operation::kRewrap || !ciphertext) {
          specs_.push_back(FieldSpec{binding.region, field.key, field.label, field.mode, subject});
        }
      }
    }
    if (options_.operation != Operation::kDecrypt && !specs_.empty()) client_.PrefetchKeys(specs_);
    if (!ciphertexts_.empty()) client_.PrefetchKeysFor(ciphertexts_);
  }

  Status Transform(std::string_view line, std::string& out, RecordStats& total) override {
    // Prepare scanned the chunk's records already: take its result, in order.
    if (next_prepared_ < prepared_count_ && prepared_[next_prepared_].record.data() == line.data() &&
        prepared_[next_prepared_].scanned) {
      std::swap(scan_, prepared_[next_prepared_++].scan);
    } else {
      if (next_prepared_ < prepared_count_) ++next_prepared_;
      SOVEREIGN_RETURN_IF_ERROR(scanner_.Scan(line, scan_));
    }
    if (!scan_.root_is_object) return Status(ErrorCode::kInvalidArgument, "record is not a JSON object");
    if (scan_.duplicate_binding) {
      return Status(ErrorCode::kInvalidArgument,
                    "the record id, region, a subject or a blind index member appears more than once in the record");
    }
    RecordBinding binding;
    pending_indexes_.clear();
    SOVEREIGN_RETURN_IF_ERROR(Bind(line, scan_, binding, options_.operation == Operation::kEncrypt));
    // Decrypt needs no check: a random-mode field without its record id simply fails to open.
    if (options_.operation == Operation::kEncrypt) SOVEREIGN_RETURN_IF_ERROR(CheckBinding(policy_, binding));
    arena_.clear();
    splices_.clear();
    RecordStats stats;
    for (const auto& v : scan_.values) {
      const PolicyField& field = policy_.fields()[v.field];
      const std::string_view text = line.substr(v.begin, v.end - v.begin);
      if (text == "null") continue;
      const std::size_t mark = arena_.size();
      Status s = options_.operation == Operation::kEncrypt ? EncryptValue(field, binding, text, stats)
                                                           : OpenValue(field, binding, text, stats);
      if (!s.ok()) return s;
      if (arena_.size() != mark) splices_.push_back({v.begin, v.end, mark, arena_.size()});
    }
    // An existing index member gets the new value; a missing one is added
    // before the root's closing brace, in policy order.
    bool need_comma = scan_.root_has_members;
    for (std::size_t i = 0; i < pending_indexes_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (pending_indexes_[j].first == pending_indexes_[i].first) {
          return Status(ErrorCode::kInvalidArgument,
                        fmt::format("field {} has more than one value in the record but one blind index member",
                                    policy_.fields()[pending_indexes_[i].first].path));
        }
      }
    }
    for (const auto& [field_index, index] : pending_indexes_) {
      const auto& where = scan_.index_values[field_index];
      const std::size_t m = arena_.size();
      if (where.first == kNone) {
        if (need_comma) arena_.push_back(',');
        need_comma = true;
        AppendJsonString(ParsePointer(policy_.fields()[field_index].index->path).value()[0], arena_);
        arena_.push_back(':');
      }
      AppendJsonString(index, arena_);
      if (where.first != kNone) splices_.push_back({where.first, where.second, m, arena_.size()});
      else splices_.push_back({scan_.root_close, scan_.root_close, m, arena_.size()});
    }
    std::stable_sort(splices_.begin(), splices_.end(), [](const Splice& a, const Splice& b) { return a.begin < b.begin; });
    std::size_t at = 0;
    for (const auto& sp : splices_) {
      // Policy paths never overlap (the policy refuses it), so neither do splices.
      if (sp.begin < at) return Status(ErrorCode::kInternal, "overlapping values in the record");
      out.append(line.substr(at, sp.begin - at));
      out.append(arena_, sp.arena_begin, sp.arena_end - sp.arena_begin);
      at = sp.end;
    }
    out.append(line.substr(at));
    out.push_back('\n');
    total.Add(stats);
    return OkStatus();
  }

 private:
  struct Prepared {
    std::string_view record;
    bool scanned = false;
    ScanResult scan;
  };

  // Bind finds the record's region (when `resolve_region`: only encryption
  // needs it, a ciphertext's header names its own), record id and subjects.
  Status Bind(std::string_view line, const ScanResult& scan, RecordBinding& binding, bool resolve_region) {
    if (resolve_region) {
      std::optional<std::string> region;
      bool not_a_string = false;
      if (scan.region.first != kNone) {
        const std::string_view v = line.substr(scan.region.first, scan.region.second - scan.region.first);
        if (v.front() == '"') {
          region.emplace();
          if (!UnescapeJsonString(v.substr(1, v.size() - 2), *region)) not_a_string = true;
        } else if (v != "null") {
          not_a_string = true;
        }
      }
      auto r = ResolveRegion(policy_, region, not_a_string);
      if (!r.ok()) return r.status();
      binding.region = std::move(r).value();
    }
    ReadId(line, scan.record_id, binding.record_id);
    binding.subjects.resize(scan.subjects.size());
    for (std::size_t i = 0; i < scan.subjects.size(); ++i) ReadId(line, scan.subjects[i], binding.subjects[i]);
    return OkStatus();
  }

  // ReadId reads a record id or subject id: a non-empty string, or an
  // integer's JSON text (the form the record API's nlohmann::json writes
  // too, so both paths bind and name subjects alike); anything else
  // (fractions, exponents, -0, integers beyond 64 bits, nothing) leaves `id`
  // empty.
  static void ReadId(std::string_view line, std::pair<std::size_t, std::size_t> range, std::optional<std::string>& id) {
    id.reset();
    if (range.first == kNone) return;
    const std::string_view v = line.substr(range.first, range.second - range.first);
    if (v.front() == '"') {
      id.emplace();
      // An empty id binds nothing (every such record would share it): it counts as missing, as in CSV.
      if (!UnescapeJsonString(v.substr(1, v.size() - 2), *id) || id->empty()) id.reset();
    } else if (IsCanonicalInteger(v)) {
      id.emplace(v);
    }
  }

  static bool IsCanonicalInteger(std::string_view v) {
    if (v == "-0" || v.empty()) return false;
    const char* end = v.data() + v.size();
    if (v.front() == '-') {
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), end, n);
      return ec == std::errc() && p == end;
    }
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), end, n);
    return ec == std::errc() && p == end;
  }

  // StringContents gives the UTF-8 bytes of a JSON string value's text.
  std::string_view StringContents(std::string_view text) {
    const std::string_view raw = text.substr(1, text.size() - 2);
    if (raw.find('\\') == std::string_view::npos) return raw;
    unescaped_.clear();
    UnescapeJsonString(raw, unescaped_);
    return unescaped_;
  }

  Status EncryptValue(const PolicyField& field, const RecordBinding& binding, std::string_view text,
                      RecordStats& stats) {
    const bool is_string = text.front() == '"';
    const std::string_view value = is_string ? StringContents(text) : text;
    if (is_string && AlreadyEncrypted(value, field)) {
      ++stats.fields_skipped;
      return OkStatus();
    }
    arena_.push_back('"');
    SOVEREIGN_RETURN_IF_ERROR(codec_.Encrypt(field, binding, !is_string, value, arena_));
    arena_.push_back('"');
    ++stats.fields_encrypted;
    if (field.index) {
      auto index = codec_.Index(field, binding.region, value);
      if (!index.ok()) return index.status();
      pending_indexes_.emplace_back(static_cast<int>(&field - policy_.fields().data()), std::move(index).value());
    }
    return OkStatus();
  }

  Status OpenValue(const PolicyField& field, const RecordBinding& binding, std::string_view text,
                   RecordStats& stats) {
    if (text.front() != '"' || text.substr(1, text.size() - 2).find('\\') != std::string_view::npos ||
        !IsTextCiphertext(text.substr(1))) {
      ++stats.fields_skipped;
      return OkStatus();
    }
    const std::string_view ct = text.substr(1, text.size() - 2);
    // Whatever fails below leaves the arena as it was: no half-written value is spliced.
    const std::size_t mark = arena_.size();
    Status s;
    if (options_.operation == Operation::kRewrap) {
      bool changed = false;
      std::string from, index;
      arena_.push_back('"');
      s = codec_.Rewrap(field, binding, ct, arena_, changed, from, index);
      if (s.ok() && changed) {
        arena_.push_back('"');
        if (!index.empty()) pending_indexes_.emplace_back(static_cast<int>(&field - policy_.fields().data()), index);
        ++stats.fields_rewrapped;
        ++stats.rewrapped_from[from];
        return OkStatus();
      }
      arena_.resize(mark);
      if (s.ok()) {
        ++stats.fields_skipped;
        return OkStatus();
      }
    } else {
      bool json_value = false;
      s = codec_.Decrypt(field, binding, ct, plaintext_, json_value);
      if (s.ok()) {
        if (json_value) {
          // Valid JSON text has CR or LF only as whitespace: keep the record on one line.
          for (char c : plaintext_) arena_.push_back(c == '\n' || c == '\r' ? ' ' : c);
        } else {
          AppendJsonString(plaintext_, arena_);
        }
        ++stats.fields_decrypted;
        return OkStatus();
      }
    }
    arena_.resize(mark);
    if (s.code() == ErrorCode::kShredded &&
        (options_.operation == Operation::kRewrap || options_.on_denied != OnDenied::kFail)) {
      // Unrecoverable by design: rewrap leaves it; decrypt keeps or redacts it as it would a denied field.
      ++stats.shredded;
      if (options_.operation == Operation::kDecrypt && options_.on_denied == OnDenied::kRedact) {
        AppendJsonString(kRedactedMarker, arena_);
      }
      return OkStatus();
    }
    if (s.code() == ErrorCode::kDenied && options_.on_denied != OnDenied::kFail) {
      ++stats.denied;
      if (options_.on_denied == OnDenied::kRedact) AppendJsonString(kRedactedMarker, arena_);
      return OkStatus();
    }
    return s;
  }

  const Client& client_;
  const FieldPolicy& policy_;
  FieldCodec codec_;
  JsonScanner scanner_;
  TransformOptions options_;
  ScanResult scan_;
  std::string arena_, unescaped_, plaintext_;
  std::vector<Splice> splices_;
  std::vector<std::pair<int, std::string>> pending_indexes_;  // (policy field, blind index)
  std::vector<Prepared> prepared_;  // the chunk's scans, from Prepare
  std::size_t prepared_count_ = 0, next_prepared_ = 0;
  std::vector<FieldSpec> specs_;
  std::vector<std::string_view> ciphertexts_;
};

}  // namespace

std::unique_ptr<RecordTransform> NewNdjsonTransform(const Client& client, const FieldPolicy& policy,
                                                    const PathTrie& trie, TransformOptions options) {
  return std::make_unique<NdjsonTransform>(client, policy, trie, options);
}

}  // namespace sovereign::pipeline
