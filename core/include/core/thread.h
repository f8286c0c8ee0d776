#pragma once
// Kernel threads (core/sched). Every thread has its own kernel stack with a
// guard page; a switch saves the callee-saved registers, the FS base and —
// for threads that use it — the vector state (XSAVE family).
#include <cstddef>
#include <cstdint>

#include "arch/percpu.h"
#include "lib/result.h"

namespace capsule {

struct Thread;

struct ThreadOptions {
  int nice = 0;            // -20..19
  int pin_cpu = -1;        // >= 0: runs only on that CPU
  bool uses_fpu = false;   // saves/restores x87/SSE/AVX state on switches
  bool detached = false;   // freed on exit; cannot be joined
};

Result<Thread*> thread_create(const char* name, void (*fn)(void*), void* arg,
                              const ThreadOptions& options = {});
// Waits for `t` to exit and frees it. Joining oneself or a detached thread
// is Error::Invalid.
Result<void> thread_join(Thread* t);
void thread_detach(Thread* t);
[[noreturn]] void thread_exit();

// The running thread: one %gs: load (arch/percpu.h), inline because every
// system call asks (issue 16).
inline Thread* thread_current() { return current_thread(); }
const char* thread_name(const Thread* t);
uint32_t thread_id(const Thread* t);
uint32_t current_cpu();   // index of the CPU running the caller

void thread_yield();
void thread_sleep_ns(uint64_t ns);
// Pins to one CPU (moving there at once if needed) or unpins (-1).
Result<void> thread_pin(Thread* t, int cpu);
void thread_set_nice(Thread* t, int nice);

// Makes a blocked thread runnable. False if it was not blocked.
bool thread_wake(Thread* t);

// Interruptible waits (signal delivery). thread_interrupt sets t's
// interrupt flag and wakes it if it is blocked; an interruptible wait
// (futex_wait, ...) that sees the flag — already set when it starts, or set
// while it sleeps — returns Error::Interrupted (EINTR). The flag is sticky,
// like Linux's signal_pending(): the signal code clears it once no signal
// is pending and unblocked.
void thread_interrupt(Thread* t);
bool thread_interrupt_pending(const Thread* t);
void thread_clear_interrupt(Thread* t);

// What the calling thread is about to wait on, for the hung-task detector
// and thread dumps (docs/hang_detector.md): a static kind ("futex",
// "pipe read", "mutex"...) and the object's address. The outermost tag
// wins (a pipe's "pipe read" over the generic wait list under it); the
// destructor restores. Cheap: three stores.
class WaitTag {
 public:
  WaitTag(const char* kind, const void* obj, const Thread* owner = nullptr);
  ~WaitTag();
  WaitTag(const WaitTag&) = delete;
  WaitTag& operator=(const WaitTag&) = delete;

 private:
  bool set_ = false;
};

// The hung-task detector (core/sched/hung_task.cc): every CPU's timer
// checks, every `period`, for CPUs whose timer stopped or that have not
// switched threads for cpu_stall_s while others waited, and for threads
// asleep without a deadline for longer than blocked_s; each is reported
// once (state, wait, backtrace). 0 turns a check off. With panic, the
// first report ends in a panic. Call before the scheduler starts.
void hung_task_configure(uint64_t blocked_s, uint64_t cpu_stall_s, bool panic);
// Prints every thread: state, CPU, what it waits on and for how long, and
// the kernel backtrace of each thread that is not running (SysRq-t style).
void thread_dump(const char* why);

// Statistics for tests and benchmarks.
uint64_t thread_context_switches();
uint64_t thread_cpu_time_ns(const Thread* t);
// The same plus, for a thread running on a CPU now, the slice not yet
// charged (the scheduler charges at switches and ticks only, and a lone
// thread on a tickless CPU may run for long).
uint64_t thread_cpu_time_live_ns(const Thread* t);

}  // namespace capsule
