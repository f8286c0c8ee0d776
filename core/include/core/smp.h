#pragma once
// Multiprocessor bring-up (core/sched/smp.cc).
namespace capsule {
// Starts every enabled CPU in the MADT; returns how many came up.
unsigned smp_boot_aps();
// A per-CPU clock set-up each application processor runs as it starts
// (kvmclock's pvclock area, under KVM). Registered by the composition root
// before smp_boot_aps; none by default.
void smp_set_cpu_clock_init(void (*init)(unsigned cpu_index));
}  // namespace capsule
