// Interruptible waits for core/event (core/event/wait.h).
//
// The protocol, with the scheduler's block/wake rules (core/sched/thread.h):
//  1. Under the list's spinlock: announce the block, queue the Waiter, then
//     read the interrupt flag. thread_interrupt() stores the flag before it
//     tries to wake us, so either we see the flag here or it sees us Blocked.
//  2. Drop the object's Mutex and sleep (a wake-up in between is not lost:
//     the state flipped back to Running and sched_block returns at once).
//  3. Dequeue ourselves if nobody did, retake the Mutex, report.
#include "core/event/wait.h"

#include "core/thread.h"
#include "core/time.h"
#include "core/event/sync.h"
#include "core/sched/thread.h"

namespace capsule::event {

void wake_thread(Thread* t) { thread_wake(t); }

void cancel_block() {
  ThreadState s = ThreadState::Blocked;
  thread_current()->state.compare_exchange_strong(s, ThreadState::Running);
}

Result<void> WaitList::wait(Mutex& m, uint64_t deadline_ns) {
  Thread* self = thread_current();
  if (deadline_ns && uptime_ns() >= deadline_ns) return Error::TimedOut;
  WaitTag tag("wait list", this);
  Waiter w;
  w.thread = self;
  {
    SpinGuard g(lock_);  // step 1
    sched_prepare_block();
    waiters_.push_back(w);
    if (thread_interrupt_pending(self)) {
      waiters_.remove(w);
      cancel_block();
      return Error::Interrupted;
    }
  }
  m.unlock();  // step 2
  sched_block(deadline_ns);
  {
    SpinGuard g(lock_);  // step 3
    if (!w.woken) waiters_.remove(w);
  }
  cancel_block();  // a spurious return may leave us marked Blocked
  m.lock();
  if (w.woken) return {};
  if (thread_interrupt_pending(self)) return Error::Interrupted;
  if (deadline_ns && uptime_ns() >= deadline_ns) return Error::TimedOut;
  return {};
}

void WaitList::wake_one() {
  Thread* t = nullptr;
  {
    SpinGuard g(lock_);
    if (Waiter* w = waiters_.pop_front()) {
      w->woken = true;
      t = w->thread;
    }
  }
  if (t) thread_wake(t);
}

void WaitList::wake_all() {
  SpinGuard g(lock_);
  while (Waiter* w = waiters_.pop_front()) {
    w->woken = true;
    thread_wake(w->thread);
  }
}

}  // namespace capsule::event
