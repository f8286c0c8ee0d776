// Thread life cycle: create, run, exit, join (core/include/core/thread.h).
#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "arch/boot.h"
#include "arch/fpu.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "arch/percpu.h"
#include "core/time.h"
#include "core/sched/run_queue.h"

extern "C" char thread_trampoline[];

namespace capsule {

Thread g_main_thread;

namespace {

std::atomic<uint32_t> g_next_id{1};

// Every thread, for thread dumps and the hung-task detector.
SpinLock g_all_lock;
IntrusiveList<Thread, &Thread::all_node> g_all_threads GUARDED_BY(g_all_lock);

void list_add(Thread* t) {
  SpinGuard g(g_all_lock);
  g_all_threads.push_back(*t);
}

void copy_name(Thread* t, const char* name) {
  size_t i = 0;
  for (; name && name[i] && i + 1 < sizeof(t->name); ++i) t->name[i] = name[i];
  t->name[i] = 0;
}

// The stack a new thread starts on: arch_switch pops six callee-saved
// registers and returns into thread_trampoline, leaving RSP 16-byte aligned.
void prepare_stack(Thread* t) {
  auto* sp = reinterpret_cast<uint64_t*>(t->stack.top - 72);
  for (int i = 0; i < 6; ++i) sp[i] = 0;
  sp[6] = reinterpret_cast<uint64_t>(thread_trampoline);
  sp[7] = 0;
  sp[8] = 0;
  t->saved_rsp = reinterpret_cast<uint64_t>(sp);
}

}  // namespace

Result<Thread*> thread_alloc(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o) {
  auto* t = new (std::nothrow) Thread();
  if (!t) return Error::NoMemory;
  auto stack = kstack_alloc();
  if (!stack.ok()) {
    delete t;
    return stack.error();
  }
  t->stack = stack.value();
  if (o.uses_fpu) {
    t->fpu_area = kmalloc(fpu_state_size() < 4096 ? 4096 : fpu_state_size());  // page-aligned: XSAVE wants 64
    if (!t->fpu_area) {
      kstack_free(t->stack);
      delete t;
      return Error::NoMemory;
    }
    fpu_init_state(t->fpu_area);
    t->uses_fpu = true;
  }
  t->entry = fn;
  t->arg = arg;
  t->detached = o.detached;
  t->id = g_next_id.fetch_add(1);
  copy_name(t, name);
  t->se.nice = o.nice;
  t->se.weight = sched::nice_to_weight(sched::clamp_nice(o.nice));
  if (o.pin_cpu >= 0) sched::pin(t->se, uint32_t(o.pin_cpu));
  prepare_stack(t);
  list_add(t);
  return t;
}

void thread_for_each(void (*fn)(Thread* t, void* ctx), void* ctx) {
  SpinGuard g(g_all_lock);
  for (Thread& t : g_all_threads) fn(&t, ctx);
}

WaitTag::WaitTag(const char* kind, const void* obj, const Thread* owner) {
  Thread* t = thread_current();
  if (t->wait_kind) return;  // an outer tag says more
  t->wait_obj = obj;
  t->wait_owner = owner;
  t->wait_kind = kind;
  set_ = true;
}

WaitTag::~WaitTag() {
  if (!set_) return;
  Thread* t = thread_current();
  t->wait_kind = nullptr;
  t->wait_obj = nullptr;
  t->wait_owner = nullptr;
}

Result<Thread*> thread_alloc_app(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o,
                                 AddressSpace* as, void* process) {
  Thread* t = TRY(thread_alloc(name, fn, arg, o));
  t->as = as;
  t->process = process;
  // A thread of the application inherits its creator's GS base (clone).
  if (current_thread()->as) t->gs_base = x64::rdmsr(x64::MSR_KERNEL_GS_BASE);
  return t;
}

Result<Thread*> thread_create(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o) {
  if (o.pin_cpu >= 0 && (!cpu_by_index(uint32_t(o.pin_cpu)) || !cpu_by_index(uint32_t(o.pin_cpu))->online))
    return Error::Invalid;
  Thread* t = TRY(thread_alloc(name, fn, arg, o));
  sched_start_thread(t);
  return t;
}

// First code a new thread runs (from thread_trampoline).
extern "C" [[noreturn]] void thread_first_run(Thread* prev) {
#ifdef CAPSULE_DEBUG_KERNEL
  lock_debug_switched();
#endif
  sched_finish_switch(prev);
  x64::sti();
  Thread* self = current_thread();
  self->entry(self->arg);
  thread_exit();
}

void thread_free_dead(Thread* t) {
  if (t == &g_main_thread) return;
  {
    SpinGuard g(g_all_lock);
    g_all_threads.remove(*t);
  }
  kstack_free(t->stack);
  if (t->fpu_area) kfree(t->fpu_area);
  delete t;
}

[[noreturn]] void thread_exit() {
  Thread* self = thread_current();
  Thread* joiner = nullptr;
  x64::cli();  // no preemption from here: a dead thread must not be requeued
  {
    SpinGuard g(self->join_lock);
    self->exited = true;
    joiner = self->joiner;
    self->state.store(ThreadState::Dead);
  }
  if (joiner) thread_wake(joiner);
  schedule(false);
  panic("thread_exit: dead thread {} scheduled again", self->name);
}

Result<void> thread_join(Thread* t) {
  Thread* self = thread_current();
  if (!t || t == self || t->detached) return Error::Invalid;
  for (;;) {
    {
      SpinGuard g(t->join_lock);
      if (t->exited) break;
      t->joiner = self;
      sched_prepare_block();
    }
    sched_block();
  }
  // It has exited; wait until its CPU has switched away from its stack.
  while (t->on_cpu.load(std::memory_order_acquire) || t->state.load() != ThreadState::Dead) x64::pause();
  thread_free_dead(t);
  return {};
}

void thread_detach(Thread* t) {
  bool free_now = false;
  {
    SpinGuard g(t->join_lock);
    t->detached = true;
    free_now = t->exited;
  }
  if (free_now) {
    while (t->on_cpu.load(std::memory_order_acquire)) x64::pause();
    thread_free_dead(t);
  }
}

const char* thread_name(const Thread* t) { return t->name; }
uint32_t thread_id(const Thread* t) { return t->id; }
uint32_t current_cpu() {
  IrqGuard irq;  // a snapshot: the caller may move right after unless pinned
  return this_cpu()->index;
}
uint64_t thread_cpu_time_ns(const Thread* t) { return t->se.sum_exec_ns; }

uint64_t thread_cpu_time_live_ns(const Thread* t) {
  IrqGuard irq;
  uint64_t ns = thread_cpu_time_ns(t);
  const uint64_t now = uptime_ns();
  PerCpu* c = t->on_cpu.load(std::memory_order_relaxed) ? cpu_by_index(t->se.cpu) : nullptr;
  if (c && c->current == t && c->rq && now > c->rq->last_charge_ns) ns += now - c->rq->last_charge_ns;
  return ns;
}

void thread_yield() {
  IrqGuard irq;
  RunQueue& q = *this_cpu()->rq;
  Thread* self = thread_current();
  if (self != q.idle && !q.policy.yield(self->se)) return;  // nobody else waits
  schedule(true);
}

void thread_sleep_ns(uint64_t ns) {
  uint64_t deadline = uptime_ns() + (ns ? ns : 1);
  for (;;) {
    sched_prepare_block();
    if (!sched_block(deadline)) return;  // deadline reached
    if (uptime_ns() >= deadline) return;
    // Spurious wake-up: sleep again for the rest.
  }
}

Result<void> thread_pin(Thread* t, int cpu) {
  if (cpu >= 0 && (!cpu_by_index(uint32_t(cpu)) || !cpu_by_index(uint32_t(cpu))->online)) return Error::Invalid;
  {
    IrqGuard irq;
    if (cpu >= 0) sched::pin(t->se, uint32_t(cpu));
    else sched::unpin(t->se);
  }
  // Moving the caller happens at its next pass through the scheduler; make
  // it now. Other threads move when their CPU next schedules them.
  if (t == thread_current() && t->se.must_move()) schedule(true);
  return {};
}

Result<void> thread_set_affinity(Thread* t, const sched::CpuMask& mask) {
  sched::CpuMask m;
  for (uint32_t i = 0; i < sched::CpuMask::MAX_CPUS && cpu_by_index(i); ++i)
    if (mask.has(i) && cpu_by_index(i)->online) m.set(i);
  if (m.empty()) return Error::Invalid;
  {
    IrqGuard irq;
    t->se.affinity = m;
  }
  if (t == thread_current() && t->se.must_move()) schedule(true);
  return {};
}

sched::CpuMask thread_affinity(const Thread* t) { return t->se.affinity; }

void thread_set_nice(Thread* t, int nice) {
  IrqGuard irq;
  RunQueue& q = *cpu_by_index(t->se.cpu)->rq;
  if (t->se.cpu == current_cpu()) q.policy.set_nice(t->se, nice);
  else {
    t->se.nice = sched::clamp_nice(nice);  // applied when it is next enqueued
    t->se.weight = sched::nice_to_weight(t->se.nice);
  }
}

// The boot context (kernel_main on the boot stack) as a thread.
void thread_init_main() {
  Thread* m = &g_main_thread;
  copy_name(m, "main");
  m->id = 0;
  m->stack.base = reinterpret_cast<uintptr_t>(boot_stack_bottom);
  m->stack.top = reinterpret_cast<uintptr_t>(boot_stack_top);
  list_add(m);
}

}  // namespace capsule
