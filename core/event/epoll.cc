// epoll bookkeeping (core/include/core/epoll.h): interests, the ready list,
// level/edge/one-shot/exclusive rules. Host-testable; the sleeping half is
// core/event/epoll_wait.cc.
//
// A scan (epoll_wait harvesting, or the epoll's own poll_events) runs under
// mtx_ and works like this:
//  1. Under lock_, move the ready list to a private list and mark each item
//     in_scan. A notification for an in_scan item only sets `renotified`.
//  2. Without lock_, ask each object for its readiness (this may sleep).
//  3. Under lock_, per item: clear in_scan; put it back on the ready list
//     if it is level-triggered and was reported, or was renotified during
//     the scan (so an edge that came in between is not lost).
#include "core/epoll.h"

#include <new>

namespace capsule {

using event::Hold;
using event::IrqSpinGuard;
using event::SleepLock;

namespace {
constexpr uint32_t ALWAYS_REPORTED = POLL_ERR | POLL_HUP;
constexpr uint32_t EXCLUSIVE_OK = POLL_IN | POLL_OUT | POLL_ERR | POLL_HUP | EPOLL_WAKEUP | EPOLL_ET | EPOLL_EXCLUSIVE;

uint32_t interest_mask(uint32_t events) { return (events & POLL_ALL) | ALWAYS_REPORTED; }
}  // namespace

// --- notifications (source's watch lock held, interrupts off) ---

bool EpollItem::on_events(Pollable&, uint32_t ev) {
  bool woke;
  {
    IrqSpinGuard g(ep->lock_);
    if (disabled || !(ev & interest_mask(events))) return false;
    woke = ep->make_ready_locked(*this);
  }
  ep->notify(POLL_IN | POLL_RDNORM);  // watchers of the epoll itself (nesting)
  return woke;
}

void EpollItem::on_source_gone(Pollable&) {
  // Topology lock held by Pollable::detach_watchers; the item is already
  // off the source's list.
  // The source is still whole: its destructor calls detach_watchers first.
  Epoll* e = ep;
  Hold<SleepLock> g(e->mtx_);
  e->destroy_item_locked(*this);
}

bool Epoll::wake_one_locked() {
  lock_.assert_held();
  Waiter* w = waiters_.pop_front();
  if (!w) return false;
  w->woken = true;
  event::wake_thread(w->thread);
  return true;
}

bool Epoll::make_ready_locked(Item& it) {
  lock_.assert_held();
  if (it.in_scan) {
    it.renotified = true;
    return false;
  }
  if (!it.ready_node.linked()) ready_.push_back(it);
  return wake_one_locked();
}

// --- interests ---

Result<Epoll*> Epoll::create() {
  auto* e = new (std::nothrow) Epoll;
  if (!e) return Error::NoMemory;
  return e;
}

std::atomic<uint64_t> Epoll::max_watches_{Epoll::UNSET};
std::atomic<uint64_t> Epoll::watches_{0};

uint64_t Epoll::max_watches() { return max_watches_.load(std::memory_order_relaxed); }

void Epoll::set_max_watches(uint64_t n) { max_watches_.store(n == UNSET ? n - 1 : n, std::memory_order_relaxed); }

void Epoll::default_max_watches(uint64_t memory_bytes) {
  // Linux: (low memory / 25) / the cost of an interest (epitem and its
  // wait-queue entry, 184 bytes on x86-64); ours is one EpollItem.
  uint64_t unset = UNSET;
  max_watches_.compare_exchange_strong(unset, memory_bytes / 25 / sizeof(EpollItem), std::memory_order_relaxed);
}

Epoll::~Epoll() {
  detach_watchers();  // out of any parent epoll first
  Hold<SleepLock> topo(event::topology_lock());
  Hold<SleepLock> g(mtx_);
  while (Item* it = tree_.first()) {
    it->obj->unwatch(*it);
    destroy_item_locked(*it);
  }
}

Epoll::Item* Epoll::find_locked(Pollable* obj, int fd) {
  mtx_.assert_held();
  Item* it = tree_.partition_point([&](const Item& i) { return i.obj != obj ? i.obj < obj : i.fd < fd; });
  if (it && it->obj == obj && it->fd == fd) return it;
  return nullptr;
}

void Epoll::destroy_item_locked(Item& it) {
  mtx_.assert_held();
  tree_.remove(it);
  {
    IrqSpinGuard g(lock_);
    if (it.ready_node.linked()) ready_.remove(it);
  }
  if (it.obj->is_epoll()) {
    --static_cast<Epoll*>(it.obj)->parents_;
    --child_epolls_;
  }
  delete &it;
  watches_.fetch_sub(1, std::memory_order_relaxed);
}

size_t Epoll::interest_count() {
  Hold<SleepLock> g(mtx_);
  return tree_.size();
}

Result<void> Epoll::add(Pollable* obj, int fd, uint32_t events, uint64_t data) {
  if (!obj || obj == this) return Error::Invalid;
  if (events & EPOLL_EXCLUSIVE) {
    // epoll_ctl(2): EINVAL for EXCLUSIVE with bits other than these, or on
    // an epoll.
    if ((events & ~EXCLUSIVE_OK) || obj->is_epoll()) return Error::Invalid;
  }
  Hold<SleepLock> topo(event::topology_lock());
  Epoll* child = obj->is_epoll() ? static_cast<Epoll*>(obj) : nullptr;
  if (child && (child->child_epolls_ > 0 || parents_ > 0)) return Error::Loop;  // ELOOP: one level only
  Hold<SleepLock> g(mtx_);
  if (find_locked(obj, fd)) return Error::Exists;
  // epoll_ctl(2): ENOSPC past /proc/sys/fs/epoll/max_user_watches.
  if (watches_.fetch_add(1, std::memory_order_relaxed) >= max_watches()) {
    watches_.fetch_sub(1, std::memory_order_relaxed);
    return Error::NoSpace;
  }
  auto* it = new (std::nothrow) Item;
  if (!it) {
    watches_.fetch_sub(1, std::memory_order_relaxed);
    return Error::NoMemory;
  }
  it->ep = this;
  it->obj = obj;
  it->fd = fd;
  it->events = events;
  it->data = data;
  it->exclusive = events & EPOLL_EXCLUSIVE;
  tree_.insert(*it);
  if (child) {
    ++child->parents_;
    ++child_epolls_;
  }
  obj->watch(*it);
  // Ready already: report it without waiting for a change (epoll_ctl(2)).
  if (obj->poll_events() & interest_mask(events)) {
    {
      IrqSpinGuard l(lock_);
      make_ready_locked(*it);
    }
    notify(POLL_IN | POLL_RDNORM);
  }
  return {};
}

Result<void> Epoll::modify(Pollable* obj, int fd, uint32_t events, uint64_t data) {
  if (events & EPOLL_EXCLUSIVE) return Error::Invalid;
  Hold<SleepLock> g(mtx_);
  Item* it = find_locked(obj, fd);
  if (!it) return Error::NotFound;
  if (it->exclusive) return Error::Invalid;
  {
    IrqSpinGuard l(lock_);
    it->events = events;
    it->data = data;
    it->disabled = false;  // re-arms a fired EPOLLONESHOT
  }
  if (obj->poll_events() & interest_mask(events)) {
    {
      IrqSpinGuard l(lock_);
      make_ready_locked(*it);
    }
    notify(POLL_IN | POLL_RDNORM);
  }
  return {};
}

Result<void> Epoll::remove(Pollable* obj, int fd) {
  Hold<SleepLock> topo(event::topology_lock());
  Hold<SleepLock> g(mtx_);
  Item* it = find_locked(obj, fd);
  if (!it) return Error::NotFound;
  obj->unwatch(*it);
  destroy_item_locked(*it);
  return {};
}

// --- harvesting ---

size_t Epoll::scan_locked(EpollEvent* out, size_t max, bool consume) {
  mtx_.assert_held();
  IntrusiveList<Item, &Item::ready_node> scan;
  {
    IrqSpinGuard l(lock_);  // step 1
    while (Item* it = ready_.pop_front()) {
      it->in_scan = true;
      it->renotified = false;
      scan.push_back(*it);
    }
  }
  size_t n = 0;
  while (Item* it = scan.pop_front()) {
    uint32_t revents = 0;
    bool full = consume && n == max;
    if (!full && !it->disabled) revents = it->obj->poll_events() & interest_mask(it->events);  // step 2
    IrqSpinGuard l(lock_);  // step 3
    it->in_scan = false;
    bool requeue = it->renotified || full;
    if (revents) {
      if (!consume) {
        requeue = true;  // only looking
      } else {
        out[n].events = revents;
        out[n].data = it->data;
        ++n;
        if (it->events & EPOLL_ONESHOT) {
          it->disabled = true;
          requeue = false;
        } else if (!(it->events & EPOLL_ET)) {
          requeue = true;  // level-triggered: checked again next time
        }
      }
      if (!consume) ++n;
    }
    if (requeue && !it->disabled && !it->ready_node.linked()) ready_.push_back(*it);
  }
  return n;
}

size_t Epoll::collect(EpollEvent* out, size_t max) {
  if (max == 0) return 0;
  Hold<SleepLock> g(mtx_);
  return scan_locked(out, max, true);
}

uint32_t Epoll::poll_events() {
  Hold<SleepLock> g(mtx_);
  return scan_locked(nullptr, 0, false) ? (POLL_IN | POLL_RDNORM) : 0;
}

}  // namespace capsule
