#pragma once
// Local APIC (xAPIC via MMIO, or x2APIC via MSRs where the CPU has it) and
// I/O APIC routing (arch/x64/apic).
#include <cstdint>

#include "lib/result.h"

namespace capsule {

// Boot CPU: maps the LAPIC, chooses xAPIC/x2APIC, enables it with the
// spurious vector. APs call lapic_init_cpu() only.
Result<void> lapic_init(uint64_t phys_base);
void lapic_init_cpu();
uint32_t lapic_id();
void lapic_eoi();

// IPIs. `vector` is delivered as fixed-mode to the CPU with `apic_id`.
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_send_ipi_all_but_self(uint8_t vector);
void lapic_send_init(uint32_t apic_id);
void lapic_send_startup(uint32_t apic_id, uint8_t page);  // SIPI: starts at page << 12
bool lapic_ipi_pending();
// An NMI to the CPU with `apic_id` (delivery mode NMI: no vector, taken
// with interrupts off; arch_set_nmi_handler says what it does).
void lapic_send_nmi(uint32_t apic_id);

// Timer: one-shot on `vector`. TSC-deadline mode where the CPU has it,
// otherwise the count-down mode calibrated against the TSC.
void lapic_timer_init(uint8_t vector);
void lapic_timer_arm_ns(uint64_t delta_ns);  // 0 = disarm
bool lapic_timer_uses_deadline();

// I/O APIC: routes global system interrupt `gsi` to `vector` on `apic_id`.
// Level/low flags follow ACPI's MPS INTI flags for ISA overrides.
Result<void> ioapic_init();
Result<void> ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool level, bool active_low);
void ioapic_mask(uint32_t gsi, bool masked);
// The GSI an ISA IRQ arrives on (interrupt source overrides applied).
uint32_t isa_irq_to_gsi(uint8_t irq, bool* level = nullptr, bool* active_low = nullptr);

}  // namespace capsule
