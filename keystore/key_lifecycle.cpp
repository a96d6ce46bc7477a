// Key version lifecycle transitions (see key_lifecycle.hpp).
#include "keystore/internal/key_lifecycle.hpp"

#include <fmt/format.h>

namespace sovereign::keystore_internal {
namespace {

Status NotAllowed(const KeyRow& key, std::uint32_t version, std::string_view why) {
  return Status(ErrorCode::kFailedPrecondition, fmt::format("key '{}' version {}: {}", key.name, version, why));
}

Status Retire(Catalog& catalog, const KeyRow& key, std::uint32_t below) {
  if (below > key.primary_version) {
    return NotAllowed(key, below,
                      fmt::format("cannot retire versions below {}: that would retire the primary version {}", below,
                                  key.primary_version));
  }
  if (below < key.min_decrypt_version) {
    return NotAllowed(key, below,
                      fmt::format("versions below {} are already retired; retiring is not undone",
                                  key.min_decrypt_version));
  }
  if (below == key.min_decrypt_version) return OkStatus();
  return catalog.SetMinDecryptVersion(key.id, below);
}

}  // namespace

std::string_view KeyChangeOp(KeyChange::Kind kind) noexcept {
  switch (kind) {
    case KeyChange::Kind::kRetireBelow: return "key.retire";
    case KeyChange::Kind::kEnable: return "key.enable";
    case KeyChange::Kind::kDisable: return "key.disable";
    case KeyChange::Kind::kDestroy: return "key.destroy";
  }
  return "key.unknown";
}

KeyVersionState EffectiveState(const KeyRow& key, const KeyVersionRow& version) noexcept {
  if (version.state != KeyVersionState::kDestroyed && version.version < key.min_decrypt_version) {
    return KeyVersionState::kRetired;
  }
  return version.state;
}

Status ApplyKeyChange(Catalog& catalog, const KeyRow& key, const KeyChange& change) {
  if (change.version == 0) return Status(ErrorCode::kInvalidArgument, "key versions start at 1");
  if (change.kind == KeyChange::Kind::kRetireBelow) return Retire(catalog, key, change.version);
  auto row = catalog.FindVersion(key.id, change.version);
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status(ErrorCode::kKeyNotFound, fmt::format("key '{}' has no version {}", key.name, change.version));
  }
  const KeyVersionState state = EffectiveState(key, **row);
  const bool primary = change.version == key.primary_version;
  switch (change.kind) {
    case KeyChange::Kind::kDisable:
      if (primary) return NotAllowed(key, change.version, "the primary version cannot be disabled; rotate first");
      if (state == KeyVersionState::kDisabled) return OkStatus();
      if (state != KeyVersionState::kEnabled) {
        return NotAllowed(key, change.version, fmt::format("is {}", KeyVersionStateName(state)));
      }
      return catalog.SetVersionState(key.id, change.version, KeyVersionState::kDisabled);
    case KeyChange::Kind::kEnable:
      if (state == KeyVersionState::kEnabled) return OkStatus();
      if (state != KeyVersionState::kDisabled) {
        return NotAllowed(key, change.version,
                          fmt::format("is {} and cannot be enabled again", KeyVersionStateName(state)));
      }
      return catalog.SetVersionState(key.id, change.version, KeyVersionState::kEnabled);
    case KeyChange::Kind::kDestroy:
      if (primary) return NotAllowed(key, change.version, "the primary version cannot be destroyed");
      if (state == KeyVersionState::kDestroyed) return OkStatus();
      // Subject keys of the version are wrapped under it: gone with it.
      SOVEREIGN_RETURN_IF_ERROR(catalog.DeleteSubjectKeys(key.id, change.version));
      return catalog.DestroyVersion(key.id, change.version);
    case KeyChange::Kind::kRetireBelow:
      break;
  }
  return Status(ErrorCode::kInternal, "unknown key change");
}

}  // namespace sovereign::keystore_internal
