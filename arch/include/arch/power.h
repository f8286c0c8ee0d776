#pragma once
// Ending the VM with a status the host sees (arch/x64/power.cc).
//   isa-debug-exit with N + 1: QEMU exits ((N + 1) << 1) | 1, N in 0..126;
//   ACPI soft-off where that device is absent (status lost).
// The CLI (tools/capsule) maps QEMU's status back to N.

namespace capsule {

constexpr int MAX_EXIT_STATUS = 126;

// After acpi_init: maps the power-off register (cannot map in a panic).
void power_init();
[[noreturn]] void power_off(int status);

}  // namespace capsule
