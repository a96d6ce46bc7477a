// Fuzzes the envelope decoders (text and binary) and the authenticated open
// path with fixed keys. Properties checked on every input:
//  - nothing crashes, leaks or reads out of bounds (ASan/UBSan);
//  - a text that decodes re-encodes to exactly itself (one text per ciphertext);
//  - a parsed header re-encodes to exactly the bytes it was parsed from,
//    subject tag included;
//  - no input the fuzzer makes up ever opens under the fixed keys.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "sdk/internal/field_cipher.hpp"
#include "sovereign/envelope.hpp"

using namespace sovereign;

namespace {

std::shared_ptr<internal::FieldCipher> FixedCipher(Mode mode, const EnvelopeHeader& header) {
  FieldKeyMaterial m;
  m.region = header.region;
  m.key_id = header.key_id;
  m.version = header.key_version;
  m.label_id = header.label_id;
  m.mode = mode;
  m.subject_tag = header.subject;
  m.label = "fuzz";
  std::vector<std::uint8_t> key(FieldKeySize(mode), 0x42);
  m.key = SecretBytes(key, InsecureSecretKeyAccess::Get());
  auto cipher = internal::FieldCipher::New(std::move(m));
  if (!cipher.ok()) std::abort();
  return std::move(cipher).value();
}

void CheckBinary(std::span<const std::uint8_t> binary) {
  auto parsed = ParseEnvelopeHeader(binary);
  if (!parsed.ok()) return;
  const auto& [header, size] = *parsed;
  std::vector<std::uint8_t> again;
  if (!EncodeEnvelopeHeader(header, again).ok()) std::abort();
  if (again.size() != size || !std::equal(again.begin(), again.end(), binary.begin())) std::abort();
  std::string plaintext;
  const FieldContext ctx{"/fuzz", std::string("record")};
  if (FixedCipher(header.mode, header)->Open(binary, size, ctx, plaintext).ok()) std::abort();
  if (!plaintext.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto binary = FromText(text); binary.ok()) {
    if (ToText(*binary) != text) std::abort();
    CheckBinary(*binary);
  }
  CheckBinary(input);
  return 0;
}
