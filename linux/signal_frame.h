#pragma once
// The Linux x86-64 signal frame (linux/signal_frame.cc), for the delivery
// code (linux/signal_delivery.cc). docs/signals.md "Delivery".
#include <cstdint>

#include "arch/x64/cpu/trap_frame.h"
#include "linux/signal_internal.h"

namespace capsule::linux_abi {

// The general registers in struct sigcontext order (ABI fact).
struct Regs {
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, rflags;
};
// What an exception adds to the frame's sigcontext.
struct FaultInfo {
  uint64_t err = 0, trapno = 0, cr2 = 0;
};

Regs regs_from_syscall(const x64::SyscallFrame& f);
void regs_to_syscall(x64::SyscallFrame& f, const Regs& r);
Regs regs_from_trap(const x64::TrapFrame& f);
void regs_to_trap(x64::TrapFrame& f, const Regs& r);

// Builds the rt_sigframe for `sig` on the thread's stack (or its
// sigaltstack) and points `r` at the handler, with the vector state reset
// for it. `saved_mask` is the mask the handler's ucontext records
// (restored by rt_sigreturn). nullptr when done; otherwise why the frame
// could not be written (no SA_RESTORER, a bad stack, out of memory), and
// the caller ends the program with that reason on its console line.
const char* signal_setup_frame(LinuxThread* lt, Regs& r, int sig, const KSigInfo& info, const KSigAction& a,
                               uint64_t saved_mask, const FaultInfo& fi);

}  // namespace capsule::linux_abi
