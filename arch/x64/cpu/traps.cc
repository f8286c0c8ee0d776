// trap_dispatch: where every vector stub lands (vectors.S). Exceptions
// either resume at an exception-table fixup or end in a panic report; vectors
// 32..255 go to the IRQ table.
#include "arch/x64/cpu/traps.h"

#include "arch/x64/cpu/extable.h"
#include "arch/x64/cpu/x64.h"
#include "capsule/address_space.h"
#include "capsule/irq.h"

namespace capsule::x64 {

extern "C" void trap_dispatch(TrapFrame* f) {
  if (f->vector >= IRQ_VECTOR_FIRST) {
    irq_dispatch(uint8_t(f->vector));
    return;
  }
  // CR2 first: anything below could fault and overwrite it.
  uint64_t cr2 = f->vector == VEC_PAGE_FAULT ? read_cr2() : 0;
  // The application half: demand paging first (also when a copy helper
  // touched a page that is mapped lazily: that must not become EFAULT),
  // then a copy helper's fixup, then the application's fault.
  if (f->vector == VEC_PAGE_FAULT && cr2 < mm::USER_END) {
    if (AddressSpace* as = current_address_space()) {
      UserFault why = as->handle_fault(cr2, f->error_code);
      if (why == UserFault::None) return;
      if (uintptr_t fixup = extable_find(f->rip)) {
        f->rip = fixup;
        return;
      }
      on_user_fault(cr2, f->error_code, why, *f);
      return;
    }
  }
  // A bad pointer handed to a copy helper shows up as #PF (unmapped) or #GP
  // (non-canonical); the helper's fixup turns it into an error value.
  if (f->vector == VEC_PAGE_FAULT || f->vector == VEC_GENERAL_PROTECTION) {
    if (uintptr_t fixup = extable_find(f->rip)) {
      f->rip = fixup;
      return;
    }
  }
  exception_panic(*f, cr2);
}

}  // namespace capsule::x64
