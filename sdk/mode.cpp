#include "sovereign/mode.hpp"

#include <string>

namespace sovereign {

std::string_view ModeName(Mode mode) noexcept {
  switch (mode) {
    case Mode::kRandom: return "random";
    case Mode::kDeterministic: return "deterministic";
    case Mode::kIndex: return "index";
  }
  return "unknown";
}

Result<Mode> ParseMode(std::string_view name) {
  for (Mode mode : {Mode::kRandom, Mode::kDeterministic, Mode::kIndex}) {
    if (name == ModeName(mode)) return mode;
  }
  return Status(ErrorCode::kInvalidArgument,
                "unknown mode '" + std::string(name) + "' (expected random, deterministic or index)");
}

std::size_t FieldKeySize(Mode mode) noexcept { return mode == Mode::kDeterministic ? 64 : 32; }

}  // namespace sovereign
