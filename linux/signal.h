#pragma once
// Linux signals (docs/signals.md): per-process actions and a process-wide
// pending set (Process::signals), per-thread masks and pending sets, delivery on the way back to the
// application (syscall return, interrupt return, application exceptions).
//
// For other syscall families that sleep (futex, nanosleep, read on a pipe,
// ...): a signal sent to a sleeping thread wakes it with thread_wake()
// (signal_interrupt_target). The sleeper must therefore
//   1. sched_prepare_block() and publish itself where its own waker finds it,
//   2. check signal_pending_current() AFTER step 1 (a signal that arrived
//      before step 1 found the thread running and did not wake it),
//   3. sched_block(deadline), and after it returns check
//      signal_pending_current() again: true means "interrupted":
//      unpublish and return Error::Interrupted (or Error::RestartSys for
//      calls that SA_RESTART may restart: the return path turns it into
//      -EINTR or a restart of the call, as Linux does).
#include <cstdint>

#include "linux/linux_errno.h"

namespace capsule {
struct Process;
struct Thread;
namespace x64 {
struct TrapFrame;
}
}  // namespace capsule

namespace capsule::linux_abi {

constexpr int L_NSIG = 64;
constexpr int L_SIGRTMIN = 32;  // real-time signals (the libcs reserve 32..34): these queue
enum : int {
  SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7,
  SIGFPE = 8, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13,
  SIGALRM = 14, SIGTERM = 15, SIGSTKFLT = 16, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19,
  SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25,
  SIGVTALRM = 26, SIGPROF = 27, SIGWINCH = 28, SIGIO = 29, SIGPWR = 30, SIGSYS = 31,
};

// The kernel-internal restart results (L_ERESTARTSYS, L_ERESTARTNOINTR,
// L_ERESTARTNOHAND; Error::RestartSys...) live in linux/linux_errno.h.

// si_code values (ABI facts).
enum : int32_t {
  SI_USER = 0, SI_KERNEL = 0x80, SI_QUEUE = -1, SI_TIMER = -2, SI_TKILL = -6,
};

inline constexpr uint64_t sigbit(int sig) { return 1ull << (sig - 1); }

// The first 32 bytes of a Linux siginfo_t: what Capsule ever fills.
//   0 si_signo, 4 si_errno, 8 si_code, 16.. the union:
//   kill/tkill/queue: 16 si_pid, 20 si_uid, 24 si_value
//   POSIX timer:      16 si_timerid, 20 si_overrun, 24 si_value
//   fault:            16 si_addr
struct KSigInfo {
  int32_t signo = 0;
  int32_t err = 0;
  int32_t code = 0;
  int32_t pad = 0;
  union {
    struct {
      int32_t pid;
      uint32_t uid;
      uint64_t value;
    } kill;
    struct {
      int32_t tid;
      int32_t overrun;
      uint64_t value;
    } timer;
    uint64_t addr;
    uint8_t raw[16];
  } u = {};
};
static_assert(sizeof(KSigInfo) == 32);

// True if the calling thread has a pending signal it does not block.
bool signal_pending_current();
// Wakes `t` if it sleeps (its syscall then sees signal_pending_current()),
// or interrupts the CPU running it so that the signal is delivered when it
// next returns to the application.
void signal_interrupt_target(Thread* t);
// Sending (Error::Invalid for a bad number, Error::NoProcess for no such
// target). The process: any thread that does not block it
// takes it. A thread: by Linux tid, within the process. The forms without a
// process act on the caller's (ESRCH on a kernel thread); kernel threads
// (the timer service, the console) name the process.
Result<void> signal_send_process(const KSigInfo& info);
Result<void> signal_send_process(Process& p, const KSigInfo& info);
// sig (SI_KERNEL) to every live process of group pgid, as Linux's kill_pgrp
// (the console's job control, orphaned groups); defined in sys_wait.cc.
void signal_process_group(int pgid, int sig);
Result<void> signal_send_tid(int tid, const KSigInfo& info);
Result<void> signal_send_tid(Process& p, int tid, const KSigInfo& info);
// A thread of the caller's process has that tid.
bool signal_tid_exists(int tid);
// The signal instances pending in process p and its threads (each one
// Linux would hold a sigqueue entry for), for RLIMIT_SIGPENDING.
size_t signal_queued_count(Process& p);
// True if `sig` is pending for process p (POSIX timer overrun counting).
bool signal_process_pending(Process& p, int sig);

// The p* variants of poll/select/epoll_wait (ppoll, pselect6, epoll_pwait):
// `mask` replaces the calling thread's mask for the duration of the call.
// signal_begin_temp_mask returns false when out of memory; if a signal is
// deliverable under the new mask, the thread's interrupt flag is set so the
// wait that follows ends at once. signal_end_temp_mask(interrupted): when
// the call was interrupted, the old mask comes back only after the handler's
// frame is built (the handler runs with the old mask saved in its context,
// as on Linux); otherwise it comes back now and nothing is delivered under
// the temporary mask.
bool signal_begin_temp_mask(uint64_t mask);
void signal_end_temp_mask(bool interrupted);

// signalfd (linux/sys_signalfd.cc).
// The signals pending for the calling thread or the process.
uint64_t signal_pending_any();
// Dequeues a pending signal in `mask` for the calling thread (its own
// first): its number, or 0 if none.
int signal_take(uint64_t mask, KSigInfo* out);
// Sleeps until a signal in `mask`, or one the thread does not block, is
// pending (blocked signals in `mask` wake it too).
void signal_wait_any(uint64_t mask);
// Called after a signal became pending (thread- or process-directed), from
// thread context, without signal locks held. One observer.
using SignalPendingObserver = void (*)(int sig);
void signal_set_pending_observer(SignalPendingObserver fn);

// Thread lifecycle: the clone code calls start for a new application thread
// (after copying the parent's mask into its LinuxThread), exit when a
// thread leaves (the exit syscall). Threads that make a syscall are also
// registered on the way.
void signal_thread_start(Thread* t);
void signal_thread_exit(Thread* t);

// /proc/<pid>/status: the process-directed pending signals, and the
// signals whose action is "ignore" and those with a handler.
void signal_process_masks(Process& p, uint64_t* shared_pending, uint64_t* ignored, uint64_t* caught);

// A group stop is in effect (/proc state T, orphaned groups' stopped jobs).
bool signal_process_stopped(Process& p);

// Sum of the CPU time of the process's threads (ITIMER_VIRTUAL/PROF,
// CLOCK_PROCESS_CPUTIME_ID timers).
uint64_t signal_process_cpu_ns(Process& p);

// Ends the VM as a fatal signal does: one console line, status 128+sig.
// `why`, when given, ends the console line: why a forced signal could not
// be handled ("the signal was blocked", "the signal stack is not writable").
[[noreturn]] void signal_terminate(int sig, uint64_t rip, bool has_addr, uint64_t addr, const char* why = nullptr);
const char* signal_name(int sig);  // "SIGSEGV"

}  // namespace capsule::linux_abi
