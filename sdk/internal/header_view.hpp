// HeaderView: an envelope header parsed in place, without allocating — the
// decrypt hot path's form of ParseEnvelopeHeader (same rules, same checks).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "sovereign/envelope.hpp"
#include "sovereign/mode.hpp"

namespace sovereign::internal {

struct HeaderView {
  Mode mode = Mode::kRandom;
  std::string_view region;  // points into the parsed envelope
  std::uint32_t key_id = 0;
  std::uint32_t key_version = 0;
  std::uint32_t label_id = 0;
  const std::uint8_t* subject = nullptr;  // kSubjectTagSize bytes into the envelope, or null
  std::size_t size = 0;  // header bytes
};

// ParseHeaderView returns false for anything ParseEnvelopeHeader rejects.
[[nodiscard]] bool ParseHeaderView(std::span<const std::uint8_t> envelope, HeaderView& out);

}  // namespace sovereign::internal
