// Thread-context kernel timers (core/time/kernel_timer.h).
//
//   arm:     lock; insert by deadline; unlock; wake the service thread if
//            the new timer is now the earliest.
//   service: lock; pop every due timer one at a time, marking it `running_`
//            and running its callback unlocked; then sleep on the wait queue
//            (enqueued before the lock is dropped, so an arm in between
//            wakes it) until the earliest deadline.
//   cancel:  lock; unlink if armed; while its callback runs elsewhere, yield.
#include "core/time/kernel_timer.h"

#include <atomic>

#include "lib/log.h"
#include "lib/panic.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/sync/wait_queue.h"

namespace capsule {
namespace {

struct ByDeadline {
  bool operator()(const KernelTimer& a, const KernelTimer& b) const { return a.deadline_ns < b.deadline_ns; }
};

SpinLock g_lock;
IntrusiveRbTree<KernelTimer, &KernelTimer::node, ByDeadline> g_queue;  // under g_lock
KernelTimer* g_running = nullptr;                                       // under g_lock
WaitQueue g_wake;
Thread* g_thread = nullptr;
std::atomic<int> g_started{0};  // 0 no, 1 starting, 2 running

void service(void*) {
  for (;;) {
    SpinGuard g(g_lock);
    KernelTimer* t = g_queue.first();
    if (t && t->deadline_ns <= uptime_ns()) {
      g_queue.remove(*t);
      g_running = t;
      g_lock.unlock();
      {
        // Callbacks run with interrupts on, like any thread code.
        asm volatile("sti" ::: "memory");
        t->callback(*t);
        asm volatile("cli" ::: "memory");
      }
      g_lock.lock();
      g_running = nullptr;
      continue;
    }
    g_wake.wait_unlocking(g_lock, t ? t->deadline_ns : 0);
  }
}

void ensure_started() {
  if (g_started.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (g_started.compare_exchange_strong(expected, 1)) {
    ThreadOptions o;
    o.detached = true;
    auto t = thread_create("ktimer", service, nullptr, o);
    if (!t) panic("kernel_timer: cannot start the service thread ({})", error_name(t.error()));
    g_thread = t.value();
    g_started.store(2, std::memory_order_release);
    return;
  }
  while (g_started.load(std::memory_order_acquire) != 2) thread_yield();
}

}  // namespace

void kernel_timer_arm(KernelTimer& t, uint64_t deadline_ns) {
  ensure_started();
  bool earliest;
  {
    SpinGuard g(g_lock);
    if (g_queue.is_linked(t)) g_queue.remove(t);
    t.deadline_ns = deadline_ns;
    g_queue.insert(t);
    earliest = g_queue.first() == &t;
  }
  if (earliest) g_wake.wake_one();
}

bool kernel_timer_cancel(KernelTimer& t) {
  bool was_armed = false;
  for (;;) {
    {
      SpinGuard g(g_lock);
      if (g_queue.is_linked(t)) {
        g_queue.remove(t);
        was_armed = true;
      }
      if (g_running != &t || thread_current() == g_thread) return was_armed;
    }
    thread_yield();  // its callback is running on the service thread
  }
}

}  // namespace capsule
