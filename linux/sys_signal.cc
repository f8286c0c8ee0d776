// Signal system calls (docs/signals.md): rt_sigaction, rt_sigprocmask,
// rt_sigreturn, sigaltstack, rt_sigpending, rt_sigsuspend, rt_sigtimedwait,
// rt_sigqueueinfo, rt_tgsigqueueinfo, kill, tgkill, tkill, pause.
#include "linux/process.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "linux/signal_internal.h"

namespace capsule::linux_abi {
namespace {

constexpr int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

int our_pid() { return current_process() ? current_process()->pid : 1; }

struct KTimespec {
  int64_t sec;
  int64_t nsec;
};

KSigInfo user_info(int sig, int32_t code) {
  KSigInfo i;
  i.signo = sig;
  i.code = code;
  i.u.kill.pid = our_pid();
  i.u.kill.uid = 0;
  return i;
}

}  // namespace

LINUX_SYSCALL(13, rt_sigaction, "dppu") {
  int sig = int(args.a[0]);
  auto* act = reinterpret_cast<const KSigAction*>(args.a[1]);
  auto* oact = reinterpret_cast<KSigAction*>(args.a[2]);
  if (args.a[3] != 8) return -kEINVAL;
  if (sig < 1 || sig > kNSIG || (act && (sig == SIGKILL || sig == SIGSTOP))) return -kEINVAL;
  KSigAction n{};
  if (act) {
    auto r = get_user(act);
    if (!r.ok()) return -kEFAULT;
    n = r.value();
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
  if (oact && !put_user(oact, old).ok()) return -kEFAULT;
  return 0;
}

LINUX_SYSCALL(14, rt_sigprocmask, "dppu") {
  int how = int(args.a[0]);
  auto* set = reinterpret_cast<const uint64_t*>(args.a[1]);
  auto* oset = reinterpret_cast<uint64_t*>(args.a[2]);
  if (args.a[3] != 8) return -kEINVAL;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
  uint64_t n = 0;
  if (set) {
    auto r = get_user(set);
    if (!r.ok()) return -kEFAULT;
    n = r.value();
    if (how != SIG_BLOCK && how != SIG_UNBLOCK && how != SIG_SETMASK) return -kEINVAL;
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
  if (oset && !put_user(oset, old).ok()) return -kEFAULT;
  return 0;  // newly unblocked pending signals are delivered on the way out
}

LINUX_SYSCALL(15, rt_sigreturn, "") { return signal_sigreturn(args); }

LINUX_SYSCALL(131, sigaltstack, "pp") {
  auto* uss = reinterpret_cast<const KStack*>(args.a[0]);
  auto* uoss = reinterpret_cast<KStack*>(args.a[1]);
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
  KStack ss, old;
  if (uss) {
    auto r = get_user(uss);
    if (!r.ok()) return -kEFAULT;
    ss = r.value();
  }
  int64_t r = signal_altstack(lt, uss ? &ss : nullptr, &old, args.frame->rsp);
  if (r) return r;
  if (uoss && !put_user(uoss, old).ok()) return -kEFAULT;
  return 0;
}

LINUX_SYSCALL(127, rt_sigpending, "pu") {
  if (args.a[1] > 8) return -kEINVAL;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
  uint64_t set;
  {
    ProcessSignals& ps = *signals_current();
    SpinGuard g(ps.lock);
    set = (lt->pending | ps.pending) & lt->sigmask;
  }
  if (!copy_to_user(reinterpret_cast<void*>(args.a[0]), &set, args.a[1]).ok()) return -kEFAULT;
  return 0;
}

LINUX_SYSCALL(130, rt_sigsuspend, "pu") {
  if (args.a[1] != 8) return -kEINVAL;
  auto r = get_user(reinterpret_cast<const uint64_t*>(args.a[0]));
  if (!r.ok()) return -kEFAULT;
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
  {
    SpinGuard g(signals_current()->lock);
    st->saved_mask = lt->sigmask;
    st->restore_mask = true;  // the return path puts it back after delivery
    lt->sigmask = r.value() & ~UNBLOCKABLE;
  }
  while (!signal_wait_for(~lt->sigmask, 0)) {
  }
  return -kERESTARTNOHAND;  // -EINTR once a handler runs
}

LINUX_SYSCALL(34, pause, "") {
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
  while (!signal_wait_for(~lt->sigmask, 0)) {
  }
  return -kERESTARTNOHAND;
}

LINUX_SYSCALL(128, rt_sigtimedwait, "pppu") {
  auto* uset = reinterpret_cast<const uint64_t*>(args.a[0]);
  auto* uinfo = reinterpret_cast<uint8_t*>(args.a[1]);
  auto* uts = reinterpret_cast<const KTimespec*>(args.a[2]);
  if (args.a[3] != 8) return -kEINVAL;
  auto rs = get_user(uset);
  if (!rs.ok()) return -kEFAULT;
  uint64_t want = rs.value() & ~UNBLOCKABLE;
  uint64_t deadline = 0;
  bool poll = false;
  if (uts) {
    auto rt = get_user(uts);
    if (!rt.ok()) return -kEFAULT;
    KTimespec ts = rt.value();
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000) return -kEINVAL;
    uint64_t ns = uint64_t(ts.sec) > 1000000000ull * 1000 ? ~0ull / 2 : uint64_t(ts.sec) * 1000000000ull + uint64_t(ts.nsec);
    if (!ns) poll = true;
    else deadline = uptime_ns() + ns;
  }
  SignalThread* st;
  LinuxThread* lt = signal_self(&st);
  if (!lt) return -kENOMEM;
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
        if (!copy_to_user(uinfo, buf, sizeof(buf)).ok()) return -kEFAULT;
      }
      return sig;
    }
    if (other) return -kEINTR;
    if (poll) return -kEAGAIN;
    if (!signal_wait_for(want | ~lt->sigmask, deadline)) return -kEAGAIN;
  }
}

LINUX_SYSCALL(62, kill, "dd") {
  int pid = int(args.a[0]);
  int sig = int(args.a[1]);
  if (sig < 0 || sig > kNSIG) return -kEINVAL;
  int me = our_pid();
  // The process itself: its pid, its process group (0, -pid) and "every
  // process we may signal" (-1): there is no other process in the VM.
  if (pid != me && pid != 0 && pid != -1 && pid != -me) return -kESRCH;
  if (!sig) return 0;
  return signal_send_process(user_info(sig, SI_USER));
}

LINUX_SYSCALL(234, tgkill, "ddd") {
  int tgid = int(args.a[0]), tid = int(args.a[1]), sig = int(args.a[2]);
  if (tgid <= 0 || tid <= 0 || sig < 0 || sig > kNSIG) return -kEINVAL;
  if (tgid != our_pid()) return -kESRCH;
  return signal_send_tid(tid, user_info(sig, SI_TKILL));
}

LINUX_SYSCALL(200, tkill, "dd") {
  int tid = int(args.a[0]), sig = int(args.a[1]);
  if (tid <= 0 || sig < 0 || sig > kNSIG) return -kEINVAL;
  return signal_send_tid(tid, user_info(sig, SI_TKILL));
}

namespace {
// rt_sigqueueinfo / rt_tgsigqueueinfo: the caller's siginfo, with si_signo
// forced to `sig` (Linux's rule). Only the first 32 bytes are kept.
int64_t queueinfo(int sig, const uint8_t* uinfo, KSigInfo* out) {
  if (sig < 0 || sig > kNSIG) return -kEINVAL;
  uint8_t buf[128];
  if (!copy_from_user(buf, uinfo, sizeof(buf)).ok()) return -kEFAULT;
  __builtin_memcpy(out, buf, sizeof(*out));
  out->signo = sig;
  return 0;
}
}  // namespace

LINUX_SYSCALL(129, rt_sigqueueinfo, "ddp") {
  int pid = int(args.a[0]), sig = int(args.a[1]);
  KSigInfo info;
  if (int64_t r = queueinfo(sig, reinterpret_cast<const uint8_t*>(args.a[2]), &info)) return r;
  if (pid != our_pid()) return -kESRCH;
  if (!sig) return 0;
  return signal_send_process(info);
}

LINUX_SYSCALL(297, rt_tgsigqueueinfo, "dddp") {
  int tgid = int(args.a[0]), tid = int(args.a[1]), sig = int(args.a[2]);
  KSigInfo info;
  if (tgid <= 0 || tid <= 0) return -kEINVAL;
  if (int64_t r = queueinfo(sig, reinterpret_cast<const uint8_t*>(args.a[3]), &info)) return r;
  if (tgid != our_pid()) return -kESRCH;
  return signal_send_tid(tid, info);
}

}  // namespace capsule::linux_abi
