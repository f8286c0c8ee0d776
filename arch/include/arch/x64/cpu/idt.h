#pragma once
// The IDT: 256 interrupt gates, one per stub in vectors.S, every one with an
// IST index (the application's red zone must never be pushed on). Shared by
// all CPUs; each CPU's TSS supplies the stacks the indices select.
#include <cstdint>

namespace capsule::x64 {

// 16-byte interrupt gate [SDM Vol. 3A 6.14.1, Figure 6-8].
struct [[gnu::packed]] IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;        // bits 0..2
  uint8_t type_attr;  // P | DPL | type (0xe: 64-bit interrupt gate, IF cleared on entry)
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;

  uintptr_t offset() const {
    return offset_low | (uintptr_t(offset_mid) << 16) | (uintptr_t(offset_high) << 32);
  }
};
static_assert(sizeof(IdtGate) == 16);

constexpr uint8_t GATE_INTERRUPT = 0x8e;  // present, DPL0, 64-bit interrupt gate

// Which IST stack a vector uses.
unsigned ist_for_vector(unsigned vector);

void idt_init();  // once, on the boot CPU
void idt_load();  // on every CPU

// The gate as the CPU sees it (through SIDT), for tests and diagnostics.
IdtGate* idt_gate(unsigned vector);

}  // namespace capsule::x64
