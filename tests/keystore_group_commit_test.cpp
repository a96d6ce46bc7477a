// Group commit of field key issues: concurrent issuers share one audit
// append and one commit, yet every key still has its own durable audit
// entry, the log verifies, and a failed write fails the whole group closed.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/service_keystore.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

namespace fs = std::filesystem;
namespace ki = keystore_internal;

constexpr int kThreads = 16;
constexpr int kPerThread = 50;

struct Fixture {
  test::TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  fs::path log = dir / "audit.log";
  std::shared_ptr<EmbeddedKeystore> ks;
  Fixture() {
    auto init = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(init.ok());
    ks = *init;
    REQUIRE(ks->CreateKey("users").ok());
    REQUIRE(ks->PrimaryFieldKey("users", Mode::kDeterministic, "email").ok());  // label id 1
  }
};

// Issue runs request `i` of a thread: by name (some with new labels), by id,
// and every tenth an unknown version (refused, and recorded as such).
Result<FieldKeyMaterial> Issue(EmbeddedKeystore& ks, int thread, int i) {
  if (i % 10 == 9) return ks.FieldKey(1, 9, Mode::kRandom, 1);
  if (i % 2 == 0) return ks.PrimaryFieldKey("users", Mode::kDeterministic, "label-" + std::to_string(thread % 4));
  return ks.FieldKey(1, 1, Mode::kDeterministic, 1);
}

TEST_CASE("concurrent issuers all get keys and every key has exactly one audit entry") {
  Fixture f;
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::vector<FieldKeyMaterial>> keys(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto key = Issue(*f.ks, t, i);
        if (key.ok()) {
          ++ok;
          keys[t].push_back(std::move(key).value());
        } else if (key.code() == ErrorCode::kKeyNotFound) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(other == 0);
  CHECK(ok == kThreads * kPerThread * 9 / 10);
  CHECK(refused == kThreads * kPerThread / 10);

  // Same (key, version, mode, label): same field key, whichever group issued it.
  std::map<std::string, std::string> by_label;
  for (const auto& per_thread : keys) {
    for (const FieldKeyMaterial& k : per_thread) {
      const auto bytes = k.key.bytes(InsecureSecretKeyAccess::Get());
      std::string b(bytes.begin(), bytes.end());
      auto [it, inserted] = by_label.emplace(k.label, b);
      CHECK(it->second == b);
    }
  }
  CHECK(by_label.size() == 5);  // email + label-0..3

  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  INFO(v.status().ToString());
  REQUIRE(v.ok());
  CHECK(v->beyond_head == 0);
  CHECK(v->entries == 3u + kThreads * kPerThread);  // init, create, first issue
  int issued = 0, errors = 0;
  for (const auto& line : test::ReadLines(f.log)) {
    auto e = nlohmann::json::parse(line);
    if (e["op"] != "field_key.issue") continue;
    (e["outcome"] == "ok" ? issued : errors) += 1;
  }
  CHECK(issued == ok + 1);
  CHECK(errors == refused);
}

TEST_CASE("a failed group append fails every request of the group closed, with no key") {
  Fixture f;
  const std::string before = test::ReadFile(f.log);
  for (std::uintmax_t extra : {0u, 25u}) {  // nothing written, and a partial line written
    CAPTURE(extra);
    auto dir = f.dir;
    int code = test::RunWithFileSizeLimit(f.log, extra, [&dir] {
      auto ks = EmbeddedKeystore::Open(dir);
      if (!ks.ok()) return 2;
      std::atomic<int> keys{0}, unavailable{0}, other{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < 5; ++i) {
            auto key = Issue(**ks, t, i);
            if (key.ok()) ++keys;
            else if (key.code() == ErrorCode::kKeystoreUnavailable) ++unavailable;
            else ++other;
          }
        });
      }
      for (auto& th : threads) th.join();
      if (keys != 0) return 3;
      if (other != 0) return 4;
      if (unavailable != kThreads * 5) return 5;
      return 0;
    });
    CHECK(code == 0);
    CHECK(test::ReadFile(f.log) == before);
  }
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(v.ok());
  CHECK(v->entries == 3);
  // The new labels of the failed groups were rolled back with them.
  CHECK(f.ks->FieldKey(1, 1, Mode::kRandom, 2).code() == ErrorCode::kKeyNotFound);
  CHECK(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
}

// Simulates a crash between a group's fsync and its commit: the head is
// `behind` entries short of the log's end.
void RollHeadBack(const Fixture& f, std::size_t behind) {
  auto lines = test::ReadLines(f.log);
  const std::size_t seq = lines.size() - behind;
  auto hash = nlohmann::json::parse(lines[seq])["prev"].get<std::string>();
  test::Sql(f.dir, "UPDATE audit_head SET seq = " + std::to_string(seq) + ", hash = '" + hash + "'");
}

TEST_CASE("a whole group written before a crash stopped its commit is adopted") {
  Fixture f;
  for (int i = 0; i < 20; ++i) REQUIRE(f.ks->FieldKey(1, 1, Mode::kRandom, 1).ok());
  RollHeadBack(f, 20);
  REQUIRE(f.ks->FieldKey(1, 1, Mode::kRandom, 1).ok());
  auto v = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(v.ok());
  CHECK(v->entries == 24);
  CHECK(v->beyond_head == 0);
}

TEST_CASE("more entries past the head than one append writes, or a broken chain past it, fail closed") {
  Fixture f;
  for (std::size_t i = 0; i < ki::kMaxAppendEntries + 1; ++i) REQUIRE(f.ks->FieldKey(1, 1, Mode::kRandom, 1).ok());
  RollHeadBack(f, ki::kMaxAppendEntries + 1);
  auto r = f.ks->FieldKey(1, 1, Mode::kRandom, 1);
  CHECK(r.code() == ErrorCode::kKeystoreUnavailable);
  CHECK_THAT(r.status().message(), Catch::Contains("audit head"));

  Fixture g;
  for (int i = 0; i < 3; ++i) REQUIRE(g.ks->FieldKey(1, 1, Mode::kRandom, 1).ok());
  RollHeadBack(g, 3);
  auto lines = test::ReadLines(g.log);
  std::swap(lines[lines.size() - 2], lines[lines.size() - 3]);  // still MAC'd, no longer chained
  test::WriteLines(g.log, lines);
  CHECK(g.ks->FieldKey(1, 1, Mode::kRandom, 1).code() == ErrorCode::kKeystoreUnavailable);
}


TEST_CASE("a batch of field key requests gets one result per request, in order, each audited once") {
  Fixture f;
  f.ks.reset();
  auto opened = ki::OpenServiceKeystore(f.dir, {});
  REQUIRE(opened.ok());
  // 150 requests: more than one group holds. Every fifth names an unknown
  // key (refused and recorded), every seventh has a malformed label (answered
  // before the queue, not recorded), the rest are by name or by id.
  std::vector<std::string> labels;
  for (int i = 0; i < 150; ++i) labels.push_back(i % 7 == 6 ? "bad label!" : "label-" + std::to_string(i % 3));
  std::vector<ki::FieldKeyRequest> requests(150);
  int recorded = 0;
  for (int i = 0; i < 150; ++i) {
    ki::FieldKeyRequest& r = requests[static_cast<std::size_t>(i)];
    r.mode = Mode::kRandom;
    if (i % 7 != 6 && i % 2 == 1) {
      r.by_name = false;
      r.key_id = 1;
      r.version = 1;
      r.label_id = 1;
    } else {
      r.key_name = i % 5 == 4 ? "nobody" : "users";
      r.label = labels[static_cast<std::size_t>(i)];
    }
    if (i % 7 != 6) ++recorded;
  }
  const auto before = test::ReadLines(f.log).size();
  auto results = opened->service->FieldKeysAs("spiffe://corp/region/us/svc/batch", "lease", requests);
  REQUIRE(results.size() == requests.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    INFO("request " << i);
    if (i % 7 == 6) {
      CHECK(results[i].code() == ErrorCode::kInvalidArgument);
    } else if (requests[i].by_name && requests[i].key_name == "nobody") {
      CHECK(results[i].code() == ErrorCode::kKeyNotFound);
    } else {
      REQUIRE(results[i].ok());
      CHECK(results[i]->label == (requests[i].by_name ? std::string(requests[i].label) : std::string("email")));
    }
  }
  auto lines = test::ReadLines(f.log);
  CHECK(lines.size() - before == static_cast<std::size_t>(recorded));
  auto verified = ki::VerifyKeystoreAuditLog(f.dir);
  REQUIRE(verified.ok());
  CHECK(verified->beyond_head == 0);
}

}  // namespace
}  // namespace sovereign
