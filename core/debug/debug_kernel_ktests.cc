// The debug kernel's checks, each made to fire on purpose
// (docs/debug-kernel.md; tests/guest/debug_kernel.cmake checks the
// reports). Only in capsule-debug.elf. The heap's end in a panic, so each
// is a KTEST_FAULT run in its own boot; the lock checker's reports do not
// stop the kernel.
#ifdef CAPSULE_DEBUG_KERNEL

#include "arch/percpu.h"
#include "arch/spinlock.h"
#include "arch/uaccess.h"
#include "core/lock_check.h"
#include "core/mm.h"
#include "core/sched/thread.h"
#include "core/sync/wait_queue.h"
#include "core/time.h"
#include "lib/ktest.h"
#include "lib/log.h"

namespace capsule {
namespace {

// Through a volatile pointer, so the compiler keeps the bad accesses.
uint8_t* volatile g_victim;

uint8_t* victim_alloc(size_t n) { return static_cast<uint8_t*>(kmalloc(n)); }

}  // namespace

KTEST_FAULT(debugk_heap_overflow) {
  g_victim = victim_alloc(24);
  g_victim[24] = 1;  // one byte past the end
  kfree(g_victim);
  kprint("debugk: the overflow was not seen\n");
}

KTEST_FAULT(debugk_heap_underflow) {
  g_victim = victim_alloc(64);
  g_victim[-1] = 1;
  kfree(g_victim);
  kprint("debugk: the underflow was not seen\n");
}

KTEST_FAULT(debugk_heap_use_after_free) {
  g_victim = victim_alloc(100);
  kfree(g_victim);
  g_victim[40] = 1;  // a write after free
  // Push it out of the quarantine (2 MiB) with other frees.
  for (int i = 0; i < 1024; ++i) kfree(kmalloc(4000));
  kprint("debugk: the write after free was not seen\n");
}

KTEST_FAULT(debugk_heap_double_free) {
  g_victim = victim_alloc(32);
  kfree(g_victim);
  kfree(g_victim);
  kprint("debugk: the double free was not seen\n");
}

KTEST_FAULT(debugk_heap_invalid_free) {
  g_victim = victim_alloc(64);
  kfree(g_victim + 16);
  kprint("debugk: the invalid free was not seen\n");
}

namespace {
SpinLock g_a;
SpinLock g_b;
Mutex g_ma;
Mutex g_mb;
SpinLock g_c;
Mutex g_sleeper;
SpinLock g_bare;
}  // namespace

// A then B, later B then A: one report naming both, each order's
// backtrace; doing it again reports nothing more.
KTEST(lockcheck_inversion_spin) {
  const uint32_t before = lock_check_stats().inversions;
  for (int round = 0; round < 2; ++round) {
    {
      SpinGuard a(g_a);
      SpinGuard b(g_b);
    }
    {
      SpinGuard b(g_b);
      SpinGuard a(g_a);
    }
  }
  KEXPECT(lock_check_stats().inversions == before + 1);
}

KTEST(lockcheck_inversion_mutex) {
  const uint32_t before = lock_check_stats().inversions;
  for (int round = 0; round < 2; ++round) {
    {
      MutexGuard a(g_ma);
      MutexGuard b(g_mb);
    }
    {
      MutexGuard b(g_mb);
      MutexGuard a(g_ma);
    }
  }
  KEXPECT(lock_check_stats().inversions == before + 1);
}

// A mutex taken (it could sleep) with a spinlock held: reported once for
// this call chain.
KTEST(lockcheck_sleep_under_spinlock) {
  const uint32_t before = lock_check_stats().sleeps;
  for (int round = 0; round < 2; ++round) {
    SpinGuard c(g_c);
    g_sleeper.lock();  // uncontended: returns at once, but may sleep
    g_sleeper.unlock();
  }
  KEXPECT(lock_check_stats().sleeps == before + 1);
}

// A system call defined to run with interrupts off (linux/syscall.h
// DEFINE_SYSCALL_IRQS_OFF) that could sleep, or touches application
// memory (whose fault could sleep), even with no spinlock held: reported
// once per call chain, each.
KTEST(lockcheck_sleep_in_irqs_off_syscall) {
  const uint32_t before = lock_check_stats().sleeps;
  for (int round = 0; round < 2; ++round) {
    IrqGuard irq;  // as the dispatcher runs such a call
    this_cpu()->irqs_off_call = "ktest_call";
    g_sleeper.lock();  // uncontended: returns at once, but may sleep
    g_sleeper.unlock();
    uint8_t b;
    (void)copy_from_user(&b, reinterpret_cast<const void*>(0x1000), 0);  // no byte: no fault
    this_cpu()->irqs_off_call = nullptr;
  }
  KEXPECT(lock_check_stats().sleeps == before + 2);
  g_sleeper.lock();  // interrupts on, no call marked: not reported
  g_sleeper.unlock();
  KEXPECT(lock_check_stats().sleeps == before + 2);
}

// A bare lock() with interrupts on (the EditGuard bug: one-CPU guests hung
// when a tick switched away from the holder): reported once per site.
KTEST(lockcheck_spinlock_with_interrupts_on) {
  KEXPECT(interrupts_on());
  const uint32_t before = lock_check_stats().irq_on;
  for (int round = 0; round < 2; ++round) {
    g_bare.lock();
    g_bare.unlock();
  }
  KEXPECT(lock_check_stats().irq_on == before + 1);
  {
    SpinGuard g(g_bare);  // interrupts off first: not reported
  }
  KEXPECT(lock_check_stats().irq_on == before + 1);
}

// By the time ktests run, booting has taken many locks, some nested: the
// checker has seen them (it is on, and its tables are not full).
KTEST(lockcheck_sees_the_kernels_locks) {
  const LockCheckStats s = lock_check_stats();
  kprint("lockcheck: {} lock classes, {} order edges so far\n", s.classes, s.edges);
  KEXPECT(s.classes >= 10);
  KEXPECT(s.edges >= 3);
  KEXPECT(!s.full);
}

// Interrupts off for longer than --irq-off-max-ms (the test sets it small).
KTEST(lockcheck_irq_off_too_long) {
  const uint32_t before = lock_check_stats().irq_off;
  {
    IrqGuard off;
    const uint64_t start = uptime_ns();
    while (uptime_ns() - start < 300'000'000ull) asm volatile("pause");
  }
  KEXPECT(lock_check_stats().irq_off >= before + 1);
}

}  // namespace capsule

#endif  // CAPSULE_DEBUG_KERNEL
