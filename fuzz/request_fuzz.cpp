// Fuzzes how the keystore service turns a request body into batch items
// (keystore/service/request_parse.hpp, string_batch.hpp), without a keystore:
// the input is a body, sent through ParseBatchText and each route's item
// reader (encrypt, index, leases), and through StringBatch::Parse as for
// /v1/decrypt. Properties checked on every input:
//  - nothing crashes, leaks or has undefined behaviour (ASan/UBSan);
//  - every error message is shorter than kMaxMessage bytes and holds no
//    control character: messages reach clients and logs, and quote names
//    taken from the body;
//  - a body ParseJsonStrict accepts names no member twice in any object, and
//    nlohmann parses it too;
//  - StringBatch and the nlohmann path agree on accept/reject for the decrypt
//    item shape (see StringOnlyAgreement for the one difference by design).
//
// The work per input is linear in its size; -max_len bounds it (65536 in
// scripts/fuzz.sh, room for a batch of a few hundred items).
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/request_parse.hpp"
#include "keystore/service/string_batch.hpp"
#include "sdk/internal/json_strict.hpp"

using namespace sovereign;
using namespace sovereign::service;
using Json = nlohmann::json;

namespace {

namespace ki = keystore_internal;

// The service's limits (keystore/service/service.hpp, not included here: it
// pulls in httplib).
constexpr int kDepth = 32;
constexpr std::size_t kItems = 1000;
constexpr std::size_t kMaxMessage = 512;

// CheckMessage aborts unless `status`'s message is bounded and has no control characters.
void CheckMessage(const Status& status) {
  if (status.ok()) return;
  const std::string_view message = status.message();
  if (message.empty() || message.size() >= kMaxMessage) std::abort();
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) std::abort();
  }
}

// NoDuplicates aborts if any object in `value` names a member twice. nlohmann
// keeps the last of two equal names, so duplicates are looked for by counting
// members as the SAX parser reports them (ParseJsonNoDuplicates' own finder
// is what is being checked, so this is a second, independent one).
class MemberCounter : public nlohmann::json_sax<Json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    names_.emplace_back();
    return true;
  }
  bool key(string_t& name) override {
    if (!names_.back().insert(name).second) duplicate_ = true;
    return true;
  }
  bool end_object() override {
    names_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    names_.emplace_back();  // unused: keeps the stack one frame per container
    return true;
  }
  bool end_array() override {
    names_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
  bool duplicate() const { return duplicate_; }

 private:
  std::vector<std::set<std::string>> names_;
  bool duplicate_ = false;
};

void CheckStrictParse(std::string_view text) {
  auto strict = internal::ParseJsonStrict(text, "request body");
  CheckMessage(strict.status());
  if (!strict.ok()) return;
  if (Json::parse(text, nullptr, /*allow_exceptions=*/false).is_discarded()) std::abort();
  MemberCounter counter;
  if (!Json::sax_parse(text, &counter, Json::input_format_t::json, /*strict=*/true) || counter.duplicate()) {
    std::abort();
  }
}

// ReadItems runs every route's item reader over `items`, as the handlers do:
// the first error ends the request.
void ReadItems(const Json& items) {
  Status encrypt;
  Status index;
  Status lease;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string where = ki::ElementPath("/items", i);
    if (encrypt.ok()) {
      EncryptItem item;
      encrypt = ReadEncryptItem(items[i], where, item);
      CheckMessage(encrypt);
      if (item.refused) {
        CheckMessage(*item.refused);
        if (item.refused->ok() || !item.spec.key.empty() || !item.spec.label.empty()) std::abort();
      }
    }
    if (index.ok()) {
      IndexItem item;
      index = ReadIndexItem(items[i], where, item);
      CheckMessage(index);
      if (index.ok() && (item.options.bits < kMinIndexBits || item.options.bits > kMaxIndexBits)) std::abort();
    }
    if (lease.ok()) {
      auto item = ReadLeaseItem(items[i], where);
      lease = item.status();
      CheckMessage(lease);
      if (item.ok() && !item->by_name && (item->key_id == 0 || item->version == 0 || item->label_id == 0)) {
        std::abort();
      }
    }
  }
}

// DecryptShape is whether the nlohmann path would accept `items` as decrypt
// items: objects whose members are among kDecryptItemMembers, strings (or
// null where nullable), the required ones present.
bool DecryptShape(const Json& items) {
  for (const Json& item : items) {
    if (!item.is_object()) return false;
    for (const StringMember& member : kDecryptItemMembers) {
      const Json* value = ki::Member(item, member.name);
      if (value == nullptr) {
        if (member.required) return false;
      } else if (!value->is_string() && !(member.nullable && value->is_null())) {
        return false;
      }
    }
    for (const auto& [name, value] : item.items()) {
      bool known = false;
      for (const StringMember& member : kDecryptItemMembers) known = known || member.name == name;
      if (!known) return false;
    }
  }
  return true;
}

// StringOnlyAgreement compares StringBatch with ParseBatchText plus the
// decrypt shape. They must agree, with one difference by design: StringBatch
// reads only the body's top object and its items, so a duplicate member
// inside a value it refuses for its type (say "path": {"a":1,"a":2}) makes the
// nlohmann path say "duplicate member" where StringBatch says "must be a
// string": both refuse. So only the verdict is compared, not the message.
// Bodies starting with a UTF-8 byte order mark are left out: nlohmann skips
// it, simdjson refuses it, and RFC 8259 allows both (as json_scan_fuzz).
void StringOnlyAgreement(std::string_view text, const Status& batch_status, const Json* items) {
  auto batch = StringBatch::Parse(text, kDecryptItemMembers, kItems, static_cast<std::size_t>(kDepth));
  CheckMessage(batch.status());
  if (text.starts_with("\xef\xbb\xbf")) return;
  const bool nlohmann_accepts = batch_status.ok() && DecryptShape(*items);
  if (batch.code() == ErrorCode::kInternal) return;  // the parser could not allocate: not a verdict on the body
  if (batch.ok() != nlohmann_accepts) std::abort();
  if (!batch.ok()) return;
  if (batch->size() != items->size()) std::abort();
  for (std::size_t i = 0; i < batch->size(); ++i) {
    for (std::size_t m = 0; m < std::size(kDecryptItemMembers); ++m) {
      const Json* value = ki::Member((*items)[i], kDecryptItemMembers[m].name);
      const auto got = batch->Get(i, m);
      const bool present = value != nullptr && value->is_string();
      if (got.has_value() != present) std::abort();
      if (present && *got != value->get_ref<const std::string&>()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckStrictParse(text);

  Json body;
  const Json* items = nullptr;
  const Status batch = ParseBatchText(text, kDepth, kItems, body, items);
  CheckMessage(batch);
  if (batch.ok()) ReadItems(*items);
  StringOnlyAgreement(text, batch, items);
  return 0;
}
