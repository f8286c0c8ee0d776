// The hung-task detector's CPU check with an NMI backtrace (--test=hung,
// tests/guest/stress.cmake guest.stress.cpu_stall_nmi): a thread pinned to
// CPU 1 spins with interrupts off for 3 s, so CPU 1 takes no timer
// interrupt; with --cpu-stall=1 another CPU reports it and asks it by NMI
// where it is — the report must say "interrupts off" and name
// hung_stall_spin. Needs 2 CPUs (passes trivially on 1, saying so).
#include <atomic>

#include "arch/percpu.h"
#include "arch/x64/cpu/x64.h"
#include "core/thread.h"
#include "core/time.h"
#include "lib/ktest.h"

namespace capsule {
namespace {

std::atomic<bool> g_spun;

// Not inlined: the report names it.
[[gnu::noinline]] void hung_stall_spin(uint64_t ns) {
  const uint64_t until = uptime_ns() + ns;
  while (uptime_ns() < until) asm volatile("pause" ::: "memory");
}

void stall(void*) {
  x64::cli();
  hung_stall_spin(3'000'000'000ull);
  x64::sti();
  g_spun.store(true);
}

KTEST(hung_cpu_stall_nmi) {
  if (cpu_count() < 2) {
    kprint("hung.cpu_stall_nmi: needs 2 CPUs, skipped\n");
    return;
  }
  g_spun = false;
  ThreadOptions o;
  o.pin_cpu = 1;
  auto t = thread_create("stall", stall, nullptr, o);
  KEXPECT(t.ok());
  if (!t.ok()) return;
  KEXPECT(thread_join(t.value()).ok());
  KEXPECT(g_spun.load());
  kprint("hung.cpu_stall_nmi: cpu 1 spun 3 s with interrupts off\n");
}

}  // namespace
}  // namespace capsule
