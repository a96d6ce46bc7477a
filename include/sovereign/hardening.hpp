// HardenProcess: process-wide protections for programs that hold field keys.
#pragma once

#include "sovereign/export.hpp"
#include "sovereign/status.hpp"

namespace sovereign {

// HardenProcess makes this process non-dumpable (no core dumps, no ptrace
// attach by other processes of the same user) and sets its core-file size
// limit to zero.
//
// Field key bytes already live in OpenSSL's secure heap (locked, excluded
// from core dumps) where available, but the expanded AES key schedules inside
// OpenSSL's cipher contexts live in ordinary memory; a process that leases
// keys should call this once at start-up. The `sovereign` tool and
// `sovereign serve` do. Returns kInternal naming the call that failed.
SOVEREIGN_EXPORT Status HardenProcess();

}  // namespace sovereign
