// The process table: every Process by pid, and the current one
// (linux/process.h, docs/process.md).
#include <new>

#include "core/mm.h"
#include "core/thread.h"
#include "core/sched/thread.h"
#include "arch/spinlock.h"
#include "linux/process_state.h"
#include "linux/signal_internal.h"

namespace capsule {
namespace {

// Machine-wide: the table itself. A handful of processes at most for now
// (the VM runs one program); a fixed array keeps lookups lock-cheap.
constexpr int MAX_PROCESSES = 64;
SpinLock g_table_lock;
Process* g_table[MAX_PROCESSES];  // by pid - 1, under g_table_lock
int g_next_pid = 1;               // under g_table_lock

void destroy(Process* p) {
  if (!p) return;
  if (p->files) delete p->files->fds;
  delete p->files;
  delete p->creds;
  delete p->limits;
  delete p->signals;
  delete p->threads;
  linux_abi::timers_destroy(p->timers);
  delete p;
}

}  // namespace

Process* current_process() {
  Thread* t = thread_current();
  return t ? static_cast<Process*>(t->process) : nullptr;
}

Result<Process*> process_create() {
  auto* p = new (std::nothrow) Process();
  if (!p) return Error::NoMemory;
  p->files = new (std::nothrow) linux_abi::ProcessFiles();
  p->creds = new (std::nothrow) linux_abi::Creds();
  p->limits = new (std::nothrow) linux_abi::Limits();
  p->signals = new (std::nothrow) linux_abi::ProcessSignals();
  p->threads = new (std::nothrow) linux_abi::ThreadTable();
  p->timers = linux_abi::timers_create();
  if (p->files) p->files->fds = new (std::nothrow) vfs::FdTable(unsigned(vfs::FdTable::DEFAULT_LIMIT));
  if (!p->files || !p->creds || !p->limits || !p->signals || !p->threads || !p->timers || !p->files->fds) {
    destroy(p);
    return Error::NoMemory;
  }
  linux_abi::limits_init_defaults(*p->limits);
  bool full;
  {
    SpinGuard g(g_table_lock);
    full = g_next_pid > MAX_PROCESSES;
    if (!full) {
      p->pid = g_next_pid++;
      // A process started by the kernel leads its own group and session.
      p->creds->pgid = p->creds->sid = p->pid;
      g_table[p->pid - 1] = p;
    }
  }
  if (full) {
    destroy(p);
    return Error::Again;  // fork(2): EAGAIN when no pid is left
  }
  return p;
}

Process* process_find(int pid) {
  if (pid < 1 || pid > MAX_PROCESSES) return nullptr;
  SpinGuard g(g_table_lock);
  return g_table[pid - 1];
}

void process_for_each(void (*fn)(Process& p, void* ctx), void* ctx) {
  for (int pid = 1; pid <= MAX_PROCESSES; ++pid) {
    Process* p = process_find(pid);
    if (p) fn(*p, ctx);
  }
}

}  // namespace capsule
