// Blocking primitives on top of the scheduler's block/wake protocol
// (core/sched/thread.h): announce the block, publish the Waiter under the
// primitive's spinlock, drop the lock, sleep. A waker takes the Waiter off
// the list under the same lock before waking the thread, so `woken` tells
// a real wake-up from a timeout or a spurious scheduler wake-up.
#include "core/sync/wait_queue.h"

#include "lib/panic.h"
#include "core/time.h"
#include "core/sched/thread.h"

namespace capsule {
namespace {

using WaiterList = IntrusiveList<Waiter, &Waiter::node>;

// The sleeping half of every primitive here: `w` was queued on `list` under
// `lock` with the caller marked blocked. True once a waker has taken `w` off
// the list (setting `woken`), false when the deadline passed first (then `w`
// is removed). Spurious scheduler wake-ups just sleep again. `list` is the
// primitive's list guarded by `lock` (a pointer: the analysis cannot name
// that pairing across the three primitives; it is touched only under `lock`).
bool sleep_until_woken(SpinLock& lock, WaiterList* list, Waiter& w, uint64_t deadline_ns) {
  for (;;) {
    sched_block(deadline_ns);
    SpinGuard g(lock);
    if (w.woken) return true;
    if (deadline_ns && uptime_ns() >= deadline_ns) {
      list->remove(w);
      return false;
    }
    sched_prepare_block();
  }
}

// The waking half: the longest waiter leaves the list, marked woken (the
// caller holds the lock and wakes the thread after dropping it).
Waiter* take_first(WaiterList& list) {
  if (list.empty()) return nullptr;
  Waiter* w = &*list.begin();
  list.remove(*w);
  w->woken = true;
  return w;
}

}  // namespace

// --- WaitQueue ---

void WaitQueue::enqueue_locked(Waiter& w) {
  lock_.assert_held();
  w.thread = thread_current();
  w.woken = false;
  sched_prepare_block();
  waiters_.push_back(w);
}

Waiter* WaitQueue::pop_locked() {
  lock_.assert_held();
  return take_first(waiters_);
}

bool WaitQueue::finish(Waiter& w, uint64_t deadline_ns) { return sleep_until_woken(lock_, &waiters_, w, deadline_ns); }

bool WaitQueue::wait(uint64_t deadline_ns) {
  WaitTag tag("wait queue", this);
  Waiter w;
  {
    SpinGuard g(lock_);
    enqueue_locked(w);
  }
  return finish(w, deadline_ns);
}

bool WaitQueue::wait_unlocking(SpinLock& outer, uint64_t deadline_ns) {
  WaitTag tag("wait queue", this);
  Waiter w;
  {
    SpinGuard g(lock_);
    enqueue_locked(w);
  }
  outer.unlock();
  bool r = finish(w, deadline_ns);
  outer.lock();
  return r;
}

bool WaitQueue::wake_one() {
  Thread* t = nullptr;
  {
    SpinGuard g(lock_);
    if (Waiter* w = pop_locked()) t = w->thread;
  }
  if (!t) return false;
  thread_wake(t);
  preempt_check();
  return true;
}

unsigned WaitQueue::wake_all() {
  unsigned n = 0;
  {
    SpinGuard g(lock_);
    while (Waiter* w = pop_locked()) {
      thread_wake(w->thread);
      ++n;
    }
  }
  preempt_check();
  return n;
}

bool WaitQueue::empty() {
  SpinGuard g(lock_);
  return waiters_.empty();
}

// --- Mutex: ownership is handed to the first waiter on unlock ---

bool Mutex::try_lock() {
  SpinGuard g(lock_);
  if (owner_) return false;
  owner_ = thread_current();
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_acquire(this, file_, line_, LockKind::Mutex, true);
#endif
  return true;
}

void Mutex::lock() {
  if (!lock_until(0)) panic("mutex: a wait without a deadline timed out");
}

bool Mutex::lock_until(uint64_t deadline_ns) {
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_might_sleep("mutex lock");
  lock_debug_acquire(this, file_, line_, LockKind::Mutex, false);
  bool ok = lock_until_checked(deadline_ns);
  if (!ok) lock_debug_release(this, LockKind::Mutex);
  return ok;
}

bool Mutex::lock_until_checked(uint64_t deadline_ns) {
#endif
  Thread* self = thread_current();
  const Thread* holder = nullptr;
  Waiter w;
  {
    SpinGuard g(lock_);
    holder = owner_;
    if (!owner_) {
      owner_ = self;
      return true;
    }
    if (owner_ == self) panic("mutex: recursive lock by {}", thread_name(self));
    w.thread = self;
    sched_prepare_block();
    waiters_.push_back(w);
  }
  WaitTag tag("mutex", this, holder);
  return sleep_until_woken(lock_, &waiters_, w, deadline_ns);  // woken = unlock() made us the owner
}

void Mutex::unlock() {
#ifdef CAPSULE_DEBUG_KERNEL
  if (owner_ == thread_current()) lock_debug_release(this, LockKind::Mutex);
#endif
  Thread* next = nullptr;
  {
    SpinGuard g(lock_);
    if (owner_ != thread_current()) panic("mutex: unlock by {}, not the owner", thread_name(thread_current()));
    Waiter* w = take_first(waiters_);
    owner_ = next = w ? w->thread : nullptr;
  }
  if (next) {
    thread_wake(next);
    preempt_check();
  }
}

bool Mutex::held_by_current() const { return owner_ == thread_current(); }

void Mutex::assert_held() const {
  if (!held_by_current()) panic("mutex: not held by {}", thread_name(thread_current()));
}

// --- CondVar ---

bool CondVar::wait(Mutex& m, uint64_t deadline_ns) {
  WaitTag tag("condition variable", this);
  Waiter w;
  {
    SpinGuard g(q_.lock_);
    q_.enqueue_locked(w);
  }
  m.unlock();
  bool r = q_.finish(w, deadline_ns);
  m.lock();
  return r;
}

void CondVar::notify_one() { q_.wake_one(); }
void CondVar::notify_all() { q_.wake_all(); }

// --- Semaphore: an up() with waiters hands the unit straight to the first ---

bool Semaphore::try_down() {
  SpinGuard g(lock_);
  if (count_ > 0) {
    --count_;
    return true;
  }
  return false;
}

void Semaphore::down() { down_until(0); }

bool Semaphore::down_until(uint64_t deadline_ns) {
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_might_sleep("semaphore down");
#endif
  Waiter w;
  {
    SpinGuard g(lock_);
    if (count_ > 0) {
      --count_;
      return true;
    }
    w.thread = thread_current();
    sched_prepare_block();
    waiters_.push_back(w);
  }
  WaitTag tag("semaphore", this);
  return sleep_until_woken(lock_, &waiters_, w, deadline_ns);  // woken = up() handed us the unit
}

void Semaphore::up() {
  Thread* t = nullptr;
  {
    SpinGuard g(lock_);
    if (Waiter* w = take_first(waiters_)) t = w->thread;
    else ++count_;
  }
  if (t) {
    thread_wake(t);
    preempt_check();
  }
}

int64_t Semaphore::value() {
  SpinGuard g(lock_);
  return count_;
}

}  // namespace capsule
