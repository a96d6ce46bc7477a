// WitnessedKeystore: a ServiceKeystore whose every change is witnessed
// before it is acknowledged (docs/keystore.md#rollback-witness).
//
// Each call that may append to the audit log (issues, key changes, shreds,
// records; refusals are recorded too) returns only after the witness holds
// the keystore's head as of the call's return; if the witness cannot be
// written, the call fails with kKeystoreUnavailable and its result (keys
// included, wiped) is withheld, as when the audit record itself cannot be
// written. Read-only calls are passed through.
//
// The service's own Client fetches field keys through the embedded view,
// which this does not wrap: every request that uses them records its batch
// through Record before answering, and that publish covers the fetch (a
// publish writes the newest head, not the caller's).
//
// Thread safety: as the wrapped keystore and WitnessPublisher.
#pragma once

#include <memory>

#include "keystore/internal/service_keystore.hpp"
#include "keystore/internal/witness_publisher.hpp"

namespace sovereign::keystore_internal {

// WitnessKeystore wraps `inner` so its changes are published to `witness`.
std::shared_ptr<ServiceKeystore> WitnessKeystore(std::shared_ptr<ServiceKeystore> inner,
                                                 std::shared_ptr<WitnessPublisher> witness);

}  // namespace sovereign::keystore_internal
