#pragma once
// epoll (core/event/epoll.cc, docs/events.md; epoll(7), epoll_ctl(2)).
//
// An Epoll holds interests keyed by (object, fd) — as Linux keys them by
// (file description, fd) — each an observer (PollWatcher) of its object.
// A notification puts the interest on the ready list; epoll_wait harvests
// the ready list only, re-checking each object's readiness:
//   level-triggered: a ready interest stays on the list after it is
//     reported, so the next wait reports it again while it stays ready;
//   EPOLLET: reported once per notification (new data, new room...);
//   EPOLLONESHOT: disabled after one report until modify();
//   EPOLLEXCLUSIVE: among exclusive interests on one object, a notification
//     stops at the first epoll that had a waiter to wake.
// An Epoll is itself Pollable (readable while something is ready); one
// level of nesting is allowed (an epoll in an epoll, not deeper).
//
// Lifetime: the caller of add/modify/remove holds a reference to `obj`.
// When an object is destroyed its interests disappear from every epoll
// (Pollable::detach_watchers), as Linux drops them at the last close.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/poll.h"
#include "core/event/sync.h"
#include "lib/rbtree.h"

namespace capsule {

// What epoll_wait reports; the adapter packs it into struct epoll_event.
struct EpollEvent {
  uint32_t events;
  uint64_t data;
};

class Epoll;

// One interest (epoll_ctl ADD). Owned by its Epoll; internal.
struct EpollItem final : PollWatcher {
  bool on_events(Pollable& source, uint32_t events) override;
  void on_source_gone(Pollable& source) override;

  Epoll* ep = nullptr;
  Pollable* obj = nullptr;
  int fd = -1;
  uint32_t events = 0;     // as given to ctl; under the epoll's lock_
  uint64_t data = 0;       // under the epoll's lock_
  bool disabled = false;   // EPOLLONESHOT fired; under lock_
  bool in_scan = false;    // a scan holds it off the ready list; under lock_
  bool renotified = false; // notified while in_scan; under lock_
  RbNode tree_node;        // under the epoll's mtx_
  ListNode ready_node;     // under lock_ (or the scan's, while in_scan)
};

class Epoll final : public Pollable {
 public:
  static Result<Epoll*> create();  // NoMemory
  ~Epoll();
  bool signals_io() const override { return false; }  // no fasync on Linux

  // epoll_ctl(2). events: POLL_* bits plus EPOLL_ET/ONESHOT/EXCLUSIVE/WAKEUP.
  // Invalid: obj is this epoll, EPOLLEXCLUSIVE with ONESHOT or on an epoll,
  //   MOD of/to an exclusive interest.
  // Loop (ELOOP): nesting deeper than one level (which includes every loop).
  // Exists (ADD twice) / NotFound (MOD, DEL of no interest) / NoMemory.
  Result<void> add(Pollable* obj, int fd, uint32_t events, uint64_t data);
  Result<void> modify(Pollable* obj, int fd, uint32_t events, uint64_t data);
  Result<void> remove(Pollable* obj, int fd);

  // epoll_wait(2)/epoll_pwait2: up to max events; blocks until one, the
  // deadline (NO_WAIT: never sleep; WAIT_FOREVER) → 0, or an interrupt →
  // Interrupted. Invalid for max == 0. Kernel only.
  Result<size_t> wait(EpollEvent* out, size_t max, uint64_t deadline_ns);
  // Harvests without sleeping (what wait does once per wake-up).
  size_t collect(EpollEvent* out, size_t max);

  uint32_t poll_events() override;
  bool is_epoll() const override { return true; }
  size_t interest_count();

  // Interests in all epolls together are bounded (Linux's
  // /proc/sys/fs/epoll/max_user_watches; add() is NoSpace past it). The
  // default (set once by the adapter from the RAM size, before the first
  // epoll exists; none until then) gives interests 4% of RAM, as Linux.
  static uint64_t max_watches();
  static void set_max_watches(uint64_t n);
  static void default_max_watches(uint64_t memory_bytes);
  static uint64_t watch_count() { return watches_.load(std::memory_order_relaxed); }

 private:
  friend struct EpollItem;
  using Item = EpollItem;
  struct Waiter {
    Thread* thread;
    bool woken = false;
    ListNode node;
  };
  struct ItemOrder {
    bool operator()(const Item& a, const Item& b) const {
      if (a.obj != b.obj) return a.obj < b.obj;
      return a.fd < b.fd;
    }
  };

  Epoll() = default;
  Item* find_locked(Pollable* obj, int fd) REQUIRES(mtx_);
  // Under lock_: queue `it` if it is not queued (or mark it for requeue if
  // a scan holds it); wake one waiter. True if a thread was woken.
  bool make_ready_locked(Item& it) REQUIRES(lock_);
  bool wake_one_locked() REQUIRES(lock_);
  // Under mtx_: harvests the ready list (consume) or only checks it.
  size_t scan_locked(EpollEvent* out, size_t max, bool consume) REQUIRES(mtx_);
  // The topology lock (event::topology_lock()) and mtx_ held.
  void destroy_item_locked(Item& it) REQUIRES(mtx_);

  // Order: topology lock -> mtx_ -> lock_ (docs/events.md). The item
  // fields marked "under lock_" above are guarded by their epoll's lock_,
  // which EpollItem cannot name before Epoll is complete.
  event::SleepLock mtx_;   // interest tree, scans (epoll's "mtx")
  SpinLock lock_;          // ready list, waiters, item flags (epoll's "lock")
  IntrusiveRbTree<Item, &Item::tree_node, ItemOrder> tree_ GUARDED_BY(mtx_);
  IntrusiveList<Item, &Item::ready_node> ready_ GUARDED_BY(lock_);
  IntrusiveList<Waiter, &Waiter::node> waiters_ GUARDED_BY(lock_);
  // Nesting, under the topology lock: interests in other epolls that
  // watch this one, and interests here whose object is an epoll.
  unsigned parents_ = 0;
  unsigned child_epolls_ = 0;

  static constexpr uint64_t UNSET = ~0ull;  // max_watches_: the default
  static std::atomic<uint64_t> max_watches_;
  static std::atomic<uint64_t> watches_;
};

}  // namespace capsule
