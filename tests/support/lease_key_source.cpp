#include "tests/support/lease_key_source.hpp"

#include <map>

namespace sovereign::test {

namespace {

ErrorCode CodeFromName(const std::string& name) {
  static const std::map<std::string, ErrorCode> codes = {
      {"denied", ErrorCode::kDenied},
      {"key_not_found", ErrorCode::kKeyNotFound},
      {"key_version_unusable", ErrorCode::kKeyVersionUnusable},
      {"wrong_region", ErrorCode::kWrongRegion},
      {"invalid_argument", ErrorCode::kInvalidArgument},
      {"keystore_unavailable", ErrorCode::kKeystoreUnavailable},
  };
  auto it = codes.find(name);
  return it == codes.end() ? ErrorCode::kInternal : it->second;
}

}  // namespace

Result<FieldKeyMaterial> LeaseKeySource::PrimaryFieldKey(std::string_view key_name, Mode mode, std::string_view label) {
  return Lease({{"key", std::string(key_name)}, {"mode", std::string(ModeName(mode))}, {"label", std::string(label)}});
}

Result<FieldKeyMaterial> LeaseKeySource::FieldKey(std::uint32_t key_id, std::uint32_t version, Mode mode,
                                                  std::uint32_t label_id) {
  return Lease(
      {{"key_id", key_id}, {"version", version}, {"mode", std::string(ModeName(mode))}, {"label_id", label_id}});
}

Result<FieldKeyMaterial> LeaseKeySource::Lease(const nlohmann::json& item) {
  ++requests_;
  HttpResponse r;
  {
    std::lock_guard lock(mu_);
    r = client_->PostJson("/v1/leases", {{"items", {item}}});
  }
  if (!r.responded()) return Status(ErrorCode::kKeystoreUnavailable, "no response: " + r.transport_error);
  if (r.status != 200) {
    const auto code = r.ErrorCode();
    return Status(code.empty() ? ErrorCode::kKeystoreUnavailable : CodeFromName(code),
                  "HTTP " + std::to_string(r.status));
  }
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  if (doc.is_discarded() || !doc.contains("items") || doc["items"].size() != 1) {
    return Status(ErrorCode::kInternal, "malformed lease response");
  }
  const auto& answer = doc["items"][0];
  if (answer.contains("error")) {
    return Status(CodeFromName(answer["error"].value("code", "")), answer["error"].value("message", ""));
  }
  const auto& ok = answer.at("ok");
  FieldKeyMaterial m;
  m.region = ok.at("region").get<std::string>();
  m.key_name = ok.at("key").get<std::string>();
  m.key_id = ok.at("key_id").get<std::uint32_t>();
  m.version = ok.at("version").get<std::uint32_t>();
  auto mode = ParseMode(ok.at("mode").get<std::string>());
  if (!mode.ok()) return mode.status();
  m.mode = *mode;
  m.label = ok.at("label").get<std::string>();
  m.label_id = ok.at("label_id").get<std::uint32_t>();
  const std::string key = Base64UrlDecode(ok.at("field_key").get<std::string>());
  m.key = SecretBytes({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}, InsecureSecretKeyAccess::Get());
  m.expires_at = std::chrono::system_clock::now() + std::chrono::seconds(doc.value("ttl_seconds", 0));
  return m;
}

}  // namespace sovereign::test
