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
