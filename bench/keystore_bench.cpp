// sovereign_keystore_bench: the region keystore service under load, over real
// mTLS to a real `sovereign serve` process, beside in-process baselines
// measured in the same run (STYLE.md item 9). See bench/README.md.
//
// Timings are informational; nothing here gates anything.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/keystore_env.hpp"
#include "bench/keystore_options.hpp"
#include "bench/keystore_timing.hpp"
#include "tests/support/tls_connection.hpp"

namespace sovereign::bench {
namespace {

using Seconds = std::chrono::duration<double>;

// Row is one measured line: what ran, how, and what the server audited meanwhile.
struct Row {
  std::string what;
  std::size_t batch = 0;  // items per call; 0 when not a batch
  RunStats stats;
  std::optional<double> audit_per_call;  // server audit writes per successful call
};

struct StoreResult {
  std::string label;  // "durable (ext4 /tmp)" or "tmpfs (/dev/shm)"
  std::vector<Row> rows;
  const Row* Find(std::string_view what, int threads, std::size_t batch = 0) const {
    for (const auto& r : rows) if (r.what == what && r.stats.threads == threads && r.batch == batch) return &r;
    return nullptr;
  }
};

void PrintHeader() {
  fmt::print("{:<34} {:>3} {:>5} {:>10} {:>11} {:>9} {:>9} {:>9} {:>6} {:>6}\n", "operation", "thr", "batch",
             "calls/s", "items/s", "p50 us", "p99 us", "max us", "audit", "errors");
}

void PrintRow(const Row& r) {
  fmt::print("{:<34} {:>3} {:>5} {:>10.0f} {:>11.0f} {:>9.1f} {:>9.1f} {:>9.0f} {:>6} {:>6}\n", r.what,
             r.stats.threads, r.batch == 0 ? std::string("-") : std::to_string(r.batch), r.stats.calls_per_second(),
             r.stats.items_per_second(), r.stats.p50_us, r.stats.p99_us, r.stats.max_us,
             r.audit_per_call ? fmt::format("{:.2f}", *r.audit_per_call) : std::string("-"), r.stats.errors);
  if (!r.stats.first_error.empty()) fmt::print("    first error: {}\n", r.stats.first_error);
  std::fflush(stdout);
}

class Runner {
 public:
  Runner(const Options& options, KeystoreEnv& env, StoreResult& result)
      : options_(options), env_(env), result_(result) {}

  // Measure runs one row; `server` says whether to count the server's audit writes.
  void Measure(std::string what, int threads, std::size_t batch, Seconds duration, const OpFactory& factory,
               bool server = true) {
    const std::uint64_t before = server ? env_.AuditWrites() : 0;
    Row row{std::move(what), batch, RunTimed(threads, duration, factory), std::nullopt};
    if (server && row.stats.calls > 0) {
      // The /metrics read itself is not audited; warm-up calls are.
      const double warm = 3.0 * threads;
      row.audit_per_call = static_cast<double>(env_.AuditWrites() - before) /
                           (static_cast<double>(row.stats.calls + row.stats.errors) + warm);
    }
    PrintRow(row);
    result_.rows.push_back(std::move(row));
  }

  void RawFsync() {
    const auto path = env_.store_dir() / "bench-fsync.log";
    Measure("raw append 256 B + fsync", 1, 0, Seconds(options_.other_seconds / 2), [path](int) {
      auto fd = std::make_shared<int>(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
      if (*fd < 0) throw std::runtime_error("open " + path.string());
      auto line = std::make_shared<std::string>(255, 'x');
      line->push_back('\n');
      return Op([fd, line](std::string& error) -> std::size_t {
        if (::write(*fd, line->data(), line->size()) != static_cast<ssize_t>(line->size()) || ::fsync(*fd) != 0) {
          error = "write/fsync failed";
          return 0;
        }
        return 1;
      });
    }, false);
    std::filesystem::remove(path);
  }

  void EmbeddedIssue() {
    Measure("embedded PrimaryFieldKey (audited)", 1, 0, Seconds(options_.other_seconds), [this](int) {
      return Op([this](std::string& error) -> std::size_t {
        auto key = env_.embedded().PrimaryFieldKey("users", Mode::kRandom, "email");
        if (!key.ok()) error = std::string(key.status().message());
        return key.ok() ? 1 : 0;
      });
    }, false);
  }

  void Health() {
    for (int threads : {1, options_.threads.back()}) {
      Measure("GET /v1/health (https)", threads, 0, Seconds(options_.lease_seconds), [this](int) {
        std::shared_ptr<BenchClient> client = env_.AppClient(options_.nodelay);
        return Op([client, body = std::string()](std::string& error) mutable -> std::size_t {
          const int status = client->Get("/v1/health", body);
          if (status == 200) return 1;
          error = fmt::format("health -> {} {}", status, body);
          return 0;
        });
      });
    }
  }

  void Leases() {
    static const std::string body = R"({"items":[{"key":"users","mode":"random","label":"email"}]})";
    for (int threads : options_.threads) {
      Measure("POST /v1/leases (https)", threads, 0, Seconds(options_.lease_seconds), [this](int) {
        std::shared_ptr<BenchClient> client = env_.AppClient(options_.nodelay);
        return Op([client, answer = std::string()](std::string& error) mutable -> std::size_t {
          const int status = client->Post("/v1/leases", body, answer);
          if (status == 200 && answer.find("\"field_key\"") != std::string::npos) return 1;
          error = fmt::format("lease -> {} {}", status, answer);
          return 0;
        });
      });
    }
  }

  // HostileLeases measures the app's leases with and without 100 connections
  // held open by the offshore engineer (encrypt only), each pinging the
  // service every 2 s so no idle timeout closes it; the server refuses the
  // handshakes past the engineer's allowance.
  void HostileLeases() {
    const int threads = options_.threads.back();
    const Seconds duration(options_.lease_seconds);
    const auto leases = [this](int) {
      static const std::string body = R"({"items":[{"key":"users","mode":"random","label":"email"}]})";
      std::shared_ptr<BenchClient> client = env_.AppClient(options_.nodelay);
      return Op([client, answer = std::string()](std::string& error) mutable -> std::size_t {
        const int status = client->Post("/v1/leases", body, answer);
        if (status == 200 && answer.find("\"field_key\"") != std::string::npos) return 1;
        error = fmt::format("lease -> {} {}", status, answer.substr(0, 200));
        return 0;
      });
    };
    Measure("leases, no hostile connections", threads, 0, duration, leases);
    std::vector<std::unique_ptr<test::TlsConnection>> crowd;
    std::size_t held = 0;
    for (int i = 0; i < 100; ++i) {
      crowd.push_back(std::make_unique<test::TlsConnection>(env_.server().port(), env_.pki().ca(),
                                                            env_.pki().cn_engineer()));
      held += crowd.back()->Served() ? 1 : 0;
    }
    std::atomic<bool> stop{false};
    std::thread pinger([&] {
      while (!stop.load()) {
        for (auto& c : crowd) {
          if (stop.load()) break;
          (void)c->Served();
        }
        for (int i = 0; i < 20 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    Measure(fmt::format("leases, 100 hostile conns ({} held)", held), threads, 0, duration, leases);
    stop = true;
    pinger.join();
  }

  void SdkLeases() {
    Measure("RemoteKeystore::PrimaryFieldKey", options_.threads.back(), 0, Seconds(options_.lease_seconds),
            [this](int) {
              return Op([this](std::string& error) -> std::size_t {
                auto key = env_.remote().PrimaryFieldKey("users", Mode::kRandom, "email");
                if (!key.ok()) error = std::string(key.status().message());
                return key.ok() ? 1 : 0;
              });
            });
  }

  void Decrypt(const DecryptFixture& fx) {
    const Seconds duration(options_.other_seconds);
    for (std::size_t n : options_.batches) {
      auto body = std::make_shared<const std::string>(fx.Body(n));
      CheckRemote(fx, *body, n);
      const auto remote = [this, body, n](int) {
        std::shared_ptr<BenchClient> client = env_.AppClient(options_.nodelay);
        return Op([client, body, n, answer = std::string()](std::string& error) mutable -> std::size_t {
          const int status = client->Post("/v1/decrypt", *body, answer);
          std::size_t plaintexts = 0;
          for (auto at = answer.find("\"plaintext\""); at != std::string::npos; at = answer.find("\"plaintext\"", at + 1)) {
            ++plaintexts;
          }
          if (status == 200 && plaintexts == n) return n;
          error = fmt::format("decrypt -> {} ({} plaintexts) {}", status, plaintexts, answer.substr(0, 200));
          return 0;
        });
      };
      Measure("remote POST /v1/decrypt (https)", 1, n, duration, remote);
      if (n == options_.batches.back()) Measure("remote POST /v1/decrypt (https)", 2, n, duration, remote);
      Measure("local Client::DecryptAppend", 1, n, duration, [this, &fx, n](int) {
        auto out = std::make_shared<std::string>();
        out->reserve(256);
        return Op([this, &fx, n, out](std::string& error) -> std::size_t {
          for (std::size_t i = 0; i < n; ++i) {
            out->clear();
            Status s = env_.local_client().DecryptAppend(fx.ciphertexts[i], fx.contexts[i], *out);
            if (!s.ok() || out->size() != 32) {
              error = std::string(s.message());
              return 0;
            }
          }
          return n;
        });
      }, false);
      if (n == options_.batches.back()) {
        Measure("RemoteKeystore::RemoteDecrypt", 1, n, duration, [this, &fx, n](int) {
          return Op([this, &fx, n](std::string& error) -> std::size_t {
            auto results = env_.remote().RemoteDecrypt(std::span(fx.items.data(), n));
            for (const auto& r : results) {
              if (!r.ok()) {
                error = std::string(r.status().message());
                return 0;
              }
            }
            return results.size() == n ? n : 0;
          });
        });
      }
    }
  }

 private:
  // CheckRemote makes sure the server really decrypts every field of the batch
  // to the expected plaintext before anything is timed.
  void CheckRemote(const DecryptFixture& fx, const std::string& body, std::size_t n) {
    auto client = env_.AppClient(options_.nodelay);
    std::string answer;
    const int status = client->Post("/v1/decrypt", body, answer);
    if (status != 200) throw std::runtime_error(fmt::format("check decrypt -> {} {}", status, answer));
    const auto doc = nlohmann::json::parse(answer);
    const auto& items = doc.at("items");
    if (items.size() != n) throw std::runtime_error("check decrypt: wrong item count");
    for (std::size_t i = 0; i < n; ++i) {
      if (!items[i].contains("plaintext") ||
          test::Base64UrlDecode(items[i]["plaintext"].get<std::string>()) != fx.values[i]) {
        throw std::runtime_error(fmt::format("check decrypt: item {} wrong: {}", i, items[i].dump()));
      }
    }
  }

  const Options& options_;
  KeystoreEnv& env_;
  StoreResult& result_;
};

StoreResult RunStore(const Options& options, const std::filesystem::path& base, const test::TestPki& pki,
                     std::string label) {
  StoreResult result;
  result.label = fmt::format("{} ({} {})", label, FilesystemName(base), base.string());
  fmt::print("\n== keystore on {} ==\n", result.label);
  KeystoreEnv env(base, pki);
  fmt::print("server pid {} at {}\n", env.server().pid(), env.server().Url());
  PrintHeader();
  Runner runner(options, env, result);
  if (options.Has("fsync")) runner.RawFsync();
  if (options.Has("embedded")) runner.EmbeddedIssue();
  if (options.Has("health")) runner.Health();
  if (options.Has("leases")) runner.Leases();
  if (options.Has("hostile")) runner.HostileLeases();
  if (options.Has("sdk")) runner.SdkLeases();
  if (options.Has("decrypt")) {
    const DecryptFixture fx(env.local_client(), 1000);
    runner.Decrypt(fx);
  }
  return result;
}

void PrintStoreSummary(const StoreResult& s, const Options& o) {
  fmt::print("\n-- {} --\n", s.label);
  PrintHeader();
  for (const auto& r : s.rows) PrintRow(r);
  const Row* embedded = s.Find("embedded PrimaryFieldKey (audited)", 1);
  const Row* health = s.Find("GET /v1/health (https)", o.threads.back());
  for (int t : o.threads) {
    const Row* lease = s.Find("POST /v1/leases (https)", t);
    if (lease == nullptr) continue;
    fmt::print("leases {} thr: {:.0f}/s", t, lease->stats.calls_per_second());
    if (embedded != nullptr) fmt::print("  = {:.2f}x embedded audited issue (1 thr)", lease->stats.calls_per_second() / embedded->stats.calls_per_second());
    if (health != nullptr && t == o.threads.back()) fmt::print("  = {:.2f}x health ({} thr)", lease->stats.calls_per_second() / health->stats.calls_per_second(), t);
    fmt::print("\n");
  }
  for (std::size_t n : o.batches) {
    const Row* remote = s.Find("remote POST /v1/decrypt (https)", 1, n);
    const Row* local = s.Find("local Client::DecryptAppend", 1, n);
    if (remote == nullptr || local == nullptr) continue;
    fmt::print("decrypt batch {:>4}: remote {:.0f} fields/s / local {:.0f} fields/s = {:.3f}x", n,
               remote->stats.items_per_second(), local->stats.items_per_second(),
               remote->stats.items_per_second() / local->stats.items_per_second());
    if (const Row* two = s.Find("remote POST /v1/decrypt (https)", 2, n)) {
      fmt::print("  (2 connections: {:.3f}x)", two->stats.items_per_second() / local->stats.items_per_second());
    }
    fmt::print("\n");
  }
}

void PrintComparison(const StoreResult& durable, const StoreResult& tmpfs) {
  fmt::print("\n-- what durability costs: durable vs tmpfs, same binary, same run --\n");
  fmt::print("{:<34} {:>3} {:>5} {:>12} {:>12} {:>8} {:>14}\n", "operation", "thr", "batch", "durable/s", "tmpfs/s",
             "tmpfs/d", "us/call extra");
  for (const auto& d : durable.rows) {
    const Row* t = tmpfs.Find(d.what, d.stats.threads, d.batch);
    if (t == nullptr || d.stats.calls == 0 || t->stats.calls == 0) continue;
    const double dr = d.stats.calls_per_second(), tr = t->stats.calls_per_second();
    fmt::print("{:<34} {:>3} {:>5} {:>12.0f} {:>12.0f} {:>7.2f}x {:>14.1f}\n", d.what, d.stats.threads,
               d.batch == 0 ? std::string("-") : std::to_string(d.batch), d.batch ? d.stats.items_per_second() : dr,
               d.batch ? t->stats.items_per_second() : tr, tr / dr, 1e6 / dr - 1e6 / tr);
  }
}

void PrintTargets(const StoreResult& s, const Options& o) {
  double best = 0;
  int best_threads = 0;
  for (int t : o.threads) {
    if (const Row* r = s.Find("POST /v1/leases (https)", t); r && r->stats.calls_per_second() > best) {
      best = r->stats.calls_per_second();
      best_threads = t;
    }
  }
  if (best > 0) {
    fmt::print("target >= 5000 leases/s [{}]: best {:.0f}/s at {} threads -> {}\n", s.label, best, best_threads,
               best >= 5000 ? "met" : "NOT met");
  }
  const Row* quiet = s.Find("leases, no hostile connections", o.threads.back());
  const Row* crowded = nullptr;
  for (const auto& r : s.rows) {
    if (r.what.rfind("leases, 100 hostile conns", 0) == 0) crowded = &r;
  }
  if (quiet && crowded && quiet->stats.p99_us > 0) {
    fmt::print("app lease p99 with 100 hostile connections open [{}]: {:.0f} us vs {:.0f} us without ({:.2f}x); "
               "{:.0f} vs {:.0f} leases/s\n",
               s.label, crowded->stats.p99_us, quiet->stats.p99_us, crowded->stats.p99_us / quiet->stats.p99_us,
               crowded->stats.calls_per_second(), quiet->stats.calls_per_second());
  }
  const std::size_t n = o.batches.back();
  const Row* remote = s.Find("remote POST /v1/decrypt (https)", 1, n);
  const Row* local = s.Find("local Client::DecryptAppend", 1, n);
  if (remote && local && n == 1000) {
    const double ratio = remote->stats.items_per_second() / local->stats.items_per_second();
    fmt::print("target remote >= 0.25x local at batch 1000 [{}]: {:.3f}x -> {}\n", s.label, ratio,
               ratio >= 0.25 ? "met" : "NOT met");
  }
}

int Main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  fmt::print("sovereign_keystore_bench: {} hardware threads; lease/health runs {} s, other runs {} s; "
             "benchmark https clients TCP_NODELAY {}\n",
             std::thread::hardware_concurrency(), options.lease_seconds, options.other_seconds,
             options.nodelay ? "on" : "off");
  fmt::print("every lease and every batch costs the server one durable audit append (fsync of audit.log and a\n"
             "SQLite WAL commit of the audit head) before it answers; the 'audit' column counts the server's\n"
             "audit writes per call from /metrics.\n");
  ScratchDir pki_dir(std::filesystem::temp_directory_path());
  const test::TestPki pki(pki_dir.path() / "pki");
  std::optional<StoreResult> durable, tmpfs;
  if (options.disk) durable = RunStore(options, std::filesystem::temp_directory_path(), pki, "durable");
  if (options.tmpfs) tmpfs = RunStore(options, options.tmpfs_base, pki, "NOT durable, tmpfs");

  fmt::print("\n================ summary (informational; nothing is gated on timings) ================\n");
  if (durable) PrintStoreSummary(*durable, options);
  if (tmpfs) PrintStoreSummary(*tmpfs, options);
  if (durable && tmpfs) PrintComparison(*durable, *tmpfs);
  fmt::print("\n");
  if (durable) PrintTargets(*durable, options);
  if (tmpfs) PrintTargets(*tmpfs, options);
  fmt::print("the durable figures are the ones that count: tmpfs skips the audit fsyncs a crash would need.\n");
  return 0;
}

}  // namespace
}  // namespace sovereign::bench

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    return sovereign::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sovereign_keystore_bench: %s\n", e.what());
    return 1;
  }
}
