// The scheduler: per-CPU run queues around a policy (core/sched/policy.h),
// thread switches, wake-ups across CPUs, timers and preemption.
//
// Ownership rules (they make the run queue lock-free):
//   1. A run queue's policy is only touched by its own CPU, interrupts off.
//   2. Other CPUs hand a thread to it by pushing the thread's SchedEntity on
//      its wake queue (MPSC, lock-free) and sending a RESCHED IPI.
//   3. A thread moves between CPUs only while it is queued and not running,
//      or right after it switched out (pending_push): its old CPU takes it
//      out of the policy and pushes it to the target's wake queue. So its
//      context is saved before another CPU can see it.
//   4. A wake-up goes to the CPU the thread last ran on (se.cpu), which
//      serializes it with the thread's own switch-out.
//   5. wake_queued makes sure a wake_node is in at most one queue at a time.
//      A node that stays queued while its thread runs and blocks again makes
//      a spurious wake-up, which every blocking primitive tolerates.
#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "arch/apic.h"
#include "arch/arch.h"
#include "arch/fpu.h"
#include "arch/irq.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "arch/percpu.h"
#include "arch/cpu_account.h"
#include "core/stats.h"
#include "core/trace.h"
#include "core/time.h"
#include "core/sched/load_balance.h"
#include "core/sched/run_queue.h"

extern "C" capsule::Thread* arch_switch(uint64_t* save_rsp, uint64_t new_rsp, capsule::Thread* prev);

namespace capsule {

uint8_t g_timer_vector;
uint8_t g_resched_vector;
std::atomic<uint64_t> g_switches{0};

namespace {

constexpr uint64_t BALANCE_PERIOD_NS = 4000000;  // 4 ms while more than one thread runs here

bool irqs_enabled() { return x64::read_rflags() & (1u << 9); }

// Programs the LAPIC one-shot timer for the earliest timer of this CPU.
// The LAPIC is only reprogrammed when the earliest deadline moves earlier
// than what is armed: a slice timer that moves later at every switch would
// otherwise cost a device register write per switch. An interrupt that
// comes early finds nothing due and re-arms; an idle CPU takes at most one
// such interrupt before it is tickless.
void program_timer(RunQueue& q) {
  uint64_t next;
  {
    SpinGuard g(q.timer_lock);
    next = q.timers.next_deadline();
  }
  if (next == TimerQueue::NEVER) return;  // leave an armed timer to expire
  if (q.armed_deadline <= next) return;
  uint64_t now = uptime_ns();
  lapic_timer_arm_ns(next > now ? next - now : 1);
  q.armed_deadline = next;
}

void publish_load(RunQueue& q) {
  q.nr_running.store(q.policy.nr_running(), std::memory_order_relaxed);
  q.load.store(q.policy.load(), std::memory_order_relaxed);
}

// Charges the running thread for the time since the last charge.
bool charge_current(RunQueue& q, Thread* curr, uint64_t now) {
  uint64_t ran = now - q.last_charge_ns;
  q.last_charge_ns = now;
  if (curr == q.idle) return false;
  return q.policy.charge(curr->se, ran);
}

// Re-arms the preemption and balancing timers for the current thread.
void arm_slice(RunQueue& q, Thread* curr) {
  uint64_t rem = curr == q.idle ? sched::NO_PREEMPTION : q.policy.remaining_slice_ns(curr->se);
  uint64_t now = uptime_ns();
  SpinGuard g(q.timer_lock);
  if (rem == sched::NO_PREEMPTION) {
    q.timers.cancel(q.slice_timer);
    q.timers.cancel(q.balance_timer);
  } else {
    (void)q.timers.arm(q.slice_timer, now + (rem ? rem : 1));
    if (!q.balance_timer.armed()) (void)q.timers.arm(q.balance_timer, now + BALANCE_PERIOD_NS);
  }
}

// Moves threads that arrived from other CPUs (or woke up here) into the
// policy. Sets need_resched when one of them should preempt the current one.
void drain_wakeups(RunQueue& q, PerCpu* c) {
  Thread* curr = c->current;
  bool added = false;
  while (sched::SchedEntity* e = q.wakeq.pop()) {
    Thread* t = thread_of(e);
    t->wake_queued.store(false, std::memory_order_release);
    // Already on a CPU again (the wake-up raced with its own switch-out):
    // nothing to enqueue.
    if (e->queued || e->running) continue;
    if (t->state.load() == ThreadState::Dead) continue;
    sched::Enqueue why = t->migrating ? sched::Enqueue::Migrated : sched::Enqueue::Wakeup;
    if (t->se.detached && !t->migrating) why = sched::Enqueue::New;
    t->migrating = false;
    e->cpu = c->index;
    q.policy.enqueue(*e, why);
    added = true;
    if (curr == q.idle || q.policy.should_preempt_on_wake(curr->se, *e)) c->need_resched = true;
  }
  if (added) {
    if (charge_current(q, curr, uptime_ns())) c->need_resched = true;
    arm_slice(q, curr);
    program_timer(q);
    publish_load(q);
  }
}

// Hands a thread that is in no policy (dequeued here, or just switched out)
// to CPU `to`. If its wake node still sits in this CPU's wake queue (a stale
// wake-up from when it was running), the move is cancelled: that node will
// bring it back here, and pushing it elsewhere too would run it twice.
void push_to(Thread* t, uint32_t to) {
  PerCpu* c = this_cpu();
  if (t->wake_queued.exchange(true)) {
    t->se.cpu = c->index;
    t->migrating = false;
    return;
  }
  t->se.cpu = to;
  t->migrating = true;
  PerCpu* target = cpu_by_index(to);
  target->rq->wakeq.push(t->se);
  if (target == c) {
    drain_wakeups(*target->rq, target);
  } else {
    lapic_send_ipi(target->apic_id, g_resched_vector);
  }
}

uint32_t least_loaded_allowed(const sched::CpuMask& mask, uint32_t prefer) {
  uint32_t best = UINT32_MAX;
  uint64_t best_load = UINT64_MAX;
  for (uint32_t i = 0; i < MAX_CPUS; ++i) {
    PerCpu* c = cpu_by_index(i);
    if (!c) break;
    if (!c->online.load(std::memory_order_acquire) || !c->rq || !mask.has(i)) continue;
    uint64_t l = c->rq->load.load(std::memory_order_relaxed);
    if (l < best_load || (l == best_load && i == prefer)) {
      best = i;
      best_load = l;
    }
  }
  return best;
}

// Push balancing: this CPU gives waiting threads to less loaded CPUs.
void balance(RunQueue& q, PerCpu* c) {
  uint32_t n = 0;
  uint64_t load[MAX_CPUS];
  for (; n < MAX_CPUS; ++n) {
    PerCpu* o = cpu_by_index(n);
    if (!o) break;
    bool up = o->online.load(std::memory_order_acquire) && o->rq;
    load[n] = up ? o->rq->load.load(std::memory_order_relaxed) : UINT64_MAX / 4;
  }
  if (n < 2) return;
  load[c->index] = q.policy.load();
  sched::SchedEntity* cands[8];
  size_t nc = q.policy.migration_candidates(cands, 8);
  if (!nc) return;
  sched::Migration plan[8];
  size_t np = sched::plan_migrations(load, n, cands, nc, plan, 8);
  for (size_t i = 0; i < np; ++i) {
    if (plan[i].from != c->index || plan[i].to == c->index) continue;
    Thread* t = thread_of(plan[i].entity);
    // Only threads that are plainly runnable move: a blocked-but-preempted
    // thread keeps its CPU so that its waker's se.cpu is right.
    // Not the thread this CPU is switching away from: its context is not
    // saved yet (it moves, if it must, through pending_push).
    if (t == c->current || t->on_cpu.load()) continue;
    if (!t->se.queued || t->state.load() != ThreadState::Running || t->wake_queued.load()) continue;
    q.policy.dequeue(t->se);
    q.policy.detach(t->se);
    push_to(t, plan[i].to);
  }
  publish_load(q);
}

void slice_expired(Timer&, uint64_t now) {
  PerCpu* c = this_cpu();
  if (charge_current(*c->rq, c->current, now)) c->need_resched = true;
}

void balance_due(Timer&, uint64_t) {
  // Inside expire(), timer_lock held: just ask for a pass through schedule().
  this_cpu()->need_resched = true;
}

bool wake(Thread* t, bool drain_local);

// Inside expire(), timer_lock held: queue the wake-up but do not drain here
// (draining re-arms timers, which takes timer_lock); on_timer_irq drains.
void wake_from_timer(Timer& t, uint64_t) {
  auto* th = static_cast<Thread*>(t.context);
  th->timed_out.store(true, std::memory_order_relaxed);
  wake(th, false);
}

void hung_timer_due(Timer&, uint64_t) { this_cpu()->rq->hung_due = true; }

void arm_hung_timer(RunQueue& q) {
  uint64_t period = hung_task_period_ns();
  if (!period) return;
  // The heartbeat starts when the CPU does: a CPU that stalls before its
  // first tick is seen too (it was not: a zero heartbeat hid it).
  if (!q.hung_tick_ns.load(std::memory_order_relaxed)) q.hung_tick_ns.store(uptime_ns(), std::memory_order_relaxed);
  q.hung_timer.callback = hung_timer_due;
  SpinGuard g(q.timer_lock);
  (void)q.timers.arm(q.hung_timer, uptime_ns() + period);
}

void on_timer_irq(void*) {
  PerCpu* c = this_cpu();
  RunQueue& q = *c->rq;
  q.armed_deadline = TimerQueue::NEVER;  // it fired (one-shot)
  {
    SpinGuard g(q.timer_lock);
    q.timers.expire(uptime_ns());
  }
  if (q.hung_due) {
    // Outside timer_lock: the check prints, and may take a while.
    q.hung_due = false;
    hung_task_tick(c);
    arm_hung_timer(q);
  }
  drain_wakeups(q, c);
  program_timer(q);
}

void on_resched_ipi(void*) {
  PerCpu* c = this_cpu();
  drain_wakeups(*c->rq, c);
}

}  // namespace

void sched_finish_switch(Thread* prev) {
  // Read everything first: once on_cpu is false a joiner may free `prev`.
  // A migrating thread is Running and a detached dead one has no joiner, so
  // nobody else frees those two after on_cpu drops.
  bool push = prev->pending_push;
  bool reap = prev->state.load() == ThreadState::Dead && prev->detached;
  uint32_t to = prev->se.cpu;
  prev->pending_push = false;
  if (push) prev->se.cpu = this_cpu()->index;
  prev->on_cpu.store(false, std::memory_order_release);
  if (push) push_to(prev, to);
  if (reap) thread_free_dead(prev);
}

namespace {

void switch_to(PerCpu* c, Thread* prev, Thread* next) {
  if (prev->fpu_area) fpu_save(prev->fpu_area);
  prev->fs_base = x64::read_fs_base();
  if (prev->as) prev->gs_base = x64::rdmsr(x64::MSR_KERNEL_GS_BASE);
  if (next->on_cpu.exchange(true, std::memory_order_acquire))
  {
    int where = -1;
    for (uint32_t i = 0; cpu_by_index(i); ++i)
      if (cpu_by_index(i)->current == next) where = int(i);
    panic("sched: thread '{}' id {} is still on a CPU (current on cpu {}; se.cpu {} state {} migrating {}; switching from '{}' on cpu {})",
          next->name, next->id, where, next->se.cpu, int(next->state.load()), next->migrating, prev->name, c->index);
  }
  c->current = next;
  c->kernel_stack_top = next->stack.top;
  // Application threads need their page table; kernel threads run on
  // whichever is loaded (the kernel half is the same in all).
  if (next->as && next->as != c->loaded_as) {
    next->as->activate();
    c->loaded_as = next->as;
  }
  if (next->fpu_area) fpu_restore(next->fpu_area);
  x64::write_fs_base(next->fs_base);
  if (next->as) x64::wrmsr(x64::MSR_KERNEL_GS_BASE, next->gs_base);
  ++c->rq->switches;
  g_switches.fetch_add(1, std::memory_order_relaxed);
  Thread* last = arch_switch(&prev->saved_rsp, next->saved_rsp, prev);
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_switched();
#endif
  sched_finish_switch(last);
}

[[noreturn]] void idle_loop() {
  for (;;) {
    x64::cli();
    PerCpu* c = this_cpu();
    RunQueue& q = *c->rq;
    drain_wakeups(q, c);
    if (c->need_resched || q.policy.nr_running() > 0) {
      schedule(true);
      continue;
    }
    // sti takes effect after the next instruction, so no wake-up IPI can
    // slip in between the check above and the halt.
    asm volatile("sti; hlt" ::: "memory");
  }
}

void idle_entry(void*) { idle_loop(); }

}  // namespace

void schedule(bool preempted) {
  IrqGuard irq;
  PerCpu* c = this_cpu();
  RunQueue& q = *c->rq;
  Thread* prev = c->current;
  c->need_resched = false;
  drain_wakeups(q, c);
  charge_current(q, prev, uptime_ns());
  if (prev != q.idle) {
    ThreadState st = prev->state.load();
    bool runnable = st == ThreadState::Running || (preempted && st == ThreadState::Blocked);
    q.policy.put_prev(prev->se, runnable);
    if (st == ThreadState::Running && prev->se.must_move()) {
      uint32_t to = least_loaded_allowed(prev->se.affinity, UINT32_MAX);
      if (to != UINT32_MAX && to != c->index) {
        q.policy.dequeue(prev->se);
        q.policy.detach(prev->se);
        prev->se.cpu = to;          // where finish_switch hands it over
        prev->pending_push = true;
      }
    }
  }
  bool balance_now;
  {
    SpinGuard g(q.timer_lock);
    balance_now = !q.balance_timer.armed() && q.policy.nr_running() > 1;
  }
  if (balance_now) balance(q, c);
  sched::SchedEntity* e = q.policy.pick_next();
  Thread* next = e ? thread_of(e) : q.idle;
  publish_load(q);
  arm_slice(q, next);
  program_timer(q);
  if (next == prev) return;
  // --stats (docs/stats.md): a program thread's switch, and where this
  // CPU's time goes now (a program thread resumes in the kernel).
  if (prev->as && prev != q.idle) {
    ThreadState st = prev->state.load();
    bool runnable = st == ThreadState::Running || (preempted && st == ThreadState::Blocked);
    if (st != ThreadState::Dead) stats::count(runnable ? stats::SWITCH_INVOLUNTARY : stats::SWITCH_VOLUNTARY);
  }
  cpu_account(next == q.idle ? CpuMode::Idle : next->as ? CpuMode::System : CpuMode::Kernel);
  if (trace::on(trace::SCHED)) {
    const ThreadState st = prev->state.load();
    const uint64_t how = st == ThreadState::Dead ? 2 : st == ThreadState::Blocked && !preempted ? 1 : 0;
    trace::record(trace::Event::SchedSwitch, trace_id(prev), trace_id(next), how, preempted);
  }
  switch_to(c, prev, next);
}

void preempt_check() {
  if (!irqs_enabled()) return;
  bool resched;
  {
    IrqGuard irq;
    resched = this_cpu()->need_resched;
  }
  if (resched) schedule(true);
}

bool sched_should_preempt() {
  PerCpu* c = this_cpu();
  return c->rq && c->need_resched;
}

void sched_prepare_block() { current_thread()->state.store(ThreadState::Blocked); }

bool sched_block(uint64_t deadline_ns) {
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_might_sleep("sched_block");
#endif
  Thread* self = current_thread();
  IrqGuard irq;
  if (self->state.load() != ThreadState::Blocked) return true;  // woken already
  RunQueue* q = this_cpu()->rq;
  if (deadline_ns) {
    if (deadline_ns <= uptime_ns()) {
      ThreadState b = ThreadState::Blocked;
      self->state.compare_exchange_strong(b, ThreadState::Running);
      return false;
    }
    self->timed_out.store(false, std::memory_order_relaxed);
    self->sleep_timer.callback = wake_from_timer;
    self->sleep_timer.context = self;
    self->timer_rq = q;
    {
      SpinGuard g(q->timer_lock);
      (void)q->timers.arm(self->sleep_timer, deadline_ns);
    }
    program_timer(*q);
  }
  if (!deadline_ns) self->blocked_since_ns.store(uptime_ns(), std::memory_order_relaxed);
  schedule(false);
  if (!deadline_ns) {
    self->blocked_since_ns.store(0, std::memory_order_relaxed);
    self->hung_reported = false;
  }
  if (deadline_ns) {
    RunQueue* tq = self->timer_rq;
    SpinGuard g(tq->timer_lock);
    tq->timers.cancel(self->sleep_timer);
  }
  return !(deadline_ns && self->timed_out.load(std::memory_order_relaxed));
}

namespace {
bool wake(Thread* t, bool drain_local) {
  ThreadState expected = ThreadState::Blocked;
  if (!t->state.compare_exchange_strong(expected, ThreadState::Running)) return false;
  if (t->wake_queued.exchange(true)) return true;  // its node is queued already
  IrqGuard irq;
  PerCpu* c = this_cpu();
  PerCpu* target = cpu_by_index(t->se.cpu);
  trace::point<trace::Event::SchedWakeup>(trace_id(t), t->se.cpu);
  target->rq->wakeq.push(t->se);
  if (target == c) {
    if (drain_local) drain_wakeups(*c->rq, c);
    else c->need_resched = true;
  } else {
    lapic_send_ipi(target->apic_id, g_resched_vector);
  }
  return true;
}
}  // namespace

bool thread_wake(Thread* t) { return wake(t, true); }

// The flag is stored before the wake-up reads the state, and a waiter
// announces its block before it reads the flag (both seq_cst): either the
// waiter sees the flag or this sees it blocked and wakes it.
void thread_interrupt(Thread* t) {
  t->interrupt_pending.store(true);
  wake(t, true);
  preempt_check();
}
bool thread_interrupt_pending(const Thread* t) { return t->interrupt_pending.load(); }
void thread_clear_interrupt(Thread* t) { t->interrupt_pending.store(false); }

void sched_start_thread(Thread* t) {
  IrqGuard irq;
  uint32_t to = least_loaded_allowed(t->se.affinity, this_cpu()->index);
  if (to == UINT32_MAX) to = this_cpu()->index;
  t->se.cpu = to;
  PerCpu* target = cpu_by_index(to);
  t->wake_queued.store(true);
  target->rq->wakeq.push(t->se);
  if (target == this_cpu()) drain_wakeups(*target->rq, target);
  else lapic_send_ipi(target->apic_id, g_resched_vector);
}

uint64_t thread_context_switches() { return g_switches.load(std::memory_order_relaxed); }

// --- per-CPU set-up ---

namespace {

RunQueue* make_run_queue() {
  auto* q = new (std::nothrow) RunQueue();
  if (!q) return nullptr;
  q->slice_timer.callback = slice_expired;
  q->balance_timer.callback = balance_due;
  q->last_charge_ns = uptime_ns();
  return q;
}

}  // namespace

Result<Thread*> thread_alloc(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o);

Result<Thread*> sched_prepare_cpu(PerCpu* cpu) {
  cpu->rq = make_run_queue();
  if (!cpu->rq) return Error::NoMemory;
  char name[16];
  format_to(name, sizeof(name), "idle{}", cpu->index);
  ThreadOptions o;
  o.pin_cpu = int(cpu->index);
  Thread* idle = TRY(thread_alloc(name, idle_entry, nullptr, o));
  idle->se.cpu = cpu->index;
  cpu->rq->idle = idle;
  return idle;
}

extern Thread g_main_thread;
void thread_init_main();

namespace {
const PreemptHooks g_hooks = {
    sched_should_preempt,
    [](uintptr_t* base, uintptr_t* top) {
      Thread* t = this_cpu()->current;
      *base = t->stack.base;
      *top = t->stack.top;
    },
    [] { schedule(true); },
    [] { return static_cast<const char*>(this_cpu()->current->name); },
    [] { return unsigned(this_cpu()->index); },
};
}  // namespace

void sched_init_boot() {
  thread_init_main();
  PerCpu* c = this_cpu();
  auto idle = sched_prepare_cpu(c);
  if (!idle.ok()) panic("sched: cannot create the idle thread: {}", error_name(idle.error()));
  // The boot context becomes thread "main".
  Thread* m = &g_main_thread;
  m->se.cpu = 0;
  m->on_cpu.store(true);
  c->current = m;
  c->kernel_stack_top = m->stack.top;
  IrqGuard irq;
  c->rq->policy.enqueue(m->se, sched::Enqueue::New);
  c->rq->policy.pick_next();
  auto tv = irq_vector_alloc();
  auto rv = irq_vector_alloc();
  if (!tv.ok() || !rv.ok()) panic("sched: no interrupt vectors");
  g_timer_vector = tv.value();
  g_resched_vector = rv.value();
  (void)irq_register(g_timer_vector, on_timer_irq, nullptr);
  (void)irq_register(g_resched_vector, on_resched_ipi, nullptr);
  lapic_timer_init(g_timer_vector);
  publish_load(*c->rq);
  arch_set_preempt_hooks(&g_hooks);
  arm_hung_timer(*c->rq);
  program_timer(*c->rq);
}

[[noreturn]] void sched_start_ap() {
  PerCpu* c = this_cpu();
  Thread* idle = c->rq->idle;
  idle->on_cpu.store(true);
  c->current = idle;
  c->kernel_stack_top = idle->stack.top;
  c->rq->last_charge_ns = uptime_ns();
  lapic_timer_init(g_timer_vector);
  c->online.store(true, std::memory_order_release);
  arm_hung_timer(*c->rq);
  program_timer(*c->rq);
  idle_loop();
}

}  // namespace capsule
