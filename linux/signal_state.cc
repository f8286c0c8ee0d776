// Signal state (docs/signals.md "State"): each process's actions and
// process-directed pending signals (ProcessSignals, Process::signals), each
// thread's mask and pending set, the threads signals may target; sending
// (generation), dequeuing, waiting, and what execve resets. Delivery is
// linux/signal_delivery.cc, the frame ABI linux/signal_frame.cc.
#include <cstddef>
#include <cstring>
#include <new>

#include "core/mm.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "core/time.h"
#include "linux/exec_state.h"
#include "linux/fork_state.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/signal_internal.h"

namespace capsule::linux_abi {

ProcessSignals* signals_of(const Thread* t) {
  auto* p = static_cast<Process*>(t->process);
  return p ? p->signals : nullptr;
}
ProcessSignals* signals_current() { return signals_of(thread_current()); }

namespace {

std::atomic<SignalPendingObserver> g_pending_observer{nullptr};

void tell_observer(int sig) {
  if (SignalPendingObserver fn = g_pending_observer.load(std::memory_order_acquire)) fn(sig);
}

constexpr uint64_t SYNC_SIGNALS = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) |
                                  sigbit(SIGFPE) | sigbit(SIGSYS);

int lowest(uint64_t set) { return __builtin_ctzll(set) + 1; }

LinuxThread* lt_of(Thread* t) { return static_cast<LinuxThread*>(t->linux_state); }

// --- the threads signals may target ---

void register_locked(ProcessSignals& ps, Thread* t, SignalThread* st) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  if (st->registered) return;
  if (ps.nthreads == ps.cap) {
    size_t cap = ps.cap ? ps.cap * 2 : 16;
    auto** n = static_cast<Thread**>(kmalloc(cap * sizeof(Thread*)));
    if (!n) return;
    for (size_t i = 0; i < ps.nthreads; ++i) n[i] = ps.threads[i];
    kfree(ps.threads);  // under the lock: the heap does not take it
    ps.threads = n;
    ps.cap = cap;
  }
  ps.threads[ps.nthreads++] = t;
  st->registered = true;
}

}  // namespace

SignalThread* signal_state_of(Thread* t, LinuxThread** out_lt) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return nullptr;
  LinuxThread* lt = linux_thread_of(t);
  if (!lt) return nullptr;
  if (!lt->signal) {
    auto* st = new (std::nothrow) SignalThread();
    if (!st) return nullptr;
    st->thread = t;
    lt->signal = st;
  }
  if (!lt->signal->registered) {
    SpinGuard g(ps->lock);
    register_locked(*ps, t, lt->signal);
  }
  *out_lt = lt;
  return lt->signal;
}

namespace {

size_t queued_locked(ProcessSignals& ps) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  size_t n = size_t(__builtin_popcountll(ps.pending)) + size_t(ps.rtq.count);
  for (size_t i = 0; i < ps.nthreads; ++i) {
    LinuxThread* lt = lt_of(ps.threads[i]);
    n += size_t(__builtin_popcountll(lt->pending));
    if (lt->signal) n += size_t(lt->signal->rtq.count);
  }
  return n;
}

// RLIMIT_SIGPENDING (Linux's __sigqueue_alloc and __send_signal_locked):
// a real-time signal sent with a negative si_code (sigqueue, tgkill,
// rt_sigqueueinfo) that finds `limit` instances already pending — or its
// queue full — is refused with EAGAIN; kill() (SI_USER) and the kernel's
// own signals override the limit, and an instance that finds no room is
// lost (as Linux loses it when it cannot allocate). A POSIX timer's signal
// is charged at timer_create, so it is never refused. Standard signals do
// not queue: a second one while pending is a no-op.
struct QueueLimit {
  uint64_t limit = ~0ull;  // the target's RLIMIT_SIGPENDING less its timers
  bool refused = false;    // out: EAGAIN
};
bool limited(const KSigInfo& info) { return info.code < 0 && info.code != SI_TIMER && info.signo >= L_SIGRTMIN; }

// Generation. Returns the thread to interrupt, or nullptr; lim->refused
// when the instance was refused (nothing queued, nobody to interrupt).
Thread* queue_locked(ProcessSignals& ps, Thread* target, const KSigInfo& info, QueueLimit* lim) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  int sig = info.signo;
  uint64_t bit = sigbit(sig);
  const bool check = lim && limited(info);
  if (check && queued_locked(ps) >= lim->limit) {
    lim->refused = true;
    return nullptr;
  }
  if (target) {
    LinuxThread* lt = lt_of(target);
    SignalThread* st = lt->signal;
    if (signal_ignored_locked(ps, sig) && !(lt->sigmask & bit)) return nullptr;
    if (!(lt->pending & bit)) {
      lt->pending |= bit;
      st->info[sig - 1] = info;
    } else if (sig >= L_SIGRTMIN) {
      // Real-time signals queue; standard ones coalesce.
      if (!st->rtq.push(info) && check) {
        lim->refused = true;
        return nullptr;
      }
    }
    // Blocked: only a thread waiting for it in rt_sigtimedwait is woken.
    bool waiting = __atomic_load_n(&st->waiting_for, __ATOMIC_ACQUIRE) & bit;
    return ((lt->sigmask & bit) && !waiting) ? nullptr : target;
  }
  Thread* chosen = nullptr;
  bool chosen_blocks = false;
  for (size_t i = 0; i < ps.nthreads; ++i) {
    LinuxThread* lt = lt_of(ps.threads[i]);
    bool waiting = lt->signal && (__atomic_load_n(&lt->signal->waiting_for, __ATOMIC_ACQUIRE) & bit);
    if (!(lt->sigmask & bit) || waiting) {
      chosen = ps.threads[i];
      chosen_blocks = lt->sigmask & bit;
      break;
    }
  }
  // An ignored signal is discarded unless it is blocked — by a thread
  // waiting for it in rt_sigtimedwait too (Linux's sig_ignored looks at
  // real_blocked): a SIGCHLD at SIG_DFL that the parent waits for.
  if (signal_ignored_locked(ps, sig) && chosen && !chosen_blocks) return nullptr;
  if (!(ps.pending & bit)) {
    __atomic_store_n(&ps.pending, ps.pending | bit, __ATOMIC_RELEASE);
    ps.info[sig - 1] = info;
  } else if (sig >= L_SIGRTMIN) {
    if (!ps.rtq.push(info) && check) {
      lim->refused = true;
      return nullptr;
    }
  }
  return chosen;
}

Thread* find_tid_locked(ProcessSignals& ps, int tid) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  for (size_t i = 0; i < ps.nthreads; ++i)
    if (lt_of(ps.threads[i])->tid == tid) return ps.threads[i];
  return nullptr;
}

enum class Dfl { Term, Core, Ign, Stop, Cont };
Dfl default_action(int sig);

constexpr int STOP_SIGNALS[] = {SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU};

// Job control at generation (Linux's prepare_signal): a stop signal
// discards a pending SIGCONT; SIGCONT discards pending stop signals and
// ends a group stop, whatever its action (blocked, handled or ignored),
// waking the parked threads. True if the process had stopped (the parent
// is then told CLD_CONTINUED by the caller, without the lock).
bool prepare_locked(ProcessSignals& ps, int sig) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  if (sig >= 1 && sig <= L_NSIG && default_action(sig) == Dfl::Stop) {
    signal_flush_locked(ps, SIGCONT);
    return false;
  }
  if (sig != SIGCONT) return false;
  for (int s : STOP_SIGNALS) signal_flush_locked(ps, s);
  ++ps.cont_seq;
  if (!ps.stopping.load()) return false;
  const bool was_stopped = ps.stop_notified;
  ps.stopping.store(false);
  ps.stop_notified = false;
  for (size_t i = 0; i < ps.nthreads; ++i)
    if (SignalThread* st = lt_of(ps.threads[i])->signal; st && st->parked) thread_wake(ps.threads[i]);
  return was_stopped;
}

// Every thread but those asleep in the kernel is parked: the stop is
// complete (a sleeping thread parks before it runs application code
// again). Threads still running application code are sent the IPI that
// brings them to their return path.
bool all_stopped_locked(ProcessSignals& ps) REQUIRES(ps.lock) {
  ps.lock.assert_held();
  bool all = true;
  for (size_t i = 0; i < ps.nthreads; ++i) {
    Thread* t = ps.threads[i];
    SignalThread* st = lt_of(t)->signal;
    if ((st && st->parked) || t->state.load() == ThreadState::Blocked) continue;
    all = false;
    if (t != thread_current()) signal_kick(t);
  }
  return all;
}
Dfl default_action(int sig) {
  switch (sig) {
    case SIGCHLD: case SIGURG: case SIGWINCH: return Dfl::Ign;
    case SIGCONT: return Dfl::Cont;
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU: return Dfl::Stop;
    case SIGQUIT: case SIGILL: case SIGTRAP: case SIGABRT: case SIGBUS: case SIGFPE: case SIGSEGV:
    case SIGXCPU: case SIGXFSZ: case SIGSYS: return Dfl::Core;
    default: return Dfl::Term;
  }
}

}  // namespace

// SIGCONT's default action is "ignore": it continues the process when it
// is sent (prepare_locked), whatever its action.
bool signal_default_ignores(int sig) {
  Dfl d = default_action(sig);
  return d == Dfl::Ign || d == Dfl::Cont;
}

bool signal_default_stops(int sig) { return sig >= 1 && sig <= L_NSIG && default_action(sig) == Dfl::Stop; }

// --- shared with sys_signal.cc ---

LinuxThread* signal_self(SignalThread** st) {
  LinuxThread* lt = nullptr;
  *st = signal_state_of(thread_current(), &lt);
  return *st ? lt : nullptr;
}

int signal_dequeue_locked(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, uint64_t want, KSigInfo* out) {
  ps.lock.assert_held();
  want |= UNBLOCKABLE;
  uint64_t tp = lt->pending & want, pp = ps.pending & want;
  int sig;
  if (tp & SYNC_SIGNALS) sig = lowest(tp & SYNC_SIGNALS);
  else if (tp) sig = lowest(tp);
  else if (pp) sig = lowest(pp);
  else return 0;
  if (tp & sigbit(sig)) {
    *out = st->info[sig - 1];
    // A queued further instance stays pending with its own siginfo.
    if (!st->rtq.pop(sig, st->info[sig - 1])) lt->pending &= ~sigbit(sig);
  } else {
    *out = ps.info[sig - 1];
    if (!ps.rtq.pop(sig, ps.info[sig - 1]))
      __atomic_store_n(&ps.pending, ps.pending & ~sigbit(sig), __ATOMIC_RELEASE);
  }
  if (out->code == SI_TIMER)
    if (Process* p = current_process()) out->u.timer.overrun = timer_take_overrun(*p, out->u.timer.tid);
  return sig;
}

bool signal_ignored_locked(const ProcessSignals& ps, int sig) {
  ps.lock.assert_held();
  if (sig == SIGKILL || sig == SIGSTOP) return false;
  uint64_t h = ps.actions[sig - 1].handler;
  return h == SIG_IGN || (h == SIG_DFL && signal_default_ignores(sig));
}

void signal_flush_locked(ProcessSignals& ps, int sig) {
  ps.lock.assert_held();
  uint64_t bit = sigbit(sig);
  __atomic_store_n(&ps.pending, ps.pending & ~bit, __ATOMIC_RELEASE);
  KSigInfo drop;
  while (ps.rtq.pop(sig, drop)) {
  }
  for (size_t i = 0; i < ps.nthreads; ++i) {
    lt_of(ps.threads[i])->pending &= ~bit;
    if (SignalThread* st = lt_of(ps.threads[i])->signal)
      while (st->rtq.pop(sig, drop)) {
      }
  }
}

bool signal_wait_for(uint64_t want, uint64_t deadline_ns) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return false;
  ProcessSignals& ps = *signals_current();
  want |= UNBLOCKABLE;
  __atomic_store_n(&st->waiting_for, want, __ATOMIC_SEQ_CST);
  bool got = false;
  for (;;) {
    sched_prepare_block();
    uint64_t pend = __atomic_load_n(&lt->pending, __ATOMIC_SEQ_CST) | __atomic_load_n(&ps.pending, __ATOMIC_SEQ_CST);
    if (pend & want) {
      ThreadState b = ThreadState::Blocked;
      thread_current()->state.compare_exchange_strong(b, ThreadState::Running);
      got = true;
      break;
    }
    if (!sched_block(deadline_ns)) break;
  }
  __atomic_store_n(&st->waiting_for, 0, __ATOMIC_SEQ_CST);
  return got;
}

// --- execve (linux/exec_state.h) ---

void signal_kill_thread(Thread* t) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  {
    SpinGuard g(ps->lock);
    LinuxThread* lt = lt_of(t);
    if (!lt || !lt->signal || !lt->signal->registered) return;  // leaving, or not started yet
    KSigInfo info;
    info.signo = SIGKILL;
    info.code = SI_KERNEL;
    lt->pending |= sigbit(SIGKILL);
    lt->signal->info[SIGKILL - 1] = info;
  }
  signal_interrupt_target(t);
}

void signal_exec_reset(bool fresh) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  ProcessSignals* ps = signals_current();
  if (!ps) return;
  SpinGuard g(ps->lock);
  for (int i = 0; i < L_NSIG; ++i) {
    KSigAction& a = ps->actions[i];
    if (fresh || a.handler != SIG_IGN) a.handler = SIG_DFL;
    a.flags = 0;
    a.restorer = 0;
    a.mask = 0;
  }
  if (!lt) return;
  lt->altstack_sp = 0;
  lt->altstack_size = 0;
  lt->altstack_flags = SS_DISABLE;
  st->restore_mask = false;
  st->waiting_for = 0;
  if (fresh) {
    lt->sigmask = 0;
    lt->pending = 0;
    st->rtq.count = 0;
    __atomic_store_n(&ps->pending, 0, __ATOMIC_RELEASE);
    ps->rtq.count = 0;
  }
}

// --- fork and exit (linux/fork_state.h) ---

void signal_fork(Process& child, Process& parent) {
  KSigAction a[L_NSIG];
  {
    SpinGuard g(parent.signals->lock);
    for (int i = 0; i < L_NSIG; ++i) a[i] = parent.signals->actions[i];
  }
  SpinGuard g(child.signals->lock);
  for (int i = 0; i < L_NSIG; ++i) child.signals->actions[i] = a[i];
}

bool signal_child_autoreap(Process& parent, bool* send) {
  SpinGuard g(parent.signals->lock);
  const KSigAction& a = parent.signals->actions[SIGCHLD - 1];
  // wait(2) NOTES: SIGCHLD set to SIG_IGN or SA_NOCLDWAIT: no zombies;
  // a handler still runs under SA_NOCLDWAIT.
  *send = a.handler != SIG_IGN;
  return a.handler == SIG_IGN || (a.flags & SA_NOCLDWAIT);
}

// --- public (linux/signal.h) ---

bool signal_pending_current() {
  Thread* t = thread_current();
  auto* lt = lt_of(t);
  ProcessSignals* ps = signals_of(t);
  return lt && ps && signal_deliverable(*ps, lt);
}

namespace {
// Makes sure the caller, if an application thread, is a known target
// (not a thread on its way out that sends signals as its process ends:
// it would be left in the list after its state is freed).
void register_caller() {
  // A thread with no process (a kernel thread, or the last thread of an
  // exiting process telling its parent, its Linux state already freed) is
  // never a target: linux_thread_of would make it a LinuxThread nobody frees.
  if (!current_process()) return;
  LinuxThread* lt = linux_thread_of(thread_current());
  if (lt && lt->signal && lt->signal->left) return;
  (void)signal_state_of(thread_current(), &lt);
}

// The room RLIMIT_SIGPENDING leaves p (read before p's signal lock: the
// limits and the timers have locks of their own).
QueueLimit queue_limit(Process& p, const KSigInfo& info) {
  QueueLimit lim;
  if (!limited(info)) return lim;
  const uint64_t rl = rlimit_cur_of(p, L_RLIMIT_SIGPENDING);
  const uint64_t timers = uint64_t(timer_posix_count(p));
  lim.limit = rl > timers ? rl - timers : 0;
  return lim;
}

}  // namespace

size_t signal_queued_count(Process& p) {
  ProcessSignals& ps = *p.signals;
  SpinGuard g(ps.lock);
  return queued_locked(ps);
}

Result<void> signal_send_process(Process& p, const KSigInfo& info) {
  if (info.signo < 1 || info.signo > L_NSIG) return Error::Invalid;
  register_caller();
  ProcessSignals& ps = *p.signals;
  QueueLimit lim = queue_limit(p, info);
  Thread* t;
  bool continued;
  {
    SpinGuard g(ps.lock);
    continued = prepare_locked(ps, info.signo);
    t = queue_locked(ps, nullptr, info, &lim);
  }
  if (lim.refused) return Error::Again;
  if (continued) process_job_notify(p, CLD_CONTINUED, SIGCONT);
  if (t) signal_interrupt_target(t);
  tell_observer(info.signo);
  return {};
}

Result<void> signal_send_process(const KSigInfo& info) {
  Process* p = current_process();
  if (!p) return Error::NoProcess;
  return signal_send_process(*p, info);
}

Result<void> signal_send_tid(Process& p, int tid, const KSigInfo& info) {
  if (info.signo < 0 || info.signo > L_NSIG) return Error::Invalid;
  register_caller();
  ProcessSignals& ps = *p.signals;
  QueueLimit lim = queue_limit(p, info);
  Thread* t;
  bool continued;
  {
    SpinGuard g(ps.lock);
    Thread* target = find_tid_locked(ps, tid);
    if (!target) return Error::NoProcess;
    if (!info.signo) return {};
    continued = prepare_locked(ps, info.signo);
    t = queue_locked(ps, target, info, &lim);
  }
  if (lim.refused) return Error::Again;
  if (continued) process_job_notify(p, CLD_CONTINUED, SIGCONT);
  if (t) signal_interrupt_target(t);
  tell_observer(info.signo);
  return {};
}

Result<void> signal_send_tid(int tid, const KSigInfo& info) {
  Process* p = current_process();
  if (!p) return Error::NoProcess;
  return signal_send_tid(*p, tid, info);
}

bool signal_tid_exists(int tid) {
  ProcessSignals* ps = signals_current();
  if (!ps) return false;
  register_caller();
  SpinGuard g(ps->lock);
  return find_tid_locked(*ps, tid) != nullptr;
}

bool signal_begin_temp_mask(uint64_t mask) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return false;
  ProcessSignals& ps = *signals_current();
  // The interrupt flag follows the new mask: a flag left from a signal the
  // call's mask blocks would otherwise end every wait (and, restarted,
  // the call again) at once. Signals queued after this see the new mask.
  thread_clear_interrupt(thread_current());
  bool deliverable;
  {
    SpinGuard g(ps.lock);
    if (!st->restore_mask) st->saved_mask = lt->sigmask;  // a restarted call keeps the first one
    st->restore_mask = true;
    lt->sigmask = mask & ~UNBLOCKABLE;
    deliverable = signal_deliverable(ps, lt);
  }
  if (deliverable) thread_interrupt(thread_current());
  return true;
}

void signal_end_temp_mask(bool interrupted) {
  if (interrupted) return;  // the return path restores it after delivery
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return;
  SpinGuard g(signals_current()->lock);
  if (!st->restore_mask) return;
  lt->sigmask = st->saved_mask;
  st->restore_mask = false;
}

uint64_t signal_pending_any() {
  Thread* t = thread_current();
  ProcessSignals* ps = signals_of(t);
  if (!ps) return 0;
  auto* lt = lt_of(t);
  uint64_t p = __atomic_load_n(&ps->pending, __ATOMIC_ACQUIRE);
  return lt ? p | __atomic_load_n(&lt->pending, __ATOMIC_ACQUIRE) : p;
}

int signal_take(uint64_t mask, KSigInfo* out) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return 0;
  ProcessSignals& ps = *signals_current();
  SpinGuard g(ps.lock);
  uint64_t pend = lt->pending | ps.pending;
  // signal_dequeue_locked always admits SIGKILL/SIGSTOP: leave the call
  // (the caller sees a deliverable signal) rather than take them.
  if (pend & UNBLOCKABLE) return 0;
  if (!(pend & mask)) return 0;
  return signal_dequeue_locked(ps, lt, st, mask & ~UNBLOCKABLE, out);
}

void signal_wait_any(uint64_t mask) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return;
  (void)signal_wait_for(mask | ~lt->sigmask, 0);
}

void signal_set_pending_observer(SignalPendingObserver fn) { g_pending_observer.store(fn, std::memory_order_release); }

bool signal_process_pending(Process& p, int sig) {
  return __atomic_load_n(&p.signals->pending, __ATOMIC_ACQUIRE) & sigbit(sig);
}

void signal_thread_start(Thread* t) {
  if (LinuxThread* l = linux_thread_of(t); l && l->signal) l->signal->left = false;
  LinuxThread* lt;
  (void)signal_state_of(t, &lt);
}

ProcessSignals::~ProcessSignals() { kfree(threads); }

void linux_thread_free(LinuxThread* lt) {
  if (!lt) return;
  delete lt->signal;
  kfree(lt->fpu_scratch);
  delete lt;
}

void signal_thread_exit(Thread* t) {
  ProcessSignals* ps = signals_of(t);
  if (!ps) return;
  SpinGuard g(ps->lock);
  if (auto* lt = lt_of(t); lt && lt->signal) lt->signal->left = true;
  for (size_t i = 0; i < ps->nthreads; ++i) {
    if (ps->threads[i] == t) {
      ps->threads[i] = ps->threads[--ps->nthreads];
      if (auto* lt = lt_of(t); lt && lt->signal) lt->signal->registered = false;
      break;
    }
  }
}

void signal_process_masks(Process& p, uint64_t* shared_pending, uint64_t* ignored, uint64_t* caught) {
  ProcessSignals& ps = *p.signals;
  SpinGuard g(ps.lock);
  *shared_pending = ps.pending;
  *ignored = *caught = 0;
  for (int sig = 1; sig <= L_NSIG; ++sig) {
    uint64_t h = ps.actions[sig - 1].handler;
    if (h == SIG_IGN) *ignored |= sigbit(sig);
    else if (h != SIG_DFL) *caught |= sigbit(sig);
  }
}

uint64_t signal_process_cpu_ns(Process& p) {
  ProcessSignals& ps = *p.signals;
  SpinGuard g(ps.lock);
  uint64_t sum = 0;
  // A thread running now has not been charged for its current slice: the
  // live figure adds it.
  for (size_t i = 0; i < ps.nthreads; ++i) sum += thread_cpu_time_live_ns(ps.threads[i]);
  return sum;
}

// --- stop and continue (docs/signals.md "Stop and continue") ---

void signal_group_stop(ProcessSignals& ps, LinuxThread* lt, SignalThread* st, int sig, uint64_t seq) {
  {
    SpinGuard g(ps.lock);
    // A SIGCONT sent after the dequeue cancels this stop; a dying process
    // does not stop.
    if (ps.cont_seq != seq || ps.terminating.load()) return;
    if (!ps.stopping.load()) {
      ps.stop_sig = sig;
      ps.stop_notified = false;
      ps.stopping.store(true);
    }
  }
  signal_park(ps, lt, st);
}

void signal_park(ProcessSignals& ps, LinuxThread* lt, SignalThread* st) {
  Thread* self = thread_current();
  Process* p = current_process();
  {
    SpinGuard g(ps.lock);
    if (!ps.stopping.load()) return;
    st->parked = true;
  }
  for (;;) {
    bool notify = false, notified;
    int sig = 0;
    {
      SpinGuard g(ps.lock);
      if (ps.stopping.load() && !ps.stop_notified && all_stopped_locked(ps)) {
        ps.stop_notified = notify = true;
        sig = ps.stop_sig;
      }
      notified = ps.stop_notified;
    }
    // The last thread to park tells the parent (CLD_STOPPED, wait4's
    // WUNTRACED); until then each parked thread looks again every 5 ms
    // (a thread that went to sleep in the kernel counts as stopped).
    if (notify && p) process_job_notify(*p, CLD_STOPPED, sig);
    thread_clear_interrupt(self);
    sched_prepare_block();
    const uint64_t pend = __atomic_load_n(&lt->pending, __ATOMIC_SEQ_CST) | __atomic_load_n(&ps.pending, __ATOMIC_SEQ_CST);
    if (!ps.stopping.load() || (pend & sigbit(SIGKILL)) || ps.terminating.load()) {
      ThreadState b = ThreadState::Blocked;
      self->state.compare_exchange_strong(b, ThreadState::Running);
      break;
    }
    // A deadline even when stopped for good: a stopped process is not a
    // hung task (Linux's detector skips TASK_STOPPED too).
    (void)sched_block(uptime_ns() + (notified ? 10000000000ull : 5000000ull));
  }
  SpinGuard g(ps.lock);
  st->parked = false;
}

bool signal_process_stopped(Process& p) { return p.signals->stopping.load(); }

bool signal_child_stop_notify(Process& parent) {
  SpinGuard g(parent.signals->lock);
  const KSigAction& a = parent.signals->actions[SIGCHLD - 1];
  return a.handler != SIG_IGN && !(a.flags & SA_NOCLDSTOP);
}

}  // namespace capsule::linux_abi
