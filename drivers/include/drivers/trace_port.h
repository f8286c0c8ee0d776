#pragma once
// The host's channel for the system-call trace (`capsule run --strace`,
// docs/strace.md), the --stats report and the --trace rings (as marked
// binary blocks, docs/trace.md): its own virtio-console port,
// capsule.trace, so none of it mixes with the program's stdout and stderr
// (drivers/virtio/console.cc, docs/console.md).
#include <cstddef>

#include "lib/result.h"

namespace capsule::trace_port {

// The host attached the port (the CLI adds it with --strace).
bool available();

// Writes the n bytes; returns once the device has taken them (so a line
// written before power-off reaches the host). NotFound without the port.
// Thread context (it sleeps); writers are served one at a time, so each
// write's bytes stay together.
Result<void> write(const char* p, size_t n);

}  // namespace capsule::trace_port
