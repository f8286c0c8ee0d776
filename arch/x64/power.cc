// Power-off with an exit status.
//
// QEMU's isa-debug-exit device (the CLI always adds it at port 0xf4) ends
// QEMU with status (V << 1) | 1 when V is written. We write V = status + 1,
// so every guest status maps to an odd QEMU status >= 3, distinct from
// QEMU's own failures (1) and from a reset with -no-reboot (0, e.g. a
// triple fault). Statuses 0..126 are representable.
//
// Where no debug-exit device exists (other VMMs), the VM still stops through
// ACPI soft-off (S5), as the FADT describes it:
//   hardware-reduced ACPI (microvm): SLP_TYP (bits 2..4) | SLP_EN (bit 5)
//     into the sleep control register            [ACPI 6.4 4.8.3.7]
//   fixed hardware (q35): SLP_TYP (bits 10..12) | SLP_EN (bit 13) into
//     PM1a/PM1b control                           [ACPI 6.4 4.8.3.2.1]
// SLP_TYP for S5 comes from the DSDT's \_S5 object.
#include "arch/x64/cpu/x64.h"
#include "arch/acpi.h"
#include "arch/arch.h"
#include "arch/power.h"

namespace capsule {
namespace {

constexpr uint16_t DEBUG_EXIT_PORT = 0xf4;
constexpr uint16_t DEBUGCON_PORT = 0x402;  // QEMU isa-debugcon, when present
volatile uint8_t* g_sleep_control_mmio = nullptr;

}  // namespace

void power_init() {
  const AcpiInfo& a = acpi_info();
  if (a.hardware_reduced && a.sleep_control.space == 0 && a.sleep_control.address) {
    auto m = arch_mmio_map(a.sleep_control.address, 1);
    if (m.ok()) g_sleep_control_mmio = static_cast<volatile uint8_t*>(m.value());
  }
}

[[noreturn]] void power_off(int status) {
  x64::cli();
  // The full status (0..255, e.g. 128+N after a fatal signal) also goes out
  // as decimal text on the debug console port, which the CLI captures;
  // isa-debug-exit can only carry 0..126.
  int full = status & 0xff;
  char digits[4];
  int n = 0;
  do {
    digits[n++] = char('0' + full % 10);
    full /= 10;
  } while (full);
  while (n) x64::outb(DEBUGCON_PORT, uint8_t(digits[--n]));
  x64::outb(DEBUGCON_PORT, '\n');
  if (status < 0 || status > MAX_EXIT_STATUS) status = MAX_EXIT_STATUS;
  x64::outl(DEBUG_EXIT_PORT, uint32_t(status + 1));
  const AcpiInfo& a = acpi_info();
  if (a.present) {
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
  for (;;) x64::halt();
}

}  // namespace capsule
