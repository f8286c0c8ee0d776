#pragma once
// Monotonic time since boot. Backed by the TSC; the rate comes from the
// command line (--tsc-khz, passed by the CLI from the host), CPUID, or a
// fallback guess, in that order.
#include <cstdint>

namespace capsule {

void time_early_init(uint64_t boot_tsc, uint64_t tsc_khz);
uint64_t tsc_khz();
uint64_t uptime_ns();           // since the first instruction of the kernel
uint64_t tsc_to_ns(uint64_t ticks);

}  // namespace capsule
