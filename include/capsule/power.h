#pragma once
// Ending the VM with a status the host sees (drivers/platform/power.cc).
//   status 0: ACPI soft-off (QEMU exits 0).
//   status N in 1..127: isa-debug-exit, QEMU exits (N << 1) | 1.
// The CLI (tools/capsule) maps QEMU's status back to N.

namespace capsule {

// After acpi_init: maps the power-off register (cannot map in a panic).
void power_init();
[[noreturn]] void power_off(int status);

}  // namespace capsule
