// The hung-task detector and thread dumps (docs/hang_detector.md).
//
// Each CPU's run queue arms hung_timer; when it fires, on_timer_irq calls
// hung_task_tick() with interrupts off, outside timer_lock. The tick is the
// CPU's heartbeat (hung_tick_ns) and notes when its switch count last
// changed. One CPU per period (whichever claims g_last_scan first) then
// looks at everybody: CPUs whose heartbeat stopped (interrupts off, or a
// loop in an interrupt handler), CPUs that have not switched threads while
// others waited, and threads asleep without a deadline for longer than the
// limit. A timer interrupt, not a thread: a starved or wedged thread cannot
// silence it, and a wedged CPU is seen by the others.
#include <atomic>

#include "arch/apic.h"
#include "arch/arch.h"
#include "arch/percpu.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/symbols.h"
#include "core/time.h"
#include "core/sched/run_queue.h"

namespace capsule {
namespace {

constexpr uint64_t SEC = 1000000000ull;

uint64_t g_blocked_ns = 120 * SEC;
uint64_t g_cpu_stall_ns = 20 * SEC;
bool g_panic = false;
std::atomic<uint64_t> g_last_scan{0};
SpinLock g_report_lock;  // one report at a time, lines not interleaved

const char* state_name(ThreadState s) {
  switch (s) {
    case ThreadState::Running: return "runnable";
    case ThreadState::Blocked: return "blocked";
    case ThreadState::Dead: return "dead";
  }
  return "?";
}

void print_frame(unsigned i, uintptr_t addr) {
  StringView name;
  uintptr_t off;
  if (symbolize(addr, name, off)) kprint("    #{:<2} {:#018x} {}+{:#x}\n", i, addr, name, off);
  else kprint("    #{:<2} {:#018x} ?\n", i, addr);
}

// The frame-pointer chain of a switched-out thread, from what arch_switch
// pushed (r15 r14 r13 r12 rbx rbp, then the return address). Every read
// stays inside the thread's own stack: the thread may wake and run while
// we look, and then we print garbage, never fault.
void print_switched_out_backtrace(const Thread* t) {
  uintptr_t lo = t->stack.base, hi = t->stack.top;
  uintptr_t sp = t->saved_rsp;
  if (sp < lo || sp + 7 * 8 > hi) {
    kprint("    (no saved stack)\n");
    return;
  }
  auto* saved = reinterpret_cast<const uintptr_t*>(sp);
  uintptr_t rbp = saved[5];
  unsigned i = 0;
  print_frame(i++, saved[6] - 1);
  while (i < 24 && rbp >= lo && rbp + 16 <= hi && (rbp & 7) == 0) {
    auto* frame = reinterpret_cast<const uintptr_t*>(rbp);
    uintptr_t ret = frame[1];
    if (!ret) break;
    print_frame(i++, ret - 1);
    uintptr_t next = frame[0];
    if (next <= rbp) break;
    rbp = next;
  }
}

// --- where a running CPU is: an NMI asks it ---
// A CPU that takes no timer interrupt has interrupts off (a spin on a lock
// or an IPI answer, a loop): only an NMI reaches it. The asking CPU sets
// the slot to Asked and sends the NMI; the NMI handler (on_nmi) records
// RIP, RFLAGS and the frame-pointer chain, bounded by the stack of the
// thread the CPU runs, and sets Answered; the asker prints. The handler
// takes no lock and does not use %gs: it finds its slot by APIC id.
enum : uint32_t { NMI_IDLE = 0, NMI_ASKED = 1, NMI_ANSWERED = 2 };
constexpr unsigned NMI_FRAMES = 16;
struct NmiSlot {
  std::atomic<uint32_t> state{NMI_IDLE};
  uint32_t apic_id = 0;
  uintptr_t stack_lo = 0, stack_hi = 0;  // the running thread's kernel stack
  uintptr_t rip = 0;
  uint64_t rflags = 0;
  bool user = false;
  unsigned nframes = 0;
  uintptr_t frames[NMI_FRAMES] = {};
};
NmiSlot g_nmi[MAX_CPUS];

bool on_nmi(uintptr_t rip, uintptr_t rbp, uint64_t rflags, bool user) {
  const uint32_t id = lapic_id();
  for (NmiSlot& s : g_nmi) {
    if (s.apic_id != id || s.state.load(std::memory_order_acquire) != NMI_ASKED) continue;
    s.rip = rip;
    s.rflags = rflags;
    s.user = user;
    s.nframes = 0;
    while (!user && s.nframes < NMI_FRAMES && rbp >= s.stack_lo && rbp + 16 <= s.stack_hi && (rbp & 7) == 0) {
      auto* frame = reinterpret_cast<const uintptr_t*>(rbp);
      if (!frame[1]) break;
      s.frames[s.nframes++] = frame[1] - 1;
      if (frame[0] <= rbp) break;
      rbp = frame[0];
    }
    s.state.store(NMI_ANSWERED, std::memory_order_release);
    return true;
  }
  return false;
}

// Prints where CPU `c` is, asked by NMI; waits at most 2 s for the answer
// (under TCG a vCPU thread the host does not run answers late). Not for
// the calling CPU.
void print_nmi_backtrace(PerCpu* c) {
  NmiSlot& s = g_nmi[c->index];
  uint32_t idle = NMI_IDLE;
  if (!s.state.compare_exchange_strong(idle, NMI_ASKED)) {
    kprint("    (cpu {} was asked already and has not answered)\n", c->index);
    return;
  }
  Thread* cur = c->current;
  s.apic_id = c->apic_id;
  s.stack_lo = cur ? cur->stack.base : 0;
  s.stack_hi = cur ? cur->stack.top : 0;
  s.state.store(NMI_ASKED, std::memory_order_release);
  lapic_send_nmi(c->apic_id);
  const uint64_t until = uptime_ns() + 2 * SEC;
  while (s.state.load(std::memory_order_acquire) != NMI_ANSWERED && uptime_ns() < until) asm volatile("pause");
  if (s.state.load(std::memory_order_acquire) != NMI_ANSWERED) {
    // Left Asked: a late answer fills the slot, the next ask says so.
    kprint("    (cpu {} did not answer an NMI in 2 s)\n", c->index);
    return;
  }
  kprint("    cpu {} at the NMI: {} code, interrupts {}\n", c->index, s.user ? "application" : "kernel",
         (s.rflags & (1u << 9)) ? "on" : "off");
  print_frame(0, s.rip);
  for (unsigned i = 0; i < s.nframes; ++i) print_frame(i + 1, s.frames[i]);
  s.state.store(NMI_IDLE, std::memory_order_release);
}

int running_on(const Thread* t) {
  for (uint32_t i = 0; i < MAX_CPUS; ++i) {
    PerCpu* c = cpu_by_index(i);
    if (!c) break;
    if (c->current == t) return int(i);
  }
  return -1;
}

// One thread's report: who, where, what it waits on, since when, and its
// backtrace when it is not on a CPU.
void report_thread(Thread* t, uint64_t now) {
  ThreadState st = t->state.load(std::memory_order_relaxed);
  int cpu = running_on(t);
  uint64_t since = t->blocked_since_ns.load(std::memory_order_relaxed);
  kprint("  thread '{}' id {}: {}", t->name, t->id, state_name(st));
  if (cpu >= 0) kprint(", running on cpu {}", cpu);
  else kprint(", cpu {}", t->se.cpu);
  if (since && since <= now) kprint(", asleep without a timeout for {} ms", (now - since) / 1000000);
  kprint("\n");
  if (const char* kind = t->wait_kind) {
    kprint("    waits on: {} {:#x}", kind, reinterpret_cast<uintptr_t>(t->wait_obj));
    if (const Thread* o = t->wait_owner) kprint(" held by '{}' id {}", o->name, o->id);
    kprint("\n");
  }
  if (cpu < 0 && !t->on_cpu.load(std::memory_order_relaxed)) print_switched_out_backtrace(t);
  else if (cpu >= 0 && uint32_t(cpu) != this_cpu()->index) print_nmi_backtrace(cpu_by_index(uint32_t(cpu)));
}

struct ScanCtx {
  uint64_t now;
  unsigned found;
};

void check_thread(Thread* t, void* p) {
  auto* ctx = static_cast<ScanCtx*>(p);
  uint64_t since = t->blocked_since_ns.load(std::memory_order_relaxed);
  if (!since || since > ctx->now || ctx->now - since < g_blocked_ns || t->hung_reported) return;
  if (t->state.load(std::memory_order_relaxed) != ThreadState::Blocked) return;
  t->hung_reported = true;
  if (!ctx->found++) kprint("hung_task: threads asleep without a timeout for more than {} s:\n", g_blocked_ns / SEC);
  report_thread(t, ctx->now);
}

void dump_one(Thread* t, void* p) { report_thread(t, *static_cast<uint64_t*>(p)); }

void check_cpus(uint64_t now, unsigned& found) {
  if (!g_cpu_stall_ns) return;
  for (uint32_t i = 0; i < MAX_CPUS; ++i) {
    PerCpu* c = cpu_by_index(i);
    if (!c) break;
    if (!c->online.load(std::memory_order_acquire) || !c->rq) continue;
    RunQueue& q = *c->rq;
    uint64_t tick = q.hung_tick_ns.load(std::memory_order_relaxed);
    uint64_t change = q.hung_switch_change_ns.load(std::memory_order_relaxed);
    Thread* cur = c->current;
    const char* what = nullptr;
    uint64_t for_ns = 0;
    if (tick && tick < now && now - tick >= g_cpu_stall_ns) {
      what = "has taken no timer interrupt";
      for_ns = now - tick;
    } else if (change && change < now && now - change >= g_cpu_stall_ns &&
               q.nr_running.load(std::memory_order_relaxed) > 1) {
      what = "has not switched threads while others wait";
      for_ns = now - change;
    }
    if (!what) {
      q.hung_cpu_reported = false;
      continue;
    }
    if (q.hung_cpu_reported) continue;
    q.hung_cpu_reported = true;
    ++found;
    kprint("hung_task: cpu {} {} for {} ms; it runs '{}' id {}, {} runnable\n", i, what, for_ns / 1000000,
           cur ? cur->name : "?", cur ? cur->id : 0, q.nr_running.load(std::memory_order_relaxed));
    if (c != this_cpu()) print_nmi_backtrace(c);
  }
}

}  // namespace

void hung_task_configure(uint64_t blocked_s, uint64_t cpu_stall_s, bool panic) {
  g_blocked_ns = blocked_s * SEC;
  g_cpu_stall_ns = cpu_stall_s * SEC;
  g_panic = panic;
  arch_set_nmi_handler(on_nmi);
}

// Checks twice per the shortest limit, at least every 10 s and at most
// every 250 ms.
uint64_t hung_task_period_ns() {
  uint64_t m = 0;
  if (g_blocked_ns) m = g_blocked_ns;
  if (g_cpu_stall_ns && (!m || g_cpu_stall_ns < m)) m = g_cpu_stall_ns;
  if (!m) return 0;
  m /= 2;
  if (m > 10 * SEC) m = 10 * SEC;
  if (m < SEC / 4) m = SEC / 4;
  return m;
}

void hung_task_tick(PerCpu* c) {
  uint64_t now = uptime_ns();
  RunQueue& q = *c->rq;
  q.hung_tick_ns.store(now, std::memory_order_relaxed);
  if (q.switches != q.hung_switches_seen || !q.hung_switch_change_ns.load(std::memory_order_relaxed)) {
    q.hung_switches_seen = q.switches;
    q.hung_switch_change_ns.store(now, std::memory_order_relaxed);
  }
  uint64_t period = hung_task_period_ns();
  uint64_t last = g_last_scan.load(std::memory_order_relaxed);
  if (now - last < period || !g_last_scan.compare_exchange_strong(last, now)) return;
  unsigned found = 0;
  {
    SpinGuard g(g_report_lock);
    check_cpus(now, found);
    if (g_blocked_ns) {
      ScanCtx ctx{now, 0};
      thread_for_each(check_thread, &ctx);
      found += ctx.found;
    }
  }
  if (found && g_panic) panic("hung_task: {} hung (--hung-task-panic)", found);
}

void thread_dump(const char* why) {
  uint64_t now = uptime_ns();
  SpinGuard g(g_report_lock);
  kprint("thread dump ({}):\n", why);
  thread_for_each(dump_one, &now);
  kprint("thread dump end\n");
}

}  // namespace capsule
