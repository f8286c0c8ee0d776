// IDT construction and loading [SDM Vol. 3A 6.10, 6.14].
#include "arch/x64/cpu/idt.h"

#include "arch/x64/cpu/cpu_tables.h"
#include "arch/x64/cpu/trap_frame.h"

namespace capsule::x64 {
namespace {

alignas(4096) IdtGate g_idt[256];

struct [[gnu::packed]] IdtPointer {
  uint16_t limit;
  uint64_t base;
};

}  // namespace

unsigned ist_for_vector(unsigned vector) {
  switch (vector) {
    case 2: return IST_NMI;
    case 8: return IST_DOUBLE_FAULT;
    case 18: return IST_MACHINE_CHECK;
    default: return IST_DEFAULT;
  }
}

void idt_init() {
  for (unsigned v = 0; v < 256; ++v) {
    uintptr_t target = trap_stub(v);
    IdtGate& g = g_idt[v];
    g.offset_low = uint16_t(target);
    g.selector = SEL_KERNEL_CODE;
    g.ist = uint8_t(ist_for_vector(v));
    g.type_attr = GATE_INTERRUPT;
    g.offset_mid = uint16_t(target >> 16);
    g.offset_high = uint32_t(target >> 32);
    g.reserved = 0;
  }
}

void idt_load() {
  IdtPointer idtr{sizeof(g_idt) - 1, reinterpret_cast<uint64_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

IdtGate* idt_gate(unsigned vector) {
  IdtPointer idtr;
  asm volatile("sidt %0" : "=m"(idtr));
  if (vector * sizeof(IdtGate) + sizeof(IdtGate) - 1 > idtr.limit) return nullptr;
  return reinterpret_cast<IdtGate*>(idtr.base) + vector;
}

}  // namespace capsule::x64
