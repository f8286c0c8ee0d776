// trap_dispatch: where every vector stub lands (vectors.S). Exceptions
// either resume at an exception-table fixup or end in a panic report; vectors
// 32..255 go to the IRQ table.
#include "arch/x64/cpu/traps.h"

#include "arch/x64/cpu/extable.h"
#include "arch/x64/cpu/x64.h"
#include "arch/arch.h"
#include "arch/cpu_account.h"
#include "arch/irq.h"
#include "arch/memory_layout.h"
#include "lib/format.h"

namespace capsule::x64 {

namespace {

const PreemptHooks* g_preempt;
AppExceptionHandler g_app_exception;
const AppReturnHook* g_app_return;  // [signals]
const MmHooks* g_mm;
NmiHandler g_nmi;

// Copies the frame from the IST stack to the interrupted thread's stack,
// with CR2 in the word above it (for exceptions handled there).
TrapFrame* move_to_thread_stack(const TrapFrame* f, uint64_t cr2 = 0) {
  uintptr_t base, top;
  g_preempt->current_stack(&base, &top);
  uintptr_t sp = (f->rsp > base && f->rsp <= top) ? f->rsp - 128 : top;
  sp = (sp - sizeof(TrapFrame) - 16) & ~uintptr_t(15);
  auto* nf = reinterpret_cast<TrapFrame*>(sp);
  *nf = *f;
  reinterpret_cast<uint64_t*>(nf + 1)[0] = cr2;
  return nf;
}

bool from_application(const TrapFrame* f) { return f->rip < mm::USER_END; }

}  // namespace

// Runs on the thread's stack (vectors.S) for a frame trap_dispatch moved.
extern "C" void trap_preempt(TrapFrame* f) {
  if (f->vector < IRQ_VECTOR_FIRST) {
    uint64_t cr2 = reinterpret_cast<uint64_t*>(f + 1)[0];
    sti();
    g_app_exception(*f, cr2);
    cli();
    return;
  }
  // [signals] Here for a preemption, for application work, or both.
  if (g_preempt->should_preempt()) g_preempt->preempt();
  if (from_application(f) && g_app_return) {
    sti();
    g_app_return->run(*f);
    cli();
  }
}

void describe_current_thread(char* buf, size_t cap) {
  if (!g_preempt) {
    format_to(buf, cap, "boot (before threads)");
    return;
  }
  format_to(buf, cap, "thread '{}' on cpu {}", g_preempt->current_name(), g_preempt->current_cpu());
}

extern "C" TrapFrame* trap_dispatch(TrapFrame* f) {
  if (from_application(f)) cpu_account(CpuMode::System);  // --stats
  if (f->vector >= IRQ_VECTOR_FIRST) {
    irq_dispatch(uint8_t(f->vector));
    if ((f->rflags & (1u << 9)) && g_preempt && g_preempt->should_preempt()) return move_to_thread_stack(f);
    if (from_application(f) && g_preempt && g_app_return && g_app_return->pending())  // [signals]
      return move_to_thread_stack(f);
    return f;
  }
  if (f->vector == VEC_NMI && g_nmi && g_nmi(f->rip, f->rbp, f->rflags, from_application(f))) return f;
  // CR2 first: anything below could fault and overwrite it.
  uint64_t cr2 = f->vector == VEC_PAGE_FAULT ? read_cr2() : 0;
  // The application half: demand paging first (also when a copy helper
  // touched a page that is mapped lazily: that must not become EFAULT),
  // then a copy helper's fixup, then the application's fault.
  if (f->vector == VEC_PAGE_FAULT && cr2 < mm::USER_END) {
    int why = g_mm ? g_mm->serve_user_fault(cr2, f->error_code) : -1;
    if (why >= 0) {  // an address space is current
      if (why == 0) return f;
      if (uintptr_t fixup = extable_find(f->rip)) {
        f->rip = fixup;
        return f;
      }
      if (from_application(f) && g_preempt && g_app_exception) return move_to_thread_stack(f, cr2);
      g_mm->user_fault(cr2, f->error_code, why, *f);
      return f;
    }
  }
  // A bad pointer handed to a copy helper shows up as #PF (unmapped) or #GP
  // (non-canonical); the helper's fixup turns it into an error value.
  if (f->vector == VEC_PAGE_FAULT || f->vector == VEC_GENERAL_PROTECTION) {
    if (uintptr_t fixup = extable_find(f->rip)) {
      f->rip = fixup;
      return f;
    }
  }
  // Any other exception in application code goes to the Linux ABI (a
  // signal), handled on the thread's stack.
  if (from_application(f) && f->vector != VEC_DOUBLE_FAULT && f->vector != VEC_NMI &&
      f->vector != VEC_MACHINE_CHECK && g_preempt && g_app_exception)
    return move_to_thread_stack(f, cr2);
  exception_panic(*f, cr2);
}

}  // namespace capsule::x64

namespace capsule {
void arch_set_preempt_hooks(const PreemptHooks* hooks) { x64::g_preempt = hooks; }
void arch_set_app_exception_handler(AppExceptionHandler h) { x64::g_app_exception = h; }
void arch_set_nmi_handler(NmiHandler h) { x64::g_nmi = h; }
void arch_set_app_return_hook(const AppReturnHook* h) { x64::g_app_return = h; }
void arch_set_mm_hooks(const MmHooks* h) { x64::g_mm = h; }
Result<volatile void*> arch_mmio_map(uint64_t phys, size_t size) {
  if (!x64::g_mm) return Error::NotSupported;
  return x64::g_mm->mmio_map(phys, size);
}
bool arch_is_stack_guard(uintptr_t va) { return x64::g_mm && x64::g_mm->is_stack_guard(va); }
bool arch_serve_user_fault_sleeping(uintptr_t addr, bool write) {
  if (!x64::g_mm || !(x64::read_rflags() & (1u << 9))) return false;
  constexpr uint64_t PF_PRESENT_USER_WRITE = 1 << 1;  // [SDM 4.7]: the W/R bit
  return x64::g_mm->serve_user_fault_sleeping(addr, write ? PF_PRESENT_USER_WRITE : 0) == 0;
}
}  // namespace capsule
