// Signal system calls (docs/signals.md): rt_sigaction, rt_sigprocmask,
// rt_sigreturn, sigaltstack, rt_sigpending, rt_sigsuspend, rt_sigtimedwait,
// rt_sigqueueinfo, rt_tgsigqueueinfo, kill, tgkill, tkill, pause.
#include "linux/process.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "linux/signal_internal.h"
#include "linux/process_state.h"
#include "linux/pidfd.h"
#include "linux/thread_table.h"
#include "core/thread.h"

namespace capsule::linux_abi {
namespace {

constexpr int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

int our_pid() { return current_process() ? current_process()->pid : 1; }

struct KTimespec {
  int64_t sec;
  int64_t nsec;
};

int our_tid() {
  int tid = thread_tid(thread_current());
  return tid ? tid : our_pid();
}

// A process-directed signal; the caller's own process by the form that
// delivers before the call returns.
Result<void> send_to(Process& p, const KSigInfo& info) {
  if (&p == current_process()) return signal_send_process(info);
  return signal_send_process(p, info);
}

// A thread-directed signal to thread tid of process tgid (0: whichever
// process has that thread, tkill's). ESRCH when there is no such thread.
Result<void> send_to_thread(int tgid, int tid, const KSigInfo& info) {
  Process* me = current_process();
  if (me && (tgid == me->pid || (!tgid && signal_tid_exists(tid)))) return signal_send_tid(tid, info);
  Process* p = tgid ? process_get(tgid) : process_get_by_tid(tid);
  if (!p) return Error::NoProcess;
  Result<void> r = signal_send_tid(*p, tid, info);
  process_put(p);
  return r;
}

// A sending function's 0 or -errno as a result.
KSigInfo user_info(int sig, int32_t code) {
  KSigInfo i;
  i.signo = sig;
  i.code = code;
  i.u.kill.pid = our_pid();
  i.u.kill.uid = 0;
  return i;
}

}  // namespace

DEFINE_SYSCALL(13, rt_sigaction, Result<void>, int sig, UserPtr<const KSigAction> act, UserPtr<KSigAction> oact,
               size_t sigsetsize) {
  if (sigsetsize != 8) return Error::Invalid;
  if (sig < 1 || sig > L_NSIG || (act && (sig == SIGKILL || sig == SIGSTOP))) return Error::Invalid;
  KSigAction n{};
  if (act) {
    n = TRY(act.read());
    n.mask &= ~UNBLOCKABLE;
  }
  KSigAction old;
  {
    ProcessSignals& ps = *signals_current();
    SpinGuard g(ps.lock);
    old = ps.actions[sig - 1];
    if (act) {
      ps.actions[sig - 1] = n;
      // POSIX: setting "ignore" discards the pending instances.
      if (signal_ignored_locked(ps, sig)) signal_flush_locked(ps, sig);
    }
  }
  if (oact) TRY(oact.write(old));
  return {};
}

DEFINE_SYSCALL(14, rt_sigprocmask, Result<void>, int how, UserPtr<const uint64_t> set, UserPtr<uint64_t> oset,
               size_t sigsetsize) {
  if (sigsetsize != 8) return Error::Invalid;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  uint64_t n = 0;
  if (set) {
    n = TRY(set.read());
    if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return Error::Invalid;
  }
  uint64_t old;
  {
    SpinGuard g(signals_current()->lock);
    old = lt->sigmask;
    if (set) {
      uint64_t m = how == SIG_BLOCK ? old | n : how == SIG_UNBLOCK ? old & ~n : n;
      lt->sigmask = m & ~UNBLOCKABLE;
    }
  }
  if (oset) TRY(oset.write(old));
  return {};  // newly unblocked pending signals are delivered on the way out
}

// The result is the interrupted context's RAX, whatever it holds.
DEFINE_SYSCALL(15, rt_sigreturn, Result<int64_t>, SyscallArgs& args) { return signal_sigreturn(args); }

DEFINE_SYSCALL(131, sigaltstack, Result<void>, SyscallArgs& args, UserPtr<const KStack> uss, UserPtr<KStack> uoss) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  KStack ss, old;
  if (uss) ss = TRY(uss.read());
  TRY(signal_altstack(lt, uss ? &ss : nullptr, &old, args.frame->rsp));
  if (uoss) TRY(uoss.write(old));
  return {};
}

DEFINE_SYSCALL(127, rt_sigpending, Result<void>, UserPtr<uint8_t> uset, size_t sigsetsize) {
  if (sigsetsize > 8) return Error::Invalid;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  uint64_t set;
  {
    ProcessSignals& ps = *signals_current();
    SpinGuard g(ps.lock);
    set = (lt->pending | ps.pending) & lt->sigmask;
  }
  return uset.copy_out(reinterpret_cast<const uint8_t*>(&set), sigsetsize);
}

DEFINE_SYSCALL(130, rt_sigsuspend, Result<void>, UserPtr<const uint64_t> mask, size_t sigsetsize) {
  if (sigsetsize != 8) return Error::Invalid;
  const uint64_t m = TRY(mask.read());
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  {
    SpinGuard g(signals_current()->lock);
    st->saved_mask = lt->sigmask;
    st->restore_mask = true;  // the return path puts it back after delivery
    lt->sigmask = m & ~UNBLOCKABLE;
  }
  while (!signal_wait_for(~lt->sigmask, 0)) {
  }
  return Error::RestartNoHand;  // EINTR once a handler runs
}

DEFINE_SYSCALL(34, pause, Result<void>) {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  while (!signal_wait_for(~lt->sigmask, 0)) {
  }
  return Error::RestartNoHand;
}

DEFINE_SYSCALL(128, rt_sigtimedwait, Result<int>, UserPtr<const uint64_t> uset, UserPtr<uint8_t> uinfo,
               UserPtr<const KTimespec> uts, size_t sigsetsize) {
  if (sigsetsize != 8) return Error::Invalid;
  const uint64_t want = TRY(uset.read()) & ~UNBLOCKABLE;
  uint64_t deadline = 0;
  bool poll = false;
  if (uts) {
    const KTimespec ts = TRY(uts.read());
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000) return Error::Invalid;
    uint64_t ns = uint64_t(ts.sec) > 1000000000ull * 1000 ? ~0ull / 2 : uint64_t(ts.sec) * 1000000000ull + uint64_t(ts.nsec);
    if (!ns) poll = true;
    else deadline = uptime_ns() + ns;
  }
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return Error::NoMemory;
  for (;;) {
    KSigInfo info;
    int sig;
    bool other;
    {
      ProcessSignals& ps = *signals_current();
      SpinGuard g(ps.lock);
      sig = signal_dequeue_locked(ps, lt, st, want, &info);
      // A signal outside the set that is not blocked interrupts the wait.
      other = !sig && ((lt->pending | ps.pending) & ~lt->sigmask & ~want);
    }
    if (sig) {
      if (uinfo) {
        uint8_t buf[128] = {};
        __builtin_memcpy(buf, &info, sizeof(info));
        TRY(uinfo.copy_out(buf, sizeof(buf)));
      }
      return sig;
    }
    if (other) return Error::Interrupted;
    if (poll) return Error::Again;
    if (!signal_wait_for(want | ~lt->sigmask, deadline)) return Error::Again;
  }
}

namespace {
struct GroupKill {
  int sig;
  int pgid;        // 0: every process but pid 1 and the caller (kill(-1, ...))
  int self;
  bool found = false;
  Result<void> err;
};

void group_kill_one(Process& p, void* ctx) {
  auto* k = static_cast<GroupKill*>(ctx);
  if (k->pgid) {
    if (__atomic_load_n(&p.creds->pgid, __ATOMIC_RELAXED) != k->pgid) return;
  } else if (p.pid == 1 || p.pid == k->self) {
    return;
  }
  k->found = true;
  if (!k->sig) return;
  if (auto r = signal_send_process(p, user_info(k->sig, SI_USER)); !r.ok()) k->err = r;
}
}  // namespace

// kill(2): pid > 0 that process, 0 the caller's process group, -1 every
// process but pid 1 and the caller, < -1 the group -pid. ESRCH when none
// matches; signal 0 only checks.
DEFINE_SYSCALL(62, kill, Result<void>, int pid, int sig) {
  if (sig < 0 || sig > L_NSIG) return Error::Invalid;
  int me = our_pid();
  if (pid == me) {
    if (!sig) return {};
    return signal_send_process(user_info(sig, SI_USER));
  }
  if (pid > 0) {
    // Any thread's id names its process (Linux's find_vpid finds threads).
    Process* p = process_get_by_tid(pid);
    if (!p) return Error::NoProcess;
    Result<void> r;
    if (sig) r = send_to(*p, user_info(sig, SI_USER));
    process_put(p);
    return r;
  }
  if (pid == INT32_MIN) return Error::NoProcess;
  GroupKill k{sig, 0, me, false, {}};
  if (pid == 0) k.pgid = __atomic_load_n(&current_process()->creds->pgid, __ATOMIC_RELAXED);
  else if (pid < -1) k.pgid = -pid;
  process_for_each(group_kill_one, &k);
  if (!k.found) return Error::NoProcess;
  return k.err;
}

// tgkill(2): thread tid of process tgid, in any process (ESRCH when tid is
// not one of tgid's threads).
DEFINE_SYSCALL(234, tgkill, Result<void>, int tgid, int tid, int sig) {
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > L_NSIG) return Error::Invalid;
  return send_to_thread(tgid, tid, user_info(sig, SI_TKILL));
}

DEFINE_SYSCALL(200, tkill, Result<void>, int tid, int sig) {
  if (tid <= 0 || sig < 0 || sig > L_NSIG) return Error::Invalid;
  return send_to_thread(0, tid, user_info(sig, SI_TKILL));
}

namespace {
// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller's siginfo, with si_signo
// forced to `sig` (Linux's rule). Only the first 32 bytes are kept.
Result<KSigInfo> queueinfo(int sig, UserPtr<const uint8_t> uinfo) {
  if (sig < 0 || sig > L_NSIG) return Error::Invalid;
  uint8_t buf[128];
  TRY(uinfo.copy_in(buf, sizeof(buf)));
  KSigInfo info;
  __builtin_memcpy(&info, buf, sizeof(info));
  info.signo = sig;
  return info;
}
}  // namespace

// rt_sigqueueinfo(2) / rt_tgsigqueueinfo(2): the caller's siginfo to a
// process (any of its thread ids names it) or to one thread. Another
// process (another thread, for rt_tgsigqueueinfo) may not be sent a
// kernel-looking si_code (>= 0, or SI_TKILL): EPERM, checked before the
// target is looked up, as Linux does.
DEFINE_SYSCALL(129, rt_sigqueueinfo, Result<void>, int pid, int sig, UserPtr<const uint8_t> uinfo) {
  const KSigInfo info = TRY(queueinfo(sig, uinfo));
  if ((info.code >= 0 || info.code == SI_TKILL) && pid != our_pid()) return Error::Permission;
  if (pid <= 0) return Error::NoProcess;  // Linux's kill_proc_info finds no such pid
  Process* p = process_get_by_tid(pid);
  if (!p) return Error::NoProcess;
  Result<void> r;
  if (sig) r = send_to(*p, info);
  process_put(p);
  return r;
}

DEFINE_SYSCALL(297, rt_tgsigqueueinfo, Result<void>, int tgid, int tid, int sig, UserPtr<const uint8_t> uinfo) {
  if (tgid <= 0 || tid <= 0) return Error::Invalid;
  const KSigInfo info = TRY(queueinfo(sig, uinfo));
  if ((info.code >= 0 || info.code == SI_TKILL) && tid != our_tid()) return Error::Permission;
  return send_to_thread(tgid, tid, info);
}

}  // namespace capsule::linux_abi

namespace capsule::linux_abi {

// pidfd_send_signal(pidfd, sig, info, flags): kill() through a pidfd.
// flags must be 0 (EINVAL); a descriptor that is not a pidfd: EBADF; a
// process already reaped: ESRCH (a zombie takes the signal, as kill's).
// With info: its si_signo must be sig (EINVAL), and another process may
// not be sent a kernel-looking si_code (>= 0, or SI_TKILL: EPERM).
DEFINE_SYSCALL(424, pidfd_send_signal, Result<void>, int pidfd, int sig, UserPtr<const uint8_t> uinfo,
               Hex<unsigned> flags) {
  if (flags) return Error::Invalid;
  if (sig < 0 || sig > L_NSIG) return Error::Invalid;
  PidfdTarget t = TRY(pidfd_get(pidfd));
  Process* p = t.p;
  Result<void> r;
  KSigInfo info = user_info(sig, SI_USER);
  if (uinfo) {
    uint8_t buf[128];
    r = uinfo.copy_in(buf, sizeof(buf));
    if (r.ok()) {
      __builtin_memcpy(&info, buf, sizeof(info));
      if (info.signo != sig) r = Error::Invalid;
      else if (p != current_process() && (info.code >= 0 || info.code == SI_TKILL)) r = Error::Permission;
    }
  }
  if (r.ok() && process_find(p->pid) != p) r = Error::NoProcess;  // reaped
  if (r.ok() && sig) r = p == current_process() ? signal_send_process(info) : signal_send_process(*p, info);
  process_put(p);
  return r;
}

}  // namespace capsule::linux_abi
