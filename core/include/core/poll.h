#pragma once
// Readiness and wake-ups (core/event, docs/events.md).
//
// Every object a program can wait on — pipe ends, eventfd, timerfd, epoll,
// later sockets and ttys — is a Pollable: it reports its current readiness
// (poll_events) and tells its watchers when readiness may have changed
// (notify). poll/select block by watching each object for the call's
// duration; epoll watches for as long as the interest exists and keeps a
// ready list, so epoll_wait never rescans idle objects.
//
// Event bits have Linux's values (poll(2), epoll_ctl(2)), so the adapter
// passes them through unchanged; POLLNVAL is the adapter's business.
//
// Lock order (outermost first; docs/events.md):
//   epoll topology mutex → Epoll::mtx_ → object state lock (pipe, eventfd...)
//     → Pollable::watch_lock_ → watcher locks (Epoll::lock_, poll table)
//     → scheduler (thread_wake)
// notify() takes watch_lock_ with interrupts off and calls watchers with it
// held: watchers must not sleep, allocate, or call back into the source.
// poll_events() is never called with a spinlock held and may sleep.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arch/spinlock.h"
#include "lib/intrusive_list.h"
#include "lib/result.h"

namespace capsule {

inline constexpr uint32_t POLL_IN = 0x001;
inline constexpr uint32_t POLL_PRI = 0x002;
inline constexpr uint32_t POLL_OUT = 0x004;
inline constexpr uint32_t POLL_ERR = 0x008;
inline constexpr uint32_t POLL_HUP = 0x010;
inline constexpr uint32_t POLL_RDNORM = 0x040;
inline constexpr uint32_t POLL_RDBAND = 0x080;
inline constexpr uint32_t POLL_WRNORM = 0x100;
inline constexpr uint32_t POLL_WRBAND = 0x200;
inline constexpr uint32_t POLL_MSG = 0x400;
inline constexpr uint32_t POLL_RDHUP = 0x2000;
inline constexpr uint32_t POLL_ALL = 0x27ff;  // every readiness bit above
// epoll_ctl(2) input flags (never reported).
inline constexpr uint32_t EPOLL_EXCLUSIVE = 1u << 28;
inline constexpr uint32_t EPOLL_WAKEUP = 1u << 29;
inline constexpr uint32_t EPOLL_ONESHOT = 1u << 30;
inline constexpr uint32_t EPOLL_ET = 1u << 31;
// select(2) in terms of poll bits (what Linux's fs/select.c tests): an fd
// is readable / writable / exceptional when its revents meet these.
inline constexpr uint32_t SELECT_IN = POLL_IN | POLL_RDNORM | POLL_RDBAND | POLL_HUP | POLL_ERR;
inline constexpr uint32_t SELECT_OUT = POLL_OUT | POLL_WRNORM | POLL_WRBAND | POLL_ERR;
inline constexpr uint32_t SELECT_EX = POLL_PRI;

// Deadlines are absolute uptime_ns(); these two are special.
inline constexpr uint64_t WAIT_FOREVER = 0;
inline constexpr uint64_t NO_WAIT = 1;  // already past: check once, never sleep

class Pollable;

// An observer of one Pollable at a time.
class PollWatcher {
 public:
  // `events`: what may have changed (a hint; recheck with poll_events()).
  // Called with the source's watch_lock_ held, interrupts off. Returns true
  // when it woke a sleeping thread (EPOLLEXCLUSIVE stops at the first).
  virtual bool on_events(Pollable& source, uint32_t events) = 0;
  // The source is going away (its destructor runs); after this returns the
  // watcher is detached. Called without source locks, in thread context.
  virtual void on_source_gone(Pollable& source) { (void)source; }

  Pollable* source() const { return source_; }
  bool exclusive = false;  // EPOLLEXCLUSIVE: only the first that wakes someone

 protected:
  ~PollWatcher() = default;

 private:
  friend class Pollable;
  Pollable* source_ = nullptr;  // under the source's watch_lock_
  ListNode node_;
};

class Pollable {
 public:
  Pollable() = default;
  Pollable(const Pollable&) = delete;
  Pollable& operator=(const Pollable&) = delete;

  // Current readiness: POLL_* bits. May take the object's own (sleeping)
  // lock; callers hold no spinlock.
  virtual uint32_t poll_events() = 0;
  // True for an Epoll (nesting checks).
  virtual bool is_epoll() const { return false; }
  // Signal-driven I/O (O_ASYNC): whether a readiness change may raise the
  // owner's signal. Linux's pipes, sockets and ttys do; eventfd, timerfd,
  // epoll and signalfd have no fasync and never do.
  virtual bool signals_io() const { return true; }

  // Descriptions with O_ASYNC on this object. While there are any,
  // notify() also calls the async hook after the watchers, with none of
  // this object's spinlocks held (the Linux layer sends SIGIO from there).
  void async_attach() { async_.fetch_add(1, std::memory_order_acq_rel); }
  void async_detach() { async_.fetch_sub(1, std::memory_order_acq_rel); }
  using AsyncHook = void (*)(Pollable& source, uint32_t events);
  static void set_async_hook(AsyncHook hook);

  // Starts/stops observation. A watcher watches one source at a time.
  // unwatch() returns only when no on_events call for `w` is in flight.
  void watch(PollWatcher& w);
  void unwatch(PollWatcher& w);
  bool has_watchers();

 protected:
  // Derived destructors call this first (before their state goes away):
  // every watcher gets on_source_gone(), then the list is empty.
  void detach_watchers();
  ~Pollable();

  // Tells the watchers that `events` may have changed. Call without the
  // object's state lock if it is a spinlock; a sleeping lock may be held.
  void notify(uint32_t events);

 private:
  void notify_watchers(uint32_t events);
  SpinLock watch_lock_;
  IntrusiveList<PollWatcher, &PollWatcher::node_> watchers_ GUARDED_BY(watch_lock_);
  std::atomic<uint32_t> async_{0};
};

// A Pollable whose state lives elsewhere: its readiness is a query, and the
// owner calls changed() when it moves. This is the hook for signalfd (the
// signal code owns the pending set: query = "a signal in the fd's mask is
// pending" → POLL_IN; changed(POLL_IN) when one becomes pending), and for
// anything else that wants poll/epoll without being an object of its own.
class PollSource final : public Pollable {
 public:
  using Query = uint32_t (*)(void* context);
  PollSource(Query query, void* context, bool signals_io = true)
      : query_(query), context_(context), signals_io_(signals_io) {}
  ~PollSource() { detach_watchers(); }
  uint32_t poll_events() override { return query_(context_); }
  bool signals_io() const override { return signals_io_; }
  void changed(uint32_t events) { notify(events); }

 private:
  Query query_;
  void* context_;
  bool signals_io_;
};

// poll(2)/select(2): one entry per descriptor. object == nullptr is
// skipped (revents 0); POLL_ERR and POLL_HUP are always reported.
struct PollRequest {
  Pollable* object = nullptr;
  uint32_t events = 0;
  uint32_t revents = 0;  // out
};

// Waits until at least one entry is ready, the deadline passes (returns 0)
// or the thread is interrupted (Error::Interrupted, thread_interrupt).
// Returns the number of entries with revents != 0. NoMemory for huge n.
Result<size_t> poll_wait(PollRequest* reqs, size_t n, uint64_t deadline_ns);

}  // namespace capsule
