// TEMPORARY stand-in for the futex kernel service (include/capsule/futex.h)
// until core/sync/futex.cc (branch `futex`) is on main. It compiles to
// nothing once core/sync/futex.h exists, and is to be deleted at that merge.
//
// One global lock and list: correct, not fast. Wait enqueues first and reads
// the word afterwards, so a wake between the waker's store and our read is
// never lost; a waiter that finds the word changed but was already woken
// returns 0 (a spurious wake-up the libc tolerates), never swallowing a wake.
#if !__has_include("core/sync/futex.h")

#include "capsule/futex.h"

#include "capsule/thread.h"
#include "capsule/time.h"
#include "capsule/uaccess.h"
#include "core/sched/thread.h"
#include "core/sync/spinlock.h"
#include "lib/intrusive_list.h"

namespace capsule {
namespace {

struct FWaiter {
  AddressSpace* as = nullptr;
  uintptr_t addr = 0;
  uint32_t bitset = 0;
  Thread* thread = nullptr;
  bool woken = false;
  ListNode node;
};

SpinLock g_lock;
IntrusiveList<FWaiter, &FWaiter::node> g_waiters;

Result<uint32_t> read_word(AddressSpace* as, uintptr_t a) {
  if (!as) return uint32_t(*reinterpret_cast<volatile uint32_t*>(a));
  return get_user(reinterpret_cast<const uint32_t*>(a));
}

// With g_lock held: wake up to n matching waiters.
int wake_locked(AddressSpace* as, uintptr_t a, int n, uint32_t bitset) {
  int woken = 0;
  for (auto it = g_waiters.begin(); it != g_waiters.end() && woken < n;) {
    FWaiter& w = *it;
    ++it;
    if (w.as != as || w.addr != a || !(w.bitset & bitset)) continue;
    g_waiters.remove(w);
    w.woken = true;
    thread_wake(w.thread);
    ++woken;
  }
  return woken;
}

}  // namespace

Result<int> futex_wait(AddressSpace* as, uintptr_t uaddr, uint32_t expected, uint64_t deadline_ns,
                       uint32_t bitset) {
  if (uaddr & 3) return Error::Invalid;
  if (!bitset) return Error::Invalid;
  TRY(read_word(as, uaddr));  // fault the page in (and EFAULT) before queueing
  FWaiter w;
  w.as = as;
  w.addr = uaddr;
  w.bitset = bitset;
  w.thread = thread_current();
  {
    SpinGuard g(g_lock);
    g_waiters.push_back(w);
  }
  auto v = read_word(as, uaddr);
  if (!v.ok() || v.value() != expected) {
    SpinGuard g(g_lock);
    if (w.woken) return 0;
    g_waiters.remove(w);
    if (!v.ok()) return v.error();
    return Error::Again;
  }
  for (;;) {
    {
      SpinGuard g(g_lock);
      if (w.woken) return 0;
      sched_prepare_block();
    }
    bool in_time = sched_block(deadline_ns);
    if (!in_time || (deadline_ns && uptime_ns() >= deadline_ns)) {
      SpinGuard g(g_lock);
      if (w.woken) return 0;
      g_waiters.remove(w);
      return Error::TimedOut;
    }
  }
}

Result<int> futex_wake(AddressSpace* as, uintptr_t uaddr, int n, uint32_t bitset) {
  if (uaddr & 3) return Error::Invalid;
  if (!bitset) return Error::Invalid;
  if (n <= 0) n = 1;
  SpinGuard g(g_lock);
  return wake_locked(as, uaddr, n, bitset);
}

Result<int> futex_requeue(AddressSpace* as, uintptr_t uaddr, int n_wake, uintptr_t uaddr2, int n_requeue,
                          const uint32_t* cmp) {
  if ((uaddr | uaddr2) & 3) return Error::Invalid;
  if (n_wake < 0 || n_requeue < 0) return Error::Invalid;
  if (cmp) {
    uint32_t v = TRY(read_word(as, uaddr));
    if (v != *cmp) return Error::Again;
  }
  SpinGuard g(g_lock);
  int done = wake_locked(as, uaddr, n_wake, FUTEX_BITSET_ANY);
  int moved = 0;
  for (auto& w : g_waiters) {
    if (moved >= n_requeue) break;
    if (w.as != as || w.addr != uaddr) continue;
    w.addr = uaddr2;
    ++moved;
  }
  return done + moved;
}

Result<int> futex_wake_op(AddressSpace* as, uintptr_t uaddr, int n, uintptr_t uaddr2, int n2, uint32_t op) {
  if ((uaddr | uaddr2) & 3) return Error::Invalid;
  uint32_t kind = (op >> 28) & 7, cmpk = (op >> 24) & 15;
  if (kind > 4 || cmpk > 5) return Error::NotSupported;
  auto sext12 = [](uint32_t v) { return int32_t(v << 20) >> 20; };
  int32_t oparg = sext12((op >> 12) & 0xfff), cmparg = sext12(op & 0xfff);
  if (op & (FUTEX_OP_OPARG_SHIFT << 28)) oparg = int32_t(1u << (uint32_t(oparg) & 31));
  SpinGuard g(g_lock);  // not atomic against the application's own stores: fallback only
  uint32_t old = TRY(read_word(as, uaddr2));
  uint32_t a = uint32_t(oparg), nv = old;
  switch (kind) {
    case 0: nv = a; break;
    case 1: nv = old + a; break;
    case 2: nv = old | a; break;
    case 3: nv = old & ~a; break;
    case 4: nv = old ^ a; break;
  }
  if (as) TRY(put_user(reinterpret_cast<uint32_t*>(uaddr2), nv));
  else *reinterpret_cast<volatile uint32_t*>(uaddr2) = nv;
  int32_t o = int32_t(old);
  bool c = false;
  switch (cmpk) {
    case 0: c = o == cmparg; break;
    case 1: c = o != cmparg; break;
    case 2: c = o < cmparg; break;
    case 3: c = o <= cmparg; break;
    case 4: c = o > cmparg; break;
    case 5: c = o >= cmparg; break;
  }
  int woken = wake_locked(as, uaddr, n <= 0 ? 1 : n, FUTEX_BITSET_ANY);
  if (c) woken += wake_locked(as, uaddr2, n2 <= 0 ? 1 : n2, FUTEX_BITSET_ANY);
  return woken;
}

void futex_interrupt(Thread*) {}

int futex_waiter_count(AddressSpace* as, uintptr_t uaddr) {
  SpinGuard g(g_lock);
  int n = 0;
  for (auto& w : g_waiters)
    if (w.as == as && w.addr == uaddr) ++n;
  return n;
}

}  // namespace capsule

#endif
