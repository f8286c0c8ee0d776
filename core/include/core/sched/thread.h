#pragma once
// The Thread object and the scheduler's internal interface (core/sched).
// Other layers use core/include/core/thread.h and core/sync/*.
#include <atomic>
#include <cstdint>

#include "core/mm.h"
#include "core/thread.h"
#include "core/sched/entity.h"
#include "arch/spinlock.h"
#include "core/time/timer_queue.h"
#include "lib/container_of.h"
#include "lib/intrusive_list.h"

namespace capsule {

enum class ThreadState : uint8_t {
  Running,   // runnable or running (the policy knows which)
  Blocked,   // wants to sleep; a wake-up makes it Running again
  Dead,      // exited; waiting to be joined or reaped
};

struct RunQueue;

struct Thread {
  uint64_t saved_rsp = 0;          // while switched out
  sched::SchedEntity se;
  std::atomic<ThreadState> state{ThreadState::Running};
  std::atomic<bool> on_cpu{false}; // its stack is in use by a CPU
  KernelStack stack;
  void* fpu_area = nullptr;        // XSAVE area, when uses_fpu
  uint64_t fs_base = 0;
  uint64_t gs_base = 0;            // the application's (MSR_KERNEL_GS_BASE while in the kernel)
  void (*entry)(void*) = nullptr;
  void* arg = nullptr;
  uint32_t id = 0;
  uint32_t trace_tid = 0;          // the id traces show (a program thread's Linux tid; core/trace.h)
  char name[32] = {};
  bool detached = false;
  bool migrating = false;          // in a wake queue because it is moving CPUs
  bool pending_push = false;       // hand to se.cpu once switched out
  std::atomic<bool> wake_queued{false};  // wake_node is in some wake queue
  bool uses_fpu = false;
  // Join: the exiting thread wakes `joiner` if set.
  SpinLock join_lock;
  Thread* joiner = nullptr;
  bool exited = false;
  // Timed sleeps and waits: armed on the run queue of the CPU it blocked on.
  Timer sleep_timer;
  RunQueue* timer_rq = nullptr;
  std::atomic<bool> timed_out{false};
  std::atomic<bool> interrupt_pending{false};  // thread_interrupt(); see core/thread.h
  ListNode all_node;               // in the list of every thread (thread dumps)
  // The hung-task detector (core/sched/hung_task.cc, docs/hang_detector.md):
  // what this thread waits on (a WaitTag sets them; static strings) and
  // since when it sleeps without a deadline (0: not so).
  const char* wait_kind = nullptr;
  const void* wait_obj = nullptr;
  const Thread* wait_owner = nullptr;  // a mutex's holder when it blocked
  std::atomic<uint64_t> blocked_since_ns{0};
  bool hung_reported = false;      // reported for this sleep already
  // The application this thread runs (nullptr for kernel threads): its
  // page table is loaded when the thread is switched in.
  class AddressSpace* as = nullptr;
  void* process = nullptr;      // linux/process Process
  void* linux_state = nullptr;  // linux/: per-thread Linux ABI state
#ifdef CAPSULE_DEBUG_KERNEL
  HeldLocks held_mutexes{};     // the lock checker's (core/debug/lock_check.cc)
#endif
};

inline Thread* thread_of(sched::SchedEntity* e) { return owner_of<&Thread::se>(e); }

// The thread as traces name it (core/trace.h): a program thread's Linux
// tid, a kernel thread's id with the top bit set.
inline uint32_t trace_id(const Thread* t) {
  if (!t) return 0;
  return t->trace_tid ? t->trace_tid : 0x80000000u | t->id;
}

// --- Blocking protocol used by wait queues, mutexes, condition variables ---
//   sched_prepare_block();          // state = Blocked (before publishing us)
//   ...publish `thread_current()` where a waker will find it, drop locks...
//   bool woke = sched_block(deadline);   // sleeps unless already woken
// A wake-up between the two is not lost: thread_wake() flips the state back
// and sched_block() returns at once. deadline_ns = 0 means none; false is
// returned when the deadline passed first.
void sched_prepare_block();
bool sched_block(uint64_t deadline_ns = 0);
// Runs the scheduler now if a wake-up asked for it and interrupts are on.
void preempt_check();

// Boot: turns the running boot context into thread "main" and creates the
// boot CPU's idle thread; starts the LAPIC timer.
void sched_init_boot();
// On an AP, with its PerCpu loaded: creates its run queue and idle thread
// and never returns (enters the idle loop).
[[noreturn]] void sched_start_ap();
// Creates the run queue and idle thread for an AP before it starts (so the
// AP can use the idle thread's stack for its first instructions).
Result<Thread*> sched_prepare_cpu(struct PerCpu* cpu);

// Runs the scheduler. preempted: the current thread did not choose to stop,
// so it stays runnable even if it had announced it would block.
void schedule(bool preempted);
// Called from the trap path after an interrupt (interrupts off): true when
// the interrupted thread should be preempted.
bool sched_should_preempt();
// After a switch, in the new thread: releases `prev` (its stack is free).
void sched_finish_switch(Thread* prev);
// Frees a dead thread's stack and object (join, or detached exit).
void thread_free_dead(Thread* t);
// Calls fn(t, ctx) for every thread, under the thread list's lock
// (interrupts off): fn must not block or create/free threads.
void thread_for_each(void (*fn)(Thread* t, void* ctx), void* ctx);
// A thread of the application (runs with `as` loaded), not yet started.
Result<Thread*> thread_alloc(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o);
Result<Thread*> thread_alloc_app(const char* name, void (*fn)(void*), void* arg, const ThreadOptions& o,
                                 AddressSpace* as, void* process);
// Hands a new thread to a CPU's run queue.
void sched_start_thread(Thread* t);
// Restricts `t` to the online CPUs in `mask` (Error::Invalid if none is
// online); the caller moves at once if it must. thread_pin is the one-CPU
// case of this. sched_getaffinity/setaffinity (linux/sys_sched.cc) use it.
Result<void> thread_set_affinity(Thread* t, const sched::CpuMask& mask);
sched::CpuMask thread_affinity(const Thread* t);

}  // namespace capsule
