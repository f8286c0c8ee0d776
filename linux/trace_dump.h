#pragma once
// --trace (docs/trace.md): starts the kernel's tracepoints (core/trace.h)
// before pid 1's program, and at its end sends the per-CPU rings to the
// host on the trace channel (drivers/trace_port.h) as the binary file
// `capsule trace` reads.
#include <cstdint>

namespace capsule::linux_abi::trace_dump {

// Boot: the groups to record (core/trace.h; 0: off) and each CPU's ring
// size in bytes.
void configure(uint32_t groups, uint64_t bytes_per_cpu);

// Just before pid 1's program starts, every CPU up: the rings, and
// recording from now on.
void program_starting();

// The VM is ending (pid 1 exited with status, or was killed by sig): stops
// recording and sends the rings. Once; thread context.
void finish(int status, int sig);

}  // namespace capsule::linux_abi::trace_dump
