#pragma once
// What clone's two halves share: linux/sys_thread.cc makes threads,
// linux/sys_fork.cc makes processes (fork, vfork, clone without
// CLONE_THREAD). docs/process.md "Fork, exit and wait".
#include <cstdint>

#include "arch/x64/cpu/trap_frame.h"
#include "lib/result.h"
#include "linux/syscall.h"

namespace capsule::linux_abi {

// clone flags (include/uapi/linux/sched.h: ABI facts).
constexpr uint64_t L_CSIGNAL = 0xff;
constexpr uint64_t L_CLONE_VM = 0x100, L_CLONE_FS = 0x200, L_CLONE_FILES = 0x400, L_CLONE_SIGHAND = 0x800,
                   L_CLONE_PIDFD = 0x1000, L_CLONE_PTRACE = 0x2000, L_CLONE_VFORK = 0x4000, L_CLONE_PARENT = 0x8000,
                   L_CLONE_THREAD = 0x10000, L_CLONE_NEWNS = 0x20000, L_CLONE_SYSVSEM = 0x40000,
                   L_CLONE_SETTLS = 0x80000, L_CLONE_PARENT_SETTID = 0x100000, L_CLONE_CHILD_CLEARTID = 0x200000,
                   L_CLONE_DETACHED = 0x400000, L_CLONE_UNTRACED = 0x800000, L_CLONE_CHILD_SETTID = 0x1000000,
                   L_CLONE_NEWCGROUP = 0x2000000, L_CLONE_NEWUTS = 0x4000000, L_CLONE_NEWIPC = 0x8000000,
                   L_CLONE_NEWUSER = 0x10000000, L_CLONE_NEWPID = 0x20000000, L_CLONE_NEWNET = 0x40000000,
                   L_CLONE_IO = 0x80000000ull;

struct CloneRequest {
  uint64_t flags;        // without the exit signal
  uint64_t exit_signal;
  uintptr_t stack;       // the child's RSP (0: the parent's)
  uintptr_t parent_tid;
  uintptr_t child_tid;
  uintptr_t tls;
  uintptr_t pidfd = 0;   // L_CLONE_PIDFD: where the pidfd's number goes
};

// The new thread's first code (linux/sys_thread.cc): writes its tid at
// set_child_tid (in its own address space), then "returns" from the
// parent's system call with `frame` (rax 0).
struct CloneStart {
  x64::SyscallFrame frame;
  uintptr_t set_child_tid = 0;  // L_CLONE_CHILD_SETTID address, or 0
  int tid = 0;
};
void clone_child_entry(void* arg);

// linux/sys_fork.cc: RLIMIT_NPROC, checked for every new process or
// thread: Again (EAGAIN) when the caller's real user already has as many
// tasks (threads of every process, zombies counted until reaped) as its
// soft limit allows, unless it is root or holds CAP_SYS_RESOURCE or
// CAP_SYS_ADMIN (Linux's exemptions).
Result<void> nproc_check();

// linux/sys_fork.cc: clone without L_CLONE_THREAD, checked by the caller for
// Linux's flag rules. Returns the child's pid.
Result<int> clone_process(SyscallArgs& args, const CloneRequest& r);

}  // namespace capsule::linux_abi
