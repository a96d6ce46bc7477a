// Command-line options of sovereign_keystore_bench.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace sovereign::bench {

struct Options {
  double lease_seconds = 3;
  double other_seconds = 2;
  std::vector<int> threads{1, 4, 16, 32};
  std::vector<std::size_t> batches{1, 100, 1000};
  bool disk = true;
  bool tmpfs = true;
  bool nodelay = true;
  std::string tmpfs_base = "/dev/shm";
  std::string phases = "fsync,embedded,health,leases,hostile,sdk,decrypt";
  bool Has(std::string_view phase) const { return ("," + phases + ",").find(fmt::format(",{},", phase)) != std::string::npos; }
};

inline constexpr const char* kUsage = R"(usage: sovereign_keystore_bench [options]
  --seconds=S          duration of each lease/health run (default 3)
  --decrypt-seconds=S  duration of each other run (default 2)
  --threads=1,4,16,32  client threads for the lease runs
  --batches=1,100,1000 batch sizes for the decrypt runs (max 1000)
  --store=both|disk|tmpfs  disk: $TMPDIR (durable); tmpfs: --tmpfs-dir (default both)
  --tmpfs-dir=DIR      where the tmpfs keystore lives (default /dev/shm)
  --phases=LIST        subset of fsync,embedded,health,leases,hostile,sdk,decrypt
  --client-nodelay=0|1 TCP_NODELAY on the benchmark's own https clients (default 1)
)";

template <typename T>
inline std::vector<T> ParseList(const std::string& text) {
  std::vector<T> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(static_cast<T>(std::stoul(item)));
  return out;
}

inline Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (name == "--seconds") o.lease_seconds = std::stod(value);
    else if (name == "--decrypt-seconds") o.other_seconds = std::stod(value);
    else if (name == "--threads") o.threads = ParseList<int>(value);
    else if (name == "--batches") o.batches = ParseList<std::size_t>(value);
    else if (name == "--store") { o.disk = value != "tmpfs"; o.tmpfs = value != "disk"; }
    else if (name == "--tmpfs-dir") o.tmpfs_base = value;
    else if (name == "--phases") o.phases = value;
    else if (name == "--client-nodelay") o.nodelay = value != "0";
    else {
      std::fputs(kUsage, stderr);
      std::exit(arg == "--help" ? 0 : 2);
    }
  }
  return o;
}

}  // namespace sovereign::bench
