// Keys, versions, labels and field keys of the embedded keystore.
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "keystore/internal/catalog.hpp"
#include "keystore/internal/root_key.hpp"
#include "keystore/internal/wrap.hpp"
#include "sovereign/keystore.hpp"
#include "tests/keystore_test_util.hpp"
#include "tests/support/test_support.hpp"

namespace sovereign {
namespace {

using test::Sql;
using test::TempDir;
namespace fs = std::filesystem;
namespace ki = keystore_internal;

struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "ks";
  std::shared_ptr<EmbeddedKeystore> ks;
  Fixture() {
    auto init = EmbeddedKeystore::Init(dir, "us");
    INFO(init.status().ToString());
    REQUIRE(init.ok());
    ks = *init;
  }
};

TEST_CASE("create and rotate number versions from 1 and make the newest primary") {
  Fixture f;
  auto created = f.ks->CreateKey("users");
  REQUIRE(created.ok());
  CHECK(created->name == "users");
  CHECK(created->id == 1);
  CHECK(created->primary_version == 1);
  REQUIRE(created->versions.size() == 1);
  CHECK(created->versions[0].version == 1);
  CHECK(created->versions[0].state == KeyVersionState::kEnabled);

  auto rotated = f.ks->RotateKey("users");
  REQUIRE(rotated.ok());
  CHECK(rotated->primary_version == 2);
  REQUIRE(rotated->versions.size() == 2);
  CHECK(rotated->versions[0].version == 1);
  CHECK(rotated->versions[0].state == KeyVersionState::kEnabled);  // older versions still decrypt
  CHECK(rotated->versions[1].version == 2);

  REQUIRE(f.ks->CreateKey("payments").ok());
  auto list = f.ks->ListKeys();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "users");
  CHECK((*list)[0].id == 1);
  CHECK((*list)[0].primary_version == 2);
  CHECK((*list)[1].name == "payments");
  CHECK((*list)[1].id == 2);

  auto got = f.ks->GetKey("users");
  REQUIRE(got.ok());
  CHECK(got->versions.size() == 2);
}

TEST_CASE("create of an existing key is kAlreadyExists; unknown keys are kKeyNotFound naming the key") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  CHECK(f.ks->CreateKey("users").code() == ErrorCode::kAlreadyExists);
  auto rotate = f.ks->RotateKey("nobody");
  CHECK(rotate.code() == ErrorCode::kKeyNotFound);
  CHECK_THAT(rotate.status().message(), Catch::Contains("'nobody'"));
  CHECK(f.ks->GetKey("nobody").code() == ErrorCode::kKeyNotFound);
  auto issue = f.ks->PrimaryFieldKey("nobody", Mode::kRandom, "email");
  CHECK(issue.code() == ErrorCode::kKeyNotFound);
  CHECK_THAT(issue.status().message(), Catch::Contains("'nobody'"));
}

TEST_CASE("names and labels are validated") {
  Fixture f;
  for (std::string_view bad : {std::string_view(""), std::string_view("Users"), std::string_view("1users"), std::string_view("us ers"), std::string_view("users!"), std::string_view("a\0b", 3)}) {
    CHECK(f.ks->CreateKey(bad).code() == ErrorCode::kInvalidArgument);
  }
  CHECK(f.ks->CreateKey(std::string(65, 'a')).code() == ErrorCode::kInvalidArgument);
  CHECK(f.ks->CreateKey(std::string(64, 'a')).ok());
  REQUIRE(f.ks->CreateKey("users").ok());
  for (std::string_view bad : {"", "e mail", "email/x", "é"}) {
    CHECK(f.ks->PrimaryFieldKey("users", Mode::kRandom, bad).code() == ErrorCode::kInvalidArgument);
  }
  CHECK(f.ks->PrimaryFieldKey("users", Mode::kRandom, "Contact.e-mail_2").ok());
  CHECK(f.ks->PrimaryFieldKey("users", static_cast<Mode>(9), "email").code() == ErrorCode::kInvalidArgument);
  CHECK(KeyVersionStateName(KeyVersionState::kRetired) == "retired");
}

TEST_CASE("a field key is reproducible from the ids its envelope carries") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  for (Mode mode : {Mode::kRandom, Mode::kDeterministic, Mode::kIndex}) {
    auto primary = f.ks->PrimaryFieldKey("users", mode, "email");
    REQUIRE(primary.ok());
    CHECK(primary->region == "us");
    CHECK(primary->key_name == "users");
    CHECK(primary->key_id == 1);
    CHECK(primary->version == 1);
    CHECK(primary->mode == mode);
    CHECK(primary->label == "email");
    CHECK(primary->label_id == 1);
    CHECK(primary->key.size() == FieldKeySize(mode));
    CHECK(primary->expires_at > std::chrono::system_clock::now() + std::chrono::seconds(200));
    auto again = f.ks->FieldKey(1, 1, mode, primary->label_id);
    REQUIRE(again.ok());
    CHECK(again->key.Equals(primary->key));
    CHECK(again->label == "email");
  }
  auto email = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  auto ssn = f.ks->PrimaryFieldKey("users", Mode::kRandom, "ssn");
  REQUIRE((email.ok() && ssn.ok()));
  CHECK(ssn->label_id == 2);
  CHECK_FALSE(email->key.Equals(ssn->key));

  REQUIRE(f.ks->RotateKey("users").ok());
  auto v2 = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  REQUIRE(v2.ok());
  CHECK(v2->version == 2);
  CHECK_FALSE(v2->key.Equals(email->key));
  auto v1 = f.ks->FieldKey(1, 1, Mode::kRandom, 1);
  REQUIRE(v1.ok());
  CHECK(v1->key.Equals(email->key));
}

TEST_CASE("FieldKey of an unknown key, version or label is kKeyNotFound") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  REQUIRE(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
  CHECK(f.ks->FieldKey(7, 1, Mode::kRandom, 1).code() == ErrorCode::kKeyNotFound);
  CHECK(f.ks->FieldKey(1, 2, Mode::kRandom, 1).code() == ErrorCode::kKeyNotFound);
  CHECK(f.ks->FieldKey(1, 0, Mode::kRandom, 1).code() == ErrorCode::kKeyNotFound);
  auto label = f.ks->FieldKey(1, 1, Mode::kRandom, 9);
  CHECK(label.code() == ErrorCode::kKeyNotFound);
  CHECK_THAT(label.status().message(), Catch::Contains("label id 9"));
}

TEST_CASE("disabled, retired and destroyed versions are kKeyVersionUnusable naming the state") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  REQUIRE(f.ks->RotateKey("users").ok());
  REQUIRE(f.ks->RotateKey("users").ok());
  REQUIRE(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());
  Sql(f.dir, "UPDATE key_versions SET state = 'disabled' WHERE key_id = 1 AND version = 2");
  auto disabled = f.ks->FieldKey(1, 2, Mode::kRandom, 1);
  CHECK(disabled.code() == ErrorCode::kKeyVersionUnusable);
  CHECK_THAT(disabled.status().message(), Catch::Contains("disabled"));
  Sql(f.dir, "UPDATE keys SET min_decrypt_version = 2 WHERE id = 1");
  auto retired = f.ks->FieldKey(1, 1, Mode::kRandom, 1);
  CHECK(retired.code() == ErrorCode::kKeyVersionUnusable);
  CHECK_THAT(retired.status().message(), Catch::Contains("retired"));
  auto info = f.ks->GetKey("users");
  REQUIRE(info.ok());
  CHECK(info->versions[0].state == KeyVersionState::kRetired);
  CHECK(info->versions[1].state == KeyVersionState::kDisabled);
  Sql(f.dir, "UPDATE key_versions SET state = 'destroyed', wrapped = NULL WHERE key_id = 1 AND version = 3");
  auto destroyed = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  CHECK(destroyed.code() == ErrorCode::kKeyVersionUnusable);
  CHECK_THAT(destroyed.status().message(), Catch::Contains("destroyed"));
}

TEST_CASE("label ids are stable across reopen") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  auto email = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
  auto ssn = f.ks->PrimaryFieldKey("users", Mode::kDeterministic, "ssn");
  REQUIRE((email.ok() && ssn.ok()));
  f.ks.reset();
  auto reopened = EmbeddedKeystore::Open(f.dir);
  REQUIRE(reopened.ok());
  auto ssn2 = (*reopened)->PrimaryFieldKey("users", Mode::kDeterministic, "ssn");
  REQUIRE(ssn2.ok());
  CHECK(ssn2->label_id == ssn->label_id);
  CHECK(ssn2->key.Equals(ssn->key));
  auto by_id = (*reopened)->FieldKey(email->key_id, email->version, Mode::kRandom, email->label_id);
  REQUIRE(by_id.ok());
  CHECK(by_id->label == "email");
  CHECK(by_id->key.Equals(email->key));
}

TEST_CASE("a wrapped secret moved to another version or key fails to unwrap instead of giving a wrong key") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  REQUIRE(f.ks->RotateKey("users").ok());
  REQUIRE(f.ks->CreateKey("payments").ok());
  REQUIRE(f.ks->PrimaryFieldKey("users", Mode::kRandom, "email").ok());

  SECTION("version 1's blob copied over version 2") {
    Sql(f.dir,
        "UPDATE key_versions SET wrapped = (SELECT wrapped FROM key_versions WHERE key_id = 1 AND version = 1) "
        "WHERE key_id = 1 AND version = 2");
    auto r = f.ks->PrimaryFieldKey("users", Mode::kRandom, "email");
    CHECK(r.code() == ErrorCode::kInternal);
    CHECK_THAT(r.status().message(), Catch::Contains("failed authentication"));
    CHECK(f.ks->FieldKey(1, 1, Mode::kRandom, 1).ok());  // the original is untouched
  }
  SECTION("key users' blob copied over key payments") {
    Sql(f.dir,
        "UPDATE key_versions SET wrapped = (SELECT wrapped FROM key_versions WHERE key_id = 1 AND version = 1) "
        "WHERE key_id = 2 AND version = 1");
    CHECK(f.ks->PrimaryFieldKey("payments", Mode::kRandom, "email").code() == ErrorCode::kInternal);
  }
  SECTION("versions 1 and 2 swapped") {
    Sql(f.dir,
        "CREATE TEMP TABLE old AS SELECT version, wrapped FROM key_versions WHERE key_id = 1; "
        "UPDATE key_versions SET wrapped = (SELECT wrapped FROM old WHERE old.version = 3 - key_versions.version) "
        "WHERE key_id = 1");
    CHECK(f.ks->FieldKey(1, 1, Mode::kRandom, 1).code() == ErrorCode::kInternal);
    CHECK(f.ks->FieldKey(1, 2, Mode::kRandom, 1).code() == ErrorCode::kInternal);
  }
}

TEST_CASE("a wrapped secret does not unwrap for another region, key id or version") {
  SecretBytes root = SecretBytes::Random(32);
  SecretBytes secret = SecretBytes::Random(32);
  auto wrapped = ki::WrapSecret(root, ki::KeyVersionAssociatedData("us", 1, 2), secret);
  REQUIRE(wrapped.ok());
  auto ok = ki::UnwrapSecret(root, ki::KeyVersionAssociatedData("us", 1, 2), *wrapped, "k");
  REQUIRE(ok.ok());
  CHECK(ok->Equals(secret));
  CHECK_FALSE(ki::UnwrapSecret(root, ki::KeyVersionAssociatedData("eu", 1, 2), *wrapped, "k").ok());
  CHECK_FALSE(ki::UnwrapSecret(root, ki::KeyVersionAssociatedData("us", 2, 2), *wrapped, "k").ok());
  CHECK_FALSE(ki::UnwrapSecret(root, ki::KeyVersionAssociatedData("us", 1, 1), *wrapped, "k").ok());
  CHECK_FALSE(ki::UnwrapSecret(SecretBytes::Random(32), ki::KeyVersionAssociatedData("us", 1, 2), *wrapped, "k").ok());
  for (std::size_t i = 0; i < wrapped->size(); ++i) {
    auto flipped = *wrapped;
    flipped[i] ^= 0x01;
    CHECK_FALSE(ki::UnwrapSecret(root, ki::KeyVersionAssociatedData("us", 1, 2), flipped, "k").ok());
  }
}

TEST_CASE("the catalog holds no unwrapped version secret or field key") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  REQUIRE(f.ks->RotateKey("users").ok());
  std::vector<SecretBytes> field_keys;
  for (Mode mode : {Mode::kRandom, Mode::kDeterministic, Mode::kIndex}) {
    auto fk = f.ks->PrimaryFieldKey("users", mode, "email");
    REQUIRE(fk.ok());
    field_keys.push_back(std::move(fk->key));
  }
  // Recover the version secrets the way the keystore does, to look for them.
  auto root = ki::LoadRootKeyFile(f.dir);
  REQUIRE(root.ok());
  auto catalog = ki::Catalog::Open(f.dir / "catalog.db");
  REQUIRE(catalog.ok());
  std::vector<SecretBytes> secrets;
  for (std::uint32_t version : {1u, 2u}) {
    auto row = catalog->FindVersion(1, version);
    REQUIRE((row.ok() && row->has_value()));
    auto secret = ki::UnwrapSecret(*root, ki::KeyVersionAssociatedData("us", 1, version), *(**row).wrapped, "k");
    REQUIRE(secret.ok());
    secrets.push_back(std::move(secret).value());
  }
  std::string files;
  for (const char* name : {"catalog.db", "catalog.db-wal", "audit.log"}) {
    if (fs::exists(f.dir / name)) files += test::ReadFile(f.dir / name);
  }
  auto token = InsecureSecretKeyAccess::Get();
  CHECK_FALSE(test::Contains(files, root->bytes(token)));
  for (const auto& s : secrets) CHECK_FALSE(test::Contains(files, s.bytes(token)));
  for (const auto& k : field_keys) CHECK_FALSE(test::Contains(files, k.bytes(token)));
}

TEST_CASE("eight threads issuing field keys concurrently all get the same, correct keys") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  auto reference = f.ks->PrimaryFieldKey("users", Mode::kRandom, "label0");
  REQUIRE(reference.ok());
  std::atomic<int> failures{0};
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const std::string label = "label" + std::to_string((t + i) % 4);
        auto fk = f.ks->PrimaryFieldKey("users", Mode::kRandom, label);
        if (!fk.ok()) {
          ++failures;
          continue;
        }
        if (label == "label0" && !fk->key.Equals(reference->key)) ++mismatches;
        auto again = f.ks->FieldKey(fk->key_id, fk->version, Mode::kRandom, fk->label_id);
        if (!again.ok() || !again->key.Equals(fk->key) || again->label != label) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(mismatches == 0);
  // Four labels, each registered exactly once.
  auto catalog = ki::Catalog::Open(f.dir / "catalog.db");
  REQUIRE(catalog.ok());
  for (int i = 0; i < 4; ++i) {
    auto id = catalog->FindLabelId("label" + std::to_string(i));
    REQUIRE((id.ok() && id->has_value()));
  }
  CHECK(test::ReadLines(f.dir / "audit.log").size() == 1 + 1 + 1 + 8 * 20 * 2);
}

TEST_CASE("two keystore objects on one directory rotating at once keep versions consistent") {
  Fixture f;
  REQUIRE(f.ks->CreateKey("users").ok());
  auto other = EmbeddedKeystore::Open(f.dir);
  REQUIRE(other.ok());
  std::atomic<int> failures{0};
  auto rotate = [&](EmbeddedKeystore& ks) {
    for (int i = 0; i < 10; ++i) {
      if (!ks.RotateKey("users").ok()) ++failures;
      if (!ks.PrimaryFieldKey("users", Mode::kRandom, "email").ok()) ++failures;
    }
  };
  std::thread a([&] { rotate(*f.ks); });
  std::thread b([&] { rotate(**other); });
  a.join();
  b.join();
  CHECK(failures == 0);
  auto from_a = f.ks->GetKey("users");
  auto from_b = (*other)->GetKey("users");
  REQUIRE((from_a.ok() && from_b.ok()));
  CHECK(from_a->primary_version == 21);
  CHECK(from_b->primary_version == 21);
  REQUIRE(from_a->versions.size() == 21);
  for (std::uint32_t i = 0; i < 21; ++i) CHECK(from_a->versions[i].version == i + 1);
  // Every version unwraps, whichever object created it.
  for (std::uint32_t v = 1; v <= 21; ++v) CHECK((*other)->FieldKey(1, v, Mode::kRandom, 1).ok());
}

}  // namespace
}  // namespace sovereign
