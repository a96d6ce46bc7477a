// Protecting one JSON record with a field policy, from application code.
//
//   sovereign_example_pipeline_record /tmp/example-keystore
//
// Creates a throw-away embedded keystore (region "us", key "users") if the
// directory does not exist, protects a user record, prints it, and reads it back.
#include <cstdio>
#include <filesystem>

#include <sovereign/keystore.hpp>
#include <sovereign/policy.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s KEYSTORE_DIR\n", argv[0]);
    return 2;
  }
  auto keystore = std::filesystem::exists(argv[1]) ? sovereign::EmbeddedKeystore::Open(argv[1])
                                                   : sovereign::EmbeddedKeystore::Init(argv[1], "us");
  if (!keystore.ok()) return std::fprintf(stderr, "%s\n", keystore.status().ToString().c_str()), 1;
  (void)(*keystore)->CreateKey("users");  // kAlreadyExists on later runs
  auto client = sovereign::Client::New(*keystore);
  if (!client.ok()) return 1;

  auto policy = sovereign::FieldPolicy::Parse(R"({
    "region": "us", "record_id": "/id",
    "fields": [{"path": "/email", "key": "users", "mode": "deterministic",
                "index": {"path": "/email_index", "bits": 32}},
               {"path": "/address/*", "key": "users", "label": "address"},
               {"path": "/age", "key": "users"}]})");
  if (!policy.ok()) return std::fprintf(stderr, "%s\n", policy.status().message().c_str()), 1;

  auto user = nlohmann::ordered_json::parse(
      R"({"id": "u-42", "email": "ann@example.com", "age": 37,
          "address": {"street": "1 Main St", "city": "Springfield"}, "plan": "pro"})");
  auto stats = sovereign::Protect(**client, *policy, user);
  if (!stats.ok()) return std::fprintf(stderr, "%s\n", stats.status().message().c_str()), 1;
  std::printf("protected (%llu fields): %s\n", static_cast<unsigned long long>(stats->fields_encrypted),
              user.dump().c_str());

  auto back = sovereign::Unprotect(**client, *policy, user);
  if (!back.ok()) return std::fprintf(stderr, "%s\n", back.status().message().c_str()), 1;
  std::printf("unprotected: %s\n", user.dump().c_str());  // "age" is the number 37 again
  return 0;
}
