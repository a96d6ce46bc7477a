// FieldKeyRequest: one field key asked of a keystore (public since per-subject
// keys are fetched in batches through KeySource::FieldKeys).
#pragma once

#include "sovereign/key_source.hpp"

namespace sovereign::keystore_internal {

using sovereign::FieldKeyRequest;

}  // namespace sovereign::keystore_internal
