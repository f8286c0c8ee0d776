#pragma once
// The application's registers at a SYSCALL, saved on the thread's kernel
// stack by arch/x64/cpu/syscall_entry.S. Every general register is kept so
// that signal delivery and rt_sigreturn can rewrite any of them.
#include <cstddef>
#include <cstdint>

namespace capsule::x64 {

struct SyscallFrame {
  uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8, rcx;
  uint64_t rdx, rsi, rdi;
  uint64_t rax;      // syscall number on entry, result on return
  uint64_t rip;      // RCX at entry: where the application continues
  uint64_t rflags;   // R11 at entry
  uint64_t rsp;      // the application's stack pointer
};
static_assert(sizeof(SyscallFrame) == 18 * 8);

// Return modes for the C++ handler: Fast returns like SYSRET (RCX and R11
// are clobbered, as the Linux ABI allows); Full restores every register,
// RCX and R11 included (rt_sigreturn, signal delivery).
enum class SyscallReturn : uint64_t { Fast = 0, Full = 1 };

// Installs LSTAR/STAR/FMASK and EFER.SCE on the calling CPU.
void syscall_init_cpu();

// --syscall-probe (bench/syscall): SYSCALL enters syscall_entry_probe on
// this CPU and on every CPU initialised later, where system call
// SYSCALL_PROBE_NR returns at once (RAX unchanged) and every other number
// goes on to syscall_entry: the bare SYSCALL round trip a program can time.
constexpr uint64_t SYSCALL_PROBE_NR = 1023;
void syscall_probe_enable();

}  // namespace capsule::x64

// Implemented by the Linux adapter (linux/syscall.cc).
extern "C" capsule::x64::SyscallReturn syscall_dispatch(capsule::x64::SyscallFrame* frame);
