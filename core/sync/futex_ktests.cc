// In-kernel tests of futexes (--test=futex, docs/futex.md). The words live
// in a real application address space, loaded on every CPU for the test's
// lifetime (the scheduler does not switch CR3 yet), so the waits go through
// the uaccess helpers and demand paging as the Linux adapter's will.
#include <atomic>
#include <climits>

#include "core/address_space.h"
#include "core/futex.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/mm/vma.h"
#include "core/sync/futex.h"

namespace capsule {
namespace {

using namespace mm;

constexpr uint64_t MS = 1000000;
constexpr uintptr_t BASE = 0x20000000;  // 16 read-write pages
constexpr uintptr_t RO = 0x20100000;    // 1 read-only page
constexpr size_t PAGES = 16;

template <typename F>
void on_every_cpu(F&& f) {
  Thread* self = thread_current();
  for (uint32_t i = 0; i < cpu_count(); ++i)
    if (thread_pin(self, int(i)).ok()) f();
  (void)thread_pin(self, -1);
}

// An address space with the test pages, active on every CPU.
class SharedSpace {
 public:
  SharedSpace() {
    as_ = AddressSpace::create().value_or(nullptr);
    KEXPECT(as_ != nullptr);
    if (!as_) return;
    MapRequest r;
    r.addr = BASE;
    r.len = PAGES * PAGE_SIZE;
    r.prot = VM_READ | VM_WRITE;
    r.placement = Placement::Fixed;
    KEXPECT(as_->mmap(r).ok());
    r.addr = RO;
    r.len = PAGE_SIZE;
    r.prot = VM_READ;
    KEXPECT(as_->mmap(r).ok());
    on_every_cpu([this] { as_->activate(); });
  }
  ~SharedSpace() {
    if (!as_) return;
    on_every_cpu([] { AddressSpace::activate_kernel(); });
    AddressSpace::destroy(as_);
  }
  AddressSpace* get() const { return as_; }
  explicit operator bool() const { return as_ != nullptr; }

 private:
  AddressSpace* as_ = nullptr;
};

uint32_t* word(uintptr_t a) { return reinterpret_cast<uint32_t*>(a); }
uint32_t load(uintptr_t a) { return __atomic_load_n(word(a), __ATOMIC_SEQ_CST); }
void store(uintptr_t a, uint32_t v) { __atomic_store_n(word(a), v, __ATOMIC_SEQ_CST); }

// Polls until `n` waiters are queued on the word (or a second passes).
bool wait_for_waiters(AddressSpace* as, uintptr_t a, int n) {
  uint64_t end = uptime_ns() + 2000 * MS;
  while (futex_waiter_count(as, a) != n) {
    if (uptime_ns() > end) return false;
    thread_sleep_ns(MS / 2);
  }
  return true;
}

struct WaitArgs {
  AddressSpace* as;
  uintptr_t addr;
  uint32_t expected;
  uint64_t deadline;
  uint32_t bitset = FUTEX_BITSET_ANY;
  Error result = Error::Busy;  // not finished
  std::atomic<bool> done{false};
};

void waiter(void* p) {
  auto* a = static_cast<WaitArgs*>(p);
  auto r = futex_wait(a->as, a->addr, a->expected, a->deadline, a->bitset);
  a->result = r.ok() ? Error::None : r.error();
  a->done.store(true);
}

Thread* start_waiter(WaitArgs& a) {
  auto t = thread_create("futex-waiter", waiter, &a);
  KEXPECT(t.ok());
  return t.value_or(nullptr);
}

void join(Thread* t) {
  if (t) KEXPECT(thread_join(t).ok());
}

}  // namespace

KTEST(futex_errors) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  KEXPECT(futex_wait(as, BASE + 2, 0).error() == Error::Invalid);  // unaligned
  KEXPECT(futex_wake(as, BASE + 1, 1).error() == Error::Invalid);
  KEXPECT(futex_wait(as, BASE, 0, 0, 0).error() == Error::Invalid);  // bitset 0
  KEXPECT(futex_wake(as, BASE, 1, 0).error() == Error::Invalid);
  KEXPECT(futex_requeue(as, BASE, -1, BASE + 4, 1, nullptr).error() == Error::Invalid);
  KEXPECT(futex_requeue(as, BASE, 1, BASE + 4, -1, nullptr).error() == Error::Invalid);
  // Bad pointers: unmapped, null, a kernel address.
  KEXPECT(futex_wait(as, 0x30000000, 0).error() == Error::Fault);
  KEXPECT(futex_wait(as, 0, 0).error() == Error::Fault);
  KEXPECT(futex_wait(as, KERNEL_VMA, 0).error() == Error::Fault);
  uint32_t zero = 0;
  KEXPECT(futex_requeue(as, 0x30000000, 1, BASE, 1, &zero).error() == Error::Fault);
  // Unknown FUTEX_OP op (7) and comparison (6): ENOSYS, as Linux.
  KEXPECT(futex_wake_op(as, BASE, 1, BASE + 4, 1, futex_op_encode(7u, 0, FutexCmp::Eq, 0)).error() ==
          Error::NotSupported);
  KEXPECT(futex_wake_op(as, BASE, 1, BASE + 4, 1, futex_op_encode(FutexOp::Add, 0, FutexCmp(6), 0)).error() ==
          Error::NotSupported);
  // wake_op writes: a read-only page is a fault, an unmapped one too.
  KEXPECT(futex_wake_op(as, BASE, 1, RO, 1, futex_op_encode(FutexOp::Add, 1, FutexCmp::Eq, 0)).error() ==
          Error::Fault);
  KEXPECT(futex_wake_op(as, BASE, 1, 0x30000000, 1, futex_op_encode(FutexOp::Add, 1, FutexCmp::Eq, 0)).error() ==
          Error::Fault);
  // Nobody waits: nothing woken.
  KEXPECT(futex_wake(as, BASE, INT_MAX).value_or(-1) == 0);
  // A waiter on a read-only page is fine (only reads).
  KEXPECT(futex_wait(as, RO, 1).error() == Error::Again);
}

KTEST(futex_mismatch_and_lazy_pages) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  // An untouched page of the mapping: the read faults it in (zeros).
  uint64_t faults0 = as->fault_count();
  KEXPECT(futex_wait(as, BASE + 5 * PAGE_SIZE, 1).error() == Error::Again);
  KEXPECT(as->fault_count() == faults0 + 1);
  store(BASE, 7);
  KEXPECT(futex_wait(as, BASE, 8).error() == Error::Again);
  KEXPECT(futex_wait(as, BASE, 6, uptime_ns() + 1000 * MS).error() == Error::Again);
  // A word on another never-touched page, waited on with the right value
  // (0): the wait sleeps until woken.
  WaitArgs a{as, BASE + 9 * PAGE_SIZE, 0, 0};
  Thread* t = start_waiter(a);
  KEXPECT(wait_for_waiters(as, a.addr, 1));
  KEXPECT(!a.done.load());
  KEXPECT(futex_wake(as, a.addr, 1).value_or(-1) == 1);
  join(t);
  KEXPECT(a.result == Error::None);
  kprint("futex.mismatch_and_lazy_pages: {} faults\n", as->fault_count() - faults0);
}

KTEST(futex_wait_wake_counts) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  constexpr int N = 8;
  const uintptr_t w = BASE + 64;
  store(w, 0);
  WaitArgs args[N];
  Thread* ts[N];
  for (int i = 0; i < N; ++i) {
    args[i].as = as;
    args[i].addr = w;
    args[i].expected = 0;
    args[i].deadline = 0;
    ts[i] = start_waiter(args[i]);
  }
  KEXPECT(wait_for_waiters(as, w, N));
  KEXPECT(futex_wake(as, w + 4, INT_MAX).value_or(-1) == 0);  // another word: nobody
  KEXPECT(futex_wake(as, w, 3).value_or(-1) == 3);
  KEXPECT(wait_for_waiters(as, w, N - 3));
  KEXPECT(futex_wake(as, w, 0).value_or(-1) == 1);  // 0 wakes one, as Linux
  KEXPECT(futex_wake(as, w, INT_MAX).value_or(-1) == N - 4);
  int ok = 0;
  for (int i = 0; i < N; ++i) {
    join(ts[i]);
    ok += args[i].result == Error::None;
  }
  KEXPECT(ok == N);
  KEXPECT(futex_waiter_count(as, w) == 0);
  kprint("futex.wait_wake_counts: woke 3+1+{} of {} waiters\n", N - 4, N);
}

KTEST(futex_timeout) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  store(BASE, 0);
  // Already past: still checks the value first, then times out at once.
  KEXPECT(futex_wait(as, BASE, 1, 1).error() == Error::Again);
  KEXPECT(futex_wait(as, BASE, 0, 1).error() == Error::TimedOut);
  uint64_t worst = 0;
  for (int i = 0; i < 5; ++i) {
    uint64_t t0 = uptime_ns();
    uint64_t deadline = t0 + 20 * MS;
    KEXPECT(futex_wait(as, BASE, 0, deadline).error() == Error::TimedOut);
    uint64_t now = uptime_ns();
    KEXPECT(now >= deadline);
    if (now - deadline > worst) worst = now - deadline;
  }
  // Slack: TCG timers fire late by the host's scheduling noise (a loaded
  // host has delayed 10 ms sleeps by 85 ms); a wait that ignored its
  // deadline would never end, and one tied to a coarse tick would be
  // late on every run.
  KEXPECT(worst < 100 * MS);
  KEXPECT(futex_waiter_count(as, BASE) == 0);
  kprint("futex.timeout: 20 ms waits ended at most {} us late\n", worst / 1000);
}

KTEST(futex_bitset) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  const uintptr_t w = BASE + 128;
  store(w, 0);
  WaitArgs a{as, w, 0, 0, 0x1};
  WaitArgs b{as, w, 0, 0, 0x6};
  Thread* ta = start_waiter(a);
  Thread* tb = start_waiter(b);
  KEXPECT(wait_for_waiters(as, w, 2));
  KEXPECT(futex_wake(as, w, INT_MAX, 0x8).value_or(-1) == 0);  // no overlap
  KEXPECT(futex_wake(as, w, INT_MAX, 0x4).value_or(-1) == 1);  // b only
  join(tb);
  KEXPECT(b.result == Error::None && !a.done.load());
  KEXPECT(futex_waiter_count(as, w) == 1);
  KEXPECT(futex_wake(as, w, INT_MAX, 0x3).value_or(-1) == 1);
  join(ta);
  KEXPECT(a.result == Error::None);
}

KTEST(futex_requeue) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  constexpr int N = 6;
  const uintptr_t w1 = BASE + 256, w2 = BASE + PAGE_SIZE + 256;  // different buckets likely
  store(w1, 5);
  store(w2, 0);
  WaitArgs args[N];
  Thread* ts[N];
  for (int i = 0; i < N; ++i) {
    args[i].as = as;
    args[i].addr = w1;
    args[i].expected = 5;
    args[i].deadline = 0;
    ts[i] = start_waiter(args[i]);
  }
  KEXPECT(wait_for_waiters(as, w1, N));
  // REQUEUE: wake 1, move 3.
  KEXPECT(futex_requeue(as, w1, 1, w2, 3, nullptr).value_or(-1) == 4);
  KEXPECT(wait_for_waiters(as, w1, 2));
  KEXPECT(futex_waiter_count(as, w2) == 3);
  // CMP_REQUEUE with a stale value: nothing happens.
  uint32_t stale = 4, cur = 5;
  KEXPECT(futex_requeue(as, w1, 1, w2, INT_MAX, &stale).error() == Error::Again);
  KEXPECT(futex_waiter_count(as, w1) == 2);
  // With the right value: move the rest, wake none.
  KEXPECT(futex_requeue(as, w1, 0, w2, INT_MAX, &cur).value_or(-1) == 2);
  KEXPECT(futex_waiter_count(as, w1) == 0);
  KEXPECT(futex_waiter_count(as, w2) == 5);
  // A wake on the old word finds nobody; on the new one, everybody.
  KEXPECT(futex_wake(as, w1, INT_MAX).value_or(-1) == 0);
  KEXPECT(futex_wake(as, w2, INT_MAX).value_or(-1) == 5);
  int ok = 0;
  for (int i = 0; i < N; ++i) {
    join(ts[i]);
    ok += args[i].result == Error::None;
  }
  KEXPECT(ok == N);
  // Requeued waiters time out from their new bucket.
  WaitArgs t{as, w1, 5, uptime_ns() + 50 * MS};
  Thread* tt = start_waiter(t);
  KEXPECT(wait_for_waiters(as, w1, 1));
  KEXPECT(futex_requeue(as, w1, 0, w2, 1, nullptr).value_or(-1) == 1);
  join(tt);
  KEXPECT(t.result == Error::TimedOut);
  KEXPECT(futex_waiter_count(as, w2) == 0);
}

KTEST(futex_wake_op) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  const uintptr_t w1 = BASE + 512, w2 = BASE + 516;
  store(w1, 0);
  store(w2, 5);
  WaitArgs a[4] = {{as, w1, 0, 0}, {as, w1, 0, 0}, {as, w2, 5, 0}, {as, w2, 5, 0}};
  Thread* ts[4];
  for (int i = 0; i < 4; ++i) ts[i] = start_waiter(a[i]);
  KEXPECT(wait_for_waiters(as, w1, 2));
  KEXPECT(wait_for_waiters(as, w2, 2));
  // *w2 += 3; wake 1 on w1; old (5) > 4, so wake 1 on w2 as well.
  KEXPECT(futex_wake_op(as, w1, 1, w2, 1, futex_op_encode(FutexOp::Add, 3, FutexCmp::Gt, 4)).value_or(-1) == 2);
  KEXPECT(load(w2) == 8);
  KEXPECT(wait_for_waiters(as, w1, 1));
  KEXPECT(futex_waiter_count(as, w2) == 1);
  // *w2 = 0; old (8) == 100 is false: only w1's waiter.
  KEXPECT(futex_wake_op(as, w1, 1, w2, 1, futex_op_encode(FutexOp::Set, 0, FutexCmp::Eq, 100)).value_or(-1) == 1);
  KEXPECT(load(w2) == 0);
  KEXPECT(futex_waiter_count(as, w2) == 1);
  // FUTEX_OP_OPARG_SHIFT: *w2 |= 1 << 4; old (0) == 0: wakes the last one.
  KEXPECT(futex_wake_op(as, w1, 1, w2, 1,
                        futex_op_encode(uint32_t(FutexOp::Or) | FUTEX_OP_OPARG_SHIFT, 4, FutexCmp::Eq, 0))
              .value_or(-1) == 1);
  KEXPECT(load(w2) == 16);
  // Negative cmparg, signed comparison: old (16) >= -1; AndNot clears bit 4.
  KEXPECT(futex_wake_op(as, w1, 1, w2, 1, futex_op_encode(FutexOp::AndNot, 16, FutexCmp::Ge, -1)).value_or(-1) ==
          0);
  KEXPECT(load(w2) == 0);
  // A never-touched page as uaddr2: the write faults it in.
  KEXPECT(futex_wake_op(as, w1, 1, BASE + 7 * PAGE_SIZE, 1, futex_op_encode(FutexOp::Xor, 0x55, FutexCmp::Eq, 0))
              .value_or(-1) == 0);
  KEXPECT(load(BASE + 7 * PAGE_SIZE) == 0x55);
  int ok = 0;
  for (int i = 0; i < 4; ++i) {
    join(ts[i]);
    ok += a[i].result == Error::None;
  }
  KEXPECT(ok == 4);
}

KTEST(futex_interrupt) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  store(BASE, 0);
  WaitArgs a{as, BASE, 0, uptime_ns() + 5000 * MS};
  Thread* t = start_waiter(a);
  KEXPECT(wait_for_waiters(as, BASE, 1));
  uint64_t t0 = uptime_ns();
  futex_interrupt(t);
  join(t);
  KEXPECT(a.result == Error::Interrupted);
  KEXPECT(uptime_ns() - t0 < 1000 * MS);
  KEXPECT(futex_waiter_count(as, BASE) == 0);
  // Pending before the wait starts: the wait returns at once (after the
  // value check), until the flag is cleared.
  Thread* self = thread_current();
  thread_interrupt(self);
  KEXPECT(futex_wait(as, BASE, 1).error() == Error::Again);
  KEXPECT(futex_wait(as, BASE, 0).error() == Error::Interrupted);
  KEXPECT(thread_interrupt_pending(self));
  thread_clear_interrupt(self);
  KEXPECT(futex_wait(as, BASE, 0, uptime_ns() + 5 * MS).error() == Error::TimedOut);
}

// --- a mutex built on futex_wait/wake (0 free, 1 locked, 2 contended) ---
struct FutexMutex {
  AddressSpace* as;
  uintptr_t lock;
  uintptr_t counter;  // plain (non-atomic) read-modify-write under the lock
  int rounds;
  std::atomic<uint64_t> cpus_seen{0};
  std::atomic<int> sleeps{0};
};

uint32_t cas(uintptr_t a, uint32_t expected, uint32_t desired) {
  __atomic_compare_exchange_n(word(a), &expected, desired, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
  return expected;  // the old value
}

void fm_lock(FutexMutex& m) {
  uint32_t c = cas(m.lock, 0, 1);
  if (c == 0) return;
  if (c != 2) c = __atomic_exchange_n(word(m.lock), 2, __ATOMIC_ACQUIRE);
  while (c != 0) {
    auto r = futex_wait(m.as, m.lock, 2);
    if (r.ok()) m.sleeps.fetch_add(1, std::memory_order_relaxed);
    c = __atomic_exchange_n(word(m.lock), 2, __ATOMIC_ACQUIRE);
  }
}

void fm_unlock(FutexMutex& m) {
  if (__atomic_fetch_sub(word(m.lock), 1, __ATOMIC_RELEASE) != 1) {
    store(m.lock, 0);
    (void)futex_wake(m.as, m.lock, 1);
  }
}

void fm_worker(void* p) {
  auto* m = static_cast<FutexMutex*>(p);
  for (int i = 0; i < m->rounds; ++i) {
    fm_lock(*m);
    volatile uint32_t* c = word(m->counter);
    uint32_t v = *c;
    if ((i & 63) == 0) thread_yield();  // hold the lock across a switch now and then
    *c = v + 1;
    fm_unlock(*m);
    m->cpus_seen.fetch_or(1ull << current_cpu(), std::memory_order_relaxed);
  }
}

uint32_t run_futex_mutex(AddressSpace* as, int threads, int rounds, FutexMutex& m) {
  m.as = as;
  m.lock = BASE + 2 * PAGE_SIZE;
  m.counter = BASE + 3 * PAGE_SIZE;
  m.rounds = rounds;
  store(m.lock, 0);
  store(m.counter, 0);
  Thread* ts[64];
  // One thread per CPU (pinned, round robin): the lock is contended across
  // CPUs whatever the load balancer would have done in so short a run
  // (unpinned, all four once finished on one CPU of a loaded host).
  for (int i = 0; i < threads; ++i) {
    ThreadOptions o;
    if (cpu_count() > 1) o.pin_cpu = int(uint32_t(i) % cpu_count());
    ts[i] = thread_create("futex-mutex", fm_worker, &m, o).value_or(nullptr);
  }
  for (int i = 0; i < threads; ++i) join(ts[i]);
  KEXPECT(load(m.lock) == 0);
  return load(m.counter);
}

KTEST(futex_mutex_counter) {
  SharedSpace s;
  if (!s) return;
  FutexMutex m;
  constexpr int T = 4, R = 20000;
  uint32_t total = run_futex_mutex(s.get(), T, R, m);
  KEXPECT(total == uint32_t(T * R));
  unsigned ncpus = __builtin_popcountll(m.cpus_seen.load());
  kprint("futex.mutex_counter: {} increments by {} threads, {} futex sleeps, on {} of {} CPUs\n", total, T,
         m.sleeps.load(), ncpus, cpu_count());
}

// --- many waiters: a generation counter broadcast, and a crowded mutex ---
struct Broadcast {
  AddressSpace* as;
  uintptr_t gen;
  uint32_t last;
  std::atomic<int> waits{0};
  std::atomic<int> finished{0};
};

void broadcast_waiter(void* p) {
  auto* b = static_cast<Broadcast*>(p);
  for (;;) {
    uint32_t g = load(b->gen);
    if (g >= b->last) break;
    auto r = futex_wait(b->as, b->gen, g);
    if (r.ok()) b->waits.fetch_add(1, std::memory_order_relaxed);
  }
  b->finished.fetch_add(1);
}

KTEST(futex_stress) {
  SharedSpace s;
  if (!s) return;
  AddressSpace* as = s.get();
  constexpr int W = 48, GENS = 100;
  Broadcast b;
  b.as = as;
  b.gen = BASE + 4 * PAGE_SIZE;
  b.last = GENS;
  store(b.gen, 0);
  Thread* ts[W];
  for (int i = 0; i < W; ++i) ts[i] = thread_create("futex-bcast", broadcast_waiter, &b).value_or(nullptr);
  uint64_t g_rng = 0x2545f4914f6cdd1dull;
  int woken = 0;
  for (uint32_t g = 1; g <= GENS; ++g) {
    thread_sleep_ns(MS / 4);
    __atomic_fetch_add(word(b.gen), 1, __ATOMIC_SEQ_CST);
    // A few random-sized pieces, then everyone left.
    for (int piece = 0; piece < 3; ++piece) {
      g_rng ^= g_rng << 13;
      g_rng ^= g_rng >> 7;
      g_rng ^= g_rng << 17;
      woken += futex_wake(as, b.gen, int(g_rng % 8) + 1).value_or(0);
    }
    woken += futex_wake(as, b.gen, INT_MAX).value_or(0);
  }
  for (int i = 0; i < W; ++i) join(ts[i]);
  KEXPECT(b.finished.load() == W);
  KEXPECT(futex_waiter_count(as, b.gen) == 0);
  KEXPECT(woken == b.waits.load());
  // A crowded futex mutex: 32 threads.
  FutexMutex m;
  uint32_t total = run_futex_mutex(as, 32, 2000, m);
  KEXPECT(total == 32u * 2000);
  kprint("futex.stress: {} waiters x {} generations, {} wake-ups; 32-thread mutex {} increments\n", W, GENS, woken,
         total);
}

// Kernel-address mode (as == nullptr): a word in kernel memory.
KTEST(futex_kernel_words) {
  static uint32_t kword = 0;
  KEXPECT(futex_wait(nullptr, reinterpret_cast<uintptr_t>(&kword), 1).error() == Error::Again);
  WaitArgs a{nullptr, reinterpret_cast<uintptr_t>(&kword), 0, 0};
  Thread* t = start_waiter(a);
  KEXPECT(wait_for_waiters(nullptr, a.addr, 1));
  KEXPECT(futex_wake_op(nullptr, a.addr, 1, reinterpret_cast<uintptr_t>(&kword),
                        1, futex_op_encode(FutexOp::Add, 1, FutexCmp::Eq, 0))
              .value_or(-1) == 1);
  join(t);
  KEXPECT(a.result == Error::None && kword == 1);
}

}  // namespace capsule
