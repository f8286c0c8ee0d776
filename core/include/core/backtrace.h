#pragma once
// Saved kernel backtraces: return addresses from the frame-pointer chain,
// kept now and printed later, symbolized (core/debug/backtrace.cc). For
// reports that name where something happened before (the debug kernel's
// heap and lock checks, docs/debug-kernel.md).
#include <cstddef>
#include <cstdint>

namespace capsule {

// Up to `max` call sites, innermost first: out[0] is the call of
// backtrace_save in its caller, unless `skip` drops that many innermost
// ones. The rest of `out` is zeroed. Returns how many were found.
size_t backtrace_save(uintptr_t* out, size_t max, unsigned skip = 0);
// Prints each non-zero address as "  #i 0x... symbol+off".
void backtrace_print_saved(const uintptr_t* frames, size_t max);

}  // namespace capsule
