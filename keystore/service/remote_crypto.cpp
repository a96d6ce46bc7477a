// POST /v1/encrypt, /v1/decrypt, /v1/index: crypto done inside the keystore
// for principals that may not hold keys. Access is checked per item, by the
// key and label names of each item (for decrypt, those the ciphertext's
// header names), and the caller's quota is charged, before any key is
// touched; one audit entry per request counts the items per key, label, mode
// and outcome and is durable before the answer is sent. Deterministic
// encryption and blind indexes need their own permissions (`deterministic`,
// `index`): both let the caller test guesses against stored data.
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include <openssl/crypto.h>

#include <fmt/format.h>

#include "keystore/internal/json_members.hpp"
#include "keystore/service/request_parse.hpp"
#include "keystore/service/service.hpp"
#include "keystore/service/string_batch.hpp"
#include "keystore/service/subject_ciphers.hpp"
#include "sdk/internal/base64url.hpp"
#include "sovereign/envelope.hpp"

namespace sovereign::service {
namespace {

using Json = nlohmann::json;


// Tally counts a batch's items per (key, label, mode) and outcome for the
// audit entry and the metrics. Names come only from validated items or from
// the catalog, never raw from a request.
class Tally {
 public:
  void Add(const std::string& key, const std::string& label, std::string_view mode, std::string_view outcome,
           std::uint64_t n = 1) {
    if (n == 0) return;
    Group group{key, label, std::string(mode)};
    if (counts_.size() >= kMaxAuditGroups && counts_.find(group) == counts_.end()) group = Group{"*", "*", ""};
    counts_[group][std::string(outcome)] += n;
    by_outcome_[std::string(outcome)] += n;
  }
  std::uint64_t denied() const {
    auto it = by_outcome_.find("denied");
    return it == by_outcome_.end() ? 0 : it->second;
  }
  Json ToJson() const {
    Json out = Json::array();
    for (const auto& [group, outcomes] : counts_) {
      Json entry = {{"key", group.key}, {"label", group.label}};
      if (!group.mode.empty()) entry["mode"] = group.mode;
      for (const auto& [outcome, n] : outcomes) entry[outcome] = n;
      out.push_back(std::move(entry));
    }
    return out;
  }
  const std::map<std::string, std::uint64_t>& by_outcome() const { return by_outcome_; }

 private:
  struct Group {
    std::string key;
    std::string label;
    std::string mode;
    auto operator<=>(const Group&) const = default;
  };
  std::map<Group, std::map<std::string, std::uint64_t>> counts_;
  std::map<std::string, std::uint64_t> by_outcome_;
};

std::string OutcomeOf(const Status& status) {
  return status.ok() ? std::string("ok") : std::string(ErrorCodeName(status.code()));
}

// Finish audits the batch and, only if that is durable, sends `body`.
// `op` is the audit operation and the permission that was missing where an
// item was denied ("encrypt", "decrypt", "index"; an encrypt entry's groups
// name the mode, so denied deterministic items show as such).
void Finish(Call& call, std::string_view op, const Tally& tally, std::string body) {
  Service& service = call.service;
  ki::AuditEvent event;
  event.op = std::string(op);
  if (tally.denied() > 0) {
    event.outcome = "denied";
    event.reason = "no permission for some keys, labels or modes";
    service.metrics().CountDenial(op, tally.denied());
  }
  event.counts = tally.ToJson();
  Status audited = service.Audit(call.principal, event);
  if (!audited.ok()) {
    WipeString(body);
    return ReplyError(call.res, audited);
  }
  const std::string endpoint = fmt::format("/v1/{}", op);
  for (const auto& [outcome, n] : tally.by_outcome()) service.metrics().CountBatchItems(endpoint, outcome, n);
  ReplySensitive(call.res, std::move(body));
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

// LabelGate decides, once per label and request, whether remote items may
// use a label: one the catalog knows, one the allowing rule names
// explicitly, or any when the caller may hold keys of it anyway (`lease` or
// `admin`). Issuing a key for an unknown label registers it, so without this
// an encrypt-only caller allowed labels "*" could grow the catalog without
// bound.
class LabelGate {
 public:
  explicit LabelGate(Call& call) : call_(call) {}
  // Check is nullopt when the label may be used, else the item's error
  // (kKeystoreUnavailable means the catalog could not be read).
  std::optional<Status> Check(std::size_t rule, const std::string& key, const std::string& label) {
    const auto& named = call_.policy->rules()[rule].labels;
    if (std::find(named.begin(), named.end(), label) != named.end()) return std::nullopt;
    auto cached = known_.find(label);
    if (cached == known_.end()) {
      auto known = call_.service.keystore().HasLabel(label);
      if (!known.ok()) return Status(ErrorCode::kKeystoreUnavailable, "the catalog cannot be read");
      cached = known_.emplace(label, *known).first;
    }
    if (cached->second) return std::nullopt;
    if (call_.policy->Allows(call_.principal, ki::Permission::kLease, key, label) ||
        call_.policy->Allows(call_.principal, ki::Permission::kAdmin)) {
      return std::nullopt;
    }
    return Status(ErrorCode::kKeyNotFound,
                  fmt::format("label '{}' is not in use in region '{}': a remote caller may introduce only labels "
                              "its access rule names",
                              label, call_.service.region()));
  }

 private:
  Call& call_;
  std::map<std::string, bool> known_;
};

void HandleEncrypt(Call& call) {
  Json body;
  const Json* items = nullptr;
  if (!ReadBatch(call, body, items)) return;
  using Item = EncryptItem;  // request_parse.hpp, where the fuzzer reads items too
  std::vector<Item> parsed(items->size());
  const auto wipe = [&] {
    for (Item& p : parsed) WipeString(p.plaintext);
  };
  for (std::size_t i = 0; i < items->size(); ++i) {
    if (Status ok = ReadEncryptItem((*items)[i], ki::ElementPath("/items", i), parsed[i]); !ok.ok()) {
      wipe();
      return ReplyError(call.res, ok);
    }
    parsed[i].spec.region = call.service.region();
  }

  // Who may do what, and the quota, before any key is touched. Deterministic
  // encryption is its own permission: it answers "is this the stored value?".
  Tally denied;
  RuleUses uses;
  LabelGate labels(call);
  for (Item& item : parsed) {
    if (item.refused) continue;
    const ki::Permission permission =
        item.spec.mode == Mode::kDeterministic ? ki::Permission::kDeterministic : ki::Permission::kEncrypt;
    auto rule = call.policy->AllowingRule(call.principal, permission, item.spec.key, item.spec.label);
    if (!rule) {
      denied.Add(item.spec.key, item.spec.label, item.mode, "denied");
      item.refused = DeniedItem(item.spec.mode == Mode::kDeterministic ? "encrypt deterministically with"
                                                                       : "encrypt with",
                                item.spec.key, item.spec.label);
      continue;
    }
    item.refused = labels.Check(*rule, item.spec.key, item.spec.label);
    if (item.refused && item.refused->code() == ErrorCode::kKeystoreUnavailable) {
      wipe();
      return ReplyError(call.res, *item.refused);
    }
    if (!item.refused) {
      AddRuleUse(uses, *rule, permission == ki::Permission::kDeterministic, item.spec.subject.has_value());
    }
  }
  if (!ChargeQuota(call, "encrypt", uses, denied.ToJson())) return wipe();

  // The subject keys of the items that will be encrypted, in one batch.
  SubjectCiphers subject_ciphers;
  for (Item& item : parsed) {
    if (item.refused || !item.spec.subject) continue;
    ki::FieldKeyRequest request;
    request.key_name = item.spec.key;
    request.label = item.spec.label;
    request.mode = item.spec.mode;
    request.subject = std::string_view(*item.spec.subject);
    subject_ciphers.Add(SubjectKeyId(item.spec), request);
  }
  if (Status fetched = subject_ciphers.Fetch(call.service); !fetched.ok()) {
    wipe();
    return ReplyError(call.res, fetched);
  }

  Tally tally;
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Item& item = parsed[i];
    if (item.refused) {
      tally.Add(item.spec.key, item.spec.label, item.mode, OutcomeOf(*item.refused));
      AppendItem(out, i, *item.refused);
    } else if (item.spec.subject) {
      const std::string id = SubjectKeyId(item.spec);
      const auto& cipher = subject_ciphers.Get(id);
      Status sealed = ValidateContext(item.context);
      if (sealed.ok()) sealed = cipher.status();
      // "Shredded" would tell a caller that may not decrypt this data whether
      // a user asked to be erased (an erasure oracle): it gets an envelope
      // under a key nothing stores instead, as unrecoverable as the rest of
      // that user's fields. The audit entry says what happened.
      const internal::FieldCipher* decoy = nullptr;
      if (sealed.code() == ErrorCode::kShredded &&
          !call.policy->Allows(call.principal, ki::Permission::kDecrypt, item.spec.key, item.spec.label)) {
        decoy = subject_ciphers.Decoy(id);
      }
      bool answered = false;
      if (sealed.ok() || decoy != nullptr) {
        std::vector<std::uint8_t> envelope;
        Status seal = decoy != nullptr ? decoy->Seal(item.plaintext, item.context, envelope)
                                       : (*cipher)->Seal(item.plaintext, item.context, envelope);
        if (seal.ok()) {
          AppendValue(out, i, "ciphertext", ToText(envelope));
          answered = true;
        } else {
          sealed = seal;
        }
      }
      tally.Add(item.spec.key, item.spec.label, item.mode, OutcomeOf(sealed));
      if (!answered) AppendItem(out, i, decoy != nullptr ? Status(ErrorCode::kInternal, "cannot encrypt") : sealed);
    } else {
      auto ciphertext = call.service.client().Encrypt(item.spec, item.plaintext, item.context);
      tally.Add(item.spec.key, item.spec.label, item.mode, OutcomeOf(ciphertext.status()));
      if (ciphertext.code() == ErrorCode::kKeystoreUnavailable) {
        wipe();
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
  Finish(call, "encrypt", tally, std::move(out));
}

void HandleDecrypt(Call& call) {
  auto batch = StringBatch::Parse(call.req.body, kDecryptItemMembers, kMaxBatchItems, kMaxJsonDepth);
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
    std::optional<std::size_t> rule;  // the rule that lets the principal decrypt under these names
    std::map<std::string_view, std::uint64_t> decrypted;  // items opened per mode, tallied at the end
  };
  std::map<std::pair<std::uint32_t, std::uint32_t>, Names> names_cache;
  // NamesFor resolves (once per request) the names a header points at and
  // whether the principal may decrypt under them.
  const auto names_for = [&](const EnvelopeHeader& h) -> Result<Names*> {
    auto cached = names_cache.find({h.key_id, h.label_id});
    if (cached == names_cache.end()) {
      auto names = service.keystore().ResolveNames(h.key_id, h.label_id);
      if (!names.ok()) return names.status();
      Names entry{std::move(names).value(), std::nullopt, {}};
      if (may_decrypt && entry.names.key && entry.names.label) {
        entry.rule = call.policy->AllowingRule(call.principal, ki::Permission::kDecrypt, *entry.names.key,
                                               *entry.names.label);
      }
      cached = names_cache.emplace(std::make_pair(h.key_id, h.label_id), std::move(entry)).first;
    }
    return &cached->second;
  };
  // Headers first, so the quota is charged and the subject keys of the items
  // that will be opened are issued in one batch before any item is.
  std::vector<std::optional<EnvelopeHeader>> headers(parsed.size());
  RuleUses uses;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    auto bytes = FromText(parsed[i].ciphertext);
    if (!bytes.ok()) continue;
    auto header = ParseEnvelopeHeader(*bytes);
    if (!header.ok()) continue;
    headers[i] = std::move(header->first);
    const EnvelopeHeader& h = *headers[i];
    if (h.region != service.region() || !may_decrypt) continue;
    auto names = names_for(h);
    if (!names.ok()) return ReplyError(call.res, names.status());
    if ((*names)->rule) AddRuleUse(uses, *(*names)->rule);
  }
  if (!ChargeQuota(call, "decrypt", uses, Json::array())) return;
  SubjectCiphers subject_ciphers;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    if (!headers[i]) continue;
    const EnvelopeHeader& h = *headers[i];
    if (!h.subject || h.region != service.region() || !may_decrypt) continue;
    auto names = names_for(h);
    if (!names.ok()) return ReplyError(call.res, names.status());
    if (!(*names)->rule) continue;
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
      tally.Add("", "", "", "invalid_ciphertext");
      AppendItem(out, i, Status(ErrorCode::kInvalidCiphertext, "invalid ciphertext"));
      continue;
    }
    const EnvelopeHeader& h = *headers[i];
    const std::string_view mode = ModeName(h.mode);
    if (h.region != service.region()) {
      tally.Add("", "", mode, "wrong_region");
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
      tally.Add(names.key.value_or(""), names.label.value_or(""), mode, "denied");
      AppendItem(out, i, Status(ErrorCode::kDenied, "principal may not decrypt"));
      continue;
    }
    if (!names.key || !names.label) {
      tally.Add("", "", mode, "key_not_found");
      AppendItem(out, i, Status(ErrorCode::kKeyNotFound, fmt::format("key id {} or label id {} not found in region '{}'",
                                                                      h.key_id, h.label_id, service.region())));
      continue;
    }
    const std::string& key = *names.key;
    const std::string& label = *names.label;
    if (!cached.rule) {
      tally.Add(key, label, mode, "denied");
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
      ++cached.decrypted[mode];
    } else {
      tally.Add(key, label, mode, OutcomeOf(decrypted));
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
    for (const auto& [mode, n] : entry.decrypted) tally.Add(*entry.names.key, *entry.names.label, mode, "ok", n);
  }
  Finish(call, "decrypt", tally, std::move(out));
}

void HandleIndex(Call& call) {
  Json body;
  const Json* items = nullptr;
  if (!ReadBatch(call, body, items)) return;
  using Item = IndexItem;
  std::vector<Item> parsed(items->size());
  const auto wipe = [&] {
    for (Item& p : parsed) WipeString(p.value);
  };
  for (std::size_t i = 0; i < items->size(); ++i) {
    if (Status ok = ReadIndexItem((*items)[i], ki::ElementPath("/items", i), parsed[i]); !ok.ok()) {
      wipe();
      return ReplyError(call.res, ok);
    }
    parsed[i].spec.region = call.service.region();
  }

  // A blind index of a chosen value answers "is this the stored value?":
  // its own permission, quota-bound, never implied by encrypt.
  std::vector<std::optional<Status>> refused(parsed.size());
  Tally denied;
  RuleUses uses;
  LabelGate labels(call);
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const Item& item = parsed[i];
    auto rule = call.policy->AllowingRule(call.principal, ki::Permission::kIndex, item.spec.key, item.spec.label);
    if (!rule) {
      denied.Add(item.spec.key, item.spec.label, "index", "denied");
      refused[i] = DeniedItem("index with", item.spec.key, item.spec.label);
      continue;
    }
    refused[i] = labels.Check(*rule, item.spec.key, item.spec.label);
    if (refused[i] && refused[i]->code() == ErrorCode::kKeystoreUnavailable) {
      wipe();
      return ReplyError(call.res, *refused[i]);
    }
    if (!refused[i]) AddRuleUse(uses, *rule, /*equality=*/true);
  }
  if (!ChargeQuota(call, "index", uses, denied.ToJson())) return wipe();

  Tally tally;
  std::string out = "{\"items\":[";
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    Item& item = parsed[i];
    if (refused[i]) {
      tally.Add(item.spec.key, item.spec.label, "index", OutcomeOf(*refused[i]));
      AppendItem(out, i, *refused[i]);
    } else {
      auto index = call.service.client().BlindIndex(item.spec, item.value, item.options);
      tally.Add(item.spec.key, item.spec.label, "index", OutcomeOf(index.status()));
      if (index.code() == ErrorCode::kKeystoreUnavailable) {
        wipe();
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
  Finish(call, "index", tally, std::move(out));
}

}  // namespace

void AddRemoteCryptoRoutes(httplib::Server& server, Service& service) {
  AddRoute(server, service, "POST", "/v1/encrypt", "/v1/encrypt", HandleEncrypt);
  AddRoute(server, service, "POST", "/v1/decrypt", "/v1/decrypt", HandleDecrypt);
  AddRoute(server, service, "POST", "/v1/index", "/v1/index", HandleIndex);
}

}  // namespace sovereign::service
