#include "sovereign/keystores.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sovereign/keystore.hpp"
#include "sdk/internal/json_strict.hpp"

namespace sovereign {

namespace {

using Json = nlohmann::json;

Status MapError(std::string_view source, std::string_view where, std::string_view what) {
  return Status(ErrorCode::kInvalidArgument, fmt::format("{}: {}: {}", source, where, what));
}

std::string Resolve(const std::filesystem::path& base, const std::string& file) {
  const std::filesystem::path p(file);
  return p.is_absolute() || base.empty() ? file : (base / p).string();
}

}  // namespace

Result<OpenedKeystore> OpenKeystore(std::string_view location, const RemoteKeystoreOptions& tls) {
  OpenedKeystore out;
  out.location = std::string(location);
  if (location.starts_with("https://") || location.starts_with("http://")) {
    RemoteKeystoreOptions options = tls;
    options.url = std::string(location);
    auto remote = RemoteKeystore::Connect(std::move(options));
    if (!remote.ok()) return remote.status();
    out.region = (*remote)->region();
    out.source = *remote;
    out.admin = *remote;
    return out;
  }
  auto embedded = EmbeddedKeystore::Open(std::string(location));
  if (!embedded.ok()) return embedded.status();
  out.region = (*embedded)->region();
  out.source = *embedded;
  out.admin = *embedded;
  return out;
}

Result<std::vector<OpenedKeystore>> OpenKeystoreMapJson(std::string_view json_text,
                                                        const std::filesystem::path& base,
                                                        std::string_view source_name) {
  std::string duplicate;
  const Json doc = internal::ParseJsonNoDuplicates(json_text, duplicate);
  if (doc.is_discarded() || !doc.is_object() || doc.empty()) {
    return MapError(source_name, "document", "must be a JSON object mapping regions to keystores");
  }
  if (!duplicate.empty()) return MapError(source_name, "document", "duplicate member " + duplicate);
  std::vector<OpenedKeystore> out;
  for (const auto& [region, entry] : doc.items()) {
    const std::string where = fmt::format("region '{}'", region);
    SOVEREIGN_RETURN_IF_ERROR(ValidateRegion(region).ok() ? OkStatus()
                                                          : MapError(source_name, where, "is not a valid region"));
    if (!entry.is_object()) return MapError(source_name, where, "must be an object");
    for (const auto& [member, value] : entry.items()) {
      if (member != "dir" && member != "url" && member != "cert" && member != "key" && member != "ca") {
        return MapError(source_name, where,
                        fmt::format("unknown member \"{}\" (expected dir, or url, cert, key and ca)", member));
      }
      if (!value.is_string()) return MapError(source_name, where, fmt::format("\"{}\" must be a string", member));
    }
    const bool has_dir = entry.contains("dir");
    const bool has_url = entry.contains("url");
    if (has_dir == has_url) return MapError(source_name, where, "needs exactly one of \"dir\" and \"url\"");
    RemoteKeystoreOptions tls;
    if (has_url) {
      for (const char* member : {"cert", "key", "ca"}) {
        if (!entry.contains(member)) {
          return MapError(source_name, where, fmt::format("a \"url\" keystore needs \"{}\"", member));
        }
      }
      tls.tls_cert = Resolve(base, entry["cert"].get<std::string>());
      tls.tls_key = Resolve(base, entry["key"].get<std::string>());
      tls.tls_ca = Resolve(base, entry["ca"].get<std::string>());
    } else if (entry.size() != 1) {
      return MapError(source_name, where, "a \"dir\" keystore takes no certificate members");
    }
    const std::string location =
        has_dir ? Resolve(base, entry["dir"].get<std::string>()) : entry["url"].get<std::string>();
    auto opened = OpenKeystore(location, tls);
    if (!opened.ok()) {
      return Status(opened.code(), fmt::format("{}: {}: {}", source_name, where, opened.status().message()));
    }
    if (opened->region != region) {
      return Status(ErrorCode::kWrongRegion, fmt::format("{}: {}: the keystore at {} serves region '{}'",
                                                         source_name, where, location, opened->region));
    }
    out.push_back(std::move(opened).value());
  }
  return out;
}

Result<std::vector<OpenedKeystore>> OpenKeystoreMap(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return Status(ErrorCode::kInvalidArgument, fmt::format("cannot read keystore map {}", file.string()));
  std::stringstream text;
  text << in.rdbuf();
  return OpenKeystoreMapJson(text.str(), file.parent_path(), file.string());
}

}  // namespace sovereign
