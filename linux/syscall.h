#pragma once
// The Linux system-call adapter (docs/syscall.md). Each family file in
// linux/ defines its calls with LINUX_SYSCALL; the table is assembled from a
// linker section at boot, so adding a syscall touches only its own file.
//
//   LINUX_SYSCALL(39, getpid, "") { return current_process()->pid; }
//
// The format string drives --strace, one letter per argument:
//   d signed  u unsigned  x hex  p pointer  s user string  f fd  o octal
//   b user buffer of the next argument's length (printed for write-like calls)
// and an optional ">x" suffix says how to print the result (hex for mmap).
#include <cstdint>

#include "arch/x64/cpu/syscall_frame.h"
#include "linux/linux_errno.h"

namespace capsule::linux_abi {

struct SyscallArgs {
  uint64_t a[6];
  x64::SyscallFrame* frame;      // rt_sigreturn, clone and signal delivery edit it
  bool full_return = false;      // restore every register on the way out
  uint64_t nr = 0;               // [signals] the call's number (restarting a call)
};

using SyscallHandler = int64_t (*)(SyscallArgs& args);

struct SyscallDef {
  uint32_t nr;
  const char* name;
  SyscallHandler fn;
  const char* format;
};

const char* syscall_name(uint32_t nr);  // "openat", or nullptr if unknown
void strace_enable(bool on);
bool strace_enabled();

// Per-CPU/thread hook run before returning to the application: pending
// signals are delivered here (linux/signal.cc installs it).
using ReturnHook = void (*)(SyscallArgs& args, int64_t result);
void set_syscall_return_hook(ReturnHook hook);

// Boot: builds the table, installs the SYSCALL entry on this CPU.
void syscalls_init();

}  // namespace capsule::linux_abi

#define LINUX_SYSCALL(number, ident, fmt)                                                        \
  static int64_t sys_##ident(::capsule::linux_abi::SyscallArgs& args);                               \
  [[gnu::used, gnu::section(".linux_syscalls")]] alignas(::capsule::linux_abi::SyscallDef) static const \
      ::capsule::linux_abi::SyscallDef sysdef_##ident = {number, #ident, sys_##ident, fmt};           \
  static int64_t sys_##ident([[maybe_unused]] ::capsule::linux_abi::SyscallArgs& args)
