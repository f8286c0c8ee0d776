#pragma once
// Where each CPU's time goes, for --stats (docs/stats.md): the TSC is read
// at every change of mode and the cycles since the last change go to the
// mode being left, per CPU (PerCpu::acct_*), so nothing is shared.
//
//   User    the program's code (from a return to it to the next entry)
//   System  the kernel working for the program: system calls, faults and
//           interrupts taken from the program, and a program thread's
//           time in the kernel after a switch (it always resumes there)
//   Kernel  kernel threads (the console service, the network...)
//   Idle    the idle thread
//
// The entries and exits call in (arch/x64/cpu/syscall_entry.S, vectors.S,
// traps.cc) and the scheduler names the mode of the thread it switches to.
// Off (the default), each call site costs a test of one byte.
#include <cstdint>

namespace capsule {

enum class CpuMode : uint32_t { Kernel = 0, User = 1, System = 2, Idle = 3 };

// Read by the entry paths (assembly too): accounting on.
extern "C" bool g_cpu_accounting;

// Boot (before the program starts): accounting on from now on, every CPU's
// mode Kernel until its next change.
void cpu_account_enable();

// The mode this CPU changes to; interrupts off.
extern "C" void cpu_account_slow(CpuMode m);
inline void cpu_account(CpuMode m) {
  if (__builtin_expect(g_cpu_accounting, false)) cpu_account_slow(m);
}

// The cycles spent in mode m over the online CPUs, up to now (the running
// CPU's current stretch included; the others' up to their last change).
uint64_t cpu_account_cycles(CpuMode m);

}  // namespace capsule
