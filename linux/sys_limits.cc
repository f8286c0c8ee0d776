// Limits and process attributes: prlimit64/getrlimit/setrlimit, sysinfo,
// prctl, getpriority/setpriority, the sched_* policy queries, getrandom,
// rseq (ENOSYS: libcs cope). docs/syscalls.md.
#include <atomic>

#include "core/address_space.h"
#include "core/mm.h"
#include "linux/process.h"
#include "core/thread.h"
#include "core/time.h"
#include "arch/uaccess.h"
#include "core/random.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "linux/file_common.h"
#include "linux/identity.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/fork_state.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

int own_pid() { return current_process() ? current_process()->pid : 1; }
bool is_self(int64_t pid) { return pid == 0 || pid == own_pid() || pid == current_tid(); }

// ---- resource limits ------------------------------------------------------

constexpr uint64_t L_NR_OPEN = 1u << 20;  // fs.nr_open: the ceiling for L_RLIMIT_NOFILE

// The common core of prlimit64, getrlimit, setrlimit: old receives the
// previous value; new_lim (if any) is checked and applied.
Result<void> do_prlimit(unsigned resource, const Rlim* new_lim, Rlim* old) {
  if (resource >= L_RLIM_NLIMITS) return Error::Invalid;
  if (new_lim) {
    if (new_lim->cur > new_lim->max) return Error::Invalid;
    if (resource == L_RLIMIT_NOFILE && new_lim->max > L_NR_OPEN) return Error::Permission;
  }
  {
    Limits& l = cur_limits();
    SpinGuard g(l.lock);
    Rlim& r = l.rl[resource];
    if (new_lim && new_lim->max > r.max && !current_capable(L_CAP_SYS_RESOURCE)) return Error::Permission;
    if (old) *old = r;
    if (new_lim) r = *new_lim;
  }
  // The fd table enforces the soft limit itself (it sleeps on its own lock:
  // outside the spinlock).
  if (new_lim && resource == L_RLIMIT_NOFILE) fds().set_limit(unsigned(new_lim->cur));
  return {};
}


}  // namespace

void limits_fork(Process& child, Process& parent) {
  Limits& c = *child.limits;
  Limits& pl = *parent.limits;
  Rlim rl[L_RLIM_NLIMITS];
  {
    SpinGuard g(pl.lock);
    for (int i = 0; i < L_RLIM_NLIMITS; ++i) rl[i] = pl.rl[i];
  }
  {
    SpinGuard g(c.lock);
    for (int i = 0; i < L_RLIM_NLIMITS; ++i) c.rl[i] = rl[i];
  }
  // prctl(2): the death signal is cleared in a fork's child; the rest stays.
  c.dumpable.store(pl.dumpable.load());
  c.no_new_privs.store(pl.no_new_privs.load());
  c.thp_disable.store(pl.thp_disable.load());
  c.timerslack.store(pl.timerslack.load());
}

void limits_init_defaults(Limits& l) {
  constexpr uint64_t INF = L_RLIM_INFINITY;
  // max_threads as Linux sizes it: a quarter... of RAM in 16 KiB stacks x 8.
  uint64_t threads = memory_stats().total_bytes / (8 * KSTACK_SIZE);
  if (threads < 20) threads = 20;
  const uint64_t half = threads / 2;
  SpinGuard g(l.lock);
  Rlim* rl = l.rl;
  rl[L_RLIMIT_CPU] = {INF, INF};
  rl[L_RLIMIT_FSIZE] = {INF, INF};
  rl[L_RLIMIT_DATA] = {INF, INF};
  rl[L_RLIMIT_STACK] = {8ull << 20, INF};
  rl[L_RLIMIT_CORE] = {0, INF};
  rl[L_RLIMIT_RSS] = {INF, INF};
  rl[L_RLIMIT_NPROC] = {half, half};
  rl[L_RLIMIT_NOFILE] = {1024, 4096};
  rl[L_RLIMIT_MEMLOCK] = {8ull << 20, 8ull << 20};
  rl[L_RLIMIT_AS] = {INF, INF};
  rl[L_RLIMIT_LOCKS] = {INF, INF};
  rl[L_RLIMIT_SIGPENDING] = {half, half};
  rl[L_RLIMIT_MSGQUEUE] = {819200, 819200};
  rl[L_RLIMIT_NICE] = {0, 0};
  rl[L_RLIMIT_RTPRIO] = {0, 0};
  rl[L_RLIMIT_RTTIME] = {INF, INF};
}

// ---- RLIMIT_FSIZE (linux/file_common.h) ---------------------------------
// Linux's generic_write_check_limits and inode_newsize_ok: checked at the
// system call, before the file system sees the transfer.

void raise_sigxfsz() {
  KSigInfo info;
  info.signo = SIGXFSZ;
  info.code = SI_USER;
  (void)signal_send_tid(current_tid(), info);
}

Result<size_t> fsize_allow(uint64_t pos, size_t count) {
  uint64_t limit = rlimit_cur(L_RLIMIT_FSIZE);
  if (limit == L_RLIM_INFINITY) return count;
  if (pos >= limit) {
    raise_sigxfsz();
    return Error::FileTooBig;
  }
  return count < limit - pos ? count : size_t(limit - pos);
}

Result<void> fsize_grow(uint64_t old_size, uint64_t new_size) {
  uint64_t limit = rlimit_cur(L_RLIMIT_FSIZE);
  if (new_size <= old_size || limit == L_RLIM_INFINITY || new_size <= limit) return {};
  raise_sigxfsz();
  return Error::FileTooBig;
}

uint64_t rlimit_cur_of(Process& p, int resource) {
  if (resource < 0 || resource >= L_RLIM_NLIMITS || !p.limits) return L_RLIM_INFINITY;
  SpinGuard g(p.limits->lock);
  return p.limits->rl[resource].cur;
}

// The calling process's limits; a kernel thread has none (infinity).
uint64_t rlimit_cur(int resource) {
  Process* p = current_process();
  if (!p || resource < 0 || resource >= L_RLIM_NLIMITS) return L_RLIM_INFINITY;
  SpinGuard g(p->limits->lock);
  return p->limits->rl[resource].cur;
}
uint64_t rlimit_max(int resource) {
  Process* p = current_process();
  if (!p || resource < 0 || resource >= L_RLIM_NLIMITS) return L_RLIM_INFINITY;
  SpinGuard g(p->limits->lock);
  return p->limits->rl[resource].max;
}

DEFINE_SYSCALL(302, prlimit64, Result<void>, int pid, unsigned resource, UserPtr<const Rlim> new_rlim,
               UserPtr<Rlim> old_rlim) {
  Rlim nl, ol;
  if (new_rlim) nl = TRY(new_rlim.read());
  if (!is_self(pid)) return Error::NoProcess;
  TRY(do_prlimit(resource, new_rlim ? &nl : nullptr, old_rlim ? &ol : nullptr));
  if (old_rlim) TRY(old_rlim.write(ol));
  return {};
}

DEFINE_SYSCALL(97, getrlimit, Result<void>, unsigned resource, UserPtr<Rlim> rlim) {
  Rlim ol;
  TRY(do_prlimit(resource, nullptr, &ol));
  return rlim.write(ol);
}

DEFINE_SYSCALL(160, setrlimit, Result<void>, unsigned resource, UserPtr<const Rlim> rlim) {
  Rlim nl = TRY(rlim.read());
  return do_prlimit(resource, &nl, nullptr);
}

// ---- sysinfo ----------------------------------------------------------------

namespace {
struct Sysinfo {  // struct sysinfo, x86-64
  int64_t uptime;
  uint64_t loads[3];
  uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
  uint16_t procs, pad;
  uint64_t totalhigh, freehigh;
  uint32_t mem_unit;
};
static_assert(sizeof(Sysinfo) == 112);
}  // namespace

DEFINE_SYSCALL(99, sysinfo, Result<void>, UserPtr<Sysinfo> info) {
  Sysinfo s = {};
  const uint64_t up = uptime_ns();
  s.uptime = int64_t((up + 999999999) / 1000000000);  // Linux rounds up
  MemoryStats m = memory_stats();
  s.totalram = m.total_bytes;
  s.freeram = m.free_bytes;
  Process* p = current_process();
  s.procs = uint16_t(p ? p->thread_count.load() : 1);
  s.mem_unit = 1;
  return info.write(s);
}

// ---- prctl ------------------------------------------------------------------

DEFINE_SYSCALL(157, prctl, Result<int64_t>, int option, Hex<uint64_t> arg2, Hex<uint64_t> arg3,
               Hex<uint64_t> arg4, Hex<uint64_t> arg5) {
  enum : uint64_t {
    PR_SET_PDEATHSIG = 1, PR_GET_PDEATHSIG = 2, PR_GET_DUMPABLE = 3, PR_SET_DUMPABLE = 4,
    PR_GET_KEEPCAPS = 7, PR_SET_KEEPCAPS = 8, PR_GET_TIMING = 13, PR_SET_TIMING = 14,
    PR_SET_NAME = 15, PR_GET_NAME = 16, PR_GET_SECCOMP = 21, PR_CAPBSET_READ = 23,
    PR_CAPBSET_DROP = 24, PR_GET_TSC = 25, PR_SET_TSC = 26, PR_GET_SECUREBITS = 27,
    PR_SET_SECUREBITS = 28, PR_SET_TIMERSLACK = 29, PR_GET_TIMERSLACK = 30,
    PR_SET_CHILD_SUBREAPER = 36, PR_GET_CHILD_SUBREAPER = 37, PR_SET_NO_NEW_PRIVS = 38,
    PR_GET_NO_NEW_PRIVS = 39, PR_GET_TID_ADDRESS = 40, PR_SET_THP_DISABLE = 41,
    PR_GET_THP_DISABLE = 42, PR_CAP_AMBIENT = 47, PR_SET_VMA = 0x53564d41,
    PR_SET_PTRACER = 0x59616d61,
  };
  const uint64_t a2 = arg2, a3 = arg3, a4 = arg4, a5 = arg5;
  switch (option) {
    case PR_SET_PDEATHSIG:
      if (a2 > 64) return Error::Invalid;
      cur_limits().pdeathsig.store(int(a2));
      return 0;
    case PR_GET_PDEATHSIG:
      TRY(UserPtr<int>(a2).write(cur_limits().pdeathsig.load()));
      return 0;
    case PR_GET_DUMPABLE:
      return cur_limits().dumpable.load();
    case PR_SET_DUMPABLE:
      if (a2 != 0 && a2 != 1) return Error::Invalid;
      cur_limits().dumpable.store(int(a2));
      return 0;
    case PR_GET_KEEPCAPS:
    case PR_SET_KEEPCAPS:
    case PR_CAPBSET_READ:
    case PR_CAPBSET_DROP:
    case PR_GET_SECUREBITS:
    case PR_SET_SECUREBITS:
    case PR_CAP_AMBIENT:
      return caps_prctl(option, a2, a3, a4, a5);  // linux/sys_capability.cc
    case PR_GET_TIMING:
      return 0;  // PR_TIMING_STATISTICAL
    case PR_SET_TIMING:
      if (a2 != 0) return Error::Invalid;
      return 0;
    case PR_SET_NAME: {
      // Up to 15 bytes, read one at a time so that a name ending at the end
      // of a mapping is fine, as in Linux.
      char name[16] = {};
      for (size_t i = 0; i < 15; ++i) {
        name[i] = TRY(UserPtr<const char>(a2).offset(i).read());
        if (!name[i]) break;
      }
      name[15] = 0;
      LinuxThread* lt = linux_thread();
      if (!lt) return Error::NoMemory;
      for (size_t i = 0; i < 16; ++i) lt->name[i] = name[i];
      Process* p = current_process();
      if (p && p->main_thread == thread_current())
        for (size_t i = 0; i < 16; ++i) p->comm[i] = name[i];
      return 0;
    }
    case PR_GET_NAME: {
      char name[16] = {};
      LinuxThread* lt = linux_thread();
      const char* src = lt && lt->name[0] ? lt->name : (current_process() ? current_process()->comm : "");
      for (size_t i = 0; i < 15 && src[i]; ++i) name[i] = src[i];
      TRY(UserPtr<char>(a2).copy_out(name, sizeof(name)));
      return 0;
    }
    case PR_GET_SECCOMP:
      return 0;
    case PR_GET_TSC:
      TRY(UserPtr<int>(a2).write(1));  // PR_TSC_ENABLE
      return 0;
    case PR_SET_TSC:
      if (a2 != 1) return Error::Invalid;  // rdtsc cannot be made to fault here
      return 0;
    case PR_SET_TIMERSLACK:
      cur_limits().timerslack.store(a2 ? a2 : 50000);
      return 0;
    case PR_GET_TIMERSLACK:
      return int64_t(cur_limits().timerslack.load());
    case PR_SET_CHILD_SUBREAPER:
      cur_limits().subreaper.store(a2 ? 1 : 0);
      return 0;
    case PR_GET_CHILD_SUBREAPER:
      TRY(UserPtr<int>(a2).write(int(cur_limits().subreaper.load())));
      return 0;
    case PR_SET_NO_NEW_PRIVS:
      if (a2 != 1 || a3 || a4 || a5) return Error::Invalid;
      cur_limits().no_new_privs.store(1);
      return 0;
    case PR_GET_NO_NEW_PRIVS:
      if (a2 || a3 || a4 || a5) return Error::Invalid;
      return cur_limits().no_new_privs.load();
    case PR_GET_TID_ADDRESS: {
      LinuxThread* lt = linux_thread();
      uint64_t v = lt ? lt->clear_child_tid : 0;
      TRY(UserPtr<uint64_t>(a2).write(v));
      return 0;
    }
    case PR_SET_THP_DISABLE:
      if (a3 || a4 || a5) return Error::Invalid;
      cur_limits().thp_disable.store(a2 ? 1 : 0);
      return 0;
    case PR_GET_THP_DISABLE:
      if (a2 || a3 || a4 || a5) return Error::Invalid;
      return cur_limits().thp_disable.load();
    case PR_SET_VMA:
      if (a2 != 0) return Error::Invalid;  // PR_SET_VMA_ANON_NAME: accepted, names are not kept
      return 0;
    case PR_SET_PTRACER:
      return 0;
    default:
      return Error::Invalid;
  }
}

// ---- priorities and scheduling policy ---------------------------------------

namespace {
constexpr int64_t L_PRIO_PROCESS = 0, L_PRIO_PGRP = 1, L_PRIO_USER = 2;

// The thread `who` names under `which`, or nullptr (ESRCH).
Thread* prio_target(int64_t which, int64_t who) {
  Process* p = current_process();
  if (which == L_PRIO_PROCESS) {
    if (who == 0 || who == current_tid()) return thread_current();
    if (p && who == p->pid) return p->main_thread ? p->main_thread : thread_current();
    return nullptr;
  }
  if (which == L_PRIO_PGRP) return (who == 0 || who == own_pid()) ? thread_current() : nullptr;
  return (who == 0 || uint32_t(who) == current_euid()) ? thread_current() : nullptr;  // L_PRIO_USER
}
}  // namespace

DEFINE_SYSCALL(140, getpriority, Result<int>, int which, int who) {
  if (which < L_PRIO_PROCESS || which > L_PRIO_USER) return Error::Invalid;
  Thread* t = prio_target(which, who);
  if (!t) return Error::NoProcess;
  return 20 - t->se.nice;  // the syscall returns 40..1 for nice -20..19
}

DEFINE_SYSCALL(141, setpriority, Result<void>, int which, int who, int niceval) {
  int64_t nice = niceval;
  if (which < L_PRIO_PROCESS || which > L_PRIO_USER) return Error::Invalid;
  Thread* t = prio_target(which, who);
  if (!t) return Error::NoProcess;
  if (nice < -20) nice = -20;
  if (nice > 19) nice = 19;
  // Lowering nice (raising priority) needs CAP_SYS_NICE or L_RLIMIT_NICE.
  if (nice < t->se.nice && !current_capable(L_CAP_SYS_NICE) && 20 - nice > int64_t(rlimit_cur(L_RLIMIT_NICE)))
    return Error::AccessDenied;
  thread_set_nice(t, int(nice));
  return {};
}

// sched_getscheduler and the priority ranges live in linux/sys_sched.cc.

// ---- getrandom, rseq ----------------------------------------------------------

DEFINE_SYSCALL(318, getrandom, Result<size_t>, UserPtr<uint8_t> buf, size_t buflen, Flags<uint32_t> flags) {
  constexpr uint32_t GRND_NONBLOCK = 1, GRND_RANDOM = 2, GRND_INSECURE = 4;
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return Error::Invalid;
  if (flags.has(GRND_INSECURE | GRND_RANDOM)) return Error::Invalid;
  // The CSPRNG is seeded at boot: never blocks, GRND_RANDOM draws from the
  // same generator (as Linux since 5.6). At most MAX_RW_COUNT per call.
  constexpr uint64_t MAX_RW_COUNT = 0x7ffff000;
  const size_t count = buflen < MAX_RW_COUNT ? buflen : MAX_RW_COUNT;
  uint8_t bytes[256];
  size_t done = 0;
  while (done < count) {
    // Between pages a pending signal ends the call with what it copied
    // (Linux's get_random_bytes_user): a 2 GiB request must not hold the
    // thread for minutes (sysfuzz seed 3: four threads 60 s in getrandom).
    if (done && done % 4096 == 0 && signal_pending_current()) break;
    const size_t n = count - done < sizeof(bytes) ? count - done : sizeof(bytes);
    random_bytes(bytes, n);
    if (!buf.offset(done).copy_out(bytes, n).ok()) {
      for (auto& b : bytes) b = 0;
      if (!done) return Error::Fault;
      return done;
    }
    done += n;
  }
  for (auto& b : bytes) b = 0;  // no key material left on the stack
  return done;
}

// Restartable sequences: not provided; glibc and musl run without them.
DEFINE_SYSCALL(334, rseq, Result<void>, UserPtr<uint8_t> rseq, uint32_t rseq_len, Flags<int> flags, Hex<uint32_t> sig) {
  return Error::NotSupported;  // ENOSYS
}

}  // namespace capsule::linux_abi
