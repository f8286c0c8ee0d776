// Kernel thread stacks (core/include/core/mm.h). The area at KSTACK_BASE is cut
// into fixed slots: [guard page][KSTACK_SIZE of stack]. Slots are handed out
// from a bump index; freed stacks keep their pages and mappings and go on a
// free list, so recycling needs no unmapping and no TLB shootdown.
#include "arch/x64/mm/paging.h"
#include "core/mm.h"
#include "core/mm/mm_internal.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

constexpr uintptr_t SLOT = PAGE_SIZE + KSTACK_SIZE;
constexpr uintptr_t AREA = 1ull << 39;  // one PML4 slot: 512 GiB of address space

struct FreeStack {
  FreeStack* next;
};

SpinLock g_lock;
uintptr_t g_next_slot;   // slots ever mapped
FreeStack* g_free;       // lives at the top of each free stack

KernelStack slot_stack(uintptr_t slot) {
  uintptr_t base = KSTACK_BASE + slot * SLOT + PAGE_SIZE;
  return {base, base + KSTACK_SIZE};
}

}  // namespace

bool is_kstack_guard(uintptr_t va) {
  if (va < KSTACK_BASE || va >= KSTACK_BASE + AREA) return false;
  return (va - KSTACK_BASE) % SLOT < PAGE_SIZE;
}

Result<KernelStack> kstack_alloc() {
  {
    SpinGuard guard(g_lock);
    if (g_free) {
      FreeStack* f = g_free;
      g_free = f->next;
      uintptr_t top = reinterpret_cast<uintptr_t>(f) + sizeof(FreeStack);
      return KernelStack{top - KSTACK_SIZE, top};
    }
  }
  uintptr_t slot;
  {
    SpinGuard guard(g_lock);
    if ((g_next_slot + 1) * SLOT > AREA) return Error::NoMemory;
    slot = g_next_slot++;
  }
  KernelStack s = slot_stack(slot);
  for (uintptr_t va = s.base; va < s.top; va += PAGE_SIZE) {
    auto pa = page_alloc(0);
    if (!pa.ok()) {
      // Give back what was mapped by pushing the partial slot nowhere: its
      // pages stay mapped (rare path); the slot index is simply lost.
      return pa.error();
    }
    TRY(mm::kernel_map_page(va, pa.value(), x64::PTE_WRITE | x64::PTE_NX));
  }
  return s;
}

void kstack_free(const KernelStack& s) {
  auto* f = reinterpret_cast<FreeStack*>(s.top - sizeof(FreeStack));
  SpinGuard guard(g_lock);
  f->next = g_free;
  g_free = f;
}

}  // namespace capsule
