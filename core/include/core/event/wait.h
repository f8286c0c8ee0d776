#pragma once
// Interruptible, deadline-aware waiting for the event objects (kernel only).
//
// A condition-variable-like list: the caller holds the object's Mutex,
// sees its condition false, and calls wait(); the waker changes the state
// under the same Mutex and calls wake_*() (with or without it). Unlike
// core/sync's CondVar, a wait ends early when the thread is interrupted
// (thread_interrupt: a signal to deliver → EINTR).
#include <cstdint>

#include "core/sync/wait_queue.h"
#include "lib/result.h"

namespace capsule::event {

class WaitList {
 public:
  // `m` is held on entry and on return. Ok: woken, or a spurious wake-up
  // (the caller rechecks its condition either way). Interrupted: the
  // thread's interrupt flag is set. TimedOut: deadline_ns (uptime_ns, 0 =
  // none) passed.
  Result<void> wait(Mutex& m, uint64_t deadline_ns) REQUIRES(m);
  void wake_one();
  void wake_all();

 private:
  SpinLock lock_;
  IntrusiveList<Waiter, &Waiter::node> waiters_ GUARDED_BY(lock_);
};

// Undoes sched_prepare_block() when the caller decides not to sleep.
void cancel_block();

}  // namespace capsule::event
