// In-kernel tests of threads, scheduling, synchronization and time
// (--test=sched). Several need more than one CPU; they say so and pass
// trivially only where the tests do not ask for them (they are run
// by tests/guest/sched.cmake with the CPU counts they need).
#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/sched/thread.h"
#include "core/sync/wait_queue.h"

namespace capsule {
namespace {

constexpr uint64_t MS = 1000000;

void join_ok(Thread* t) { KEXPECT(thread_join(t).ok()); }

// --- 1000 threads created and joined ---
std::atomic<unsigned> g_ran;
void count_run(void* arg) { g_ran.fetch_add(1 + 0 * reinterpret_cast<uintptr_t>(arg)); }

KTEST(sched_thousand_threads) {
  constexpr unsigned N = 1000;
  g_ran = 0;
  auto** ts = static_cast<Thread**>(kmalloc(N * sizeof(Thread*)));
  KEXPECT(ts != nullptr);
  if (!ts) return;
  unsigned created = 0;
  for (unsigned i = 0; i < N; ++i) {
    auto t = thread_create("t1000", count_run, nullptr);
    KEXPECT(t.ok());
    if (!t.ok()) break;
    ts[created++] = t.value();
  }
  for (unsigned i = 0; i < created; ++i) join_ok(ts[i]);
  kfree(ts);
  KEXPECT(created == N);
  KEXPECT(g_ran.load() == N);
  kprint("sched.thousand_threads: {} threads ran and were joined on {} CPUs\n", g_ran.load(), cpu_count());
}

KTEST(sched_join_errors) {
  KEXPECT(thread_join(thread_current()).error() == Error::Invalid);
  KEXPECT(thread_join(nullptr).error() == Error::Invalid);
}

// --- ping-pong through a condition variable ---
struct PingPong {
  Mutex m;
  CondVar cv;
  int turn = 0;  // 0: ping's turn, 1: pong's
  unsigned rounds = 0;
  unsigned pings = 0, pongs = 0;
};

void pinger(void* a) {
  auto* p = static_cast<PingPong*>(a);
  for (unsigned i = 0; i < p->rounds; ++i) {
    MutexGuard g(p->m);
    while (p->turn != 0) p->cv.wait(p->m);
    ++p->pings;
    p->turn = 1;
    p->cv.notify_one();
  }
}

void ponger(void* a) {
  auto* p = static_cast<PingPong*>(a);
  for (unsigned i = 0; i < p->rounds; ++i) {
    MutexGuard g(p->m);
    while (p->turn != 1) p->cv.wait(p->m);
    ++p->pongs;
    p->turn = 0;
    p->cv.notify_one();
  }
}

KTEST(sched_pingpong) {
  auto* p = new (std::nothrow) PingPong();
  p->rounds = 100000;
  uint64_t sw0 = thread_context_switches();
  uint64_t t0 = uptime_ns();
  auto a = thread_create("ping", pinger, p);
  auto b = thread_create("pong", ponger, p);
  KEXPECT(a.ok() && b.ok());
  join_ok(a.value());
  join_ok(b.value());
  uint64_t dt = uptime_ns() - t0;
  KEXPECT(p->pings == 100000);
  KEXPECT(p->pongs == 100000);
  kprint("sched.pingpong: {} round trips on {} CPUs in {} ms ({} switches)\n", p->pings, cpu_count(),
         dt / MS, thread_context_switches() - sw0);
  delete p;
}

// --- 8 threads increment a mutex-protected counter ---
struct Counter {
  Mutex m;
  uint64_t value = 0;  // deliberately not atomic: only the mutex protects it
  std::atomic<uint32_t> cpus_seen{0};
};

void incrementer(void* a) {
  auto* c = static_cast<Counter*>(a);
  for (int i = 0; i < 20000; ++i) {
    c->m.lock();
    uint64_t v = c->value;
    if ((i & 1023) == 0) thread_yield();  // hold the lock across a switch now and then
    c->value = v + 1;
    c->m.unlock();
    c->cpus_seen.fetch_or(1u << current_cpu());
  }
}

KTEST(sched_mutex_counter) {
  auto* c = new (std::nothrow) Counter();
  Thread* ts[8];
  for (auto& t : ts) t = thread_create("inc", incrementer, c).value();
  for (auto* t : ts) join_ok(t);
  KEXPECT(c->value == 8 * 20000);
  unsigned ncpus = std::popcount(c->cpus_seen.load());
  kprint("sched.mutex_counter: {} increments, threads ran on {} of {} CPUs\n", c->value, ncpus, cpu_count());
  if (cpu_count() >= 4) KEXPECT(ncpus >= 2);  // the balancer spread them
  delete c;
}

// --- a busy thread does not starve others on its CPU ---
std::atomic<bool> g_stop_spin;
std::atomic<bool> g_worker_ran;
void spinner(void*) {
  while (!g_stop_spin.load(std::memory_order_relaxed)) x64::pause();
}
void worker(void*) { g_worker_ran.store(true); }

KTEST(sched_preemption) {
  g_stop_spin = false;
  g_worker_ran = false;
  ThreadOptions o;
  o.pin_cpu = int(current_cpu());
  Thread* spin = thread_create("spinner", spinner, nullptr, o).value();
  Thread* work = thread_create("worker", worker, nullptr, o).value();
  uint64_t t0 = uptime_ns();
  // Only preemption lets us (pinned here too) and the worker run again.
  Thread* self = thread_current();
  (void)thread_pin(self, int(current_cpu()));
  thread_sleep_ns(50 * MS);
  uint64_t waited = uptime_ns() - t0;
  KEXPECT(g_worker_ran.load());
  g_stop_spin = true;
  join_ok(spin);
  join_ok(work);
  (void)thread_pin(self, -1);
  kprint("sched.preemption: woke after {} ms beside a busy thread\n", waited / MS);
}

// --- sleep accuracy ---
KTEST(sched_sleep_accuracy) {
  // Tolerance: TCG timers fire late by the host's scheduling noise; 10 ms of
  // slack keeps the test meaningful (a tick-based or broken timer would be
  // off by far more, or never wake).
  for (int i = 0; i < 5; ++i) {
    uint64_t t0 = uptime_ns();
    thread_sleep_ns(10 * MS);
    uint64_t dt = uptime_ns() - t0;
    KEXPECT(dt >= 10 * MS);
    KEXPECT(dt < 20 * MS);
    if (i == 0) kprint("sched.sleep_accuracy: sleep(10 ms) took {} us\n", dt / 1000);
  }
}

// --- timed waits ---
KTEST(sched_timed_waits) {
  Semaphore s(0);
  uint64_t t0 = uptime_ns();
  KEXPECT(!s.down_until(t0 + 5 * MS));
  KEXPECT(uptime_ns() - t0 >= 5 * MS);
  s.up();
  KEXPECT(s.down_until(uptime_ns() + 5 * MS));
  KEXPECT(!s.try_down());
  Mutex m;
  CondVar cv;
  m.lock();
  t0 = uptime_ns();
  KEXPECT(!cv.wait(m, t0 + 3 * MS));
  KEXPECT(m.held_by_current());
  m.unlock();
  WaitQueue q;
  KEXPECT(!q.wait(uptime_ns() + MS));
  KEXPECT(!q.wake_one());
}

// --- the clock is monotonic across CPUs ---
struct ClockCheck {
  SpinLock lock;
  uint64_t last = 0;
  unsigned violations = 0;
  unsigned reads = 0;
};

void clock_reader(void* a) {
  auto* c = static_cast<ClockCheck*>(a);
  for (int i = 0; i < 20000; ++i) {
    SpinGuard g(c->lock);  // orders the reads: each must see time move on
    uint64_t now = uptime_ns();
    if (now < c->last) ++c->violations;
    c->last = now;
    ++c->reads;
  }
}

KTEST(sched_clock_monotonic_across_cpus) {
  auto* c = new (std::nothrow) ClockCheck();
  Thread* ts[MAX_CPUS];
  uint32_t n = cpu_count();
  for (uint32_t i = 0; i < n; ++i) {
    ThreadOptions o;
    o.pin_cpu = int(i);
    ts[i] = thread_create("clock", clock_reader, c, o).value();
  }
  for (uint32_t i = 0; i < n; ++i) join_ok(ts[i]);
  KEXPECT(c->violations == 0);
  KEXPECT(c->reads == n * 20000);
  kprint("sched.clock_monotonic: {} ordered reads on {} CPUs, {} went backwards\n", c->reads, n, c->violations);
  delete c;
}

// --- a pinned thread only runs on its CPU ---
struct PinCheck {
  uint32_t want;
  std::atomic<unsigned> wrong{0};
  std::atomic<unsigned> samples{0};
};

void pinned_body(void* a) {
  auto* p = static_cast<PinCheck*>(a);
  for (int i = 0; i < 200; ++i) {
    if (current_cpu() != p->want) p->wrong.fetch_add(1);
    p->samples.fetch_add(1);
    if (i % 3 == 0) thread_yield();
    else if (i % 3 == 1) thread_sleep_ns(100000);
    else for (int k = 0; k < 2000; ++k) x64::pause();
  }
}

KTEST(sched_pinned_thread) {
  if (cpu_count() < 3) {
    kprint("sched.pinned_thread: needs 3 CPUs, have {}: skipped\n", cpu_count());
    return;
  }
  PinCheck p;
  p.want = 2;
  ThreadOptions o;
  o.pin_cpu = 2;
  Thread* t = thread_create("pinned2", pinned_body, &p, o).value();
  // Load the other CPUs so the balancer has reasons to move things.
  g_stop_spin = false;
  Thread* s1 = thread_create("spin", spinner, nullptr).value();
  Thread* s2 = thread_create("spin", spinner, nullptr).value();
  join_ok(t);
  g_stop_spin = true;
  join_ok(s1);
  join_ok(s2);
  KEXPECT(p.samples.load() == 200);
  KEXPECT(p.wrong.load() == 0);
  // Pinning a running thread moves it at once.
  Thread* self = thread_current();
  KEXPECT(thread_pin(self, 1).ok());
  KEXPECT(current_cpu() == 1);
  KEXPECT(thread_pin(self, -1).ok());
  KEXPECT(thread_pin(self, 999).error() == Error::Invalid);
  kprint("sched.pinned_thread: {} samples on cpu 2, {} elsewhere\n", p.samples.load(), p.wrong.load());
}

// --- vector registers survive switches ---
std::atomic<unsigned> g_fpu_bad;
void fpu_body(void* a) {
  uint64_t pattern = reinterpret_cast<uint64_t>(a);
  for (int i = 0; i < 300; ++i) {
    uint64_t got;
    asm volatile("movq %0, %%xmm7" : : "r"(pattern + i));  // the kernel never uses xmm: no clobber
    thread_yield();
    if (i % 10 == 0) thread_sleep_ns(50000);
    asm volatile("movq %%xmm7, %0" : "=r"(got));
    if (got != pattern + i) g_fpu_bad.fetch_add(1);
  }
}

KTEST(sched_vector_state) {
  g_fpu_bad = 0;
  ThreadOptions o;
  o.uses_fpu = true;
  o.pin_cpu = int(current_cpu());  // same CPU: they must switch between each other
  Thread* a = thread_create("fpu-a", fpu_body, reinterpret_cast<void*>(0x1111000000000000ull), o).value();
  Thread* b = thread_create("fpu-b", fpu_body, reinterpret_cast<void*>(0x2222000000000000ull), o).value();
  join_ok(a);
  join_ok(b);
  KEXPECT(g_fpu_bad.load() == 0);
}

// --- priorities: a nice 0 thread gets more CPU than a nice 10 one ---
void spin_until_stop(void* counter) {
  auto* n = static_cast<std::atomic<uint64_t>*>(counter);
  while (!g_stop_spin.load(std::memory_order_relaxed)) n->fetch_add(1, std::memory_order_relaxed);
}

KTEST(sched_priorities) {
  g_stop_spin = false;
  ThreadOptions hi, lo;
  hi.pin_cpu = lo.pin_cpu = int(current_cpu());
  lo.nice = 10;
  std::atomic<uint64_t> work_a{0}, work_b{0};
  Thread* a = thread_create("nice0", spin_until_stop, &work_a, hi).value();
  Thread* b = thread_create("nice10", spin_until_stop, &work_b, lo).value();
  (void)thread_pin(thread_current(), hi.pin_cpu);
  thread_sleep_ns(200 * MS);
  uint64_t ta = thread_cpu_time_ns(a), tb = thread_cpu_time_ns(b);
  uint64_t wa = work_a.load(), wb = work_b.load();
  g_stop_spin = true;
  join_ok(a);
  join_ok(b);
  (void)thread_pin(thread_current(), -1);
  // Weights 1024 vs 110 (nice 10): about 9:1 of the CPU. Work done is the
  // robust measure (a host that stalls the vCPU inflates whichever thread's
  // run time it hits); ask for clearly more than 3:1.
  KEXPECT(wa > 3 * wb);
  kprint("sched.priorities: nice 0 ran {} us ({} loops), nice 10 ran {} us ({} loops)\n", ta / 1000, wa,
         tb / 1000, wb);
}

// --- overflowing a thread's stack panics naming the thread ---
[[gnu::noinline]] unsigned recurse(unsigned depth) {
  volatile char pad[256];
  pad[0] = char(depth);
  return depth > 0x7fffffff ? pad[0] : recurse(depth + 1) + pad[0];
}
void overflow_body(void*) { kprint("recursed {}\n", recurse(0)); }

KTEST_FAULT(fault_thread_stack_overflow) {
  auto t = thread_create("overflow-test", overflow_body, nullptr);
  if (t.ok()) (void)thread_join(t.value());
}

}  // namespace
}  // namespace capsule
