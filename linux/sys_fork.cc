// New processes: fork, vfork and clone without CLONE_THREAD (called by
// do_clone in linux/sys_thread.cc, which checks Linux's flag rules first).
// docs/process.md "Fork, exit and wait".
//
// The child is a Process with a copy of what fork(2) says it inherits:
// a copy-on-write copy of the address space (or, for vfork, the parent's
// own), the descriptors (open file descriptions shared), root and cwd,
// credentials, limits, signal actions and the calling thread's mask and
// alternate stack; one thread, whose registers are the caller's with
// rax = 0. Timers, pending signals, the robust list and memory locks are
// not inherited.
#include <new>

#include "arch/fpu.h"
#include "arch/uaccess.h"
#include "arch/x64/cpu/x64.h"
#include "core/address_space.h"
#include "core/sched/thread.h"
#include "core/thread.h"
#include "core/time.h"
#include "lib/log.h"
#include "linux/clone.h"
#include "linux/file_common.h"
#include "linux/fork_state.h"
#include "linux/identity.h"
#include "linux/pidfd.h"
#include "linux/process.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/signal_internal.h"
#include "core/trace.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {

// What Process itself carries over (the families copy their own).
void copy_process_fields(Process& c, const Process& p) {
  for (size_t i = 0; i < sizeof(c.comm); ++i) c.comm[i] = p.comm[i];
  for (size_t i = 0; i < sizeof(c.exe); ++i) c.exe[i] = p.exe[i];
  c.vdso_base = p.vdso_base;
  c.auxv_addr = p.auxv_addr;
  c.arg_start = p.arg_start, c.arg_end = p.arg_end;
  c.env_start = p.env_start, c.env_end = p.env_end;
  c.image_start = p.image_start, c.image_end = p.image_end;
  c.auxv_bytes = p.auxv_bytes;
  c.oom_score_adj.store(p.oom_score_adj.load());
  c.start_ns = uptime_ns();
  c.ppid = p.pid;
}

Result<void> copy_families(Process& c, Process& p) {
  TRY(files_fork(c, p));
  TRY(creds_fork(c, p));
  limits_fork(c, p);
  signal_fork(c, p);
  return {};
}

// Drops a child that never ran: out of the table, its state freed.
void discard_child(Process* c) {
  {
    SpinGuard g(process_table_lock());
    process_unlist_locked(c);
  }
  AddressSpace* as = process_set_as(*c, nullptr);
  if (as && !c->as_borrowed) AddressSpace::destroy(as);
  process_put(c);
}

// vfork: the parent's thread sleeps (not interruptibly, as Linux's
// killable wait, minus the kill) until the child execs or exits.
// The flag is read and written under the table's lock, so the child's
// wake-up is done before this thread can leave (and perhaps end).
void wait_vfork(Process& c) {
  for (;;) {
    sched_prepare_block();
    bool done;
    {
      SpinGuard g(process_table_lock());
      done = c.vfork_done.load(std::memory_order_acquire);
    }
    if (done) {
      ThreadState b = ThreadState::Blocked;
      thread_current()->state.compare_exchange_strong(b, ThreadState::Running);
      return;
    }
    sched_block();
  }
}

}  // namespace

Result<void> nproc_check() {
  Process& self = *current_process();
  const uint32_t ruid = __atomic_load_n(&self.creds->ruid, __ATOMIC_RELAXED);
  const uint64_t limit = rlimit_cur(L_RLIMIT_NPROC);
  if (ruid == 0 || limit == L_RLIM_INFINITY) return {};
  uint64_t tasks = 0;
  {
    SpinGuard g(process_table_lock());
    for (size_t i = 0; i < process_slots(); ++i) {
      Process* p = process_slot_locked(i);
      if (!p || __atomic_load_n(&p->creds->ruid, __ATOMIC_RELAXED) != ruid) continue;
      const uint32_t n = p->thread_count.load();
      tasks += p->zombie || n == 0 ? 1 : n;
    }
  }
  if (tasks < limit) return {};
  if (current_capable(L_CAP_SYS_RESOURCE) || current_capable(L_CAP_SYS_ADMIN)) return {};
  return Error::Again;
}

Result<int> clone_process(SyscallArgs& args, const CloneRequest& r) {
  const uint64_t fl = r.flags;
  // Sharing descriptors, paths or signal actions between processes, and a
  // process sharing memory without vfork's wait: not done (their state is
  // per process here). vfork is CLONE_VM|CLONE_VFORK (posix_spawn's).
  if (fl & (L_CLONE_FILES | L_CLONE_FS | L_CLONE_SIGHAND)) return Error::NotSupported;
  if ((fl & L_CLONE_VM) && !(fl & L_CLONE_VFORK)) return Error::NotSupported;
  const bool vfork = fl & L_CLONE_VFORK;
  const bool share_vm = fl & L_CLONE_VM;

  Process* parent = current_process();
  Thread* self = thread_current();
  if (!parent || !self->as) return Error::NotSupported;
  LinuxThread* parent_lt = linux_thread();

  Process* c = TRY(process_create());
  copy_process_fields(*c, *parent);
  c->exit_signal = int(r.exit_signal);
  if (auto ok = copy_families(*c, *parent); !ok.ok()) {
    discard_child(c);
    return Error::Again == ok.error() ? Error::Again : Error::NoMemory;
  }
  if (share_vm) {
    c->as_borrowed = true;
    (void)process_set_as(*c, self->as);
  } else {
    auto as = self->as->fork();
    if (!as.ok()) {
      discard_child(c);
      return Error::NoMemory;
    }
    (void)process_set_as(*c, as.value());
  }
  // CLONE_PIDFD: a pidfd on the child in the parent (not in the child's
  // table, copied already), its number stored at r.pidfd.
  int pidfd = -1;
  if (fl & L_CLONE_PIDFD) {
    auto fd = pidfd_install(*c, false);
    if (!fd.ok()) {
      discard_child(c);
      return fd.error();
    }
    pidfd = fd.value();
    if (!put_user(reinterpret_cast<int*>(r.pidfd), pidfd).ok()) {
      (void)fds().close(pidfd);
      discard_child(c);
      return Error::Fault;
    }
  }

  auto* lt = new (std::nothrow) LinuxThread();
  auto* cs = new (std::nothrow) CloneStart();
  if (!lt || !cs) {
    delete lt;
    delete cs;
    if (pidfd >= 0) (void)fds().close(pidfd);
    discard_child(c);
    return Error::Again;
  }
  lt->tid = c->pid;  // the main thread's tid is the pid
  if (fl & L_CLONE_CHILD_CLEARTID) lt->clear_child_tid = r.child_tid;
  if (parent_lt) {
    lt->sigmask = parent_lt->sigmask;
    lt->altstack_sp = parent_lt->altstack_sp;
    lt->altstack_size = parent_lt->altstack_size;
    lt->altstack_flags = parent_lt->altstack_flags;
    // SCHED_RESET_ON_FORK (0x40000000): the child drops the flag and a
    // negative nice (Linux's sched_fork).
    lt->sched_policy = parent_lt->sched_policy & ~0x40000000;
  }
  cs->frame = *args.frame;
  cs->frame.rax = 0;
  if (r.stack) cs->frame.rsp = r.stack;
  cs->set_child_tid = (fl & L_CLONE_CHILD_SETTID) ? r.child_tid : 0;
  cs->tid = c->pid;

  ThreadOptions o;
  o.uses_fpu = true;
  o.nice = self->se.nice;
  if (parent_lt && (parent_lt->sched_policy & 0x40000000) && o.nice < 0) o.nice = 0;
  auto tr = thread_alloc_app("app", clone_child_entry, cs, o, c->as, c);
  if (!tr.ok()) {
    delete lt;
    delete cs;
    if (pidfd >= 0) (void)fds().close(pidfd);
    discard_child(c);
    return Error::Again;
  }
  Thread* t = tr.value();
  t->linux_state = lt;
  // The vector registers hold the application's values right now (the
  // kernel never touches them): the child gets them.
  if (t->fpu_area) fpu_save(t->fpu_area);
  t->fs_base = (fl & L_CLONE_SETTLS) ? r.tls : x64::read_fs_base();
  t->gs_base = self->gs_base;
  (void)thread_set_affinity(t, thread_affinity(self));
  c->main_thread = t;
  t->trace_tid = uint32_t(lt->tid);  // core/trace.h
  c->thread_count.store(1);
  const int pid = c->pid;
  if (vfork) {
    c->vfork_done.store(false);
    c->vfork_waiter = self;
    c->refs.fetch_add(1);  // held until the wait ends: the child may be reaped by then
  }
  if (fl & L_CLONE_PARENT_SETTID) (void)put_user(reinterpret_cast<int*>(r.parent_tid), pid);
  signal_thread_start(t);
  trace::point<trace::Event::ProcFork>(uint64_t(parent->pid), uint64_t(pid), fl);  // --trace=proc
  sched_start_thread(t);
  if (vfork) {
    wait_vfork(*c);
    process_put(c);
  }
  return pid;
}

}  // namespace capsule::linux_abi

namespace capsule {

void process_vfork_release(Process& p) {
  SpinGuard g(process_table_lock());
  Thread* waiter = p.vfork_waiter;
  if (!waiter || p.vfork_done.load(std::memory_order_acquire)) return;
  p.vfork_waiter = nullptr;
  p.vfork_done.store(true, std::memory_order_release);
  thread_wake(waiter);
}

}  // namespace capsule
