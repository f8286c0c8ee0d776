#pragma once
// Ending the VM with a status the host sees (drivers/platform/power.cc).
//   status 0: ACPI soft-off (QEMU exits 0).
//   status N in 1..127: isa-debug-exit, QEMU exits (N << 1) | 1.
// The CLI (tools/capsule) maps QEMU's status back to N.

namespace capsule {

enum class Machine { Unknown, Microvm, Q35 };
void power_set_machine(Machine m);

[[noreturn]] void power_off(int status);

}  // namespace capsule
