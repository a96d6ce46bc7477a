// Opening keystores by where they are: an embedded directory or an https://
// URL, one at a time or as a region map from a JSON file:
//
//   {"us": {"dir": "/var/lib/sovereign/us"},
//    "eu": {"url": "https://keystore.eu.example:8443", "cert": "app.pem", "key": "app.key", "ca": "ca.pem"}}
//
// Relative file names in a map file are relative to the file's directory.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sovereign/export.hpp"
#include "sovereign/key_admin.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/remote_keystore.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// OpenedKeystore is one region's keystore, seen as a key source (for a
// Client) and as a key administration (for key officers).
struct OpenedKeystore {
  std::string region;
  std::string location;  // directory or URL, for messages
  std::shared_ptr<KeySource> source;
  std::shared_ptr<KeyAdmin> admin;
};

// OpenKeystore opens `location`: an https:// URL is reached with the
// certificate files in `tls` (its url is ignored), anything else is an
// embedded keystore directory.
SOVEREIGN_EXPORT Result<OpenedKeystore> OpenKeystore(std::string_view location, const RemoteKeystoreOptions& tls);

// OpenKeystoreMap opens every keystore of a region map file. Errors name the
// file and the region entry at fault; unknown members are errors; a map entry
// whose keystore reports another region than its name is kWrongRegion.
SOVEREIGN_EXPORT Result<std::vector<OpenedKeystore>> OpenKeystoreMap(const std::filesystem::path& file);

// OpenKeystoreMapJson is OpenKeystoreMap for an already-parsed document
// (a JSON object text); `base` resolves relative file names.
SOVEREIGN_EXPORT Result<std::vector<OpenedKeystore>> OpenKeystoreMapJson(std::string_view json_text,
                                                                         const std::filesystem::path& base,
                                                                         std::string_view source_name);

}  // namespace sovereign
