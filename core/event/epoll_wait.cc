// epoll_wait's sleeping half (core/include/core/epoll.h). Kernel only.
//
//  1. Harvest; return what was found.
//  2. Under lock_: if the ready list filled meanwhile, go to 1; else
//     announce the block, queue a Waiter, read the interrupt flag
//     (thread_interrupt stores it before it wakes: one of us sees the other).
//  3. Sleep until a notification pops the Waiter (make_ready_locked), the
//     deadline, or an interrupt; dequeue if still queued; go to 1 — a
//     timeout or an interrupt is reported only if the harvest finds nothing.
#include "core/epoll.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/event/wait.h"
#include "core/sched/thread.h"

namespace capsule {

Result<size_t> Epoll::wait(EpollEvent* out, size_t max, uint64_t deadline_ns) {
  if (max == 0) return Error::Invalid;  // epoll_wait(2): maxevents <= 0
  WaitTag tag("epoll", this);
  Thread* self = thread_current();
  bool timed_out = false;
  for (;;) {
    size_t n = collect(out, max);  // step 1
    if (n) {
      // Something is left for another waiter (level-triggered interests
      // stay ready; maxevents may have cut the harvest short).
      SpinGuard l(lock_);
      if (!ready_.empty()) wake_one_locked();
      return n;
    }
    if (timed_out || deadline_ns == NO_WAIT || (deadline_ns && uptime_ns() >= deadline_ns)) return size_t(0);
    Waiter w;
    w.thread = self;
    {
      SpinGuard l(lock_);  // step 2
      if (!ready_.empty()) continue;
      sched_prepare_block();
      waiters_.push_back(w);
      if (thread_interrupt_pending(self)) {
        waiters_.remove(w);
        event::cancel_block();
        return Error::Interrupted;
      }
    }
    timed_out = !sched_block(deadline_ns);  // step 3
    {
      SpinGuard l(lock_);
      if (!w.woken) waiters_.remove(w);
    }
    event::cancel_block();
    if (!w.woken && thread_interrupt_pending(self)) {
      // Events win over a signal (the harvest first), as in Linux.
      size_t m = collect(out, max);
      if (m) return m;
      return Error::Interrupted;
    }
  }
}

}  // namespace capsule
