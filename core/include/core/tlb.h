#pragma once
// Cross-CPU TLB shoot-down (core/sched/tlb.cc).
//
// After a page-table change, the CPU that made it flushes its own TLB and
// calls tlb_shootdown(): every other online CPU gets an IPI on the
// shoot-down vector, flushes the range (invlpg per page, or a CR3 reload
// for pages == 0 or more than TLB_FLUSH_PAGES_MAX) and acknowledges; the
// call returns once all have. It works with interrupts off and when several
// CPUs shoot down at once: while it waits, a CPU serves the requests aimed
// at it (and so does a CPU spinning for a SpinLock, through the spin-wait
// hook), so no two CPUs can wait for each other.
#include <cstddef>
#include <cstdint>

namespace capsule {

constexpr size_t TLB_FLUSH_PAGES_MAX = 32;

// Allocates the vector, registers the handler, installs the spin-wait hook
// and the AddressSpace shoot-down hook. Call once SMP is up (before, there
// is nobody to shoot at and a call just returns).
void tlb_init();

// Flushes [start, start + pages*4096) on every other online CPU and waits
// for them. pages == 0 means everything (non-global entries).
void tlb_shootdown(uintptr_t start, size_t pages);

// Serves the shoot-down requests pending for this CPU (interrupts off).
// Returns how many it served. The IPI handler and waiters call it.
unsigned tlb_service_pending();

// What tlb_init() installs as the AddressSpace shoot-down hook (exported so
// that a test can take it out and put it back).
class AddressSpace;
void tlb_address_space_hook(AddressSpace* as, uintptr_t start, uintptr_t end);

struct TlbStats {
  uint64_t shootdowns;   // tlb_shootdown calls that had other CPUs to ask
  uint64_t ipis_sent;
  uint64_t ipis_received;
  uint64_t requests_served;  // flushes done for other CPUs' requests
};
TlbStats tlb_stats();

}  // namespace capsule
