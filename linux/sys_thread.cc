// Threads: clone/clone3 for pthreads, thread exit with L_CLONE_CHILD_CLEARTID
// and robust lists, exit_group, gettid, set_tid_address, set/get_robust_list
// (docs/threads-abi.md).
#include <atomic>
#include <cstring>
#include <new>

#include "arch/x64/cpu/x64.h"
#include "arch/fpu.h"
#include "core/futex.h"
#include "lib/log.h"
#include "core/mm.h"
#include "linux/process.h"
#include "core/thread.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "linux/exec_state.h"
#include "linux/process_state.h"
#include "linux/signal.h"
#include "linux/sys_time.h"
#include "linux/signal_internal.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"
#include "linux/clone.h"

extern "C" [[noreturn]] void return_to_application(const capsule::x64::SyscallFrame* frame);

namespace capsule::linux_abi {
namespace {

constexpr uint64_t L_CLONE_CLEAR_SIGHAND = 0x100000000ull, L_CLONE_INTO_CGROUP = 0x200000000ull;
constexpr uint64_t L_CLONE_NEWTIME = 0x80;  // clone3 only, in the L_CSIGNAL byte
constexpr uint64_t L_CLONE_NAMESPACES = L_CLONE_NEWNS | L_CLONE_NEWCGROUP | L_CLONE_NEWUTS | L_CLONE_NEWIPC |
                                      L_CLONE_NEWUSER | L_CLONE_NEWPID | L_CLONE_NEWNET;
constexpr uint64_t TASK_SIZE_MAX = 0x7ffffffff000ull;  // highest application address + 1

// --- the thread table: tid -> Thread, for lookups by tid ---

// Process::threads (linux/process_state.h): the live clone() children of
// a process (its main thread is found through Process::main_thread).

bool table_add(ThreadTable& tt, Thread* t) {
  SpinGuard g(tt.lock);
  if (tt.n == tt.cap) {
    size_t cap = tt.cap ? tt.cap * 2 : 64;
    auto** n = new (std::nothrow) Thread*[cap];
    if (!n) return false;
    for (size_t i = 0; i < tt.n; ++i) n[i] = tt.threads[i];
    delete[] tt.threads;
    tt.threads = n;
    tt.cap = cap;
  }
  tt.threads[tt.n++] = t;
  return true;
}

void table_remove(ThreadTable& tt, Thread* t) {
  SpinGuard g(tt.lock);
  for (size_t i = 0; i < tt.n; ++i)
    if (tt.threads[i] == t) {
      tt.threads[i] = tt.threads[--tt.n];
      return;
    }
}

// --- clone ---

Result<int> do_clone(SyscallArgs& args, const CloneRequest& r) {
  uint64_t fl = r.flags;
  // Linux's consistency rules (EINVAL), in its order.
  if ((fl & (L_CLONE_NEWNS | L_CLONE_FS)) == (L_CLONE_NEWNS | L_CLONE_FS)) return Error::Invalid;
  if ((fl & (L_CLONE_NEWUSER | L_CLONE_FS)) == (L_CLONE_NEWUSER | L_CLONE_FS)) return Error::Invalid;
  if ((fl & L_CLONE_THREAD) && !(fl & L_CLONE_SIGHAND)) return Error::Invalid;
  if ((fl & L_CLONE_SIGHAND) && !(fl & L_CLONE_VM)) return Error::Invalid;
  if ((fl & L_CLONE_CLEAR_SIGHAND) && (fl & L_CLONE_SIGHAND)) return Error::Invalid;
  if ((fl & L_CLONE_THREAD) && (fl & (L_CLONE_NEWUSER | L_CLONE_NEWPID))) return Error::Invalid;
  if ((fl & L_CLONE_PIDFD) && (fl & L_CLONE_THREAD)) return Error::Invalid;
  // One set of namespaces, no cgroups.
  if (fl & (L_CLONE_NAMESPACES | L_CLONE_INTO_CGROUP)) return Error::Invalid;
  if ((fl & L_CLONE_SETTLS) && r.tls >= TASK_SIZE_MAX) return Error::Permission;  // as ARCH_SET_FS
  TRY(nproc_check());
  // A new process: fork, vfork, posix_spawn's clone(CLONE_VM|CLONE_VFORK).
  if (!(fl & L_CLONE_THREAD)) return clone_process(args, r);
  if (fl & L_CLONE_VFORK) return Error::NotSupported;  // a thread that stops its creator: not done
  // A thread's exit signal is ignored by Linux's clone (it has none).
  // FS, FILES, SYSVSEM, DETACHED, PTRACE, UNTRACED, IO, PARENT: a thread
  // shares everything already; accepted and ignored.

  Process* p = current_process();
  Thread* self = thread_current();
  if (!p || !self->as) return Error::NotSupported;
  LinuxThread* parent_lt = linux_thread();
  auto* lt = new (std::nothrow) LinuxThread();
  auto* cs = new (std::nothrow) CloneStart();
  if (!lt || !cs) {
    delete lt;
    delete cs;
    return Error::Again;  // Linux reports a failed task allocation as EAGAIN/ENOMEM; pthread_create gives EAGAIN
  }
  int tid = alloc_tid();
  lt->tid = tid;
  if (fl & L_CLONE_CHILD_CLEARTID) lt->clear_child_tid = r.child_tid;
  if (parent_lt) {
    lt->sigmask = parent_lt->sigmask;  // the signal mask is inherited
    // So is the policy, less SCHED_RESET_ON_FORK (0x40000000), which also
    // resets a negative nice (Linux's sched_fork).
    lt->sched_policy = parent_lt->sched_policy & ~0x40000000;
  }

  cs->frame = *args.frame;
  cs->frame.rax = 0;
  if (r.stack) cs->frame.rsp = r.stack;
  cs->set_child_tid = (fl & L_CLONE_CHILD_SETTID) ? r.child_tid : 0;
  cs->tid = tid;

  ThreadOptions o;
  o.uses_fpu = true;
  o.nice = self->se.nice;
  if (parent_lt && (parent_lt->sched_policy & 0x40000000) && o.nice < 0) o.nice = 0;
  o.detached = true;  // reaped by the scheduler at exit; joins are futex-based
  auto tr = thread_alloc_app("app", clone_child_entry, cs, o, self->as, p);
  if (!tr.ok()) {
    delete lt;
    delete cs;
    return Error::Again;
  }
  Thread* t = tr.value();
  t->linux_state = lt;
  t->trace_tid = uint32_t(lt->tid);  // core/trace.h
  // Linux copies the parent's vector state; the kernel never touches it, so
  // the registers hold the application's values right now.
  if (t->fpu_area) fpu_save(t->fpu_area);
  t->fs_base = (fl & L_CLONE_SETTLS) ? r.tls : x64::read_fs_base();
  (void)thread_set_affinity(t, thread_affinity(self));  // inherited, as Linux
  if (!table_add(*p->threads, t)) {
    thread_free_dead(t);
    delete lt;
    delete cs;
    return Error::Again;
  }
  p->thread_count.fetch_add(1);
  // Linux writes the parent's copy before the child can run; a bad pointer
  // there is ignored as Linux ignores it.
  if (fl & L_CLONE_PARENT_SETTID) (void)put_user(reinterpret_cast<int*>(r.parent_tid), tid);
  signal_thread_start(t);  // a signal target from its first instruction
  sched_start_thread(t);
  return tid;
}

// --- exit ---

// FUTEX_* bits of a robust futex word (ABI facts).
constexpr uint32_t FUTEX_WAITERS = 0x80000000u, FUTEX_OWNER_DIED = 0x40000000u, FUTEX_TID_MASK = 0x3fffffffu;
constexpr int ROBUST_LIST_LIMIT = 2048;

struct RobustListHead {
  uint64_t next;           // struct robust_list *
  int64_t futex_offset;
  uint64_t list_op_pending;
};

void robust_release(AddressSpace* as, uintptr_t entry, int64_t offset, int tid) {
  uintptr_t word = entry + uint64_t(offset);
  if (word & 3) return;
  auto* uw = reinterpret_cast<uint32_t*>(word);
  auto v = get_user(uw);
  if (!v.ok() || (v.value() & FUTEX_TID_MASK) != uint32_t(tid)) return;
  uint32_t nv = (v.value() & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
  if (!put_user(uw, nv).ok()) return;
  // Woken even without FUTEX_WAITERS: our store is not atomic against a
  // waiter setting the bit at this very moment (docs/threads-abi.md).
  // Shared, as Linux's handle_futex_death: a robust mutex may be
  // PTHREAD_PROCESS_SHARED, in memory other processes map.
  (void)futex_wake(as, word, 1, FUTEX_BITSET_ANY, FutexScope::Shared);
}

// Marks the robust futexes the exiting thread still holds FUTEX_OWNER_DIED
// and wakes a waiter of each (set_robust_list(2)).
void robust_list_exit(LinuxThread* lt) {
  if (!lt->robust_list || lt->robust_len != sizeof(RobustListHead)) return;
  AddressSpace* as = thread_current()->as;
  auto head = get_user(reinterpret_cast<const RobustListHead*>(lt->robust_list));
  if (!head.ok()) return;
  uintptr_t pending = head->list_op_pending & ~uintptr_t(1);
  uintptr_t e = head->next;
  for (int n = 0; e != lt->robust_list && n < ROBUST_LIST_LIMIT; ++n) {
    uintptr_t entry = e & ~uintptr_t(1);  // bit 0 marks a PI futex
    if (!entry) break;
    auto next = get_user(reinterpret_cast<const uint64_t*>(entry));  // read before the word is released
    if (!next.ok()) break;
    if (entry != pending) robust_release(as, entry, head->futex_offset, lt->tid);
    e = next.value();
  }
  if (pending) robust_release(as, pending, head->futex_offset, lt->tid);
}

[[noreturn]] void exit_thread(int status) {
  Process* p = current_process();
  Thread* self = thread_current();
  signal_thread_exit(self);  // no longer a target for signals
  // Its CPU time joins the process's before pthread_join can return.
  account_thread_exit(self);
  LinuxThread* lt = static_cast<LinuxThread*>(self->linux_state);
  if (lt && self->as) {
    robust_list_exit(lt);
    // L_CLONE_CHILD_CLEARTID / set_tid_address: how pthread_join learns of
    // the exit.
    if (lt->clear_child_tid) {
      if (put_user(reinterpret_cast<int*>(lt->clear_child_tid), 0).ok())
        (void)futex_wake(self->as, lt->clear_child_tid, 1, FUTEX_BITSET_ANY, FutexScope::Shared);
    }
  }
  if (!p) process_exit(status);
  ThreadTable& tt = *p->threads;
  bool is_main = self == p->main_thread;
  const int tid = lt ? lt->tid : p->pid;
  if (is_main) {
    tt.main_status = status;
    tt.main_exited.store(true);
  } else {
    table_remove(tt, self);
  }
  // No longer alive to a PI futex's waiters: they look at their words again
  // (a lock it still held goes to the oldest of them).
  futex_pi_owner_exited(uint32_t(tid));
  if (p->thread_count.fetch_sub(1) == 1) {
    // The last thread: the process ends. Its status is the main thread's
    // exit code when that thread ended first (Linux reports the group
    // leader's), else this thread's.
    process_exit(tt.main_exited.load() ? tt.main_status : status);
  }
  if (!is_main) {
    // Nobody can reach its signal state any more: signal_thread_exit took
    // it off the process's list (freeing only `lt` leaked ~4 KiB a thread).
    self->linux_state = nullptr;
    linux_thread_free(lt);
  }
  // The main thread stays a zombie object (like Linux's group leader); the
  // others are detached and freed by the scheduler once switched out.
  thread_exit();
}

}  // namespace

// The child's first code: finish what must happen in its own context, then
// "return" 0 from the parent's syscall on the new stack.
void clone_child_entry(void* arg) {
  auto* cs = static_cast<CloneStart*>(arg);
  x64::SyscallFrame f = cs->frame;
  if (cs->set_child_tid) (void)put_user(reinterpret_cast<int*>(cs->set_child_tid), cs->tid);
  delete cs;
  return_to_application(&f);
}

namespace {
// Machine-wide: thread ids are unique across processes (Linux's pid namespace).
std::atomic<int> g_next_tid{2};  // the main thread is tid 1 = pid

// SIGKILL to every other live thread (the table's and the main thread).
void kill_others(Process* p, Thread* self) {
  ThreadTable& tt = *p->threads;
  SpinGuard g(tt.lock);  // keeps the clone children alive; the main thread stays a zombie object
  for (size_t i = 0; i < tt.n; ++i)
    if (tt.threads[i] != self) signal_kill_thread(tt.threads[i]);
  if (p->main_thread && p->main_thread != self && !tt.main_exited.load()) signal_kill_thread(p->main_thread);
}
}  // namespace

bool exec_kill_other_threads() {
  Process* p = current_process();
  Thread* self = thread_current();
  Thread* none = nullptr;
  if (!p->threads->exec_thread.compare_exchange_strong(none, self)) return none == self;
  // Sent again while waiting: a thread another one was creating may have
  // joined the table since (its creator is killed, but it was started).
  while (p->thread_count.load() > 1) {
    kill_others(p, self);
    thread_sleep_ns(1000000);
  }
  return true;
}

void exec_become_leader() {
  Process* p = current_process();
  Thread* self = thread_current();
  Thread* old_main = p->main_thread;
  if (old_main != self) {
    table_remove(*p->threads, self);  // the main thread is found through Process
    p->main_thread = self;
    self->trace_tid = uint32_t(p->pid);
    if (old_main) {
      // A zombie since it exited (killed, or earlier): nobody else holds it.
      auto* olt = static_cast<LinuxThread*>(old_main->linux_state);
      old_main->linux_state = nullptr;
      linux_thread_free(olt);
      thread_detach(old_main);
    }
  }
  if (LinuxThread* lt = linux_thread()) {
    lt->tid = p->pid;  // Linux: the exec'ing thread takes the leader's pid
    lt->clear_child_tid = 0;
    lt->robust_list = 0;
    lt->robust_len = 0;
    lt->name[0] = 0;
  }
  signal_thread_start(self);  // registered again if it had left (the exit of a command)
  p->threads->main_exited.store(false);
  p->thread_count.store(1);
  p->threads->exec_thread.store(nullptr);
}

bool exec_kills_current() {
  Process* p = current_process();
  Thread* e = p ? p->threads->exec_thread.load() : nullptr;
  return e && e != thread_current();
}

[[noreturn]] void exec_thread_exit_killed() { exit_thread(128 + SIGKILL); }
int alloc_tid() { return g_next_tid.fetch_add(1); }

bool with_thread(int tid, void (*fn)(Thread*, void*), void* ctx) {
  if (tid == 0) {
    fn(thread_current(), ctx);
    return true;
  }
  return with_thread_in(current_process(), tid, fn, ctx);
}

bool with_thread_in(Process* p, int tid, void (*fn)(Thread*, void*), void* ctx) {
  if (!p) return false;
  ThreadTable& tt = *p->threads;
  if (tid == p->pid) {
    if (p == current_process()) {
      if (tt.main_exited.load()) return false;
      fn(p->main_thread, ctx);
      return true;
    }
    // Another process's main thread (procfs): its end frees the thread
    // object only after clearing main_thread (or setting main_exited) and
    // then taking the table's lock, so under that lock a thread still
    // named is alive. main_exited first: execve sets it false only after
    // naming the new main thread.
    SpinGuard g(process_table_lock());
    if (tt.main_exited.load()) return false;
    Thread* m = p->main_thread;
    if (!m) return false;
    fn(m, ctx);
    return true;
  }
  SpinGuard g(tt.lock);
  for (size_t i = 0; i < tt.n; ++i) {
    auto* lt = static_cast<LinuxThread*>(tt.threads[i]->linux_state);
    if (lt && lt->tid == tid) {
      fn(tt.threads[i], ctx);
      return true;
    }
  }
  return false;
}

size_t thread_tids(int from, int* out, size_t cap) { return thread_tids_in(current_process(), from, out, cap); }

size_t thread_tids_in(Process* p, int from, int* out, size_t cap) {
  size_t k = 0;
  auto add = [&](int tid) {
    if (tid < from) return;
    if (k < cap) {
      out[k++] = tid;
      return;
    }
    // Keep the cap smallest: replace the largest if this one is smaller.
    size_t m = 0;
    for (size_t i = 1; i < k; ++i)
      if (out[i] > out[m]) m = i;
    if (k && tid < out[m]) out[m] = tid;
  };
  if (!p) return 0;
  ThreadTable& tt = *p->threads;
  if (!tt.main_exited.load() && p->main_thread) add(p->pid);
  {
    SpinGuard g(tt.lock);
    for (size_t i = 0; i < tt.n; ++i) {
      auto* lt = static_cast<LinuxThread*>(tt.threads[i]->linux_state);
      if (lt) add(lt->tid);
    }
  }
  for (size_t i = 1; i < k; ++i)  // insertion sort: k is small
    for (size_t j = i; j > 0 && out[j - 1] > out[j]; --j) {
      int t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return k;
}

Process* process_get_by_tid(int tid) {
  if (tid <= 0) return nullptr;
  if (Process* p = process_get(tid)) return p;
  // A thread other than a main one: the process whose table holds it.
  struct Find {
    int tid;
    Process* found = nullptr;
  } f{tid};
  process_for_each(
      [](Process& p, void* ctx) {
        auto* f = static_cast<Find*>(ctx);
        if (f->found || !with_thread_in(&p, f->tid, [](Thread*, void*) {}, nullptr)) return;
        p.refs.fetch_add(1, std::memory_order_relaxed);  // held by process_for_each's: alive
        f->found = &p;
      },
      &f);
  return f.found;
}

int thread_tid(Thread* t) {
  auto* lt = static_cast<LinuxThread*>(t->linux_state);
  if (lt) return lt->tid;
  Process* p = current_process();
  return p && t == p->main_thread ? p->pid : 0;
}

// clone(flags, stack, parent_tid, child_tid, tls): the x86-64 argument order.
DEFINE_SYSCALL(56, clone, Result<int>, SyscallArgs& args, Hex<uint64_t> flags, Address stack,
               UserPtr<int> parent_tid, UserPtr<int> child_tid, Hex<uint64_t> tls) {
  CloneRequest r;
  r.flags = flags & ~L_CSIGNAL;
  r.exit_signal = flags & L_CSIGNAL;
  r.stack = stack;
  r.parent_tid = parent_tid.addr();
  r.child_tid = child_tid.addr();
  r.tls = tls;
  // Bits above 32 are clone3-only: the legacy call takes an int-sized set.
  r.flags &= 0xffffffffull;
  // The legacy call returns the pidfd through parent_tid: not both.
  if ((r.flags & L_CLONE_PIDFD) && (r.flags & L_CLONE_PARENT_SETTID)) return Error::Invalid;
  if (r.flags & L_CLONE_PIDFD) r.pidfd = parent_tid.addr();
  return do_clone(args, r);
}

// struct clone_args (include/uapi/linux/sched.h): 64 bytes in version 0,
// 80 with set_tid, 88 with cgroup.
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
      cgroup;
};
static_assert(sizeof(CloneArgs) == 88);

DEFINE_SYSCALL(435, clone3, Result<int>, SyscallArgs& args, UserPtr<const uint8_t> cl_args, size_t size) {
  if (size < 64) return Error::Invalid;
  if (size > 4096) return Error::TooBig;
  CloneArgs ca{};
  TRY(cl_args.copy_in(reinterpret_cast<uint8_t*>(&ca), size < sizeof(ca) ? size : sizeof(ca)));
  // A larger struct from a newer libc is fine as long as what we do not
  // know is zero.
  for (uint64_t off = sizeof(ca); off < size; off += 8) {
    uint8_t tail[8];
    uint64_t n = size - off < 8 ? size - off : 8;
    TRY(cl_args.offset(off).copy_in(tail, n));
    for (uint64_t i = 0; i < n; ++i)
      if (tail[i]) return Error::TooBig;
  }
  if (ca.exit_signal & ~L_CSIGNAL) return Error::Invalid;
  if (ca.exit_signal > 64) return Error::Invalid;
  if (ca.flags & ~(0xffffffffull | L_CLONE_CLEAR_SIGHAND | L_CLONE_INTO_CGROUP)) return Error::Invalid;
  if (ca.flags & (L_CLONE_DETACHED | (L_CSIGNAL & ~L_CLONE_NEWTIME))) return Error::Invalid;
  if ((ca.flags & (L_CLONE_THREAD | L_CLONE_PARENT)) && ca.exit_signal) return Error::Invalid;
  if (ca.flags & L_CLONE_NEWTIME) return Error::Invalid;  // a namespace: not supported
  if ((ca.stack == 0) != (ca.stack_size == 0)) return Error::Invalid;
  if (ca.set_tid_size > 32 || (!ca.set_tid && ca.set_tid_size) || (ca.set_tid && !ca.set_tid_size))
    return Error::Invalid;
  if (ca.set_tid_size) return Error::Permission;  // choosing tids needs privileges we do not model
  CloneRequest r;
  r.flags = ca.flags;
  r.exit_signal = ca.exit_signal;
  r.stack = ca.stack ? ca.stack + ca.stack_size : 0;  // the stack grows down from its end
  r.parent_tid = ca.parent_tid;
  r.child_tid = ca.child_tid;
  r.tls = ca.tls;
  r.pidfd = ca.pidfd;
  return do_clone(args, r);
}

// fork() and vfork(): clone with SIGCHLD, and CLONE_VM|CLONE_VFORK for vfork.
DEFINE_SYSCALL(57, fork, Result<int>, SyscallArgs& args) {
  CloneRequest r{0, SIGCHLD, 0, 0, 0, 0};
  return do_clone(args, r);
}

DEFINE_SYSCALL(58, vfork, Result<int>, SyscallArgs& args) {
  CloneRequest r{L_CLONE_VM | L_CLONE_VFORK, SIGCHLD, 0, 0, 0, 0};
  return do_clone(args, r);
}

DEFINE_SYSCALL(60, exit, Result<void>, int status) { exit_thread(status & 0xff); }

DEFINE_SYSCALL(231, exit_group, Result<void>, int status) { process_exit(status & 0xff); }

DEFINE_SYSCALL_IRQS_OFF(186, gettid, Result<int>) { return current_tid(); }

DEFINE_SYSCALL(218, set_tid_address, Result<int>, UserPtr<int> tidptr) {
  if (LinuxThread* lt = linux_thread()) lt->clear_child_tid = tidptr.addr();
  return current_tid();
}

DEFINE_SYSCALL(273, set_robust_list, Result<void>, UserPtr<const RobustListHead> head, size_t len) {
  if (len != sizeof(RobustListHead)) return Error::Invalid;
  LinuxThread* lt = linux_thread();
  if (!lt) return Error::NoMemory;
  lt->robust_list = head.addr();
  lt->robust_len = len;
  return {};
}

namespace {
struct RobustQuery {
  uint64_t head, len;
};
void read_robust(Thread* t, void* ctx) {
  auto* q = static_cast<RobustQuery*>(ctx);
  LinuxThread* lt = t == thread_current() ? linux_thread() : static_cast<LinuxThread*>(t->linux_state);
  q->head = lt ? lt->robust_list : 0;
  q->len = sizeof(RobustListHead);  // Linux reports the size of the head, set or not
}
}  // namespace

DEFINE_SYSCALL(274, get_robust_list, Result<void>, int pid, UserPtr<uint64_t> head_ptr, UserPtr<uint64_t> len_ptr) {
  RobustQuery q{};
  if (!with_thread(pid, read_robust, &q)) return Error::NoProcess;
  TRY(len_ptr.write(q.len));
  TRY(head_ptr.write(q.head));
  return {};
}

}  // namespace capsule::linux_abi
