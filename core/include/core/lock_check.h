#pragma once
// The debug kernel's lock checker (core/debug/lock_check.cc,
// docs/debug-kernel.md): lock order, sleeping with a spinlock held, and
// interrupts off for too long. Only in capsule-debug.elf.
#include <cstdint>

namespace capsule {

#ifdef CAPSULE_DEBUG_KERNEL
// Installs the hooks (arch/lock_debug.h); from here on every lock taken is
// checked. irq_off_max_us: the longest interrupts-off window (one
// IrqGuard's, or one SpinGuard's) that is not reported; 0 = not checked.
void lock_check_start(uint64_t irq_off_max_us);

struct LockCheckStats {
  uint32_t classes, edges;
  uint32_t inversions, sleeps, irq_off, irq_on;  // reports made
  bool full;                             // a table filled up: checking stopped
};
LockCheckStats lock_check_stats();
#endif

}  // namespace capsule
