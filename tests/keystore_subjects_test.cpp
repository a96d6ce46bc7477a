// Per-subject keys and crypto-shredding on the embedded keystore: subject
// keys made on first use, tags that name them without naming the subject,
// shreds that make every value of a subject unrecoverable (kShredded, never
// invalid ciphertext), and how subjects live through rotation, destroy,
// root-key rotation, backup and restore.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "keystore/internal/audit_log.hpp"
#include "keystore/internal/backup.hpp"
#include "keystore/internal/keystore_dir.hpp"
#include "keystore/internal/root_rotation.hpp"
#include "sovereign/client.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

const FieldContext kEmail{"/email", std::nullopt};

FieldSpec For(std::string subject, Mode mode = Mode::kRandom, std::string label = "email") {
  FieldSpec spec{"us", "users", std::move(label), mode};
  spec.subject = std::move(subject);
  return spec;
}

struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  std::shared_ptr<EmbeddedKeystore> ks;
  Fixture() {
    auto init = EmbeddedKeystore::Init(dir, "us");
    REQUIRE(init.ok());
    ks = *init;
    REQUIRE(ks->CreateKey("users").ok());
  }
  // A fresh client each time: no cached key hides the keystore's answer.
  std::unique_ptr<Client> NewClient() {
    auto client = Client::New(ks);
    REQUIRE(client.ok());
    return std::move(client).value();
  }
  std::string Encrypt(const std::string& subject, const std::string& value) {
    auto ct = NewClient()->Encrypt(For(subject), value, kEmail);
    INFO(ct.status().ToString());
    REQUIRE(ct.ok());
    return *ct;
  }
  Result<std::string> Decrypt(const std::string& ct) { return NewClient()->Decrypt(ct, kEmail); }
  KeyInfo Key() {
    auto key = ks->GetKey("users");
    REQUIRE(key.ok());
    return *key;
  }
};

EnvelopeHeader HeaderOf(const std::string& text) {
  auto binary = FromText(text);
  REQUIRE(binary.ok());
  auto header = ParseEnvelopeHeader(*binary);
  REQUIRE(header.ok());
  return header->first;
}

std::vector<nlohmann::json> Audit(const fs::path& dir) {
  std::vector<nlohmann::json> out;
  for (const auto& line : test::ReadLines(dir / "audit.log")) out.push_back(nlohmann::json::parse(line));
  return out;
}

void CheckAuditVerifies(const fs::path& dir) {
  auto verified = ki::VerifyKeystoreAuditLog(dir);
  INFO(verified.status().ToString());
  CHECK(verified.ok());
}

TEST_CASE("subjects: values of a subject are sealed under its own key, named by a stable tag") {
  Fixture f;
  const std::string ann1 = f.Encrypt("user-ann", "ann@example.com");
  const std::string ann2 = f.Encrypt("user-ann", "ann@work.example");
  const std::string bob = f.Encrypt("user-bob", "bob@example.com");
  const EnvelopeHeader h = HeaderOf(ann1);
  REQUIRE(h.subject.has_value());
  CHECK(HeaderOf(ann2).subject == h.subject);
  CHECK(HeaderOf(bob).subject != h.subject);
  CHECK(f.Decrypt(ann1).value() == "ann@example.com");
  CHECK(f.Decrypt(ann2).value() == "ann@work.example");
  CHECK(f.Decrypt(bob).value() == "bob@example.com");
  // One key per subject (and version), whatever the number of values.
  CHECK(f.Key().subject_keys == 2);

  // Deterministic mode is deterministic per subject: equal values of one
  // subject are equal, of two subjects are not.
  auto client = f.NewClient();
  auto d1 = client->Encrypt(For("user-ann", Mode::kDeterministic), "x", kEmail);
  auto d2 = f.NewClient()->Encrypt(For("user-ann", Mode::kDeterministic), "x", kEmail);
  auto d3 = client->Encrypt(For("user-bob", Mode::kDeterministic), "x", kEmail);
  REQUIRE((d1.ok() && d2.ok() && d3.ok()));
  CHECK(*d1 == *d2);
  CHECK(*d1 != *d3);

  // The version's own key and the subject's are different keys: the value
  // sealed without a subject does not carry a tag and vice versa.
  auto plain = client->Encrypt({"us", "users", "email"}, "ann@example.com", kEmail);
  REQUIRE(plain.ok());
  CHECK_FALSE(HeaderOf(*plain).subject.has_value());
}

TEST_CASE("subjects: a shred makes every value of the subject unrecoverable, and only of that subject") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("orders").ok());
  const std::string ann = f.Encrypt("user-ann", "ann@example.com");
  const std::string bob = f.Encrypt("user-bob", "bob@example.com");
  auto plain = f.NewClient()->Encrypt({"us", "users", "email"}, "carol@example.com", kEmail);
  FieldSpec ann_orders = For("user-ann");
  ann_orders.key = "orders";
  auto order = f.NewClient()->Encrypt(ann_orders, "order-1", kEmail);
  REQUIRE((plain.ok() && order.ok()));

  auto shred = f.ks->ShredSubject("users", "user-ann", "erasure request 4521");
  INFO(shred.status().ToString());
  REQUIRE(shred.ok());
  CHECK(shred->key == "users");
  CHECK(shred->subject_keys_destroyed == 1);
  CHECK_FALSE(shred->already_shredded);
  CHECK(shred->subject_tag.size() == 32);

  auto gone = f.Decrypt(ann);
  CHECK(gone.code() == ErrorCode::kShredded);
  CHECK(gone.status().message().find("shredded") != std::string::npos);
  CHECK(f.Decrypt(bob).value() == "bob@example.com");
  CHECK(f.Decrypt(*plain).value() == "carol@example.com");
  // A shred is per key: the subject's values under another key are untouched.
  CHECK(f.Decrypt(*order).value() == "order-1");

  // No new key for a shredded subject: new data would resurrect it.
  CHECK(f.NewClient()->Encrypt(For("user-ann"), "ann@new.example", kEmail).code() == ErrorCode::kShredded);

  // Again: nothing left to destroy, said so, still ok.
  auto again = f.ks->ShredSubject("users", "user-ann", "");
  REQUIRE(again.ok());
  CHECK(again->already_shredded);
  CHECK(again->subject_keys_destroyed == 0);
  CHECK(again->subject_tag == shred->subject_tag);
  CHECK(f.Key().shredded_subjects == 1);
  CHECK(f.Key().subject_keys == 1);  // bob's

  // A subject never seen can be shredded too (the request may come first).
  auto unseen = f.ks->ShredSubject("users", "user-never", "");
  REQUIRE(unseen.ok());
  CHECK(unseen->subject_keys_destroyed == 0);
  CHECK(f.NewClient()->Encrypt(For("user-never"), "x", kEmail).code() == ErrorCode::kShredded);

  CHECK(f.ks->ShredSubject("nope", "user-ann", "").code() == ErrorCode::kKeyNotFound);
  CHECK(f.ks->ShredSubject("users", "", "").code() == ErrorCode::kInvalidArgument);
  CHECK(f.ks->ShredSubject("users", "user-ann", "bad\nreason").code() == ErrorCode::kInvalidArgument);
  CHECK(f.ks->ShredSubject("users", "user-ann", std::string(257, 'r')).code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("subjects: the audit log names subjects by tag only and records each shred with its reason") {
  Fixture f;
  const std::string subject = "ann.private@example.com";
  const std::string ct = f.Encrypt(subject, "secret-value");
  REQUIRE(f.Decrypt(ct).ok());
  auto shred = f.ks->ShredSubject("users", subject, "ticket GDPR-77");
  REQUIRE(shred.ok());
  CHECK(f.Decrypt(ct).code() == ErrorCode::kShredded);

  const std::string log = test::ReadFile(f.dir / "audit.log");
  CHECK(log.find(subject) == std::string::npos);
  CHECK(log.find("secret-value") == std::string::npos);
  int created = 0, shreds = 0, refused = 0;
  for (const auto& e : Audit(f.dir)) {
    if (e.value("subject_created", false)) ++created;
    if (e["op"] == "subject.shred") {
      ++shreds;
      CHECK(e["subject"] == shred->subject_tag);
      CHECK(e["note"] == "ticket GDPR-77");
      CHECK(e["key"] == "users");
    }
    if (e.value("outcome", "") == "error" && e.value("reason", "") == "shredded") {
      ++refused;
      CHECK(e["subject"] == shred->subject_tag);
    }
  }
  CHECK(created == 1);
  CHECK(shreds == 1);
  CHECK(refused == 1);  // the decrypt after the shred
  CheckAuditVerifies(f.dir);
  // The catalog holds no subject id either.
  CHECK(test::ReadFile(f.dir / "catalog.db").find(subject) == std::string::npos);
}

TEST_CASE("subjects: keys per version; a shred covers every version, before and after rotation") {
  Fixture f;
  const std::string v1 = f.Encrypt("user-ann", "one");
  REQUIRE(f.ks->RotateKey("users").ok());
  const std::string v2 = f.Encrypt("user-ann", "two");
  CHECK(HeaderOf(v1).key_version == 1);
  CHECK(HeaderOf(v2).key_version == 2);
  CHECK(HeaderOf(v1).subject == HeaderOf(v2).subject);  // the tag is the key's, not the version's
  CHECK(f.Decrypt(v1).value() == "one");
  CHECK(f.Decrypt(v2).value() == "two");
  CHECK(f.Key().subject_keys == 2);

  auto shred = f.ks->ShredSubject("users", "user-ann", "");
  REQUIRE(shred.ok());
  CHECK(shred->subject_keys_destroyed == 2);
  CHECK(f.Decrypt(v1).code() == ErrorCode::kShredded);
  CHECK(f.Decrypt(v2).code() == ErrorCode::kShredded);
  // A later version does not bring the subject back.
  REQUIRE(f.ks->RotateKey("users").ok());
  CHECK(f.NewClient()->Encrypt(For("user-ann"), "three", kEmail).code() == ErrorCode::kShredded);
}

TEST_CASE("subjects: a destroyed version takes its subject keys with it and reports the version, not a shred") {
  Fixture f;
  const std::string v1 = f.Encrypt("user-ann", "one");
  REQUIRE(f.ks->RotateKey("users").ok());
  const std::string v2 = f.Encrypt("user-ann", "two");
  REQUIRE(f.ks->DestroyVersion("users", 1).ok());
  CHECK(f.Key().subject_keys == 1);
  CHECK(f.Decrypt(v1).code() == ErrorCode::kKeyVersionUnusable);
  CHECK(f.Decrypt(v2).value() == "two");
}

TEST_CASE("subjects: tampering with the tag or moving a value between records fails without a plaintext") {
  Fixture f;
  const FieldContext ann_row{"/email", std::string("row-ann")};
  const FieldContext bob_row{"/email", std::string("row-bob")};
  auto client = f.NewClient();
  auto ann = client->Encrypt(For("user-ann"), "ann@example.com", ann_row);
  auto bob = client->Encrypt(For("user-bob"), "bob@example.com", bob_row);
  REQUIRE((ann.ok() && bob.ok()));
  CHECK(client->Decrypt(*ann, bob_row).code() == ErrorCode::kInvalidCiphertext);

  auto binary = FromText(*ann);
  REQUIRE(binary.ok());
  const std::size_t header_size = ParseEnvelopeHeader(*binary)->second;
  const std::size_t tag_at = header_size - kSubjectTagSize;
  // Bob's tag on Ann's value: Bob's key does not open it.
  {
    auto forged = *binary;
    const auto bob_tag = *HeaderOf(*bob).subject;
    std::copy(bob_tag.begin(), bob_tag.end(), forged.begin() + static_cast<std::ptrdiff_t>(tag_at));
    CHECK(client->Decrypt(ToText(forged), ann_row).code() == ErrorCode::kInvalidCiphertext);
  }
  // A tag no subject has: there is no key to try, and nothing leaks.
  {
    auto forged = *binary;
    forged[tag_at] ^= 0x01;
    auto r = client->Decrypt(ToText(forged), ann_row);
    CHECK_FALSE(r.ok());
    CHECK(r.code() != ErrorCode::kOk);
    CHECK(r.code() != ErrorCode::kShredded);
  }
  // Dropping the subject flag (a downgrade to the version's key) fails.
  {
    auto forged = *binary;
    forged[1] &= 0x7f;
    CHECK(client->Decrypt(ToText(forged), ann_row).code() == ErrorCode::kInvalidCiphertext);
  }
}

TEST_CASE("subjects: requests are checked before the keystore acts") {
  Fixture f;
  auto client = f.NewClient();
  CHECK(client->Encrypt(For(""), "x", kEmail).code() == ErrorCode::kInvalidArgument);
  CHECK(client->Encrypt(For(std::string(1025, 's')), "x", kEmail).code() == ErrorCode::kInvalidArgument);
  CHECK(client->Encrypt(For(std::string(1024, 's')), "x", kEmail).ok());
  CHECK(client->BlindIndex(For("user-ann"), "x").code() == ErrorCode::kInvalidArgument);
  FieldKeyRequest index;
  index.key_name = "users";
  index.label = "email";
  index.mode = Mode::kIndex;
  index.subject = "user-ann";
  CHECK(f.ks->FieldKeys({&index, 1}).at(0).code() == ErrorCode::kInvalidArgument);
  FieldKeyRequest both;
  both.key_name = "users";
  both.label = "email";
  both.subject = "user-ann";
  both.subject_tag = SubjectTag{};
  CHECK(f.ks->FieldKeys({&both, 1}).at(0).code() == ErrorCode::kInvalidArgument);
  // A subject id with any bytes, NUL included, is one subject.
  auto nul = client->Encrypt(For(std::string("a\0b", 3)), "x", kEmail);
  REQUIRE(nul.ok());
  CHECK(HeaderOf(*nul).subject != HeaderOf(*client->Encrypt(For("a"), "x", kEmail)).subject);
}

TEST_CASE("subjects: a batch of requests creates one key per subject, in order, duplicates included") {
  Fixture f;
  std::vector<std::string> subjects;
  for (int i = 0; i < 300; ++i) subjects.push_back(fmt::format("user-{}", i % 250));  // 50 repeated
  std::vector<FieldKeyRequest> requests(subjects.size());
  for (std::size_t i = 0; i < subjects.size(); ++i) {
    requests[i].key_name = "users";
    requests[i].label = "email";
    requests[i].subject = subjects[i];
  }
  auto keys = f.ks->FieldKeys(requests);
  REQUIRE(keys.size() == 300);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO(i << ": " << keys[i].status().ToString());
    REQUIRE(keys[i].ok());
    REQUIRE(keys[i]->subject_tag.has_value());
    if (i >= 250) {
      CHECK(keys[i]->subject_tag == keys[i - 250]->subject_tag);
      CHECK(keys[i]->key.Equals(keys[i - 250]->key));
    }
  }
  CHECK(f.Key().subject_keys == 250);
  // By tag, as a decryptor asks: the same keys.
  std::vector<FieldKeyRequest> by_tag(250);
  for (std::size_t i = 0; i < by_tag.size(); ++i) {
    by_tag[i].by_name = false;
    by_tag[i].key_id = keys[i]->key_id;
    by_tag[i].version = keys[i]->version;
    by_tag[i].label_id = keys[i]->label_id;
    by_tag[i].subject_tag = keys[i]->subject_tag;
  }
  auto again = f.ks->FieldKeys(by_tag);
  for (std::size_t i = 0; i < by_tag.size(); ++i) {
    REQUIRE(again[i].ok());
    CHECK(again[i]->key.Equals(keys[i]->key));
  }
  // A tag the catalog does not hold: not found, and no key is made for it.
  by_tag[0].subject_tag->at(0) ^= 0xff;
  CHECK(f.ks->FieldKeys({&by_tag[0], 1}).at(0).code() == ErrorCode::kKeyNotFound);
  CHECK(f.Key().subject_keys == 250);
  CheckAuditVerifies(f.dir);
}

TEST_CASE("subjects: concurrent first uses of the same subjects create each key once") {
  Fixture f;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> sealed(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto client = Client::New(f.ks);
      if (!client.ok()) return void(++failures);
      for (int i = 0; i < 40; ++i) {
        auto ct = (*client)->Encrypt(For(fmt::format("user-{}", i)), fmt::format("v{}-{}", t, i), kEmail);
        if (!ct.ok()) return void(++failures);
        sealed[t].push_back(*ct);
      }
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failures == 0);
  CHECK(f.Key().subject_keys == 40);
  auto client = f.NewClient();
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 40; ++i) CHECK(client->Decrypt(sealed[t][i], kEmail).value() == fmt::format("v{}-{}", t, i));
  }
}

TEST_CASE("subjects: prefetching a chunk's subjects fetches them in batches and serves later calls") {
  Fixture f;
  constexpr int kSubjects = 20000;
  std::vector<FieldSpec> specs;
  for (int i = 0; i < kSubjects; ++i) specs.push_back(For(fmt::format("user-{}", i)));
  auto client = f.NewClient();
  const auto start = std::chrono::steady_clock::now();
  client->PrefetchKeys(specs);
  const double prefetch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto audit_lines = test::ReadLines(f.dir / "audit.log").size();
  std::vector<std::string> sealed;
  for (int i = 0; i < kSubjects; ++i) {
    auto ct = client->Encrypt(specs[i], fmt::format("value-{}", i), kEmail);
    REQUIRE(ct.ok());
    sealed.push_back(*ct);
  }
  // Every key came from the prefetch: encrypting asked the keystore nothing.
  CHECK(test::ReadLines(f.dir / "audit.log").size() == audit_lines);
  CHECK(f.Key().subject_keys == kSubjects);
  WARN(fmt::format("prefetched {} new subject keys in {:.2f} s ({:.0f}/s)", kSubjects, prefetch_s,
                   kSubjects / prefetch_s));

  auto reader = f.NewClient();
  std::vector<std::string_view> texts(sealed.begin(), sealed.end());
  reader->PrefetchKeysFor(texts);
  const auto before = test::ReadLines(f.dir / "audit.log").size();
  for (int i = 0; i < kSubjects; ++i) REQUIRE(reader->Decrypt(sealed[i], kEmail).value() == fmt::format("value-{}", i));
  CHECK(test::ReadLines(f.dir / "audit.log").size() == before);
}

TEST_CASE("subjects: root-key rotation re-wraps the subject secrets; subjects keep working and shredding") {
  Fixture f;
  const std::string ann = f.Encrypt("user-ann", "ann@example.com");
  const std::string bob = f.Encrypt("user-bob", "bob@example.com");
  f.ks.reset();
  auto rotated = ki::RotateRootKey(f.dir, "unix:operator");
  INFO(rotated.status().ToString());
  REQUIRE(rotated.ok());
  auto reopened = EmbeddedKeystore::Open(f.dir);
  REQUIRE(reopened.ok());
  f.ks = *reopened;
  CHECK(f.Decrypt(ann).value() == "ann@example.com");
  const std::string ann2 = f.Encrypt("user-ann", "again");
  CHECK(HeaderOf(ann2).subject == HeaderOf(ann).subject);
  REQUIRE(f.ks->ShredSubject("users", "user-bob", "").value().subject_keys_destroyed == 1);
  CHECK(f.Decrypt(bob).code() == ErrorCode::kShredded);
  CheckAuditVerifies(f.dir);
}

TEST_CASE("subjects: a restored backup decrypts what the original could and keeps its shreds") {
  Fixture f;
  const std::string ann = f.Encrypt("user-ann", "ann@example.com");
  const std::string bob = f.Encrypt("user-bob", "bob@example.com");
  REQUIRE(f.ks->ShredSubject("users", "user-bob", "").ok());
  const fs::path backup = f.tmp.path() / "ks.backup";
  const fs::path root_copy = f.tmp.path() / "root.key.copy";
  test::WriteFile(root_copy, test::ReadFile(f.dir / "root.key"));
  fs::permissions(root_copy, fs::perms::owner_read | fs::perms::owner_write);
  REQUIRE(ki::BackupKeystore(f.dir, backup, "unix:operator").ok());
  const fs::path restored = f.tmp.path() / "restored";
  auto done = ki::RestoreKeystore(backup, restored, root_copy, "unix:operator");
  INFO(done.status().ToString());
  REQUIRE(done.ok());
  auto copy = EmbeddedKeystore::Open(restored);
  REQUIRE(copy.ok());
  auto client = Client::New(*copy);
  REQUIRE(client.ok());
  CHECK((*client)->Decrypt(ann, kEmail).value() == "ann@example.com");
  CHECK((*client)->Decrypt(bob, kEmail).code() == ErrorCode::kShredded);
}

}  // namespace
}  // namespace sovereign

namespace sovereign {
namespace {

TEST_CASE("subjects: a process still on the old root key makes no subject secret nobody could unwrap") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("orders").ok());
  auto rotated = ki::RotateRootKey(f.dir, "unix:operator");  // while f.ks stays open on the old key
  REQUIRE(rotated.ok());
  FieldSpec spec = For("user-ann");
  spec.key = "orders";
  auto stale = f.NewClient()->Encrypt(spec, "x", kEmail);
  CHECK(stale.code() == ErrorCode::kFailedPrecondition);
  CHECK(f.ks->ShredSubject("orders", "user-ann", "").code() == ErrorCode::kFailedPrecondition);
  // After the restart the key's subjects work, and root rotation still succeeds.
  f.ks.reset();
  auto reopened = EmbeddedKeystore::Open(f.dir);
  REQUIRE(reopened.ok());
  f.ks = *reopened;
  auto sealed = f.NewClient()->Encrypt(spec, "x", kEmail);
  INFO(sealed.status().ToString());
  REQUIRE(sealed.ok());
  CHECK(f.Decrypt(*sealed).value() == "x");
  f.ks.reset();
  CHECK(ki::RotateRootKey(f.dir, "unix:operator").ok());
}

TEST_CASE("subjects: SubjectTagOf names the key a subject's values carry") {
  Fixture f;
  auto client = f.NewClient();
  const std::string ct = f.Encrypt("user-ann", "x");
  auto tag = client->SubjectTagOf(For("user-ann"));
  REQUIRE(tag.ok());
  CHECK(*tag == *HeaderOf(ct).subject);
  CHECK(client->SubjectTagOf(For("user-bob")).value() != *tag);
  CHECK(client->SubjectTagOf({"us", "users", "email"}).code() == ErrorCode::kInvalidArgument);
  // Labels and subjects that would collide if joined naively are different keys.
  FieldSpec a{"us", "users", std::string("a\0b", 3)};
  a.subject = "c";
  CHECK(client->Encrypt(a, "x", kEmail).code() == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sovereign
