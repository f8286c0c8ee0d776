// Power-off with an exit status.
//
// QEMU's isa-debug-exit device (the CLI always adds it at port 0xf4) ends
// QEMU with status (V << 1) | 1 when V is written, so it cannot say 0. For
// status 0 we use ACPI soft-off (S5), which QEMU reports as 0, as the FADT
// describes it:
//   hardware-reduced ACPI (microvm): SLP_TYP (bits 2..4) | SLP_EN (bit 5)
//     into the sleep control register            [ACPI 6.4 4.8.3.7]
//   fixed hardware (q35): SLP_TYP (bits 10..12) | SLP_EN (bit 13) into
//     PM1a/PM1b control                           [ACPI 6.4 4.8.3.2.1]
// SLP_TYP for S5 comes from the DSDT's \_S5 object.
// Without ACPI, isa-debug-exit with 0 ends QEMU with 1, which the CLI
// reports as "QEMU failed" rather than guessing.
#include "arch/x64/cpu/x64.h"
#include "capsule/acpi.h"
#include "capsule/mm.h"
#include "capsule/power.h"
#include "capsule/time.h"

namespace capsule {
namespace {

constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
volatile uint8_t* g_sleep_control_mmio = nullptr;

}  // namespace

void power_init() {
  const AcpiInfo& a = acpi_info();
  if (a.hardware_reduced && a.sleep_control.space == 0 && a.sleep_control.address) {
    auto m = mmio_map(a.sleep_control.address, 1);
    if (m.ok()) g_sleep_control_mmio = static_cast<volatile uint8_t*>(m.value());
  }
}

[[noreturn]] void power_off(int status) {
  x64::cli();
  const AcpiInfo& a = acpi_info();
  if (status == 0 && a.present) {
    uint8_t typ = a.s5_known ? a.s5_typ_a : (a.hardware_reduced ? 5 : 0);
    if (a.hardware_reduced) {
      uint8_t v = uint8_t(((typ & 7) << 2) | (1 << 5));
      if (g_sleep_control_mmio) *g_sleep_control_mmio = v;
      else if (a.sleep_control.space == 1) x64::outb(uint16_t(a.sleep_control.address), v);
    } else if (a.pm1a_control) {
      // Fixed-hardware ACPI starts in legacy mode; the SLP_EN write only
      // sleeps once SCI_EN is set, which firmware does on ACPI_ENABLE.
      if (a.smi_command && a.acpi_enable) x64::outb(uint16_t(a.smi_command), a.acpi_enable);
      x64::outw(uint16_t(a.pm1a_control), uint16_t(((typ & 7) << 10) | (1 << 13)));
      if (a.pm1b_control)
        x64::outw(uint16_t(a.pm1b_control), uint16_t(((a.s5_typ_b & 7) << 10) | (1 << 13)));
    }
  }
  if (status == 0 && a.present) {
    // QEMU acts on the sleep request from its main loop, asynchronously;
    // going straight on to isa-debug-exit raced with it (QEMU then exited 1
    // in about 1 run of 10). Give it up to 100 ms first.
    uint64_t end = x64::rdtsc() + tsc_khz() * 100;
    while (x64::rdtsc() < end) x64::pause();
  }
  if (status < 0 || status > 127) status = 127;
  x64::outl(DEBUG_EXIT_PORT, uint32_t(status));
  for (;;) x64::halt();
}

}  // namespace capsule
