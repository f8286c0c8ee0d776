#pragma once
// Shared between the signal files: linux/signal_state.cc (state),
// linux/signal_delivery.cc (delivery), linux/signal_frame.cc (the frame ABI,
// sigaltstack, rt_sigreturn) and linux/sys_signal.cc (the system calls).
// Not for other families: they use linux/signal.h.
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "arch/spinlock.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {

// Kernel struct sigaction on x86-64 (ABI fact): handler, flags, restorer, mask.
struct KSigAction {
  uint64_t handler;
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};
static_assert(sizeof(KSigAction) == 32);

constexpr uint64_t SIG_DFL = 0, SIG_IGN = 1;
constexpr uint64_t SA_NOCLDSTOP = 1, SA_NOCLDWAIT = 2, SA_SIGINFO = 4, SA_RESTORER = 0x04000000,
                   SA_ONSTACK = 0x08000000, SA_RESTART = 0x10000000, SA_NODEFER = 0x40000000,
                   SA_RESETHAND = 0x80000000ull;
constexpr int SS_ONSTACK = 1, SS_DISABLE = 2;
constexpr uint32_t SS_AUTODISARM = 1u << 31;
constexpr uint64_t MINSIGSTKSZ = 2048;
constexpr uint64_t UNBLOCKABLE = sigbit(SIGKILL) | sigbit(SIGSTOP);

// Linux stack_t.
struct KStack {
  uint64_t sp;
  int32_t flags;
  int32_t pad;
  uint64_t size;
};
static_assert(sizeof(KStack) == 24);

// Real-time signals queue (POSIX): instances beyond the first wait here in
// arrival order, bounded like RLIMIT_SIGPENDING but smaller.
struct RtQueue {
  static constexpr int MAX = 32;
  KSigInfo items[MAX];
  int count = 0;
  bool push(const KSigInfo& i) {
    if (count == MAX) return false;
    items[count++] = i;
    return true;
  }
  // The oldest queued instance of `sig` into `out`; false if none.
  bool pop(int sig, KSigInfo& out) {
    for (int k = 0; k < count; ++k) {
      if (items[k].signo != sig) continue;
      out = items[k];
      for (int m = k + 1; m < count; ++m) items[m - 1] = items[m];
      --count;
      return true;
    }
    return false;
  }
};

struct SignalThread {
  Thread* thread = nullptr;
  KSigInfo info[L_NSIG];       // siginfo of the thread-directed pending signals
  RtQueue rtq;                // further instances of pending real-time signals
  uint64_t waiting_for = 0;   // rt_sigtimedwait: these (blocked) signals wake it
  uint64_t saved_mask = 0;    // rt_sigsuspend / pause: restored on the way out
  bool restore_mask = false;
  bool registered = false;
  bool parked = false;        // asleep in a group stop (under the process's lock)
  bool left = false;          // signal_thread_exit ran: sending no longer registers it
};

// A process's signal state (Process::signals, docs/signals.md); made by
// process_create.
struct ProcessSignals {
  // The lock over every piece of the process's signal state: these fields
  // and its threads' masks, pending sets and SignalThreads. Interrupts off
  // while held.
  SpinLock lock;
  KSigAction actions[L_NSIG] GUARDED_BY(lock) = {};
  uint64_t pending GUARDED_BY(lock) = 0;  // process-directed pending signals
  KSigInfo info[L_NSIG] GUARDED_BY(lock);  // their siginfo
  RtQueue rtq GUARDED_BY(lock);           // further instances of process-directed real-time signals
  Thread** threads GUARDED_BY(lock) = nullptr;  // the registered application threads (kmalloc'd)
  ~ProcessSignals();  // frees `threads`
  size_t nthreads GUARDED_BY(lock) = 0, cap GUARDED_BY(lock) = 0;
  std::atomic<bool> terminating{false};   // a fatal signal is ending the process
  // Job control (docs/signals.md "Stop and continue"): a group stop is in
  // effect while `stopping`; every thread parks on its way back to the
  // application until SIGCONT clears it (or SIGKILL comes). stop_sig is
  // the signal that stopped it; stop_notified: the parent was told
  // (CLD_STOPPED), i.e. every thread is parked or asleep in the kernel.
  // cont_seq counts SIGCONTs, so a stop dequeued before a SIGCONT arrived
  // is not carried out after it (Linux's JOBCTL_STOP_DEQUEUED).
  std::atomic<bool> stopping{false};
  int stop_sig GUARDED_BY(lock) = 0;
  bool stop_notified GUARDED_BY(lock) = false;
  uint64_t cont_seq GUARDED_BY(lock) = 0;
};
// The signal state of an application thread's process (never null for
// one), and of the caller's (nullptr on a kernel thread).
ProcessSignals* signals_of(const Thread* t);
ProcessSignals* signals_current();

// Application thread t's state (allocated and registered with its process
// on first use; nullptr on a kernel thread or when out of memory), and the
// caller's.
SignalThread* signal_state_of(Thread* t, LinuxThread** out_lt);
LinuxThread* signal_self(SignalThread** st);
// The default action of `sig` ignores it (SIGCHLD, SIGURG, SIGWINCH,
// SIGCONT: continuing is done when SIGCONT is sent, not delivered).
bool signal_default_ignores(int sig);
// The default action of `sig` stops the process (SIGSTOP, SIGTSTP,
// SIGTTIN, SIGTTOU).
bool signal_default_stops(int sig);
// Group stop (linux/signal_state.cc): the caller dequeued stop signal
// `sig` (at its default action) with ps.cont_seq == seq; stops the
// process and parks the caller until it is continued or killed.
void signal_group_stop(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, int sig, uint64_t seq);
// Sends the IPI that makes t's CPU take its return path if t runs
// application code there (no interrupt flag: its sleeps go on).
void signal_kick(Thread* t);
// Parks the caller while a group stop is in effect (the return paths).
void signal_park(ProcessSignals& ps, LinuxThread* lt, SignalThread* st);
// Dequeues a signal in `want` (thread-directed first, synchronous ones
// first) under ps.lock; 0 if none.
int signal_dequeue_locked(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, uint64_t want, KSigInfo* out)
    REQUIRES(ps.lock);
// Deliverable now: pending and not blocked (under the lock or as a hint).
// Inline: every system call's return asks (on_syscall_return).
inline uint64_t signal_deliverable(const ProcessSignals& ps, const LinuxThread* lt) {
  uint64_t pend = __atomic_load_n(&lt->pending, __ATOMIC_ACQUIRE) | __atomic_load_n(&ps.pending, __ATOMIC_ACQUIRE);
  return pend & ~(__atomic_load_n(&lt->sigmask, __ATOMIC_RELAXED) & ~UNBLOCKABLE);
}
// Blocks until a signal in `want` is pending for the caller (or the
// deadline): true if one is, false on timeout.
bool signal_wait_for(uint64_t want, uint64_t deadline_ns);
// sigaltstack on the caller with the application's current RSP: EPERM
// while running on the stack, EINVAL for a bad mode, ENOMEM below
// MINSIGSTKSZ.
Result<void> signal_altstack(LinuxThread* lt, const KStack* ss, KStack* old, uint64_t user_rsp);
// rt_sigreturn body.
int64_t signal_sigreturn(SyscallArgs& args);
bool signal_ignored_locked(const ProcessSignals& ps, int sig) REQUIRES(ps.lock);
// Drops `sig` from every pending set (the action became "ignore").
void signal_flush_locked(ProcessSignals& ps, int sig) REQUIRES(ps.lock);

}  // namespace capsule::linux_abi
