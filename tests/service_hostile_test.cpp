// The keystore service against hostile callers that hold a certificate of the
// region's CA: the offshore engineer (encrypt only), and principals no rule
// names. What they may not learn (equality oracles), exhaust (quota,
// connections, memory, CPU) or write into the audit log — each beside the
// in-region app, which must keep working.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "tests/support/service_fixture.hpp"
#include "tests/support/tls_connection.hpp"

namespace sovereign::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kMallory = "spiffe://corp.example/region/xx/mallory";

// Memory bounds in KiB. Under AddressSanitizer the server's allocator keeps a
// quarantine of freed blocks and shadow memory, so the bounds are wider.
// Latency bounds are as wide as a human would still call served, and wider
// again for a sanitizer build: starvation shows as errors and timeouts.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kMemoryScale = 4;
constexpr double kTimeScale = 5;
#else
constexpr long kMemoryScale = 1;
constexpr double kTimeScale = 1;
#endif

std::chrono::seconds SoakDuration() {
  const char* env = std::getenv("SOVEREIGN_SOAK_SECONDS");
  const long s = env ? std::strtol(env, nullptr, 10) : 5;
  return std::chrono::seconds(s > 0 ? s : 5);
}

// AppRound is what the in-region app saw over a run: every request must
// succeed, and the slowest ones stay within a human-scale bound.
struct AppRound {
  long requests = 0;
  long errors = 0;
  std::string first_error;
  std::vector<double> seconds;
  double P99() {
    if (seconds.empty()) return 0;
    std::sort(seconds.begin(), seconds.end());
    return seconds[std::min(seconds.size() - 1, seconds.size() * 99 / 100)];
  }
};

// RunApp has the in-region app encrypt and decrypt one value per request
// until `stop`, over its own keep-alive connection.
void RunApp(ServiceFixture& f, const std::atomic<bool>& stop, AppRound& round) {
  auto app = f.Client("us", f.pki().us_app());
  while (!stop.load()) {
    const auto start = std::chrono::steady_clock::now();
    auto enc = app->PostJson("/v1/encrypt", Items({EncryptItem("users", "email", "random", "/email", "r", "v")}));
    const bool ok = enc.status == 200 && enc.body.find("ciphertext") != std::string::npos;
    round.seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    ++round.requests;
    if (!ok) {
      if (round.errors++ == 0) round.first_error = std::to_string(enc.status) + " " + enc.body + enc.transport_error;
    }
  }
}

// Merge is what several app clients saw, together.
AppRound Merge(const std::vector<AppRound>& rounds) {
  AppRound all;
  for (const auto& round : rounds) {
    all.requests += round.requests;
    all.errors += round.errors;
    if (all.first_error.empty()) all.first_error = round.first_error;
    all.seconds.insert(all.seconds.end(), round.seconds.begin(), round.seconds.end());
  }
  return all;
}

std::size_t LongestAuditLine(const Region& region) {
  std::size_t longest = 0;
  for (const json& entry : AuditLines(region)) longest = std::max(longest, entry.dump().size());
  return longest;
}

TEST_CASE("hostile: an encrypt-only principal gets no deterministic ciphertext and no blind index, random still works") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  auto det = alice->PostJson("/v1/encrypt",
                             Items({EncryptItem("users", "email", "deterministic", "/email", "u-1", "ann@x.example")}));
  INFO(det.body);
  REQUIRE(det.status == 200);
  CHECK(det.json()["items"][0]["error"]["code"] == "denied");
  auto index = alice->PostJson(
      "/v1/index", Items({{{"key", "users"}, {"label", "email"}, {"value", Base64Url("ann@x.example")}}}));
  INFO(index.body);
  REQUIRE(index.status == 200);
  CHECK(index.json()["items"][0]["error"]["code"] == "denied");
  // Random encryption, the engineer's job, works; the app can read it back.
  const std::string ct = RemoteEncrypt(*alice, "email", "ann@x.example", "/email", "u-1");
  auto app = f.Client("us", f.pki().us_app());
  auto back = app->PostJson("/v1/decrypt", Items({DecryptItem(ct, "/email", "u-1")}));
  REQUIRE(back.status == 200);
  CHECK(Base64UrlDecode(back.json()["items"][0]["plaintext"].get<std::string>()) == "ann@x.example");

  // Guessing is visible in the log: the denied entries name the mode.
  bool saw_deterministic = false, saw_index = false;
  for (const json& e : AuditLines(f.region("us"))) {
    if (e.value("principal", "") != kCnEngineerId || e.value("outcome", "") != "denied") continue;
    for (const json& c : e.value("counts", json::array())) {
      saw_deterministic |= e["op"] == "encrypt" && c.value("mode", "") == "deterministic";
      saw_index |= e["op"] == "index" && c.value("mode", "") == "index";
    }
  }
  CHECK(saw_deterministic);
  CHECK(saw_index);
}

TEST_CASE("hostile: encrypting for a shredded subject tells a caller that may not decrypt nothing about the shred") {
  ServiceFixture f;
  f.PrepareAndStart("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  auto app = f.Client("us", f.pki().us_app());
  const auto encrypt = [](HttpsClient& client, const std::string& subject) {
    json item = EncryptItem("users", "email", "random", "/email", subject, "new@x.example");
    item["subject"] = subject;
    return client.PostJson("/v1/encrypt", Items({item}));
  };
  // Both subjects have keys before one is shredded.
  REQUIRE(encrypt(*app, "u-gone").status == 200);
  REQUIRE(encrypt(*app, "u-here").status == 200);
  auto shred = f.Client("us", f.pki().us_officer())
                   ->PostJson("/v1/keys/users/subjects/shred", {{"subject", "u-gone"}, {"reason", "erasure request"}});
  INFO(shred.body);
  REQUIRE(shred.status == 200);

  // The engineer gets a ciphertext either way, of the same shape, with the
  // subject's own tag each time: nothing tells the two apart.
  auto gone = encrypt(*alice, "u-gone");
  auto gone_again = encrypt(*alice, "u-gone");
  auto here = encrypt(*alice, "u-here");
  INFO(gone.body << "\n" << here.body);
  REQUIRE(gone.status == 200);
  REQUIRE(here.status == 200);
  const std::string gone_ct = gone.json()["items"][0].value("ciphertext", "");
  const std::string here_ct = here.json()["items"][0].value("ciphertext", "");
  REQUIRE(gone_ct.rfind("sov1:", 0) == 0);
  REQUIRE(here_ct.rfind("sov1:", 0) == 0);
  CHECK(gone_ct.size() == here_ct.size());
  const std::string again_ct = gone_again.json()["items"][0].value("ciphertext", "");
  // "sov1:" and the base64url of the header's first 24 bytes: format, mode,
  // region, key id, version, label id and the 16-byte subject tag.
  const std::size_t header = 5 + 32;
  CHECK(gone_ct.substr(0, header) == again_ct.substr(0, header));
  // What it wrote for the erased user stays unrecoverable; the live one reads.
  auto read = app->PostJson("/v1/decrypt", Items({DecryptItem(gone_ct, "/email", "u-gone"),
                                                  DecryptItem(here_ct, "/email", "u-here")}));
  REQUIRE(read.status == 200);
  CHECK(read.json()["items"][0]["error"]["code"] == "shredded");
  CHECK(Base64UrlDecode(read.json()["items"][1]["plaintext"].get<std::string>()) == "new@x.example");
  // A caller that may decrypt is told, and the log has the truth for both.
  CHECK(encrypt(*app, "u-gone").json()["items"][0]["error"]["code"] == "shredded");
  std::size_t shredded_for_alice = 0;
  for (const json& e : AuditLines(f.region("us"))) {
    if (e.value("principal", "") != kCnEngineerId || e.value("op", "") != "encrypt") continue;
    for (const json& c : e.value("counts", json::array())) shredded_for_alice += c.value("shredded", 0);
  }
  CHECK(shredded_for_alice == 2);
}

TEST_CASE("hostile: a quota refuses the whole request with 429 and Retry-After, audited; the app is unaffected") {
  ServiceFixture f;
  json access = DefaultAccess("us");
  const json rule = {{"principal", kCnEngineerId},
                     {"allow", {"deterministic"}},
                     {"keys", {"users"}},
                     {"labels", {"email"}},
                     {"quota", {{"values_per_minute", 5}}}};
  access.insert(access.begin(), rule);
  f.Prepare("us", access);
  f.Start("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  const auto guesses = [](int n) {
    json items = json::array();
    for (int i = 0; i < n; ++i) {
      items.push_back(EncryptItem("users", "email", "deterministic", "/email", "u-1", "guess" + std::to_string(i)));
    }
    return Items(items);
  };
  auto first = alice->PostJson("/v1/encrypt", guesses(4));
  REQUIRE(first.status == 200);
  CHECK(first.body.find("\"error\"") == std::string::npos);
  // Two more would pass the quota: nothing of the request is done or charged.
  auto over = alice->PostJson("/v1/encrypt", guesses(2));
  INFO(over.body);
  CHECK(over.status == 429);
  CHECK(over.ErrorCode() == "resource_exhausted");
  CHECK(over.body.find("guess") == std::string::npos);
  auto last = alice->PostJson("/v1/encrypt", guesses(1));
  CHECK(last.status == 200);
  CHECK(alice->PostJson("/v1/encrypt", guesses(1)).status == 429);
  // Random encryption comes from another rule without a quota.
  CHECK(RemoteEncrypt(*alice, "email", "x", "/email").rfind("sov1:", 0) == 0);
  CHECK(RemoteEncrypt(*f.Client("us", f.pki().us_app()), "email", "x", "/email").rfind("sov1:", 0) == 0);
  const auto lines = AuditLines(f.region("us"));
  CHECK(std::count_if(lines.begin(), lines.end(), [](const json& e) {
          return e.value("outcome", "") == "denied" && e.value("reason", "").rfind("quota", 0) == 0;
        }) == 2);
}

TEST_CASE("hostile: names that cannot exist fail their items and never reach the audit log") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  json items = json::array();
  for (int i = 0; i < 1000; ++i) {
    items.push_back(EncryptItem(std::string(2000, 'k') + std::to_string(i), "email", "random", "/e", {}, "x"));
  }
  auto r = alice->PostJson("/v1/encrypt", Items(items));
  INFO(r.body.substr(0, 300));
  REQUIRE(r.status == 200);
  CHECK(r.json()["items"][999]["error"]["code"] == "invalid_argument");
  CHECK(r.body.find("kkkkkkkk") == std::string::npos);
  // Valid names the policy denies are named, but one entry names at most 64 groups.
  items = json::array();
  for (int i = 0; i < 1000; ++i) {
    items.push_back(EncryptItem("k" + std::string(60, 'x') + std::to_string(i), "l" + std::string(60, 'y'),
                                "random", "/e", {}, "x"));
  }
  REQUIRE(alice->PostJson("/v1/encrypt", Items(items)).status == 200);
  CHECK(LongestAuditLine(f.region("us")) < 16 * 1024);
  // A denied lease batch names at most 64 groups too.
  json leases = json::array();
  for (int i = 0; i < 1000; ++i) {
    leases.push_back({{"key", "k" + std::string(60, 'x') + std::to_string(i)}, {"mode", "random"},
                      {"label", "l" + std::string(60, 'y')}});
  }
  REQUIRE(alice->PostJson("/v1/leases", Items(leases)).status == 200);
  CHECK(LongestAuditLine(f.region("us")) < 16 * 1024);
  // Leases refuse such names before anything is audited.
  auto lease = alice->PostJson("/v1/leases",
                               Items({{{"key", std::string(5000, 'k')}, {"mode", "random"}, {"label", "email"}}}));
  CHECK(lease.status == 400);
  CHECK(lease.body.find("kkkkkkkk") == std::string::npos);
  // The service restarts on its own log and the app is served.
  server.Stop();
  f.Start("us");
  CHECK(RemoteEncrypt(*f.Client("us", f.pki().us_app()), "email", "x", "/email").rfind("sov1:", 0) == 0);
}

TEST_CASE("hostile: a remote caller allowed every label introduces none the catalog does not know") {
  ServiceFixture f;
  json access = DefaultAccess("us");
  access.back()["labels"] = {"*"};  // the engineer's rule
  f.Prepare("us", access);
  f.Start("us");
  auto alice = f.Client("us", f.pki().cn_engineer());
  auto fresh = alice->PostJson("/v1/encrypt", Items({EncryptItem("users", "never-used", "random", "/e", {}, "x")}));
  REQUIRE(fresh.status == 200);
  CHECK(fresh.json()["items"][0]["error"]["code"] == "key_not_found");
  // Once the region's own app has used a label, the engineer may encrypt under it.
  RemoteEncrypt(*f.Client("us", f.pki().us_app()), "email", "x", "/email");
  CHECK(RemoteEncrypt(*alice, "email", "y", "/email").rfind("sov1:", 0) == 0);
}

TEST_CASE("hostile: chunked and length-less bodies are refused before they are read") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const long rss_before = server.RssKiB();
  {
    TlsConnection chunked(server.port(), f.pki().ca(), f.pki().cn_engineer());
    REQUIRE(chunked.handshake_ok());
    REQUIRE(chunked.Send("POST /v1/decrypt HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    // However much follows, the server neither keeps it nor waits for it.
    const std::string chunk = "100000\r\n" + std::string(0x100000, 'A') + "\r\n";
    for (int i = 0; i < 64 && chunked.Send(chunk); ++i) {
    }
    auto r = chunked.Read(5s);
    INFO(r.status << " " << r.body << r.transport_error);
    CHECK((r.status == 411 || !r.responded()));
    CHECK(chunked.PeerClosed(5s));
  }
  {
    TlsConnection no_length(server.port(), f.pki().ca(), f.pki().cn_engineer());
    REQUIRE(no_length.handshake_ok());
    REQUIRE(no_length.Send("POST /v1/decrypt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n{\"items\":[]}"));
    auto r = no_length.Read(5s);
    INFO(r.body);
    CHECK(r.status == 411);
  }
  CHECK(server.RssKiB() < rss_before + kMemoryScale * 32 * 1024);
  CHECK(RemoteEncrypt(*f.Client("us", f.pki().us_app()), "email", "x", "/email").rfind("sov1:", 0) == 0);
}

TEST_CASE("hostile: a principal no rule names is refused before its body is read") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const CertFiles mallory = f.pki().IssueClient("mallory", kMallory, "mallory");
  TlsConnection c(server.port(), f.pki().ca(), mallory);
  REQUIRE(c.handshake_ok());
  // It announces 4 MiB and sends none of it: the answer does not wait.
  REQUIRE(c.Send("POST /v1/decrypt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4000000\r\n\r\n"));
  auto r = c.Read(3s);
  INFO(r.body << r.transport_error);
  CHECK(r.status == 403);
  CHECK(r.ErrorCode() == "denied");
  CHECK(RemoteEncrypt(*f.Client("us", f.pki().us_app()), "email", "x", "/email").rfind("sov1:", 0) == 0);
}

TEST_CASE("hostile: a body of a million empty objects is answered at once and SIGTERM stays prompt") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  std::string body = "{\"items\":[";
  while (body.size() < (std::size_t{4} << 20) - 16) body += "{},";
  body += "{}]}";
  auto alice = f.Client("us", f.pki().cn_engineer());
  const auto start = std::chrono::steady_clock::now();
  auto r = alice->Post("/v1/encrypt", body);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("a 4 MiB body of {} items answered in " << seconds << " s");
  INFO(r.body << r.transport_error);
  CHECK(r.status == 400);
  const auto stop_start = std::chrono::steady_clock::now();
  CHECK(server.Stop(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - stop_start < 10s);
}

TEST_CASE("hostile: idle connections of one principal cannot starve the app", "[soak]") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const CertFiles mallory = f.pki().IssueClient("mallory", kMallory, "mallory");
  // A principal no rule names holds at most a handful of connections; one the
  // policy names holds at most its allowance; the rest fail at the handshake.
  std::vector<std::unique_ptr<TlsConnection>> idle(200);
  std::atomic<int> mallory_ok{0}, alice_ok{0};
  const auto opened_at = std::chrono::steady_clock::now();
  std::vector<std::thread> openers;
  for (int t = 0; t < 10; ++t) {
    openers.emplace_back([&, t] {
      for (int i = t; i < 200; i += 10) {
        const CertFiles& who = i < 100 ? mallory : f.pki().cn_engineer();
        idle[i] = std::make_unique<TlsConnection>(server.port(), f.pki().ca(), who);
        if (idle[i]->Served()) ++(i < 100 ? mallory_ok : alice_ok);
      }
    });
  }
  for (auto& t : openers) t.join();
  // The server closes a connection idle for 5 s, which gives its allowance
  // back: the counts are exact only when opening took less than that.
  if (std::chrono::steady_clock::now() - opened_at < 4s) {
    CHECK(mallory_ok.load() == 4);
    CHECK(alice_ok.load() == 64);
  } else {
    WARN("opening 200 connections took over 4 s; counts " << mallory_ok.load() << " and " << alice_ok.load());
  }

  std::atomic<bool> stop{false};
  std::vector<AppRound> rounds(4);
  std::vector<std::thread> apps;
  for (auto& round : rounds) apps.emplace_back([&] { RunApp(f, stop, round); });
  std::this_thread::sleep_for(3s);
  stop = true;
  for (auto& t : apps) t.join();
  AppRound all = Merge(rounds);
  INFO("app: " << all.requests << " requests, " << all.errors << " errors, first: " << all.first_error);
  WARN("app p99 with 200 hostile connection attempts open: " << all.P99() * 1000 << " ms");
  CHECK(all.errors == 0);
  CHECK(all.requests > 20);
  CHECK(all.P99() < kTimeScale * 2.0);
  // Closing them gives the allowance back.
  idle.clear();
  std::this_thread::sleep_for(200ms);
  CHECK(TlsConnection(server.port(), f.pki().ca(), mallory).Served());
}

TEST_CASE("hostile: a soak of large bodies, chunked uploads and idle connections beside the app", "[soak]") {
  ServiceFixture f;
  auto& server = f.PrepareAndStart("us");
  const long rss_start = server.RssKiB();
  std::atomic<bool> stop{false};
  std::vector<std::thread> hostile;
  std::atomic<long> hostile_requests{0};
  // Many large bodies at once from the engineer: valid JSON the policy denies.
  json items = json::array();
  for (int i = 0; i < 1000; ++i) {
    items.push_back(EncryptItem("users", "email", "deterministic", "/e", {}, std::string(3000, 'p')));
  }
  const std::string big = Items(items).dump();
  REQUIRE(big.size() < (std::size_t{4} << 20));
  for (int t = 0; t < 12; ++t) {
    hostile.emplace_back([&] {
      auto alice = f.Client("us", f.pki().cn_engineer());
      while (!stop.load()) {
        alice->Post("/v1/encrypt", big);
        ++hostile_requests;
      }
    });
  }
  hostile.emplace_back([&] {
    while (!stop.load()) {
      TlsConnection c(server.port(), f.pki().ca(), f.pki().cn_engineer());
      c.Send("POST /v1/decrypt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      c.Send("100000\r\n" + std::string(0x100000, 'A') + "\r\n");
      ++hostile_requests;
    }
  });
  std::vector<std::unique_ptr<TlsConnection>> idle;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(std::make_unique<TlsConnection>(server.port(), f.pki().ca(), f.pki().cn_engineer()));
  }

  std::vector<AppRound> rounds(2);
  std::vector<std::thread> apps;
  for (auto& round : rounds) apps.emplace_back([&] { RunApp(f, stop, round); });
  std::this_thread::sleep_for(SoakDuration());
  const long rss_peak = server.RssKiB();
  stop = true;
  for (auto& t : apps) t.join();
  for (auto& t : hostile) t.join();
  idle.clear();
  std::this_thread::sleep_for(500ms);
  const long rss_end = server.RssKiB();

  AppRound all = Merge(rounds);
  INFO("app: " << all.requests << " requests, " << all.errors << " errors, first: " << all.first_error
               << "; hostile requests " << hostile_requests.load() << "; RSS " << rss_start << " -> " << rss_peak
               << " -> " << rss_end << " KiB");
  WARN("hostile soak: app p99 " << all.P99() * 1000 << " ms over " << all.requests << " requests; RSS " << rss_start
                                << " -> peak " << rss_peak << " -> " << rss_end << " KiB");
  CHECK(all.errors == 0);
  CHECK(all.requests > 10);
  CHECK(all.P99() < kTimeScale * 5.0);
  CHECK(rss_peak < kMemoryScale * 768 * 1024);
  CHECK(rss_end < kMemoryScale * 256 * 1024);
  const auto stop_start = std::chrono::steady_clock::now();
  CHECK(server.Stop(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - stop_start < 10s);
}

}  // namespace
}  // namespace sovereign::test
