// POST /v1/encrypt, /v1/decrypt, /v1/index: crypto done inside the keystore
// for principals that may not hold keys. Access is checked per item, by the
// key and label names of each item (for decrypt, those the ciphertext's
// header names), before any key is touched; one audit entry per request
// counts the items per key, label and outcome and is durable before the
// answer is sent.
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include <openssl/crypto.h>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/service.hpp"
#include "keystore/service/string_batch.hpp"
#include "keystore/service/subject_ciphers.hpp"
#include "sdk/internal/base64url.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;

// Tally counts a batch's items per (key, label) and outcome for the audit
// entry and the metrics.
class Tally {
 public:
  void Add(const std::string& key, const std::string& label, std::string_view outcome, std::uint64_t n = 1) {
    if (n == 0) return;
    counts_[{key, label}][std::string(outcome)] += n;
    by_outcome_[std::string(outcome)] += n;
  }
  std::uint64_t denied() const {
    auto it = by_outcome_.find("denied");
    return it == by_outcome_.end() ? 0 : it->second;
  }
  Json ToJson() const {
    Json out = Json::array();
    for (const auto& [names, outcomes] : counts_) {
      Json entry = {{"key", names.first}, {"label", names.second}};
      for (const auto& [outcome, n] : outcomes) entry[outcome] = n;
      out.push_back(std::move(entry));
    }
    return out;
  }
  const std::map<std::string, std::uint64_t>& by_outcome() const { return by_outcome_; }

 private:
  std::map<std::pair<std::string, std::string>, std::map<std::string, std::uint64_t>> counts_;
  std::map<std::string, std::uint64_t> by_outcome_;
};

std::string OutcomeOf(const Status& status) {
  return status.ok() ? std::string("ok") : std::string(ErrorCodeName(status.code()));
}

// Finish audits the batch and, only if that is durable, sends `body`.
void Finish(Call& call, std::string_view op, ki::Permission permission, const std::string& endpoint,
            const Tally& tally, std::string body) {
  Service& service = call.service;
  ki::AuditEvent event;
  event.op = std::string(op);
  if (tally.denied() > 0) {
    event.outcome = "denied";
    event.reason = fmt::format("no '{}' permission for some keys and labels", ki::PermissionName(permission));
    service.metrics().CountDenial(ki::PermissionName(permission), tally.denied());
  }
  event.counts = tally.ToJson();
  Status audited = service.Audit(call.principal, event);
  if (!audited.ok()) {
    WipeString(body);
    return ReplyError(call.res, audited);
  }
  for (const auto& [outcome, n] : tally.by_outcome()) service.metrics().CountBatchItems(endpoint, outcome, n);
  ReplySensitive(call.res, std::move(body));
}

Status ReadContext(const Json& item, const std::string& where, FieldContext& context) {
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, "path", context.path, /*required=*/false));
  return ki::ReadOptionalString(item, where, "record_id", context.record_id);
}

Status ReadBytes(const Json& item, const std::string& where, std::string_view name, std::string& out) {
  std::string text;
  SOVEREIGN_RETURN_IF_ERROR(ki::ReadString(item, where, name, text, /*required=*/true));
  std::vector<std::uint8_t> bytes;
  if (!internal::Base64UrlDecode(text, bytes)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("member {} must be unpadded base64url", ki::MemberPath(where, name)));
  }
  out.assign(bytes.begin(), bytes.end());
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
  return OkStatus();
}

void AppendItem(std::string& out, std::size_t index, const Status& error) {
  if (index != 0) out += ',';
  out += Json{{"error", ErrorJson(error)}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// AppendValue appends {"<member>": "<value>"} where value needs no escaping
// (base64url, hex, or the sov1: text form).
void AppendValue(std::string& out, std::size_t index, std::string_view member, std::string_view value) {
  if (index != 0) out += ',';
  out += "{\"";
  out += member;
  out += "\":\"";
  out += value;
  out += "\"}";
}

Status DeniedItem(std::string_view verb, const std::string& key, const std::string& label) {
  return Status(ErrorCode::kDenied, fmt::format("principal may not {} key '{}' label '{}'", verb, key, label));
}

void HandleEncrypt(Call& call) {
  Json body;
  const Json* items = nullptr;
  if (!ReadBatch(call, body, items)) return;
  struct Item {
    FieldSpec spec;
    std::string mode = "random";
    FieldContext context;
    std::string plaintext;
  };
  std::vector<Item> parsed(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    const Json& j = (*items)[i];
    const std::string where = ki::ElementPath("/items", i);
    Item& item = parsed[i];
    Status ok = ki::ExpectObject(j, where, {"key", "label", "mode", "path", "record_id", "plaintext", "subject"});
    if (ok.ok()) ok = ki::ReadString(j, where, "key", item.spec.key, true);
    if (ok.ok()) ok = ki::ReadString(j, where, "label", item.spec.label, true);
    if (ok.ok()) ok = ki::ReadString(j, where, "mode", item.mode, false);
    if (ok.ok() && ki::Member(j, "subject") != nullptr) {
      std::string subject;
      ok = ki::ReadString(j, where, "subject", subject, true);
      if (ok.ok() && !ValidateSubject(subject).ok()) {
        ok = Status(ErrorCode::kInvalidArgument, fmt::format("member {} must be 1 to {} bytes, not {}",
                                                             ki::MemberPath(where, "subject"), kMaxSubjectSize,
                                                             subject.size()));
      }
      if (ok.ok()) item.spec.subject = std::move(subject);
    }
    if (ok.ok()) ok = ReadContext(j, where, item.context);
    if (ok.ok()) ok = ReadBytes(j, where, "plaintext", item.plaintext);
    if (!ok.ok()) {
      for (Item& p : parsed) WipeString(p.plaintext);
      return ReplyError(call.res, ok);
    }
    item.spec.region = call.service.region();
  }

  // The subject keys of the items that will be encrypted, in one batch.
  SubjectCiphers subject_ciphers;
  for (Item& item : parsed) {
    const bool envelope_mode = item.mode == "random" || item.mode == "deterministic";
    if (envelope_mode) item.spec.mode = item.mode == "random" ? Mode::kRandom : Mode::kDeterministic;
    if (!envelope_mode || !item.spec.subject ||
        !call.policy->Allows(call.principal, ki::Permission::kEncrypt, item.spec.key, item.spec.label)) {
      continue;
    }
    ki::FieldKeyRequest request;
    request.key_name = item.spec.key;
    request.label = item.spec.label;
    request.mode = item.spec.mode;
    request.subject = std::string_view(*item.spec.subject);
    subject_ciphers.Add(SubjectKeyId(item.spec), request);
  }
  if (Status fetched = subject_ciphers.Fetch(call.service); !fetched.ok()) {
    for (Item& p : parsed) WipeString(p.plaintext);
    return ReplyError(call.res, fetched);
  }

  Tally tally;
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Item& item = parsed[i];
    // A bad mode value fails its item only; remote encryption makes envelopes.
    const bool envelope_mode = item.mode == "random" || item.mode == "deterministic";
    if (!call.policy->Allows(call.principal, ki::Permission::kEncrypt, item.spec.key, item.spec.label)) {
      tally.Add(item.spec.key, item.spec.label, "denied");
      AppendItem(out, i, DeniedItem("encrypt with", item.spec.key, item.spec.label));
    } else if (!envelope_mode) {
      tally.Add(item.spec.key, item.spec.label, "invalid_argument");
      AppendItem(out, i, Status(ErrorCode::kInvalidArgument,
                                fmt::format("member /items/{}/mode must be random or deterministic", i)));
    } else if (item.spec.subject) {
      const auto& cipher = subject_ciphers.Get(SubjectKeyId(item.spec));
      Status sealed = ValidateContext(item.context);
      if (sealed.ok()) sealed = cipher.status();
      if (sealed.ok()) {
        std::vector<std::uint8_t> envelope;
        sealed = (*cipher)->Seal(item.plaintext, item.context, envelope);
        if (sealed.ok()) AppendValue(out, i, "ciphertext", ToText(envelope));
      }
      tally.Add(item.spec.key, item.spec.label, OutcomeOf(sealed));
      if (!sealed.ok()) AppendItem(out, i, sealed);
    } else {
      auto ciphertext = call.service.client().Encrypt(item.spec, item.plaintext, item.context);
      tally.Add(item.spec.key, item.spec.label, OutcomeOf(ciphertext.status()));
      if (ciphertext.code() == ErrorCode::kKeystoreUnavailable) {
        for (Item& p : parsed) WipeString(p.plaintext);
        return ReplyError(call.res, ciphertext.status());
      }
      if (ciphertext.ok()) {
        AppendValue(out, i, "ciphertext", *ciphertext);
      } else {
        AppendItem(out, i, ciphertext.status());
      }
    }
    WipeString(item.plaintext);
  }
  out += "]}";
  Finish(call, "encrypt", ki::Permission::kEncrypt, "/v1/encrypt", tally, std::move(out));
}

// The members of a decrypt item; the body holds no plaintext, so the fast
// parser (whose buffers are not wiped) may read it.
constexpr StringMember kDecryptMembers[] = {{"ciphertext", true, false}, {"path", false, false}, {"record_id", false, true}};

void HandleDecrypt(Call& call) {
  auto batch = StringBatch::Parse(call.req.body, kDecryptMembers, kMaxBatchItems, kMaxJsonDepth);
  if (!batch.ok()) return ReplyError(call.res, batch.status());
  struct Item {
    std::string_view ciphertext;
    FieldContext context;
  };
  std::vector<Item> parsed(batch->size());
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    parsed[i].ciphertext = *batch->Get(i, 0);
    if (auto path = batch->Get(i, 1)) parsed[i].context.path = *path;
    if (auto record_id = batch->Get(i, 2)) parsed[i].context.record_id = std::string(*record_id);
  }

  Service& service = call.service;
  const bool may_decrypt = call.policy->AllowsSome(call.principal, ki::Permission::kDecrypt);
  // Names per (key_id, label_id) and whether the principal may decrypt
  // under them, looked up once per request.
  struct Names {
    ki::ResolvedNames names;
    bool allowed = false;
    std::uint64_t decrypted = 0;  // items opened under these names, added to the tally at the end
  };
  std::map<std::pair<std::uint32_t, std::uint32_t>, Names> names_cache;
  // NamesFor resolves (once per request) the names a header points at and
  // whether the principal may decrypt under them.
  const auto names_for = [&](const EnvelopeHeader& h) -> Result<Names*> {
    auto cached = names_cache.find({h.key_id, h.label_id});
    if (cached == names_cache.end()) {
      auto names = service.keystore().ResolveNames(h.key_id, h.label_id);
      if (!names.ok()) return names.status();
      Names entry{std::move(names).value(), false};
      entry.allowed = may_decrypt && entry.names.key && entry.names.label &&
                      call.policy->Allows(call.principal, ki::Permission::kDecrypt, *entry.names.key,
                                          *entry.names.label);
      cached = names_cache.emplace(std::make_pair(h.key_id, h.label_id), std::move(entry)).first;
    }
    return &cached->second;
  };
  // Headers first, so the subject keys of the items that will be opened are
  // issued in one batch before any item is.
  std::vector<std::optional<EnvelopeHeader>> headers(parsed.size());
  SubjectCiphers subject_ciphers;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    auto bytes = FromText(parsed[i].ciphertext);
    if (!bytes.ok()) continue;
    auto header = ParseEnvelopeHeader(*bytes);
    if (!header.ok()) continue;
    headers[i] = std::move(header->first);
    const EnvelopeHeader& h = *headers[i];
    if (!h.subject || h.region != service.region()) continue;
    auto names = names_for(h);
    if (!names.ok()) return ReplyError(call.res, names.status());
    if (!(*names)->allowed) continue;
    ki::FieldKeyRequest request;
    request.by_name = false;
    request.key_id = h.key_id;
    request.version = h.key_version;
    request.label_id = h.label_id;
    request.mode = h.mode;
    request.subject_tag = h.subject;
    subject_ciphers.Add(HeaderKeyId(h), request);
  }
  if (Status fetched = subject_ciphers.Fetch(service); !fetched.ok()) return ReplyError(call.res, fetched);

  Tally tally;
  std::string out = "{\"items\":[";
  // Sized up front so growing never leaves an unwiped copy of plaintext behind.
  std::size_t capacity = 64;
  for (const Item& item : parsed) capacity += item.ciphertext.size() + 160;
  out.reserve(capacity);
  std::string plaintext;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const Item& item = parsed[i];
    if (!headers[i]) {
      tally.Add("", "", "invalid_ciphertext");
      AppendItem(out, i, Status(ErrorCode::kInvalidCiphertext, "invalid ciphertext"));
      continue;
    }
    const EnvelopeHeader& h = *headers[i];
    if (h.region != service.region()) {
      tally.Add("", "", "wrong_region");
      AppendItem(out, i,
                 Status(ErrorCode::kWrongRegion, fmt::format("the ciphertext belongs to region '{}', this keystore "
                                                             "serves '{}'",
                                                             h.region, service.region())));
      continue;
    }
    auto resolved = names_for(h);
    if (!resolved.ok()) return ReplyError(call.res, resolved.status());
    Names& cached = **resolved;
    const ki::ResolvedNames& names = cached.names;
    if (!may_decrypt) {
      // Audited with the names the header points at; the caller learns nothing about them.
      tally.Add(names.key.value_or(""), names.label.value_or(""), "denied");
      AppendItem(out, i, Status(ErrorCode::kDenied, "principal may not decrypt"));
      continue;
    }
    if (!names.key || !names.label) {
      tally.Add("", "", "key_not_found");
      AppendItem(out, i, Status(ErrorCode::kKeyNotFound, fmt::format("key id {} or label id {} not found in region '{}'",
                                                                      h.key_id, h.label_id, service.region())));
      continue;
    }
    const std::string& key = *names.key;
    const std::string& label = *names.label;
    if (!cached.allowed) {
      tally.Add(key, label, "denied");
      AppendItem(out, i, DeniedItem("decrypt with", key, label));
      continue;
    }
    plaintext.clear();
    Status decrypted;
    if (h.subject) {
      decrypted = OpenSubjectItem(subject_ciphers.Get(HeaderKeyId(h)), item.ciphertext, item.context, plaintext);
    } else {
      decrypted = service.client().DecryptAppend(item.ciphertext, item.context, plaintext);
    }
    if (decrypted.ok()) {
      ++cached.decrypted;
    } else {
      tally.Add(key, label, OutcomeOf(decrypted));
    }
    if (decrypted.code() == ErrorCode::kKeystoreUnavailable) {
      WipeString(out);
      return ReplyError(call.res, decrypted);
    }
    if (!decrypted.ok()) {
      AppendItem(out, i, decrypted);
      continue;
    }
    if (i != 0) out += ',';
    out += "{\"plaintext\":\"";
    internal::Base64UrlEncode({reinterpret_cast<const std::uint8_t*>(plaintext.data()), plaintext.size()}, out);
    out += "\"}";
    WipeString(plaintext);
  }
  out += "]}";
  for (const auto& [ids, entry] : names_cache) {
    if (entry.decrypted != 0) tally.Add(*entry.names.key, *entry.names.label, "ok", entry.decrypted);
  }
  Finish(call, "decrypt", ki::Permission::kDecrypt, "/v1/decrypt", tally, std::move(out));
}

void HandleIndex(Call& call) {
  Json body;
  const Json* items = nullptr;
  if (!ReadBatch(call, body, items)) return;
  struct Item {
    FieldSpec spec;
    std::string value;
    BlindIndexOptions options;
  };
  std::vector<Item> parsed(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    const Json& j = (*items)[i];
    const std::string where = ki::ElementPath("/items", i);
    Item& item = parsed[i];
    std::optional<std::uint64_t> bits;
    std::string normalization = "trim-casefold";
    Status ok = ki::ExpectObject(j, where, {"key", "label", "value", "bits", "normalization"});
    if (ok.ok()) ok = ki::ReadString(j, where, "key", item.spec.key, true);
    if (ok.ok()) ok = ki::ReadString(j, where, "label", item.spec.label, true);
    if (ok.ok()) ok = ki::ReadUnsigned(j, where, "bits", kMinIndexBits, kMaxIndexBits, bits);
    if (ok.ok()) ok = ki::ReadString(j, where, "normalization", normalization, false);
    if (ok.ok()) {
      auto n = ParseIndexNormalization(normalization);
      if (n.ok()) {
        item.options.normalization = *n;
      } else {
        ok = Status(ErrorCode::kInvalidArgument,
                    fmt::format("member {} must be exact, trim-casefold or digits", ki::MemberPath(where, "normalization")));
      }
    }
    if (ok.ok()) ok = ReadBytes(j, where, "value", item.value);
    if (!ok.ok()) {
      for (Item& p : parsed) WipeString(p.value);
      return ReplyError(call.res, ok);
    }
    if (bits) item.options.bits = static_cast<unsigned>(*bits);
    item.spec.region = call.service.region();
    item.spec.mode = Mode::kIndex;
  }

  Tally tally;
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Item& item = parsed[i];
    if (!call.policy->Allows(call.principal, ki::Permission::kEncrypt, item.spec.key, item.spec.label)) {
      tally.Add(item.spec.key, item.spec.label, "denied");
      AppendItem(out, i, DeniedItem("index with", item.spec.key, item.spec.label));
    } else {
      auto index = call.service.client().BlindIndex(item.spec, item.value, item.options);
      tally.Add(item.spec.key, item.spec.label, OutcomeOf(index.status()));
      if (index.code() == ErrorCode::kKeystoreUnavailable) {
        for (Item& p : parsed) WipeString(p.value);
        return ReplyError(call.res, index.status());
      }
      if (index.ok()) {
        AppendValue(out, i, "index", *index);
      } else {
        AppendItem(out, i, index.status());
      }
    }
    WipeString(item.value);
  }
  out += "]}";
  Finish(call, "index", ki::Permission::kEncrypt, "/v1/index", tally, std::move(out));
}

}  // namespace

void AddRemoteCryptoRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "POST", "/v1/encrypt", "/v1/encrypt", HandleEncrypt);
  AddRoute(server, service, "POST", "/v1/decrypt", "/v1/decrypt", HandleDecrypt);
  AddRoute(server, service, "POST", "/v1/index", "/v1/index", HandleIndex);
}

}  // namespace sovereign::service
