// Scheduler benchmarks measured inside the kernel (--test=bench), run by
// bench/sched/run.py on 1 and 2 vCPUs. Each prints machine-readable lines
//   bench: <name> <value> <unit>
// and still checks that its figures are sane (non-zero, bounded), so a
// broken scheduler fails here rather than producing a number.
//
// Every measurement runs a short warm-up first: under TCG the first run of
// a code path includes translating it.
#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "lib/ktest.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "core/time.h"
#include "core/sched/thread.h"
#include "core/sync/wait_queue.h"

namespace capsule {
namespace {

constexpr uint64_t MS = 1000000;

// "12.34" from nanoseconds, as microseconds.
void print_us(const char* name, uint64_t ns) {
  kprint("bench: {} {}.{:02} us\n", name, ns / 1000, (ns % 1000) / 10);
}

// --- ping-pong through a pair of semaphores -----------------------------

struct PingPong {
  Semaphore to_a{0}, to_b{0};
  unsigned rounds = 0;
};

void ping(void* a) {
  auto* p = static_cast<PingPong*>(a);
  for (unsigned i = 0; i < p->rounds; ++i) {
    p->to_b.up();
    p->to_a.down();
  }
}

void pong(void* a) {
  auto* p = static_cast<PingPong*>(a);
  for (unsigned i = 0; i < p->rounds; ++i) {
    p->to_b.down();
    p->to_a.up();
  }
}

struct PingPongResult {
  uint64_t ns = 0;
  uint64_t switches = 0;
};

PingPongResult run_pingpong(unsigned rounds, int cpu_a, int cpu_b) {
  PingPong p;
  p.rounds = rounds;
  ThreadOptions oa, ob;
  oa.pin_cpu = cpu_a;
  ob.pin_cpu = cpu_b;
  uint64_t sw0 = thread_context_switches();
  uint64_t t0 = uptime_ns();
  Thread* a = thread_create("ping", ping, &p, oa).value();
  Thread* b = thread_create("pong", pong, &p, ob).value();
  KEXPECT(thread_join(a).ok());
  KEXPECT(thread_join(b).ok());
  return {uptime_ns() - t0, thread_context_switches() - sw0};
}

KTEST(bench_pingpong) {
  constexpr unsigned ROUNDS = 20000;
  // Both threads on one CPU: every hand-off is a context switch. The main
  // thread runs elsewhere (or sleeps in join) so it does not get in between.
  int cpu = cpu_count() > 1 ? 1 : 0;
  (void)run_pingpong(1000, cpu, cpu);
  PingPongResult r = run_pingpong(ROUNDS, cpu, cpu);
  uint64_t per_switch = r.switches ? r.ns / r.switches : 0;
  kprint("bench: pingpong_switches {} count\n", r.switches);
  kprint("bench: context_switch {} ns\n", per_switch);
  KEXPECT(r.switches >= 2 * ROUNDS);       // each hand-off blocks and switches
  KEXPECT(per_switch > 0 && per_switch < 1 * MS);
  if (cpu_count() > 1) {
    // One thread per CPU: each hand-off is a cross-CPU wake-up (IPI, the
    // other CPU leaving hlt) rather than a switch on one CPU.
    (void)run_pingpong(1000, 0, 1);
    PingPongResult x = run_pingpong(ROUNDS, 0, 1);
    uint64_t per_handoff = x.ns / (2 * ROUNDS);
    kprint("bench: cross_cpu_handoff {} ns\n", per_handoff);
    KEXPECT(per_handoff > 0 && per_handoff < 10 * MS);
  }
}

// --- thread create + join ------------------------------------------------

std::atomic<unsigned> g_ran;
void empty_body(void*) { g_ran.fetch_add(1, std::memory_order_relaxed); }

KTEST(bench_create_join) {
  constexpr unsigned N = 500;
  g_ran = 0;
  for (unsigned i = 0; i < 50; ++i) KEXPECT(thread_join(thread_create("warm", empty_body, nullptr).value()).ok());
  uint64_t t0 = uptime_ns();
  for (unsigned i = 0; i < N; ++i) {
    auto t = thread_create("cj", empty_body, nullptr);
    KEXPECT(t.ok());
    if (!t.ok()) break;
    KEXPECT(thread_join(t.value()).ok());
  }
  uint64_t per = (uptime_ns() - t0) / N;
  print_us("thread_create_join", per);
  KEXPECT(g_ran.load() == N + 50);
  KEXPECT(per > 0 && per < 10 * MS);
}

// --- timer wake-up latency -----------------------------------------------

void sort(uint64_t* v, size_t n) {
  for (size_t i = 1; i < n; ++i)
    for (size_t j = i; j > 0 && v[j - 1] > v[j]; --j) {
      uint64_t t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
}

KTEST(bench_timer_wakeup) {
  constexpr unsigned N = 101;
  uint64_t over[N];
  thread_sleep_ns(MS);  // warm-up
  bool early = false;
  for (unsigned i = 0; i < N; ++i) {
    uint64_t t0 = uptime_ns();
    thread_sleep_ns(MS);
    uint64_t dt = uptime_ns() - t0;
    if (dt < MS) early = true;
    over[i] = dt > MS ? dt - MS : 0;
  }
  sort(over, N);
  print_us("timer_wakeup_median", over[N / 2]);
  print_us("timer_wakeup_p90", over[N * 9 / 10]);
  print_us("timer_wakeup_max", over[N - 1]);
  KEXPECT(!early);                    // never before the deadline
  KEXPECT(over[N / 2] < 5 * MS);      // TCG noise is far below this
}

}  // namespace
}  // namespace capsule
