// The region keystore service: `sovereign serve --config keystore.json`.
//
// Serves one region's keystore over HTTPS with mandatory client certificates
// (API: docs/keystore-api.md; deployment: docs/operations.md). Prints exactly
// one line to stdout, "listening on https://HOST:PORT", once it accepts
// connections; everything else goes to stderr. SIGTERM and SIGINT stop it
// gracefully; SIGHUP reloads the access policy from the configuration file.
#pragma once

#include <filesystem>

namespace sovereign::service {

// Serve runs the service until SIGTERM or SIGINT and returns the process exit
// code: 0 after a graceful stop, 1 when the configuration, keystore or TLS
// set-up is unusable (the reason is printed to stderr).
int Serve(const std::filesystem::path& config_path);

}  // namespace sovereign::service
