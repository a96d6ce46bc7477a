// FieldKeyRequest: one field key asked of a keystore, by name or by the ids
// an envelope header carries.
#pragma once

#include <cstdint>
#include <string_view>

#include "sovereign/mode.hpp"

namespace sovereign::keystore_internal {

// FieldKeyRequest names a field key by key name and label (the primary
// version: for encryption and blind indexes) or by key id, version and label
// id (for decryption). The views must outlive the call that takes it.
struct FieldKeyRequest {
  bool by_name = true;
  std::string_view key_name;
  std::string_view label;
  std::uint32_t key_id = 0;
  std::uint32_t version = 0;
  std::uint32_t label_id = 0;
  Mode mode = Mode::kRandom;
};

}  // namespace sovereign::keystore_internal
