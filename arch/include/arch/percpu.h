#pragma once
// Per-CPU data, reached through the GS base (the application owns FS; the
// kernel never uses thread_local). The first fields have fixed offsets that
// assembly uses (syscall entry, trap exit).
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace capsule {

struct Thread;
struct RunQueue;
namespace x64 {
struct CpuTables;
}

constexpr size_t MAX_CPUS = 64;
// Event counters per CPU (--stats, docs/stats.md): the slots are named by
// core/stats.h; arch only keeps the storage and the one-instruction add.
constexpr size_t PERCPU_COUNTERS = 64 + 2 * 512;
// Where a CPU's time goes (arch/cpu_account.h).
constexpr size_t CPU_MODES = 4;

struct PerCpu {
  PerCpu* self;                 // %gs:0
  Thread* current;              // %gs:8
  uint64_t kernel_stack_top;    // %gs:16  current thread's kernel stack
  uint64_t scratch;             // %gs:24  entry-path scratch
  uint32_t index;               // 0 = boot CPU
  uint32_t apic_id;
  RunQueue* rq;
  x64::CpuTables* tables;
  std::atomic<bool> online;
  bool need_resched;            // set by wake-ups/timers, acted on at IRQ exit
  uint64_t interrupts;          // statistics
  void* loaded_as;              // AddressSpace whose page table is loaded
  // Time accounting (arch/cpu_account.h): the mode this CPU is in, since
  // which TSC value, and the cycles spent in each mode. Interrupts off.
  uint32_t acct_mode;
  uint64_t acct_since;
  uint64_t acct_cycles[CPU_MODES];
  uint64_t counters[PERCPU_COUNTERS];  // percpu_count()
#ifdef CAPSULE_DEBUG_KERNEL
  // The debug kernel's: the name of the system call running here with
  // interrupts off (DEFINE_SYSCALL_IRQS_OFF, linux/syscall.h), nullptr
  // otherwise. A sleep or an application-memory access meanwhile is
  // reported (core/debug/lock_check.cc, arch/x64/mm/uaccess.cc).
  const char* irqs_off_call;
#endif
};

// The running thread, read with one instruction: safe with interrupts on
// (this_cpu()->current is not: the thread can migrate between the loads).
inline Thread* current_thread() {
  Thread* t;
  asm volatile("movq %%gs:8, %0" : "=r"(t));
  return t;
}

// Only stable while interrupts are off (or the thread is pinned).
inline PerCpu* this_cpu() {
  PerCpu* p;
  asm volatile("movq %%gs:0, %0" : "=r"(p));
  return p;
}

// Adds n to this CPU's counter `slot` with one instruction relative to GS:
// no lock, and no window for a migration or an interrupt to split it.
// Callers keep slot < PERCPU_COUNTERS.
inline void percpu_count(size_t slot, uint64_t n = 1) {
  asm volatile("addq %1, %%gs:%c2(,%0,8)" ::"r"(slot), "r"(n), "i"(__builtin_offsetof(PerCpu, counters))
               : "memory", "cc");
}
// The sum over the online CPUs (a snapshot: other CPUs keep counting).
uint64_t percpu_count_sum(size_t slot);

// CPUs known to ACPI; index() is dense from 0.
uint32_t cpu_count();          // online CPUs
PerCpu* cpu_by_index(uint32_t index);
// Boot CPU, first thing in kernel_main: GS base at the boot CPU's static
// PerCpu with only `self` set, so that a SpinLock can note its owner
// (arch/include/arch/spinlock.h) from the first lock on.
void percpu_early_boot();
// Boot CPU: the rest of its PerCpu. Must run before anything else uses
// this_cpu().
void percpu_init_boot();
// Registers an AP's PerCpu (allocated by SMP bring-up) and returns its index.
uint32_t percpu_register(PerCpu* cpu);
void percpu_load(PerCpu* cpu);  // sets GS base on the calling CPU

}  // namespace capsule
