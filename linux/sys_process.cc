// Process and thread identity, exit.
#include "capsule/log.h"
#include "capsule/process.h"
#include "capsule/thread.h"
#include "capsule/uaccess.h"
#include "core/sched/thread.h"
#include "linux/signal.h"
#include "linux/syscall.h"
#include "linux/thread_state.h"

namespace capsule::linux_abi {
namespace {
std::atomic<int> g_next_tid{2};  // the main thread is tid 1 = pid
}

LinuxThread* linux_thread_of(Thread* t) {
  if (!t->linux_state) {
    auto* lt = new (std::nothrow) LinuxThread();
    if (!lt) return nullptr;
    Process* p = current_process();
    lt->tid = (p && t == p->main_thread) ? p->pid : g_next_tid.fetch_add(1);
    t->linux_state = lt;
  }
  return static_cast<LinuxThread*>(t->linux_state);
}

LinuxThread* linux_thread() { return linux_thread_of(thread_current()); }
int current_tid() {
  LinuxThread* lt = linux_thread();
  return lt ? lt->tid : 1;
}

LINUX_SYSCALL(60, exit, "d") {
  // A thread's exit: CLONE_CHILD_CLEARTID is done by the thread code
  // (linux/sys_thread.cc) when it is installed; here the last thread ends
  // the process.
  signal_thread_exit(thread_current());  // [signals] no longer a signal target
  Process* p = current_process();
  if (!p || p->thread_count.fetch_sub(1) == 1) process_exit(int(args.a[0] & 0xff));
  thread_exit();
}

LINUX_SYSCALL(231, exit_group, "d") { process_exit(int(args.a[0] & 0xff)); }

LINUX_SYSCALL(39, getpid, "") { return current_process() ? current_process()->pid : 1; }
LINUX_SYSCALL(110, getppid, "") { return 0; }  // started by the kernel, like init's parent
LINUX_SYSCALL(186, gettid, "") { return current_tid(); }

LINUX_SYSCALL(218, set_tid_address, "p") {
  if (LinuxThread* lt = linux_thread()) lt->clear_child_tid = args.a[0];
  return current_tid();
}

}  // namespace capsule::linux_abi
