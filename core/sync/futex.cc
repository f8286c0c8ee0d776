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

// Bucket lock held: wakes up to n matching waiters (step 3).
int wake_locked(Bucket& b, const FutexKey& k, int n, uint32_t bitset) REQUIRES(b.lock) {
  b.lock.assert_held();
  int woken = 0;
  for (auto it = b.waiters.begin(); it != b.waiters.end() && woken < n;) {
    FutexWaiter& w = *it;
    ++it;
    if (!w.matches(k) || !(w.bitset & bitset)) continue;
    b.waiters.remove(w);
    w.woken = true;
    thread_wake(w.thread);
    ++woken;
  }
  return woken;
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
  {
    SpinGuard g(b.lock);  // step 2
    uint32_t now = TRY(load_word(as, uaddr));
    if (now != expected) return Error::Again;
    sched_prepare_block();
    b.waiters.push_back(w);
    // After the block is announced (seq_cst): an interrupt that came
    // before is seen here; one that comes later finds us Blocked.
    if (thread_interrupt_pending(self)) {
      b.waiters.remove(w);
      cancel_block(self);
      return Error::Interrupted;
    }
  }
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
      if (!w.matches(k1)) continue;
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
