// Request parsing: how the batch routes turn a request body into items,
// without HTTP and without a keystore, so that it can be fuzzed
// (fuzz/request_fuzz.cpp) and the handlers keep only policy and crypto.
// The item readers apply ValidateItemNames (service.hpp) as the handlers do.
//
// Every error is kInvalidArgument and names members by JSON Pointer, never by
// value: bodies carry plaintext.
//
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "keystore/service/string_batch.hpp"
#include "sovereign/client.hpp"
#include "sovereign/envelope.hpp"
#include "sovereign/status.hpp"

namespace sovereign::service {

// ParseBodyText parses `body` as a JSON object with only `allowed` members:
// nesting at most `max_depth`, no member named twice (ParseJsonStrict).
Result<nlohmann::json> ParseBodyText(std::string_view body, int max_depth,
                                     std::initializer_list<std::string_view> allowed);

// ParseBatchText parses a batch body {"items": [...]} (at most `max_items`
// items) into `body` and points `items` at the array; on error neither is
// meaningful.
Status ParseBatchText(std::string_view text, int max_depth, std::size_t max_items, nlohmann::json& body,
                      const nlohmann::json*& items);

// The members of a /v1/decrypt item; the body holds no plaintext, so the
// fast parser (StringBatch, whose buffers are not wiped) may read it.
inline constexpr StringMember kDecryptItemMembers[] = {
    {"ciphertext", true, false}, {"path", false, false}, {"record_id", false, true}};

// EncryptItem is one /v1/encrypt item as read from the body.
struct EncryptItem {
  FieldSpec spec;  // region is left to the caller
  std::string mode = "random";
  FieldContext context;
  std::string plaintext;          // the caller wipes it
  std::optional<Status> refused;  // the item's answer when it is not to be encrypted
};

// ReadEncryptItem reads item `json` (at `where`) into `item`. A malformed
// item fails the whole request (the returned status). A bad key or label
// name or mode fails only the item: `refused` is set and the names and mode
// are cleared, so that what cannot be a name is never audited.
Status ReadEncryptItem(const nlohmann::json& json, const std::string& where, EncryptItem& item);

// IndexItem is one /v1/index item as read from the body.
struct IndexItem {
  FieldSpec spec;  // region is left to the caller; mode is kIndex
  std::string value;  // the caller wipes it
  BlindIndexOptions options;
};

// ReadIndexItem reads item `json` (at `where`) into `item`; any error fails
// the whole request.
Status ReadIndexItem(const nlohmann::json& json, const std::string& where, IndexItem& item);

// LeaseItem is one validated /v1/leases item: by name (primary version) or by
// the ids of an envelope header.
struct LeaseItem {
  Mode mode = Mode::kRandom;
  bool by_name = true;
  std::string key;
  std::string label;
  std::uint32_t key_id = 0;
  std::uint32_t version = 0;
  std::uint32_t label_id = 0;
  std::optional<std::string> subject;     // by name: the subject's own key
  std::optional<SubjectTag> subject_tag;  // by ids: the tag of the envelope header
};

// ReadLeaseItem reads item `json` (at `where`); any error fails the whole request.
Result<LeaseItem> ReadLeaseItem(const nlohmann::json& json, const std::string& where);

}  // namespace sovereign::service
