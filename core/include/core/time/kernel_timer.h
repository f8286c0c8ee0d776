#pragma once
// Kernel timers whose callbacks run in thread context (docs/events.md).
//
// The per-CPU timer queues (core/sched) run callbacks in the timer
// interrupt with the run queue's timer lock held, where nothing may wake a
// thread or take a sleeping lock. Timers here are kept in one queue served
// by a kernel thread ("ktimer") that sleeps until the earliest deadline and
// runs each due callback with no lock held: a callback may take Mutexes,
// wake threads, notify watchers and re-arm its own timer. The price is a
// thread switch per expiry, which timerfd and friends can afford.
#include <cstdint>

#include "lib/rbtree.h"

namespace capsule {

struct KernelTimer {
  void (*callback)(KernelTimer& t) = nullptr;
  void* context = nullptr;
  uint64_t deadline_ns = 0;  // absolute uptime_ns; read-only for owners
  RbNode node;               // in the queue while armed
};

// Arms (or moves) t to fire once at deadline_ns. Thread context; starts the
// service thread on first use.
void kernel_timer_arm(KernelTimer& t, uint64_t deadline_ns);
// Disarms t. When it returns, t's callback is not running and will not run
// (it waits for a running one, unless called from that callback), so t may
// be freed. True if it was armed.
bool kernel_timer_cancel(KernelTimer& t);

}  // namespace capsule
