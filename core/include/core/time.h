#pragma once
// Monotonic time since boot. Backed by the TSC; the rate comes from the
// command line (--tsc-khz, passed by the CLI from the host), CPUID, or a
// fallback guess, in that order.
#include <cstdint>

#include "arch/cpu.h"  // tsc_khz()

namespace capsule {

void time_early_init(uint64_t boot_tsc, uint64_t tsc_khz);
uint64_t uptime_ns();           // since the first instruction of the kernel
uint64_t tsc_to_ns(uint64_t ticks);

// Wall clock (CLOCK_REALTIME): the RTC's reading at boot plus monotonic time
// since. settimeofday-style changes move the offset, never the monotonic clock.
void time_set_realtime(int64_t unix_ns_now);
int64_t realtime_ns();
int64_t realtime_offset_ns();  // realtime_ns() - uptime_ns(), read at once

// Called after every time_set_realtime (the vDSO republishes the offset).
void time_set_realtime_observer(void (*fn)());

// The TSC clock's parameters: uptime_ns = (rdtsc - boot_tsc) * mult >> 32
// (the vDSO computes the same from its data page).
struct TscClock {
  uint64_t boot_tsc;
  uint64_t mult;  // ns per tick, 32.32 fixed point; 0 until calibrated
};
TscClock time_tsc_clock();

}  // namespace capsule
