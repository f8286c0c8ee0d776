// Power-off with an exit status.
//
// QEMU's isa-debug-exit device (the CLI always adds it at port 0xf4) ends
// QEMU with status (V << 1) | 1 when V is written, so it cannot say 0. For
// status 0 we use ACPI soft-off instead, which QEMU reports as 0:
//   microvm: hardware-reduced ACPI, GED sleep control register at
//            0xfea00200, SLP_TYP=5 (bits 2..4) | SLP_EN (bit 5)  [ACPI 6.4 4.8.3.7]
//   q35:     ICH9 PM1a control at 0x604, SLP_TYP=0 (QEMU's S5) | SLP_EN (bit 13)
// If both fail (no ACPI), isa-debug-exit with 0 ends QEMU with 1, and the
// CLI reports that QEMU did not exit cleanly.
#include "arch/x64/cpu/x64.h"
#include "capsule/mm.h"
#include "capsule/power.h"

namespace capsule {
namespace {
Machine g_machine = Machine::Unknown;
constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
}

void power_set_machine(Machine m) { g_machine = m; }

[[noreturn]] void power_off(int status) {
  x64::cli();
  if (status == 0) {
    if (g_machine == Machine::Microvm) {
      auto* ged = reinterpret_cast<volatile uint8_t*>(phys_to_virt(0xfea00200));
      *ged = (5 << 2) | (1 << 5);
    } else if (g_machine == Machine::Q35) {
      x64::outw(0x604, 1 << 13);
    }
  }
  if (status < 0 || status > 127) status = 127;
  x64::outl(DEBUG_EXIT_PORT, uint32_t(status));
  for (;;) x64::halt();
}

}  // namespace capsule
