// Boot-time clock: TSC ticks since the first kernel instruction, converted
// with a fixed-point multiplier (ns = ticks * mult >> 32) so that the hot
// path is one multiply.
#include "arch/x64/cpu/x64.h"
#include "core/time.h"

namespace capsule {
namespace {
uint64_t g_boot_tsc;
uint64_t g_mult;  // ns per tick, 32.32 fixed point
int64_t g_realtime_offset;  // realtime = uptime + offset
void (*g_realtime_observer)();
}

void time_early_init(uint64_t boot_tsc, uint64_t khz) {
  g_boot_tsc = boot_tsc;
  tsc_set_khz(khz);
  g_mult = (uint64_t(1000000) << 32) / khz;
}

uint64_t tsc_to_ns(uint64_t ticks) {
  if (!g_mult) return 0;
  return uint64_t((unsigned __int128)ticks * g_mult >> 32);
}

uint64_t uptime_ns() { return tsc_to_ns(x64::rdtsc() - g_boot_tsc); }

void time_set_realtime(int64_t unix_ns_now) {
  __atomic_store_n(&g_realtime_offset, unix_ns_now - int64_t(uptime_ns()), __ATOMIC_RELEASE);
  if (auto fn = __atomic_load_n(&g_realtime_observer, __ATOMIC_ACQUIRE)) fn();
}
int64_t realtime_ns() { return int64_t(uptime_ns()) + realtime_offset_ns(); }
int64_t realtime_offset_ns() { return __atomic_load_n(&g_realtime_offset, __ATOMIC_ACQUIRE); }
void time_set_realtime_observer(void (*fn)()) { __atomic_store_n(&g_realtime_observer, fn, __ATOMIC_RELEASE); }

TscClock time_tsc_clock() { return {g_boot_tsc, g_mult}; }

}  // namespace capsule
