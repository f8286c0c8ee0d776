// Process identity and the per-thread Linux state. Thread calls (clone,
// exit, gettid, set_tid_address, robust lists) live in linux/sys_thread.cc.
#include "lib/log.h"
#include "linux/process.h"
#include "core/thread.h"
#include "arch/uaccess.h"
#include "core/sched/thread.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"
#include "linux/thread_table.h"

namespace capsule::linux_abi {

LinuxThread* linux_thread_of(Thread* t) {
  if (!t->linux_state) {
    auto* lt = new (std::nothrow) LinuxThread();
    if (!lt) return nullptr;
    Process* p = current_process();
    lt->tid = (p && t == p->main_thread) ? p->pid : alloc_tid();
    t->linux_state = lt;
    t->trace_tid = uint32_t(lt->tid);  // core/trace.h
  }
  return static_cast<LinuxThread*>(t->linux_state);
}

LinuxThread* linux_thread() { return linux_thread_of(thread_current()); }
int current_tid() {
  LinuxThread* lt = linux_thread();
  return lt ? lt->tid : 1;
}

DEFINE_SYSCALL_IRQS_OFF(39, getpid, Result<int>) {
  Process* p = current_process();
  return p ? p->pid : 1;
}

}  // namespace capsule::linux_abi
