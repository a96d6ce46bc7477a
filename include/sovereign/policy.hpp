// FieldPolicy: which fields of a record are protected, under which key, and
// how; and the one-call protect / unprotect / rewrap of a record with it.
//
//   auto policy = sovereign::FieldPolicy::ParseFile("users.policy.json");
//   nlohmann::ordered_json user = nlohmann::ordered_json::parse(line);
//   auto stats = sovereign::Protect(*client, *policy, user);   // user now holds ciphertexts
//
// The policy format, the value encoding and the binding of ciphertexts to
// records are specified in docs/policy.md.
//
// Thread safety: a FieldPolicy is immutable after Parse; the record functions
// may run concurrently over one policy and one Client.
//
// Security: error messages name policy entries, field paths and line numbers,
// never values. Random-mode fields are bound to the record id named by the
// policy, so a ciphertext moved to another record fails to decrypt.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sovereign/client.hpp"
#include "sovereign/export.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// PolicyIndex asks for a blind index of a field's plaintext, written to a
// top-level member of the record.
struct PolicyIndex {
  std::string path;  // "/member", one segment
  BlindIndexOptions options;
};

// PolicyField is one entry of "fields".
struct PolicyField {
  std::string path;                   // as written, e.g. "/devices/*/ip"; the binding path
  std::vector<std::string> segments;  // unescaped; "*" is the wildcard
  std::string key;
  std::string label;                  // defaults to the last non-wildcard segment
  Mode mode = Mode::kRandom;
  std::optional<PolicyIndex> index;
  // The pointer to the data subject's id ("/user_id"), "" when the field is
  // not encrypted under per-subject keys; subject_slot indexes
  // FieldPolicy::subjects() (fields naming the same pointer share a slot).
  std::string subject;
  int subject_slot = -1;
};

// RegionRule picks the region of a record: the string at `from` when present,
// else `fallback`. With `from` empty the region is always `fallback`.
struct RegionRule {
  std::vector<std::string> from;  // unescaped segments of a concrete pointer; empty = fixed
  std::string from_pointer;       // as written, for messages
  std::string fallback;           // "" = none: a record without a region is refused
};

class SOVEREIGN_EXPORT FieldPolicy {
 public:
  // Parse validates a policy document. Errors are kInvalidArgument and name
  // `source_name` and the offending entry ("fields[2] (/ssn): unknown mode
  // \"fast\""). Overlapping field paths (one could match a value another
  // matches or contains) are refused, so each value has at most one rule.
  static Result<FieldPolicy> Parse(std::string_view json_text, std::string_view source_name = "policy");

  // ParseFile is Parse of a file's contents; relative keystore file names
  // are later resolved against the file's directory (base_dir()).
  static Result<FieldPolicy> ParseFile(const std::filesystem::path& file);

  const std::vector<PolicyField>& fields() const { return fields_; }
  const RegionRule& region() const { return region_; }
  // record_id() is the unescaped segments of the record id pointer; empty
  // when the policy names none (random-mode fields are then unbound).
  const std::vector<std::string>& record_id() const { return record_id_; }
  const std::string& record_id_pointer() const { return record_id_pointer_; }
  // keystores() is the region map text ("{}" when absent), in the format of
  // OpenKeystoreMapJson; base_dir() resolves its relative file names.
  const std::string& keystores() const { return keystores_; }
  const std::filesystem::path& base_dir() const { return base_dir_; }
  // has_random_fields() says whether any field needs a record id.
  bool has_random_fields() const;
  // subjects() is the distinct subject pointers of the fields, as unescaped
  // segments; a field's subject_slot indexes it. Empty: no subject fields.
  const std::vector<std::vector<std::string>>& subjects() const { return subjects_; }

 private:
  std::vector<PolicyField> fields_;
  RegionRule region_;
  std::vector<std::string> record_id_;
  std::string record_id_pointer_;
  std::vector<std::vector<std::string>> subjects_;
  std::string keystores_ = "{}";
  std::filesystem::path base_dir_;
};

// OnDenied says what Unprotect does with a field this principal may not
// decrypt, and with a field whose subject was shredded (counted apart).
enum class OnDenied : std::uint8_t {
  kKeep = 0,    // leave the ciphertext in place
  kRedact = 1,  // replace it with kRedactedMarker
  kFail = 2,    // fail the whole record (kDenied, or kShredded)
};

// RecordStats counts what happened to the fields of one or more records.
struct RecordStats {
  std::uint64_t fields_encrypted = 0;
  std::uint64_t fields_decrypted = 0;
  std::uint64_t fields_rewrapped = 0;
  // Encrypt: already a Sovereign ciphertext. Decrypt: not a ciphertext.
  // Rewrap: already under the primary version.
  std::uint64_t fields_skipped = 0;
  std::uint64_t denied = 0;
  // Decrypt and rewrap: fields whose subject key was shredded
  // (kShredded); they are unrecoverable by design.
  std::uint64_t shredded = 0;
  // Rewrap: fields rewrapped, by the key version they had ("us/users/v1").
  std::map<std::string, std::uint64_t> rewrapped_from;

  void Add(const RecordStats& other);
};

// Protect encrypts every value of `record` at a policy path (see
// docs/policy.md for values, binding, subjects and indexes). All or nothing:
// on error `record` is unchanged and the message names the field path, never
// a value. Errors: kInvalidArgument (no record id, no region, no subject for
// a subject field, bad value), kShredded (the record's subject was shredded),
// kWrongRegion (no keystore for the record's region), and Client errors.
SOVEREIGN_EXPORT Result<RecordStats> Protect(const Client& client, const FieldPolicy& policy,
                                             nlohmann::ordered_json& record);
SOVEREIGN_EXPORT Result<RecordStats> Protect(const Client& client, const FieldPolicy& policy, nlohmann::json& record);

// Unprotect decrypts every Sovereign ciphertext at a policy path and restores
// its JSON type. Denied fields, and fields whose subject was shredded
// (counted in `shredded`), follow `on_denied`. All or nothing.
// Errors: kInvalidCiphertext (names the path), kDenied or kShredded (with
// OnDenied::kFail), and Client errors.
SOVEREIGN_EXPORT Result<RecordStats> Unprotect(const Client& client, const FieldPolicy& policy,
                                               nlohmann::ordered_json& record, OnDenied on_denied = OnDenied::kKeep);
SOVEREIGN_EXPORT Result<RecordStats> Unprotect(const Client& client, const FieldPolicy& policy, nlohmann::json& record,
                                               OnDenied on_denied = OnDenied::kKeep);

// Rewrap re-encrypts every ciphertext at a policy path that is not under its
// key's primary version, with the same binding; the plaintext never leaves
// the process. Ciphertexts already at the primary version are left byte for
// byte, and so are shredded ones (counted in `shredded`: nobody can
// re-encrypt them). A subject field is re-encrypted for the subject read
// from the record. All or nothing.
SOVEREIGN_EXPORT Result<RecordStats> Rewrap(const Client& client, const FieldPolicy& policy,
                                            nlohmann::ordered_json& record);

// CsvHeader maps column names to positions, for the CSV forms below, where a
// policy path is "/column_name" and every cell is a string.
class SOVEREIGN_EXPORT CsvHeader {
 public:
  // New checks the column names (non-empty, distinct) and that every policy
  // path, the record id and the region source name a column.
  static Result<CsvHeader> New(const FieldPolicy& policy, std::vector<std::string> columns);
  const std::vector<std::string>& columns() const { return columns_; }
  // Column returns the position of `name`, or -1.
  int Column(std::string_view name) const;

 private:
  std::vector<std::string> columns_;
};

// ProtectRow, UnprotectRow and RewrapRow are the record functions for one CSV
// row of `header.columns().size()` cells. An empty cell is CSV's null: left as is.
SOVEREIGN_EXPORT Result<RecordStats> ProtectRow(const Client& client, const FieldPolicy& policy,
                                                const CsvHeader& header, std::vector<std::string>& row);
SOVEREIGN_EXPORT Result<RecordStats> UnprotectRow(const Client& client, const FieldPolicy& policy,
                                                  const CsvHeader& header, std::vector<std::string>& row,
                                                  OnDenied on_denied = OnDenied::kKeep);
SOVEREIGN_EXPORT Result<RecordStats> RewrapRow(const Client& client, const FieldPolicy& policy,
                                               const CsvHeader& header, std::vector<std::string>& row);

}  // namespace sovereign
