#pragma once
// Multiprocessor bring-up (core/sched/smp.cc).
namespace capsule {
// Starts every enabled CPU in the MADT; returns how many came up.
unsigned smp_boot_aps();
}  // namespace capsule
