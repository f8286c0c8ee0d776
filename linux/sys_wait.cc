// The end of a process other than the first, zombies and their reaping:
// wait4, waitid, getppid, and kill() between processes.
// docs/process.md "Fork, exit and wait".
//
// A process that ends closes its descriptors, stops its timers and frees
// its address space at once (the memory comes back before anyone waits);
// what its parent may still ask (pid, wait status, CPU time) stays in the
// Process, a zombie in the table, until wait4/waitid reaps it — or at once
// when the parent ignores SIGCHLD or set SA_NOCLDWAIT. Its children go to
// pid 1. The parent learns of it by SIGCHLD (the child's exit signal) and
// by the wake-up of its threads asleep in wait4/waitid. Every parent/child
// field is under the process table's lock.
#include "arch/uaccess.h"
#include "core/address_space.h"
#include "core/poll.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "core/time.h"
#include "lib/log.h"
#include "linux/console_file.h"
#include "linux/pty_file.h"
#include "linux/exec_state.h"
#include "linux/fork_state.h"
#include "linux/pidfd.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/signal_internal.h"
#include "linux/sys_time.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

// wait4/waitid options (include/uapi/linux/wait.h: ABI facts).
constexpr int L_WNOHANG = 1, L_WUNTRACED = 2, L_WSTOPPED = 2, L_WEXITED = 4, L_WCONTINUED = 8,
              L_WNOWAIT = 0x01000000;
constexpr int L_WNOTHREAD = 0x20000000, L_WALL = 0x40000000, L_WCLONE = int(0x80000000u);
// waitid's idtype.
constexpr int L_P_ALL = 0, L_P_PID = 1, L_P_PGID = 2, L_P_PIDFD = 3;

constexpr int64_t NS = 1000000000;
constexpr int64_t L_USER_HZ = 100;

bool exited_normally(int wstatus) { return (wstatus & 0x7f) == 0; }

// Wakes the threads of `p` asleep in wait4/waitid.
void wake_waiters_locked(Process& p) {
  for (Thread*& t : p.child_waiters)
    if (t) {
      thread_wake(t);
      t = nullptr;
    }
}

Process* find_locked(int pid) {
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* p = process_slot_locked(i);
    if (p && p->pid == pid) return p;
  }
  return nullptr;
}

// Tells the parent (`ppid` as it was read) that `p` ended: SIGCHLD, its
// waiters woken, or the zombie reaped at once. Returns true if reaped
// (the caller drops the table's reference).
bool notify_parent(Process& p, int wstatus) {
  Process* parent;
  {
    SpinGuard g(process_table_lock());
    parent = find_locked(p.ppid);
    if (parent) parent->refs.fetch_add(1);
  }
  bool send = true, reap = false;
  if (parent) reap = signal_child_autoreap(*parent, &send);
  KSigInfo info;
  info.signo = p.exit_signal;
  info.code = exited_normally(wstatus) ? CLD_EXITED : CLD_KILLED;
  info.u.kill.pid = p.pid;
  info.u.kill.uid = p.creds->ruid;
  // si_status at offset 24: the exit code or the signal.
  info.u.kill.value = uint32_t(exited_normally(wstatus) ? (wstatus >> 8) & 0xff : wstatus & 0x7f);
  {
    SpinGuard g(process_table_lock());
    p.wait_status = wstatus;
    if (reap) process_unlist_locked(&p);
    else p.zombie = true;
    p.ended.store(true);
    // SIGCHLD is queued under the table's lock with the zombie (as
    // Linux's tasklist_lock does it): a parent that finds the zombie
    // finds the signal pending too, and one woken by the signal finds the
    // zombie. Lock order: the table's, then a process's signal lock.
    if (parent && p.exit_signal && send) (void)signal_send_process(*parent, info);
    // Its waiters look again: a zombie to reap, or (reaped at once) maybe
    // no child left, which is ECHILD. The parent may have changed
    // meanwhile (it ended: pid 1 took us).
    if (Process* now = find_locked(p.ppid)) wake_waiters_locked(*now);
  }
  process_put(parent);
  return reap;
}

// PR_SET_PDEATHSIG: each live child that asked for it gets its signal as
// its parent ends (Linux sends it when the parent thread that made the
// child exits; here, when the parent process does), si_code SI_USER,
// si_pid 0 (as Linux's SEND_SIG_NOINFO).
void send_pdeathsig(Process& p) {
  process_for_each(
      [](Process& c, void* ctx) {
        const int parent = *static_cast<int*>(ctx);
        bool mine;
        {
          SpinGuard g(process_table_lock());
          mine = c.ppid == parent && !c.zombie;
        }
        const int sig = c.limits->pdeathsig.load();
        if (!mine || sig <= 0) return;
        KSigInfo info;
        info.signo = sig;
        info.u.kill.pid = 0;
        info.u.kill.uid = 0;
        (void)signal_send_process(c, info);
      },
      &p.pid);
}

int pgid_of(const Process& p) { return __atomic_load_n(&p.creds->pgid, __ATOMIC_RELAXED); }
int sid_of(const Process& p) { return __atomic_load_n(&p.creds->sid, __ATOMIC_RELAXED); }

// POSIX's orphaned process group, as Linux's will_become_orphaned_pgrp
// (without its exception for children of init: pid 1 here is the user's
// command, a shell or a program acting as one, not a system's init):
// no live member other than `ignore` has a parent other than `ignore` in
// another group of the same session.
bool group_orphaned_locked(int pgid, const Process* ignore) {
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* q = process_slot_locked(i);
    if (!q || q == ignore || q->zombie || pgid_of(*q) != pgid) continue;
    Process* par = find_locked(q->ppid);
    if (par && par != ignore && !par->zombie && pgid_of(*par) != pgid && sid_of(*par) == sid_of(*q)) return false;
  }
  return true;
}

bool group_has_stopped_locked(int pgid) {
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* q = process_slot_locked(i);
    if (q && !q->zombie && pgid_of(*q) == pgid && signal_process_stopped(*q)) return true;
  }
  return false;
}

}  // namespace

void signal_process_group(int pgid, int sig) {
  struct Send {
    int pgid;
    KSigInfo info;
  } s{pgid, {}};
  s.info.signo = sig;
  s.info.code = SI_KERNEL;
  process_for_each(
      [](Process& q, void* ctx) {
        auto& s = *static_cast<Send*>(ctx);
        bool zombie;
        {
          SpinGuard g(process_table_lock());
          zombie = q.zombie;
        }
        if (!zombie && pgid_of(q) == s.pgid) (void)signal_send_process(q, s.info);
      },
      &s);
}

namespace {

// The groups that p's end may orphan: its own (if its parent kept it
// from being orphaned) and its children's in other groups of its session
// (Linux's kill_orphaned_pgrp from exit_notify and reparenting). Read
// before the children go to pid 1.
struct Candidates {
  int pgid[16];
  int n = 0;
  void add(int g) {
    for (int i = 0; i < n; ++i)
      if (pgid[i] == g) return;
    if (n < 16) pgid[n++] = g;
  }
};
Candidates orphan_candidates(Process& p) {
  Candidates c;
  SpinGuard g(process_table_lock());
  const int pg = pgid_of(p), sid = sid_of(p);
  Process* par = find_locked(p.ppid);
  if (par && pgid_of(*par) != pg && sid_of(*par) == sid) c.add(pg);
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* ch = process_slot_locked(i);
    if (ch && ch->ppid == p.pid && !ch->zombie && pgid_of(*ch) != pg && sid_of(*ch) == sid) c.add(pgid_of(*ch));
  }
  return c;
}

// POSIX: a process group that becomes orphaned while one of its members
// is stopped gets SIGHUP then SIGCONT (every member), so that its jobs do
// not stay stopped with nobody to continue them.
void hup_orphaned_groups(Process& p, const Candidates& c) {
  for (int i = 0; i < c.n; ++i) {
    bool hup;
    {
      SpinGuard g(process_table_lock());
      hup = group_orphaned_locked(c.pgid[i], &p) && group_has_stopped_locked(c.pgid[i]);
    }
    if (!hup) continue;
    signal_process_group(c.pgid[i], SIGHUP);
    signal_process_group(c.pgid[i], SIGCONT);
  }
}

// Its children (and zombies) go to pid 1, which is told if one is a zombie.
void reparent_children(Process& p) {
  SpinGuard g(process_table_lock());
  bool zombie = false;
  for (size_t i = 0; i < process_slots(); ++i) {
    Process* c = process_slot_locked(i);
    if (!c || c->ppid != p.pid) continue;
    c->ppid = 1;
    zombie |= c->zombie;
  }
  if (zombie)
    if (Process* init = find_locked(1)) wake_waiters_locked(*init);
}

}  // namespace

}  // namespace capsule::linux_abi

namespace capsule {

using namespace linux_abi;

[[noreturn]] void process_exit_child(int wstatus) {
  Process& p = *current_process();
  Thread* self = thread_current();
  // exit_group: the other threads end first (as execve's de_thread); a
  // thread that loses to another's exit or execve ends as killed.
  if (!exec_kill_other_threads()) exec_thread_exit_killed();
  signal_thread_exit(self);
  account_thread_exit(self);
  p.zombie_cpu_ns = p.exited_cpu_ns.load();
  files_exit(p);
  sem_undo_exit(p);  // SEM_UNDO (semop(2))
  timers_exec_reset(true);  // no timer may fire at a zombie
  // The address space: freed now (a vfork child's is its parent's, which
  // goes on with it).
  const bool borrowed = p.as_borrowed;
  {
    IrqGuard irq;
    self->as = nullptr;  // a kernel thread from here: no page table of its own
  }
  // Readers of another process's memory (procfs) hold as_lock: none has
  // it once the pointer is gone.
  AddressSpace* as = process_set_as(p, nullptr);
  process_vfork_release(p);
  if (as && !borrowed) AddressSpace::destroy(as);
  send_pdeathsig(p);
  console_process_exit(p);
  pty_process_exit(p);
  const Candidates orphans = orphan_candidates(p);
  reparent_children(p);
  hup_orphaned_groups(p, orphans);
  // The Linux state of the last thread; a main thread that ended before
  // (a zombie thread object) is freed now.
  auto* lt = static_cast<LinuxThread*>(self->linux_state);
  self->linux_state = nullptr;
  linux_thread_free(lt);
  Thread* main = p.main_thread;
  if (main && main != self) {
    auto* mlt = static_cast<LinuxThread*>(main->linux_state);
    main->linux_state = nullptr;
    linux_thread_free(mlt);
    thread_detach(main);  // it exited already: freed now
  }
  p.main_thread = nullptr;
  // From here `p` may be reaped and freed at any moment.
  self->process = nullptr;
  p.refs.fetch_add(1);  // ours until its pidfds are told
  if (notify_parent(p, wstatus)) process_put(&p);
  p.exit_poll->changed(POLL_IN | POLL_RDNORM);
  process_put(&p);
  if (main == self) thread_detach(self);  // freed once switched out
  thread_exit();
}

}  // namespace capsule

namespace capsule::linux_abi {
namespace {

}  // namespace

void process_job_notify(Process& p, int why, int status) {
  Process* parent;
  {
    SpinGuard g(process_table_lock());
    parent = find_locked(p.ppid);
    if (!parent) return;
    parent->refs.fetch_add(1);
  }
  const bool send = signal_child_stop_notify(*parent);
  KSigInfo info;
  info.signo = SIGCHLD;
  info.code = why;
  info.u.kill.pid = p.pid;
  info.u.kill.uid = p.creds->ruid;
  info.u.kill.value = uint32_t(status);  // si_status: the stop signal, or SIGCONT
  {
    // The report, SIGCHLD and the waiters' wake-up together under the
    // table's lock, as for an exit (notify_parent).
    SpinGuard g(process_table_lock());
    bool report = !p.zombie && p.ppid == parent->pid;
    if (report && why == CLD_STOPPED) {
      report = signal_process_stopped(p);  // continued meanwhile: nothing to report
      if (report) {
        p.stop_report = status;
        p.cont_report = false;
      }
    } else if (report) {
      p.stop_report = 0;
      p.cont_report = true;
    }
    if (report) {
      if (send) (void)signal_send_process(*parent, info);
      wake_waiters_locked(*parent);
    }
  }
  process_put(parent);
}

bool process_pgrp_orphaned(Process& p) {
  SpinGuard g(process_table_lock());
  return group_orphaned_locked(pgid_of(p), nullptr);
}

namespace {

struct Timeval {
  int64_t sec, usec;
};
struct Rusage {
  Timeval utime, stime;
  int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals, nvcsw,
      nivcsw;
};
static_assert(sizeof(Rusage) == 144);

// Which children a wait accepts.
struct WaitSel {
  enum Kind { Any, Pid, Pgid } kind = Any;
  int id = 0;
};

struct Reaped {
  int pid = 0;
  int wstatus = 0;   // wait4's encoding
  int why = 0;       // waitid's si_code: CLD_EXITED, CLD_KILLED, CLD_STOPPED, CLD_CONTINUED
  int status = 0;    // waitid's si_status
  uint32_t uid = 0;
  uint64_t cpu_ns = 0;
};

bool selected(Process& c, const WaitSel& s) {
  switch (s.kind) {
    case WaitSel::Any: return true;
    case WaitSel::Pid: return c.pid == s.id;
    case WaitSel::Pgid: return __atomic_load_n(&c.creds->pgid, __ATOMIC_RELAXED) == s.id;
  }
  return false;
}

// __WCLONE selects the children whose exit signal is not SIGCHLD, its
// absence the others, __WALL both (Linux's eligible_child).
bool eligible(const Process& c, int options) {
  if (options & L_WALL) return true;
  return (c.exit_signal != SIGCHLD) == bool(options & L_WCLONE);
}

bool add_waiter_locked(Process& p, Thread* t) {
  for (Thread*& w : p.child_waiters)
    if (!w || w == t) {
      w = t;
      return true;
    }
  return false;
}

void remove_waiter(Process& p, Thread* t) {
  SpinGuard g(process_table_lock());
  for (Thread*& w : p.child_waiters)
    if (w == t) w = nullptr;
}

void cancel_block() {
  ThreadState b = ThreadState::Blocked;
  thread_current()->state.compare_exchange_strong(b, ThreadState::Running);
}

// The common body of wait4 and waitid: a child the selection accepts
// that ended (WEXITED: a zombie, reaped unless `keep`, WNOWAIT), stopped
// (WSTOPPED) or was continued (WCONTINUED) — the last two reported once
// unless `keep`. 0 with WNOHANG when children exist but none has news.
// NoChild (ECHILD) when no child matches; RestartSys when a signal
// interrupts the sleep.
Result<int> do_wait(const WaitSel& sel, int options, bool keep, Reaped* out) {
  Process& me = *current_process();
  Thread* self = thread_current();
  for (;;) {
    sched_prepare_block();
    Process* found = nullptr;
    bool any = false, listed = true, reaped = false;
    {
      SpinGuard g(process_table_lock());
      for (size_t i = 0; i < process_slots(); ++i) {
        Process* c = process_slot_locked(i);
        if (!c || c->ppid != me.pid || !selected(*c, sel) || !eligible(*c, options)) continue;
        any = true;
        if (c->zombie) {
          if (!(options & L_WEXITED)) continue;
          found = c;
          out->wstatus = c->wait_status;
          out->why = exited_normally(c->wait_status) ? CLD_EXITED : CLD_KILLED;
          out->status = exited_normally(c->wait_status) ? (c->wait_status >> 8) & 0xff : c->wait_status & 0x7f;
          out->cpu_ns = c->zombie_cpu_ns;
          reaped = !keep;
          break;
        }
        if ((options & L_WSTOPPED) && c->stop_report) {
          found = c;
          out->wstatus = 0x7f | (c->stop_report << 8);  // WIFSTOPPED, WSTOPSIG
          out->why = CLD_STOPPED;
          out->status = c->stop_report;
          if (!keep) c->stop_report = 0;
          break;
        }
        if ((options & L_WCONTINUED) && c->cont_report) {
          found = c;
          out->wstatus = 0xffff;  // WIFCONTINUED
          out->why = CLD_CONTINUED;
          out->status = SIGCONT;
          if (!keep) c->cont_report = false;
          break;
        }
      }
      if (found) {
        out->pid = found->pid;
        out->uid = found->creds->ruid;
        if (reaped) process_unlist_locked(found);
      } else if (any && !(options & L_WNOHANG)) {
        listed = add_waiter_locked(me, self);
      }
    }
    if (found || !any || (options & L_WNOHANG)) {
      cancel_block();
      if (!found) {
        if (!any) return Error::NoChild;
        return 0;
      }
      if (reaped) {
        me.children_cpu_ns.fetch_add(out->cpu_ns);
        process_put(found);  // the table's reference
      }
      return out->pid;
    }
    if (signal_pending_current()) {
      cancel_block();
      remove_waiter(me, self);
      return Error::RestartSys;
    }
    // No free slot to be woken through: look again every 10 ms.
    sched_block(listed ? 0 : uptime_ns() + 10000000);
    remove_waiter(me, self);
    if (signal_pending_current()) return Error::RestartSys;
  }
}

Rusage rusage_of(uint64_t cpu_ns) {
  Rusage u = {};
  u.utime = Timeval{int64_t(cpu_ns / NS), int64_t(cpu_ns % NS / 1000)};
  return u;
}

}  // namespace

// wait4(pid, status, options, rusage): pid > 0 that child, -1 any, 0 the
// caller's process group, < -1 group -pid. Bad options: EINVAL; no such
// child: ECHILD; a bad status or rusage pointer: EFAULT after the child
// was reaped (Linux's order).
DEFINE_SYSCALL(61, wait4, Result<int>, int pid, UserPtr<int> status, Hex<int> options, UserPtr<Rusage> ru) {
  if (options & ~(L_WNOHANG | L_WUNTRACED | L_WCONTINUED | L_WNOTHREAD | L_WCLONE | L_WALL)) return Error::Invalid;
  if (pid == INT32_MIN) return Error::NoProcess;  // -INT_MIN overflows: Linux's ESRCH
  WaitSel sel;
  if (pid > 0) sel = {WaitSel::Pid, pid};
  else if (pid == 0) sel = {WaitSel::Pgid, __atomic_load_n(&cur_creds().pgid, __ATOMIC_RELAXED)};
  else if (pid < -1) sel = {WaitSel::Pgid, -pid};
  Reaped r;
  const int got = TRY(do_wait(sel, options.value | L_WEXITED, false, &r));
  if (got > 0) {
    if (status) TRY(status.write(r.wstatus));
    if (ru) TRY(ru.write(rusage_of(r.cpu_ns)));
  }
  return got;
}

// waitid(idtype, id, infop, options, rusage): one of WEXITED, WSTOPPED,
// WCONTINUED is needed; WNOWAIT leaves the child's state to be reported
// again. With WNOHANG and nothing ended, the siginfo's first fields
// are zeroed (Linux).
DEFINE_SYSCALL(247, waitid, Result<int>, int idtype, int id, UserPtr<uint8_t> infop, Hex<int> options,
               UserPtr<Rusage> ru) {
  if (options & ~(L_WNOHANG | L_WNOWAIT | L_WEXITED | L_WSTOPPED | L_WCONTINUED | L_WNOTHREAD | L_WCLONE | L_WALL))
    return Error::Invalid;
  if (!(options & (L_WEXITED | L_WSTOPPED | L_WCONTINUED))) return Error::Invalid;
  WaitSel sel;
  bool pidfd_nonblock = false;
  switch (idtype) {
    case L_P_ALL: break;
    case L_P_PID:
      if (id <= 0) return Error::Invalid;
      sel = {WaitSel::Pid, id};
      break;
    case L_P_PGID:
      if (id < 0) return Error::Invalid;
      sel = {WaitSel::Pgid, id ? id : __atomic_load_n(&cur_creds().pgid, __ATOMIC_RELAXED)};
      break;
    case L_P_PIDFD: {
      // The pidfd's process, a child of ours or ECHILD as for P_PID; not a
      // pidfd: EBADF. On an O_NONBLOCK pidfd, "not ended yet" without
      // WNOHANG is EAGAIN (Linux 5.10+). A negative id: EINVAL.
      if (id < 0) return Error::Invalid;
      PidfdTarget t = TRY(pidfd_get(id));
      sel = {WaitSel::Pid, t.p->pid};
      pidfd_nonblock = t.nonblock && !(options & L_WNOHANG);
      process_put(t.p);
      break;
    }
    default: return Error::Invalid;
  }
  if (pidfd_nonblock) options.value |= L_WNOHANG;
  Reaped r;
  const int got = TRY(do_wait(sel, options, options & L_WNOWAIT, &r));
  struct {
    int32_t signo, err, code, pad;
    int32_t pid;
    uint32_t uid;
    int32_t status, pad2;
    int64_t utime, stime;
  } si = {};
  if (got > 0) {
    si.signo = SIGCHLD;
    si.code = r.why;
    si.pid = r.pid;
    si.uid = r.uid;
    si.status = r.status;
    si.utime = int64_t(r.cpu_ns / (NS / L_USER_HZ));
  }
  if (got == 0 && pidfd_nonblock) return Error::Again;
  if (infop) TRY(infop.copy_out(reinterpret_cast<const uint8_t*>(&si), sizeof(si)));
  if (ru) TRY(ru.write(rusage_of(got > 0 ? r.cpu_ns : 0)));
  return 0;
}

DEFINE_SYSCALL_IRQS_OFF(110, getppid, Result<int>) {
  Process* p = current_process();
  if (!p) return 0;
  SpinGuard g(process_table_lock());
  return p->ppid;  // 0 for the first process: started by the kernel, like init's parent
}

}  // namespace capsule::linux_abi
