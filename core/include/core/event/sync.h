#pragma once
// Locks for core/event that also compile for the host unit tests: on the
// host there is no `cli` and no scheduler, so the IRQ-off spin guard is a
// plain spin guard and the sleeping lock is a spinlock (tests are single
// threaded where they touch it).
#include "arch/spinlock.h"
#ifndef CAPSULE_HOST
#include "core/sync/wait_queue.h"
#endif

namespace capsule {
struct Thread;
namespace event {

#ifdef CAPSULE_HOST
class SCOPED_CAPABILITY IrqSpinGuard {
 public:
  explicit IrqSpinGuard(SpinLock& l) ACQUIRE(l) : l_(l) { l_.lock(); }
  ~IrqSpinGuard() RELEASE() { l_.unlock(); }
  IrqSpinGuard(const IrqSpinGuard&) = delete;
  IrqSpinGuard& operator=(const IrqSpinGuard&) = delete;

 private:
  SpinLock& l_;
};
using SleepLock = SpinLock;
inline void wake_thread(Thread*) {}
#else
using IrqSpinGuard = SpinGuard;
using SleepLock = Mutex;
void wake_thread(Thread* t);  // thread_wake (core/event/wait.cc)
#endif

// Serializes the creation and destruction of long-lived watchers (epoll
// items) with the destruction of sources (Pollable::detach_watchers).
// Outermost lock of the event layer.
SleepLock& topology_lock();

template <typename L>
class SCOPED_CAPABILITY Hold {
 public:
  explicit Hold(L& l) ACQUIRE(l) : l_(l) { l_.lock(); }
  ~Hold() RELEASE() { l_.unlock(); }
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;

 private:
  L& l_;
};

}  // namespace event
}  // namespace capsule
