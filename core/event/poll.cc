// Pollable: the observer list every waitable object carries
// (core/include/core/poll.h). Host-testable: no scheduler calls here.
#include "core/poll.h"

#include "core/event/sync.h"

namespace capsule {

using event::IrqSpinGuard;

void Pollable::watch(PollWatcher& w) {
  IrqSpinGuard g(watch_lock_);
  w.source_ = this;
  watchers_.push_back(w);
}

void Pollable::unwatch(PollWatcher& w) {
  // notify() calls watchers under watch_lock_, so once we hold it no call
  // for `w` is running, and none can start after the unlink.
  IrqSpinGuard g(watch_lock_);
  if (w.source_ != this) return;  // detached by detach_watchers meanwhile
  watchers_.remove(w);
  w.source_ = nullptr;
}

bool Pollable::has_watchers() {
  IrqSpinGuard g(watch_lock_);
  return !watchers_.empty();
}

namespace {
std::atomic<Pollable::AsyncHook> g_async_hook{nullptr};
}

void Pollable::set_async_hook(AsyncHook hook) { g_async_hook.store(hook, std::memory_order_release); }

void Pollable::notify(uint32_t events) {
  notify_watchers(events);
  // Signal-driven I/O, after the watchers and outside watch_lock_. Only
  // where interrupts are on: a notification made under a spinlock (a
  // signalfd's) cannot send a signal, and those objects have none.
  if (async_.load(std::memory_order_acquire) && interrupts_on())
    if (AsyncHook hook = g_async_hook.load(std::memory_order_acquire)) hook(*this, events);
}

void Pollable::notify_watchers(uint32_t events) {
  IrqSpinGuard g(watch_lock_);
  PollWatcher* woke_exclusive = nullptr;
  for (PollWatcher& w : watchers_) {
    if (!w.exclusive) {
      w.on_events(*this, events);
    } else if (!woke_exclusive && w.on_events(*this, events)) {
      woke_exclusive = &w;  // epoll_ctl(2) EPOLLEXCLUSIVE: one wake-up
    }
  }
  // Round robin among exclusive watchers: the one that took this wake-up
  // goes last, so the next event wakes another waiter first.
  if (woke_exclusive) {
    watchers_.remove(*woke_exclusive);
    watchers_.push_back(*woke_exclusive);
  }
}

namespace event {
namespace {
SleepLock g_topology;  // constructed by the boot's init_array pass
}
SleepLock& topology_lock() { return g_topology; }
}  // namespace event

void Pollable::detach_watchers() {
  // Watchers that outlive a call (epoll items) are created and destroyed
  // under the topology lock; holding it here keeps an epoll_ctl(DEL) or an
  // epoll's own destruction from freeing the item we are handing over.
  // Transient watchers (poll tables) cannot be here: their caller holds a
  // reference to the object for the whole poll.
  if (!has_watchers()) return;
  event::Hold<event::SleepLock> topo(event::topology_lock());
  for (;;) {
    PollWatcher* w;
    {
      IrqSpinGuard g(watch_lock_);
      w = watchers_.pop_front();
      if (!w) return;
      w->source_ = nullptr;
    }
    w->on_source_gone(*this);
  }
}

Pollable::~Pollable() { detach_watchers(); }

}  // namespace capsule
