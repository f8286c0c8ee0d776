#pragma once
// Sleeping synchronization: wait queue, mutex, condition variable,
// semaphore. All are FIFO (no barging: a mutex is handed to the longest
// waiter on unlock) and tolerate spurious scheduler wake-ups internally.
// Timeouts are absolute deadlines in uptime_ns(); 0 means none.
#include <cstdint>

#include "arch/spinlock.h"
#include "lib/intrusive_list.h"
#include "lib/thread_annotations.h"

namespace capsule {

struct Thread;

struct Waiter {
  Thread* thread;
  bool woken = false;   // set by the waker, under the queue's lock
  ListNode node;
};

class WaitQueue {
 public:
  // Sleeps until woken or the deadline passes; false on timeout.
  bool wait(uint64_t deadline_ns = 0);
  // Atomically: drop `outer` (held, interrupts off by its SpinGuard's
  // caller) and sleep. For building other primitives.
  bool wait_unlocking(SpinLock& outer, uint64_t deadline_ns = 0) REQUIRES(outer);
  bool wake_one();
  unsigned wake_all();
  bool empty();

 private:
  friend class Mutex;
  friend class CondVar;
  friend class Semaphore;
  // With lock_ held: enqueue `w` and mark the caller blocked.
  void enqueue_locked(Waiter& w) REQUIRES(lock_);
  // After sleeping: true if woken by wake_one/all, false if the deadline
  // passed first (then `w` is removed).
  bool finish(Waiter& w, uint64_t deadline_ns);
  Waiter* pop_locked() REQUIRES(lock_);

  SpinLock lock_;
  IntrusiveList<Waiter, &Waiter::node> waiters_ GUARDED_BY(lock_);
};

class CAPABILITY("mutex") Mutex {
 public:
#ifdef CAPSULE_DEBUG_KERNEL
  // The debug kernel's lock class (arch/lock_debug.h): where it is built.
  Mutex(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE())
      : file_(file), line_(line) {}
#endif
  void lock() ACQUIRE();
  bool try_lock() TRY_ACQUIRE(true);
  // false on timeout.
  bool lock_until(uint64_t deadline_ns) TRY_ACQUIRE(true);
  void unlock() RELEASE();
  bool held_by_current() const;
  // Panics unless the calling thread holds the mutex: the first line of
  // every `*_locked` function, and what tells the analysis it is held.
  void assert_held() const ASSERT_CAPABILITY(this);

 private:
  SpinLock lock_;
  // Written under lock_; read without it only by the owner asking whether
  // it is itself (held_by_current), which no other thread can make true.
  Thread* owner_ = nullptr;
  IntrusiveList<Waiter, &Waiter::node> waiters_ GUARDED_BY(lock_);
#ifdef CAPSULE_DEBUG_KERNEL
  bool lock_until_checked(uint64_t deadline_ns) TRY_ACQUIRE(true);
  const char* file_;
  unsigned line_;
#endif
};

class SCOPED_CAPABILITY MutexGuard {
 public:
  explicit MutexGuard(Mutex& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~MutexGuard() RELEASE() { m_.unlock(); }
  MutexGuard(const MutexGuard&) = delete;
  MutexGuard& operator=(const MutexGuard&) = delete;

 private:
  Mutex& m_;
};

class CondVar {
 public:
  // `m` must be held; it is released while sleeping and held again on
  // return. false on timeout. Callers re-check their condition (POSIX).
  bool wait(Mutex& m, uint64_t deadline_ns = 0) REQUIRES(m);
  void notify_one();
  void notify_all();

 private:
  WaitQueue q_;
};

class Semaphore {
 public:
  explicit Semaphore(int64_t initial = 0) : count_(initial) {}
  void down();
  bool down_until(uint64_t deadline_ns);
  bool try_down();
  void up();
  int64_t value();

 private:
  SpinLock lock_;
  int64_t count_ GUARDED_BY(lock_);
  IntrusiveList<Waiter, &Waiter::node> waiters_ GUARDED_BY(lock_);
};

}  // namespace capsule
