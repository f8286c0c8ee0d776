#pragma once
// Event counters for --stats (docs/stats.md): per CPU, added with one
// instruction (arch/percpu.h percpu_count), summed when a report is made.
// The fault and switch counters are always on (an add each); the system
// call counters and the time accounting (arch/cpu_account.h) only with
// --stats.
#include <cstddef>
#include <cstdint>

#include "arch/percpu.h"

namespace capsule::stats {

enum Slot : uint32_t {
  // Page faults of programs, by how they were served (core/mm/address_space.cc).
  FAULT_ANON = 0,        // a new zero-filled anonymous page
  FAULT_FILE,            // a file's page mapped (fetched from the file or its cache)
  FAULT_COW_COPY,        // a write to a shared page: copied
  FAULT_COW_REUSE,       // a write to a page fork shared, no longer shared: taken back
  FAULT_SPURIOUS,        // already mapped (another CPU won, or a stale TLB entry)
  // Context switches away from program threads (core/sched/scheduler.cc).
  SWITCH_VOLUNTARY,      // it blocked (a sleep, a wait, I/O)
  SWITCH_INVOLUNTARY,    // preempted or yielded while runnable
  // System calls (linux/syscall.cc, --stats): per number, calls and TSC cycles.
  SYSCALL_CALLS = 64,
  SYSCALL_CYCLES = SYSCALL_CALLS + 512,
  SLOTS = SYSCALL_CYCLES + 512,
};
static_assert(SLOTS <= PERCPU_COUNTERS);
constexpr uint32_t SYSCALL_MAX = 512;

inline void count(Slot s, uint64_t n = 1) { percpu_count(s, n); }
inline uint64_t total(uint32_t s) { return percpu_count_sum(s); }

}  // namespace capsule::stats
