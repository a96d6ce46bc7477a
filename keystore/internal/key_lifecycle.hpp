// Key version lifecycle transitions (retire, disable, enable, destroy): which
// are allowed, and the catalog change of each, inside the caller's
// transaction. The caller audits and commits (EmbeddedKeystoreImpl).
#pragma once

#include <cstdint>
#include <string_view>

#include "keystore/internal/catalog.hpp"
#include "sovereign/status.hpp"

namespace sovereign::keystore_internal {

struct KeyChange {
  enum class Kind { kRetireBelow, kEnable, kDisable, kDestroy };
  Kind kind = Kind::kDisable;
  std::uint32_t version = 0;  // kRetireBelow: the new minimum decrypt version
};

// KeyChangeOp is the audit op of `kind`: "key.retire", "key.enable",
// "key.disable" or "key.destroy".
std::string_view KeyChangeOp(KeyChange::Kind kind) noexcept;

// ApplyKeyChange checks that `change` is allowed for `key` and applies it.
// kKeyNotFound for a missing version, kFailedPrecondition for a transition
// that is not allowed (the message says why); the catalog is unchanged then.
// Re-applying a change already in effect succeeds and changes nothing.
Status ApplyKeyChange(Catalog& catalog, const KeyRow& key, const KeyChange& change);

// EffectiveState is a version's state as users see it: a version below the
// key's minimum decrypt version is retired unless destroyed.
KeyVersionState EffectiveState(const KeyRow& key, const KeyVersionRow& version) noexcept;

}  // namespace sovereign::keystore_internal
