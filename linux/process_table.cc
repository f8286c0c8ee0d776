// The process table: every Process by pid, and the current one
// (linux/process.h, docs/process.md).
#include <new>

#include "core/address_space.h"
#include "core/mm.h"
#include "core/poll.h"
#include "core/thread.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "linux/process_state.h"
#include "linux/signal_internal.h"
#include "linux/thread_table.h"

namespace capsule {
namespace {

// Machine-wide: the table itself, a fixed array of slots (a process is
// found by a scan: a few hundred at most). Pids come from the thread-id
// counter (one number space, as Linux's pid namespace); the first process
// is pid 1. A slot is freed when its process is reaped.
constexpr size_t MAX_PROCESSES = 512;
SpinLock g_table_lock;
Process* g_table[MAX_PROCESSES];  // under g_table_lock
bool g_first_made = false;        // under g_table_lock

Process* find_locked(int pid) REQUIRES(g_table_lock) {
  for (Process* p : g_table)
    if (p && p->pid == pid) return p;
  return nullptr;
}

void destroy(Process* p) {
  if (!p) return;
  if (p->files) {
    delete p->files->fds;
    for (vfs::Vnode* v : {p->files->root, p->files->cwd, p->files->initial_cwd, p->files->exe})
      if (v) v->release();
  }
  delete p->files;
  if (p->creds) kfree(p->creds->groups);
  delete p->creds;
  delete p->limits;
  delete p->signals;
  delete p->threads;
  linux_abi::timers_destroy(p->timers);
  delete p->exit_poll;
  delete p;
}

}  // namespace


Result<Process*> process_create() {
  auto* p = new (std::nothrow) Process();
  if (!p) return Error::NoMemory;
  p->files = new (std::nothrow) linux_abi::ProcessFiles();
  p->creds = new (std::nothrow) linux_abi::Creds();
  p->limits = new (std::nothrow) linux_abi::Limits();
  p->signals = new (std::nothrow) linux_abi::ProcessSignals();
  p->threads = new (std::nothrow) linux_abi::ThreadTable();
  p->timers = linux_abi::timers_create();
  p->exit_poll = new (std::nothrow) PollSource(
      [](void* ctx) -> uint32_t {
        return static_cast<Process*>(ctx)->ended.load() ? POLL_IN | POLL_RDNORM : 0;
      },
      p);
  if (p->files) p->files->fds = new (std::nothrow) vfs::FdTable(unsigned(vfs::FdTable::DEFAULT_LIMIT));
  if (!p->files || !p->creds || !p->limits || !p->signals || !p->threads || !p->timers || !p->files->fds ||
      !p->exit_poll) {
    destroy(p);
    return Error::NoMemory;
  }
  linux_abi::limits_init_defaults(*p->limits);
  bool full = true;
  {
    SpinGuard g(g_table_lock);
    for (Process*& slot : g_table) {
      if (slot) continue;
      p->pid = g_first_made ? linux_abi::alloc_tid() : 1;
      g_first_made = true;
      // A process started by the kernel leads its own group and session
      // (fork gives the child its parent's).
      p->creds->pgid = p->creds->sid = p->pid;
      slot = p;
      full = false;
      break;
    }
  }
  if (full) {
    destroy(p);
    return Error::Again;  // fork(2): EAGAIN when no pid is left
  }
  return p;
}

Process* process_find(int pid) {
  SpinGuard g(g_table_lock);
  return find_locked(pid);
}

Process* process_get(int pid) {
  SpinGuard g(g_table_lock);
  Process* p = find_locked(pid);
  if (p) p->refs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void process_put(Process* p) {
  if (p && p->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(p);
}

void process_for_each(void (*fn)(Process& p, void* ctx), void* ctx) {
  for (size_t i = 0; i < MAX_PROCESSES; ++i) {
    Process* p;
    {
      SpinGuard g(g_table_lock);
      p = g_table[i];
      if (p) p->refs.fetch_add(1, std::memory_order_relaxed);
    }
    if (!p) continue;
    fn(*p, ctx);
    process_put(p);
  }
}

void process_with_as(Process& p, void (*fn)(AddressSpace* as, void* ctx), void* ctx) {
  SpinGuard g(p.as_lock);
  fn(p.as, ctx);
}

AddressSpace* process_set_as(Process& p, AddressSpace* as) {
  SpinGuard g(p.as_lock);
  AddressSpace* old = p.as;
  p.as = as;
  return old;
}

size_t process_read_memory(Process& p, uintptr_t addr, void* out, size_t len) {
  SpinGuard g(p.as_lock);
  return p.as ? p.as->peek(addr, out, len) : 0;
}

SpinLock& process_table_lock() { return g_table_lock; }
size_t process_slots() { return MAX_PROCESSES; }
Process* process_slot_locked(size_t i) { return g_table[i]; }

void process_unlist_locked(Process* p) {
  for (Process*& slot : g_table)
    if (slot == p) slot = nullptr;
}

}  // namespace capsule
