#pragma once
// What core/ needs from the architecture layer (arch/x64), and the hooks
// through which arch/ reaches the layers above it (they register them).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {

// GDT, TSS with IST stacks, IDT with every exception and IRQ vector.
void arch_init_boot_cpu();

}  // namespace capsule

namespace capsule {
// On every CPU: FSGSBASE, SSE/XSAVE (arch/x64/cpu/cpu_init.cc).
void cpu_init_features();
}  // namespace capsule

namespace capsule {
namespace x64 {
struct TrapFrame;
}
// How the trap path asks the scheduler (a layer above) whether to preempt
// the interrupted thread after an interrupt. Interrupt handlers run on a
// per-CPU IST stack, which cannot be switched away from; when `should_preempt`
// says so, the trap frame is moved to the interrupted thread's own kernel
// stack (below its RSP if it was running on that stack, at its top if it was
// running on an application stack, whose red zone must survive) and
// `preempt` runs there.
struct PreemptHooks {
  bool (*should_preempt)();
  void (*current_stack)(uintptr_t* base, uintptr_t* top);
  void (*preempt)();
  const char* (*current_name)();  // for panic reports: "main", "idle1", ...
  unsigned (*current_cpu)();
};
void arch_set_preempt_hooks(const PreemptHooks* hooks);

// An exception raised by application code (RIP in the lower half) that
// demand paging did not resolve: #PF, #DE, #UD, #BP, #GP, #MF, #XM, #AC...
// Runs on the thread's own stack with interrupts on; it may rewrite the
// frame (signal delivery) and return to resume there. Without a handler the
// kernel panics with the exception report.
using AppExceptionHandler = void (*)(x64::TrapFrame& frame, uint64_t cr2);
// An NMI: where the CPU was (RIP, RBP, RFLAGS; `user` for the
// application's code). True when the handler asked for this NMI (it then
// returns to the interrupted code); false panics as an unexpected NMI.
// Runs on the NMI stack, maybe between a SYSCALL and its SWAPGS: no
// locks, no allocation, no %gs (this_cpu()).
using NmiHandler = bool (*)(uintptr_t rip, uintptr_t rbp, uint64_t rflags, bool user);
void arch_set_nmi_handler(NmiHandler handler);
void arch_set_app_exception_handler(AppExceptionHandler handler);

// [signals] Work before an interrupt returns to application code (Linux
// delivers signals there too: a busy-looping thread must see alarm()).
// `pending` runs in the interrupt path (interrupts off, IST stack) and must
// be cheap; when it says yes, the frame moves to the thread's stack and
// `run` is called there with interrupts on, after any preemption; it may
// rewrite the frame.
struct AppReturnHook {
  bool (*pending)();
  void (*run)(x64::TrapFrame& frame);
};
void arch_set_app_return_hook(const AppReturnHook* hook);

// What the APIC and trap code need from the memory manager (core/mm, a
// layer above), registered by mm_init before any of it runs.
struct MmHooks {
  // Maps device registers uncached; returns the kernel virtual address.
  Result<volatile void*> (*mmio_map)(uint64_t phys, size_t size);
  // A guard page (kernel stacks): trap reports call the fault an overflow.
  bool (*is_stack_guard)(uintptr_t va);
  // A page fault in the application half: -1 when no address space is
  // current, 0 when it was served (demand paging: resume), else why not (a
  // nonzero core UserFault value).
  int (*serve_user_fault)(uintptr_t addr, uint64_t error_code);
  // The same from a copy helper, where sleeping is allowed: a fault that
  // finds no free page may wait for the out-of-memory killer and retry.
  int (*serve_user_fault_sleeping)(uintptr_t addr, uint64_t error_code);
  // A fault that was not served, not fixed up by a copy helper and not
  // taken by the application's exception handler: report it (the default
  // panics).
  void (*user_fault)(uintptr_t addr, uint64_t error_code, int why, x64::TrapFrame& frame);
};
void arch_set_mm_hooks(const MmHooks* hooks);
// A copy helper stopped at `addr` (arch/x64/mm/uaccess.cc): serve the fault
// from here, where sleeping is allowed (a file page the #PF vector could not
// fetch: a hole of a mapped file, a page the file gained after mmap). True
// if it was served and the copy may go on; false with interrupts off.
bool arch_serve_user_fault_sleeping(uintptr_t addr, bool write);
// Through the hooks: Error::NotSupported before mm_init registered them.
Result<volatile void*> arch_mmio_map(uint64_t phys, size_t size);
bool arch_is_stack_guard(uintptr_t va);  // false before mm_init
}  // namespace capsule
