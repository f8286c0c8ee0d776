// Futexes (core/include/core/futex.h, docs/futex.md).
//
// A fixed table of hash buckets, each a spinlock and a FIFO list of
// waiters; a waiter is keyed by a FutexKey (address space and address for a
// private futex, the word's physical address for a shared one in shared
// memory) and lives on its thread's stack. The protocol, in numbered steps across the functions:
//
//   1. futex_wait reads the word once with no lock held, so a lazily mapped
//      page is faulted in outside the bucket lock.
//   2. Under the bucket lock it reads the word again, compares, announces
//      the block and enqueues. A waker changes the word *before* it takes
//      the same lock, so the waiter either sees the new value (Again) or is
//      on the list when the waker looks (no lost wake-up).
//   3. A waker takes waiters off the list, sets `woken` and calls
//      thread_wake() — all under the bucket lock, so the waiter, which
//      decides under the lock, cannot return (and its stack or Thread go
//      away) before the wake-up is done with it.
//   4. The waiter, back from sched_block(), takes the lock of the bucket it
//      is on *now* (a requeue may have moved it) and decides: woken → 0,
//      interrupt → Interrupted, deadline → TimedOut, else it was a spurious
//      scheduler wake-up and it sleeps again.
//
// Reading the word under the bucket lock (step 2) can still fault when the
// page went away between steps 1 and 2. That is safe: the #PF path takes
// only the address space's lock and the page allocator's, never a bucket
// lock, so the order bucket lock → address-space lock has no reverse. A
// TLB shootdown that waits for other CPUs while holding the address-space
// lock would have to be IPI-free or wait with interrupts on; the same holds
// for every page fault taken with interrupts off (docs/futex.md).
#include "core/sync/futex.h"

#include <atomic>

#include "arch/x64/cpu/extable.h"
#include "core/address_space.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "lib/intrusive_list.h"

namespace capsule {
namespace {

struct Bucket;

// What a futex word is known by. Private: (the address space, the virtual
// address); kernel-address mode: (nullptr, the kernel address); shared
// memory: (&g_shared_space, the word's physical address), the same in every
// address space mapping the page, wherever it maps it.
struct FutexKey {
  const void* space = nullptr;
  uintptr_t addr = 0;
  bool operator==(const FutexKey&) const = default;
};
const char g_shared_space = 0;

struct FutexWaiter {
  Thread* thread = nullptr;
  FutexKey key;                       // a requeue rewrites it
  uint32_t bitset = FUTEX_BITSET_ANY;
  bool woken = false;                 // set by a waker, under the bucket lock
  std::atomic<Bucket*> bucket{nullptr};  // the list it is on; changed under both locks
  ListNode node;
  // PI (docs/futex.md "PI futexes"); all under the bucket lock.
  bool pi = false;          // waits for a PI lock: only an unlock or a kick ends it
  bool requeue_pi = false;  // FUTEX_WAIT_REQUEUE_PI before its requeue
  bool kicked = false;      // an owner exited: re-examine the word (off the list)
  uint32_t dead_owner = 0;  // with kicked: the thread that exited (the word may still name it)
  uint32_t tid = 0;         // the waiter's thread id (what an unlock writes)
  uint32_t owner_tid = 0;   // the owner it waits for
  FutexKey pi_key;          // requeue_pi: the PI word's key
  uintptr_t pi_uaddr = 0;   // the PI word in the waiter's own space

  bool matches(const FutexKey& k) const { return key == k; }
};

struct Bucket {
  SpinLock lock;
  IntrusiveList<FutexWaiter, &FutexWaiter::node> waiters GUARDED_BY(lock);
};

// 256 buckets: a handful of contended words per thread is the common case;
// collisions only cost a longer list walk.
constexpr size_t BUCKET_COUNT = 256;
Bucket g_buckets[BUCKET_COUNT];

Bucket& bucket_of(const FutexKey& k) {
  uint64_t h = (uint64_t(k.addr) >> 2) ^ (uint64_t(reinterpret_cast<uintptr_t>(k.space)) >> 4);
  h *= 0x9e3779b97f4a7c15ull;  // Fibonacci hashing: the top bits are well mixed
  return g_buckets[h >> (64 - 8)];
}
static_assert(BUCKET_COUNT == 1u << 8);

// Both buckets locked in address order (once if they are the same), with
// interrupts off for the guard's lifetime.
class SCOPED_CAPABILITY PairGuard {
 public:
  // Not analysed inside: one bucket may be both, and then it is locked once.
  PairGuard(Bucket& a, Bucket& b) ACQUIRE(a.lock, b.lock) NO_THREAD_SAFETY_ANALYSIS
      : first_(&a < &b ? &a : &b), second_(&a < &b ? &b : &a) {
    first_->lock.lock();
    if (second_ != first_) second_->lock.lock();
  }
  ~PairGuard() RELEASE() NO_THREAD_SAFETY_ANALYSIS {
    if (second_ != first_) second_->lock.unlock();
    first_->lock.unlock();
  }
  PairGuard(const PairGuard&) = delete;
  PairGuard& operator=(const PairGuard&) = delete;

 private:
  IrqGuard irq_;
  Bucket* first_;
  Bucket* second_;
};

// Interrupts must be off. Locks the bucket `w` is on now (step 4). Not
// analysed: it returns holding the lock of the bucket it returns, which an
// annotation cannot name; the caller asserts it (assert_held).
Bucket* lock_waiter_bucket(FutexWaiter& w) NO_THREAD_SAFETY_ANALYSIS {
  for (;;) {
    Bucket* b = w.bucket.load(std::memory_order_acquire);
    b->lock.lock();
    if (w.bucket.load(std::memory_order_relaxed) == b) return b;
    b->lock.unlock();  // requeued meanwhile: follow it
  }
}

// Undoes sched_prepare_block() when the wait ends before sleeping.
void cancel_block(Thread* self) {
  ThreadState s = ThreadState::Blocked;
  self->state.compare_exchange_strong(s, ThreadState::Running);
}

Result<void> check_word(AddressSpace* as, uintptr_t uaddr) {
  if (uaddr % sizeof(uint32_t)) return Error::Invalid;  // futex(2): EINVAL
  if (!as && uaddr == 0) return Error::Fault;
  return {};
}

Result<uint32_t> load_word(AddressSpace* as, uintptr_t uaddr) {
  if (!as) return __atomic_load_n(reinterpret_cast<uint32_t*>(uaddr), __ATOMIC_SEQ_CST);
  return get_user(reinterpret_cast<const uint32_t*>(uaddr));
}

// The key of uaddr (checked by check_word). A shared futex reads the word
// first, with no lock held, so its page is there to be named (Linux's
// get_futex_key faults it in too); Fault if it cannot be read.
Result<FutexKey> key_of(AddressSpace* as, uintptr_t uaddr, FutexScope scope) {
  if (!as || scope == FutexScope::Private) return FutexKey{as, uaddr};
  TRY(load_word(as, uaddr));
  const uint64_t phys = TRY(as->shared_futex_key(uaddr));
  if (!phys) return FutexKey{as, uaddr};  // private memory: the private key
  return FutexKey{&g_shared_space, uintptr_t(phys)};
}

// lock cmpxchg on application memory with an exception-table entry: a
// lazily mapped writable page is faulted in by demand paging and the
// instruction re-runs; a page that cannot be written ends at the fixup.
// 1: swapped, 0: *expected updated to the current value, -1: fault.
int user_cmpxchg32(uint32_t* p, uint32_t* expected, uint32_t desired) {
  int fault = 0;
  uint32_t e = *expected;
  bool swapped;
  asm volatile(
      "1: lock cmpxchgl %[d], %[m]\n\t"
      "jmp 3f\n"
      "2: movl $1, %[f]\n"
      "3:\n\t" CAPSULE_EXTABLE("1b", "2b")
      : [f] "+r"(fault), [m] "+m"(*p), "+a"(e), "=@ccz"(swapped)
      : [d] "r"(desired)
      : "memory");
  if (fault) return -1;
  *expected = e;
  return swapped ? 1 : 0;
}

// FUTEX_WAKE_OP's read-modify-write; returns the old value.
Result<uint32_t> atomic_op(AddressSpace* as, uintptr_t uaddr, const futex::DecodedOp& d) {
  auto* p = reinterpret_cast<uint32_t*>(uaddr);
  if (!as) {
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(p, &old, futex::apply_op(d, old), false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_RELAXED)) {
    }
    return old;
  }
  if (!user_range_ok(p, sizeof(uint32_t))) return Error::Fault;
  uint32_t old = TRY(get_user(p));
  for (;;) {
    int r = user_cmpxchg32(p, &old, futex::apply_op(d, old));
    if (r < 0) return Error::Fault;
    if (r > 0) return old;
  }
}

// Bucket lock held: wakes up to n matching waiters (step 3). PI waiters
// are not woken this way (only an unlock hands them the lock).
int wake_locked(Bucket& b, const FutexKey& k, int n, uint32_t bitset) REQUIRES(b.lock) {
  b.lock.assert_held();
  int woken = 0;
  for (auto it = b.waiters.begin(); it != b.waiters.end() && woken < n;) {
    FutexWaiter& w = *it;
    ++it;
    if (!w.matches(k) || !(w.bitset & bitset) || w.pi || w.requeue_pi) continue;
    b.waiters.remove(w);
    w.woken = true;
    thread_wake(w.thread);
    ++woken;
  }
  return woken;
}

// Step 2 of a wait, under the bucket's lock: `w` is queued with its block
// announced if the word still holds `expected` (else Again).
Result<void> enqueue_if_equal(AddressSpace* as, uintptr_t uaddr, uint32_t expected, Bucket& b, FutexWaiter& w) {
  SpinGuard g(b.lock);
  uint32_t now = TRY(load_word(as, uaddr));
  if (now != expected) return Error::Again;
  sched_prepare_block();
  b.waiters.push_back(w);
  // After the block is announced (seq_cst): an interrupt that came
  // before is seen here; one that comes later finds us Blocked.
  if (thread_interrupt_pending(w.thread)) {
    b.waiters.remove(w);
    cancel_block(w.thread);
    return Error::Interrupted;
  }
  return {};
}

}  // namespace

Result<int> futex_wait(AddressSpace* as, uintptr_t uaddr, uint32_t expected, uint64_t deadline_ns,
                       uint32_t bitset, FutexScope scope) {
  TRY(check_word(as, uaddr));
  if (!bitset) return Error::Invalid;
  TRY(load_word(as, uaddr));  // step 1: fault the page in, no lock held
  const FutexKey key = TRY(key_of(as, uaddr, scope));

  Thread* self = thread_current();
  WaitTag tag("futex", reinterpret_cast<const void*>(uaddr));
  FutexWaiter w;
  w.thread = self;
  w.key = key;
  w.bitset = bitset;
  Bucket& b = bucket_of(key);
  w.bucket.store(&b, std::memory_order_relaxed);
  TRY(enqueue_if_equal(as, uaddr, expected, b, w));  // step 2
  for (;;) {
    sched_block(deadline_ns);
    Error err = Error::None;
    bool done = true;
    {
      IrqGuard irq;
      Bucket* cur = lock_waiter_bucket(w);  // step 4
      cur->lock.assert_held();
      if (w.woken) {
        // a wake-up wins over a timeout or interrupt that raced with it
      } else if (thread_interrupt_pending(self)) {
        cur->waiters.remove(w);
        err = Error::Interrupted;
      } else if (deadline_ns && uptime_ns() >= deadline_ns) {
        cur->waiters.remove(w);
        err = Error::TimedOut;
      } else {
        sched_prepare_block();  // spurious: still queued, sleep again
        if (thread_interrupt_pending(self)) {
          cur->waiters.remove(w);
          cancel_block(self);
          err = Error::Interrupted;
        } else {
          done = false;
        }
      }
      cur->lock.unlock();
    }
    if (done) {
      preempt_check();
      if (err != Error::None) return err;
      return 0;
    }
  }
}

Result<int> futex_wake(AddressSpace* as, uintptr_t uaddr, int n, uint32_t bitset, FutexScope scope) {
  TRY(check_word(as, uaddr));
  if (!bitset) return Error::Invalid;
  if (n <= 0) n = 1;  // Linux's futex_wake counts after the first wake-up
  const FutexKey key = TRY(key_of(as, uaddr, scope));
  Bucket& b = bucket_of(key);
  int woken;
  {
    SpinGuard g(b.lock);
    woken = wake_locked(b, key, n, bitset);
  }
  preempt_check();
  return woken;
}

Result<int> futex_requeue(AddressSpace* as, uintptr_t uaddr, int n_wake, uintptr_t uaddr2, int n_requeue,
                          const uint32_t* cmp, FutexScope scope) {
  TRY(check_word(as, uaddr));
  TRY(check_word(as, uaddr2));
  if (n_wake < 0 || n_requeue < 0) return Error::Invalid;
  if (cmp) TRY(load_word(as, uaddr));  // step 1
  const FutexKey k1 = TRY(key_of(as, uaddr, scope));
  const FutexKey k2 = TRY(key_of(as, uaddr2, scope));
  Bucket& b1 = bucket_of(k1);
  Bucket& b2 = bucket_of(k2);
  int total = 0;
  {
    PairGuard g(b1, b2);
    if (cmp) {
      // Compared under the locks, like a waiter's check (step 2): a waiter
      // that saw the old value is on the list now.
      uint32_t now = TRY(load_word(as, uaddr));
      if (now != *cmp) return Error::Again;
    }
    total = n_wake ? wake_locked(b1, k1, n_wake, FUTEX_BITSET_ANY) : 0;
    int moved = 0;
    for (auto it = b1.waiters.begin(); it != b1.waiters.end() && moved < n_requeue;) {
      FutexWaiter& w = *it;
      ++it;
      if (!w.matches(k1) || w.pi || w.requeue_pi) continue;
      if (&b1 != &b2) {
        b1.waiters.remove(w);
        b2.waiters.push_back(w);
        w.bucket.store(&b2, std::memory_order_release);
      }
      w.key = k2;
      ++moved;
    }
    total += moved;
  }
  preempt_check();
  return total;
}

Result<int> futex_wake_op(AddressSpace* as, uintptr_t uaddr, int n, uintptr_t uaddr2, int n2, uint32_t op,
                          FutexScope scope) {
  TRY(check_word(as, uaddr));
  TRY(check_word(as, uaddr2));
  futex::DecodedOp d = TRY(futex::decode_op(op));
  if (n <= 0) n = 1;  // as futex_wake
  if (n2 <= 0) n2 = 1;
  if (as) TRY(load_word(as, uaddr2));  // step 1 (the write fault-in happens under the lock)
  const FutexKey k1 = TRY(key_of(as, uaddr, scope));
  const FutexKey k2 = TRY(key_of(as, uaddr2, scope));
  Bucket& b1 = bucket_of(k1);
  Bucket& b2 = bucket_of(k2);
  int total;
  {
    PairGuard g(b1, b2);
    uint32_t old = TRY(atomic_op(as, uaddr2, d));
    total = wake_locked(b1, k1, n, FUTEX_BITSET_ANY);
    if (futex::compare(d, old)) total += wake_locked(b2, k2, n2, FUTEX_BITSET_ANY);
  }
  preempt_check();
  return total;
}

void futex_interrupt(Thread* t) { thread_interrupt(t); }

// --- PI futexes (docs/futex.md "PI futexes") ----------------------------------
//
// The word is the lock: 0 free, else the owner's id in FUTEX_PI_TID_MASK,
// FUTEX_PI_WAITERS once someone sleeps for it (so the owner's unlock comes
// to the kernel), FUTEX_PI_OWNER_DIED after a robust owner died. Waiters
// queue FIFO in the word's bucket; an unlock hands the lock to the oldest
// (writes its id) and wakes it. A waiter whose owner exits is "kicked" off
// the list and examines the word again in its own context.

namespace {

// Waiters queued for a PI lock, machine-wide, and a count of owner exits:
// a waiter that checked its owner alive re-checks if an exit came between
// the check and its enqueue (futex_pi_owner_exited bumps the count before
// it scans the buckets).
std::atomic<uint32_t> g_pi_waiters{0};
std::atomic<uint64_t> g_pi_exits{0};

// 1 swapped, 0 *expected updated, -1 fault (as user_cmpxchg32).
int cmpxchg_word(AddressSpace* as, uintptr_t uaddr, uint32_t* expected, uint32_t desired) {
  auto* p = reinterpret_cast<uint32_t*>(uaddr);
  if (!as) return __atomic_compare_exchange_n(p, expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST) ? 1 : 0;
  if (!user_range_ok(p, sizeof(uint32_t))) return -1;
  return user_cmpxchg32(p, expected, desired);
}

// The word's current value through a locked compare-exchange (so a page
// that cannot be written is a fault, as Linux's PI calls need write access).
Result<uint32_t> read_pi_word(AddressSpace* as, uintptr_t uaddr) {
  uint32_t v = 0;
  if (cmpxchg_word(as, uaddr, &v, 0) < 0) return Error::Fault;
  return v;  // swapped 0 for 0, or v is the current value
}

bool has_pi_waiter(Bucket& b, const FutexKey& k, const FutexWaiter* except) REQUIRES(b.lock) {
  b.lock.assert_held();
  for (auto& w : b.waiters)
    if (&w != except && w.matches(k) && w.pi) return true;
  return false;
}

FutexWaiter* oldest_pi_waiter(Bucket& b, const FutexKey& k) REQUIRES(b.lock) {
  b.lock.assert_held();
  for (auto& w : b.waiters)
    if (w.matches(k) && w.pi) return &w;
  return nullptr;
}

void unlink_pi(Bucket& b, FutexWaiter& w) REQUIRES(b.lock) {
  b.lock.assert_held();
  b.waiters.remove(w);
  g_pi_waiters.fetch_sub(1);
}

enum class PiStep { Acquired, Wait, Recheck };

// Bucket lock held: one attempt at the lock for `w` (its tid, key, and
// pi_uaddr in the caller's space). Acquired; Wait (queued, the block
// announced: sleep); Recheck (the owner's liveness must be asked with no
// lock held); or an error.
Result<PiStep> pi_attempt(AddressSpace* as, Bucket& b, FutexWaiter& w, bool first, bool trylock,
                          uint32_t checked_owner, bool checked_alive, uint64_t exits_seen) REQUIRES(b.lock) {
  b.lock.assert_held();
  uint32_t uval = TRY(read_pi_word(as, w.pi_uaddr));
  for (int tries = 0; tries < 64; ++tries) {
    const uint32_t owner = uval & FUTEX_PI_TID_MASK;
    const bool others = has_pi_waiter(b, w.key, &w);
    // Only the exited thread's id may be taken over: owner_tid follows the
    // word on a recheck, and the word may have passed to a live owner
    // since the kick (taking it then would make two owners).
    if (owner == 0 || (w.kicked && owner == w.dead_owner && owner != w.tid)) {
      // Free, or its owner exited: ours, keeping OWNER_DIED.
      const uint32_t nv = (uval & FUTEX_PI_OWNER_DIED) | w.tid | (others ? FUTEX_PI_WAITERS : 0);
      int r = cmpxchg_word(as, w.pi_uaddr, &uval, nv);
      if (r < 0) return Error::Fault;
      if (r > 0) return PiStep::Acquired;
      continue;
    }
    if (owner == w.tid) {
      if (first) return Error::Deadlock;  // EDEADLK: we hold it already
      return PiStep::Acquired;             // handed to us
    }
    if (!(uval & FUTEX_PI_WAITERS)) {
      // Set before looking at the owner, as Linux: its unlock must come here.
      int r = cmpxchg_word(as, w.pi_uaddr, &uval, uval | FUTEX_PI_WAITERS);
      if (r < 0) return Error::Fault;
      if (r == 0) continue;
      uval |= FUTEX_PI_WAITERS;
    }
    if (owner != checked_owner || g_pi_exits.load() != exits_seen) {
      w.owner_tid = owner;
      return PiStep::Recheck;
    }
    if (!checked_alive) return Error::NoProcess;  // ESRCH: no such owner
    if (trylock) return Error::Again;
    w.owner_tid = owner;
    w.kicked = false;
    w.woken = false;
    sched_prepare_block();
    b.waiters.push_back(w);
    g_pi_waiters.fetch_add(1);
    // An exit since the owner was found alive may have scanned before we
    // were queued: look again.
    if (g_pi_exits.load() != exits_seen) {
      unlink_pi(b, w);
      cancel_block(thread_current());
      return PiStep::Recheck;
    }
    return PiStep::Wait;
  }
  return Error::Again;  // the word keeps changing under us
}

// The PI wait loop shared by FUTEX_LOCK_PI and a requeued
// FUTEX_WAIT_REQUEUE_PI waiter (`w` set up, not queued).
Result<int> pi_lock_loop(AddressSpace* as, FutexWaiter& w, uint64_t deadline_ns, bool trylock, bool first,
                         FutexOwnerAlive alive) {
  Thread* self = thread_current();
  uint32_t checked_owner = 0;
  bool checked_alive = false;
  uint64_t exits_seen = g_pi_exits.load();
  for (int round = 0; round < 100000; ++round) {
    PiStep step;
    {
      IrqGuard irq;
      Bucket* b = &bucket_of(w.key);
      w.bucket.store(b, std::memory_order_relaxed);
      SpinGuard g(b->lock);
      auto r = pi_attempt(as, *b, w, first, trylock, checked_owner, checked_alive, exits_seen);
      if (!r.ok()) return r.error();
      step = r.value();
      if (step == PiStep::Wait && thread_interrupt_pending(self)) {
        unlink_pi(*b, w);
        cancel_block(self);
        return Error::Interrupted;
      }
    }
    if (step == PiStep::Acquired) return 0;
    if (step == PiStep::Recheck) {
      exits_seen = g_pi_exits.load();
      checked_owner = w.owner_tid;
      checked_alive = alive(checked_owner);
      continue;
    }
    // Queued: sleep until handed the lock, kicked, interrupted or timed out.
    for (;;) {
      sched_block(deadline_ns);
      IrqGuard irq;
      Bucket* cur = lock_waiter_bucket(w);
      cur->lock.assert_held();
      if (w.woken) {  // an unlock wrote our id into the word
        cur->lock.unlock();
        preempt_check();
        return 0;
      }
      if (w.kicked) {  // off the list already: examine the word again
        cur->lock.unlock();
        break;
      }
      Error err = Error::None;
      if (thread_interrupt_pending(self)) err = Error::Interrupted;
      else if (deadline_ns && uptime_ns() >= deadline_ns) err = Error::TimedOut;
      if (err != Error::None) {
        unlink_pi(*cur, w);
        cur->lock.unlock();
        return err;
      }
      sched_prepare_block();  // spurious: still queued
      if (thread_interrupt_pending(self)) {
        unlink_pi(*cur, w);
        cancel_block(self);
        cur->lock.unlock();
        return Error::Interrupted;
      }
      cur->lock.unlock();
    }
    first = false;
    checked_owner = 0;  // the owner exited or changed: ask again
  }
  return Error::Again;
}

}  // namespace

Result<int> futex_lock_pi(AddressSpace* as, uintptr_t uaddr, uint32_t tid, uint64_t deadline_ns, bool trylock,
                          FutexOwnerAlive alive, FutexScope scope) {
  TRY(check_word(as, uaddr));
  TRY(load_word(as, uaddr));  // fault the page in, no lock held
  FutexWaiter w;
  w.thread = thread_current();
  w.key = TRY(key_of(as, uaddr, scope));
  w.pi = true;
  w.tid = tid;
  w.pi_uaddr = uaddr;
  WaitTag tag("futex_pi", reinterpret_cast<const void*>(uaddr));
  return pi_lock_loop(as, w, deadline_ns, trylock, true, alive);
}

Result<int> futex_unlock_pi(AddressSpace* as, uintptr_t uaddr, uint32_t tid, FutexScope scope) {
  // Linux compares the owner before it checks the alignment: an unaligned
  // word that is not ours is EPERM.
  if (uaddr % sizeof(uint32_t) && as) {
    uint32_t v = TRY(get_user(reinterpret_cast<const uint32_t*>(uaddr)));
    if ((v & FUTEX_PI_TID_MASK) != tid) return Error::Permission;
  }
  TRY(check_word(as, uaddr));
  TRY(load_word(as, uaddr));
  const FutexKey key = TRY(key_of(as, uaddr, scope));
  Bucket& b = bucket_of(key);
  {
    IrqGuard irq;
    SpinGuard g(b.lock);
    uint32_t uval = TRY(read_pi_word(as, uaddr));
    for (int tries = 0;; ++tries) {
      if (tries == 64) return Error::Again;
      if ((uval & FUTEX_PI_TID_MASK) != tid) return Error::Permission;  // EPERM: not ours
      FutexWaiter* next = oldest_pi_waiter(b, key);
      // Handed over: the new owner's id with WAITERS (its unlock comes
      // here too, and finds out whether others wait); OWNER_DIED goes.
      const uint32_t nv = next ? (next->tid | FUTEX_PI_WAITERS) : 0;
      int r = cmpxchg_word(as, uaddr, &uval, nv);
      if (r < 0) return Error::Fault;
      if (r == 0) continue;
      if (next) {
        unlink_pi(b, *next);
        next->woken = true;
        thread_wake(next->thread);
      }
      break;
    }
  }
  preempt_check();
  return 0;
}

void futex_pi_owner_exited(uint32_t tid) {
  g_pi_exits.fetch_add(1);
  if (g_pi_waiters.load() == 0) return;
  for (Bucket& b : g_buckets) {
    IrqGuard irq;
    SpinGuard g(b.lock);
    for (auto it = b.waiters.begin(); it != b.waiters.end();) {
      FutexWaiter& w = *it;
      ++it;
      if (!w.pi || w.owner_tid != tid) continue;
      unlink_pi(b, w);
      w.kicked = true;
      w.dead_owner = tid;
      thread_wake(w.thread);
    }
  }
}

Result<int> futex_wait_requeue_pi(AddressSpace* as, uintptr_t uaddr, uint32_t expected, uint64_t deadline_ns,
                                  uintptr_t uaddr2, uint32_t tid, FutexOwnerAlive alive, FutexScope scope) {
  TRY(check_word(as, uaddr));
  TRY(check_word(as, uaddr2));
  TRY(load_word(as, uaddr));
  TRY(load_word(as, uaddr2));
  const FutexKey key = TRY(key_of(as, uaddr, scope));
  const FutexKey key2 = TRY(key_of(as, uaddr2, scope));
  if (key == key2) return Error::Invalid;
  Thread* self = thread_current();
  WaitTag tag("futex_requeue_pi", reinterpret_cast<const void*>(uaddr));
  FutexWaiter w;
  w.thread = self;
  w.key = key;
  w.requeue_pi = true;
  w.tid = tid;
  w.pi_key = key2;
  w.pi_uaddr = uaddr2;
  Bucket& b = bucket_of(key);
  w.bucket.store(&b, std::memory_order_relaxed);
  {
    IrqGuard irq;
    TRY(enqueue_if_equal(as, uaddr, expected, b, w));
  }
  for (;;) {
    sched_block(deadline_ns);
    IrqGuard irq;
    Bucket* cur = lock_waiter_bucket(w);
    cur->lock.assert_held();
    if (w.woken) {  // the requeue took the PI lock for us
      cur->lock.unlock();
      preempt_check();
      return 0;
    }
    if (w.pi) {
      // Requeued onto the PI word and woken by a kick, a signal, the
      // deadline or spuriously: off its queue, then the PI loop decides
      // (it queues it again, or returns the interrupt or the timeout).
      if (!w.kicked) unlink_pi(*cur, w);
      cur->lock.unlock();
      break;
    }
    Error err = Error::None;
    if (thread_interrupt_pending(self)) err = Error::Interrupted;
    else if (deadline_ns && uptime_ns() >= deadline_ns) err = Error::TimedOut;
    if (err != Error::None) {
      cur->waiters.remove(w);
      cur->lock.unlock();
      return err;
    }
    sched_prepare_block();
    if (thread_interrupt_pending(self)) {
      cur->waiters.remove(w);
      cancel_block(self);
      cur->lock.unlock();
      return Error::Interrupted;
    }
    cur->lock.unlock();
  }
  return pi_lock_loop(as, w, deadline_ns, false, false, alive);
}

Result<int> futex_cmp_requeue_pi(AddressSpace* as, uintptr_t uaddr, int n_requeue, uintptr_t uaddr2, uint32_t cmp,
                                 FutexScope scope) {
  TRY(check_word(as, uaddr));
  TRY(check_word(as, uaddr2));
  if (n_requeue < 0) return Error::Invalid;
  TRY(load_word(as, uaddr));
  TRY(load_word(as, uaddr2));
  const FutexKey k1 = TRY(key_of(as, uaddr, scope));
  const FutexKey k2 = TRY(key_of(as, uaddr2, scope));
  if (k1 == k2) return Error::Invalid;
  Bucket& b1 = bucket_of(k1);
  Bucket& b2 = bucket_of(k2);
  int total = 0, moved = 0;
  {
    PairGuard g(b1, b2);
    uint32_t now = TRY(load_word(as, uaddr));
    if (now != cmp) return Error::Again;
    bool tried_top = false;
    for (auto it = b1.waiters.begin(); it != b1.waiters.end();) {
      FutexWaiter& w = *it;
      ++it;
      if (!w.matches(k1)) continue;
      if (!w.requeue_pi || !(w.pi_key == k2)) return total ? Result<int>(total) : Result<int>(Error::Invalid);
      if (!tried_top) {
        // The oldest waiter takes the PI lock at once if it is free.
        tried_top = true;
        uint32_t uval = TRY(read_pi_word(as, uaddr2));
        for (int tries = 0; tries < 64 && !(uval & FUTEX_PI_TID_MASK); ++tries) {
          bool more = has_pi_waiter(b2, k2, nullptr);
          for (auto j = it; j != b1.waiters.end() && !more; ++j) more = j->matches(k1);
          const uint32_t nv = (uval & FUTEX_PI_OWNER_DIED) | w.tid | (more ? FUTEX_PI_WAITERS : 0);
          int r = cmpxchg_word(as, uaddr2, &uval, nv);
          if (r < 0) return Error::Fault;
          if (r > 0) {
            b1.waiters.remove(w);
            w.woken = true;
            thread_wake(w.thread);
            ++total;
            break;
          }
        }
        if (w.woken) continue;
      }
      if (moved >= n_requeue) break;
      // Onto the PI word's queue: FUTEX_WAITERS so the owner's unlock
      // comes here.
      uint32_t uval = TRY(read_pi_word(as, uaddr2));
      while (!(uval & FUTEX_PI_WAITERS)) {
        int r = cmpxchg_word(as, uaddr2, &uval, uval | FUTEX_PI_WAITERS);
        if (r < 0) return Error::Fault;
        if (r > 0) break;
      }
      b1.waiters.remove(w);
      b2.waiters.push_back(w);
      w.bucket.store(&b2, std::memory_order_release);
      w.key = k2;
      w.requeue_pi = false;
      w.pi = true;
      w.owner_tid = uval & FUTEX_PI_TID_MASK;
      g_pi_waiters.fetch_add(1);
      ++moved;
      ++total;
    }
  }
  preempt_check();
  return total;
}

int futex_waiter_count(AddressSpace* as, uintptr_t uaddr, FutexScope scope) {
  auto key = key_of(as, uaddr, scope);
  if (!key) return 0;
  Bucket& b = bucket_of(*key);
  SpinGuard g(b.lock);
  int n = 0;
  for (auto& w : b.waiters)
    if (w.matches(*key)) ++n;
  return n;
}

}  // namespace capsule
