// A small application: protect the sensitive fields of a user record with
// Sovereign before storing it, read them back, and look a user up by email
// through a blind index without decrypting anything.
//
//   example_app KEYSTORE_DIR          (the keystore must exist; the key "users" is created if missing)
#include <cstdio>
#include <string>

#include "sovereign/sovereign.hpp"

namespace {

int Fail(const sovereign::Status& status) {
  std::fprintf(stderr, "example_app: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: example_app KEYSTORE_DIR\n");
    return 2;
  }
  auto keystore = sovereign::EmbeddedKeystore::Open(argv[1]);
  if (!keystore.ok()) return Fail(keystore.status());
  if (auto key = (*keystore)->GetKey("users"); !key.ok()) {
    if (key.code() != sovereign::ErrorCode::kKeyNotFound) return Fail(key.status());
    if (auto created = (*keystore)->CreateKey("users"); !created.ok()) return Fail(created.status());
  }
  auto client = sovereign::Client::New(*keystore);
  if (!client.ok()) return Fail(client.status());
  const std::string region = (*keystore)->region();

  // The record id binds each random-mode ciphertext to its record.
  const std::string user_id = "user-1042";
  const sovereign::FieldSpec email{region, "users", "email", sovereign::Mode::kDeterministic};
  const sovereign::FieldSpec phone{region, "users", "phone", sovereign::Mode::kRandom};

  auto email_ct = (*client)->Encrypt(email, "ann@example.com", {"/email", std::nullopt});
  auto phone_ct = (*client)->Encrypt(phone, "+1 555 0100", {"/phone", user_id});
  auto email_index = (*client)->BlindIndex(email, "Ann@Example.com ");
  if (!email_ct.ok()) return Fail(email_ct.status());
  if (!phone_ct.ok()) return Fail(phone_ct.status());
  if (!email_index.ok()) return Fail(email_index.status());
  std::printf("stored email:       %s\n", email_ct->c_str());
  std::printf("stored phone:       %s\n", phone_ct->c_str());
  std::printf("email blind index:  %s\n", email_index->c_str());

  auto phone_pt = (*client)->Decrypt(*phone_ct, {"/phone", user_id});
  if (!phone_pt.ok()) return Fail(phone_pt.status());
  std::printf("decrypted phone:    %s\n", phone_pt->c_str());

  // The same ciphertext presented as another user's phone is refused.
  auto moved = (*client)->Decrypt(*phone_ct, {"/phone", std::string("user-7")});
  std::printf("moved to user-7:    %s\n", moved.ok() ? "DECRYPTED (bug)" : moved.status().ToString().c_str());
  return moved.ok() ? 1 : 0;
}
