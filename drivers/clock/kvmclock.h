#pragma once
// kvmclock (KVM's pvclock) as the source of the TSC rate (drivers/clock/kvmclock.cc).
#include <cstdint>

namespace capsule {

// True when CPUID's hypervisor leaves say KVM ("KVMKVMKVM") with
// KVM_FEATURE_CLOCKSOURCE2 (leaf 0x40000001 EAX bit 3), i.e. MSR
// 0x4b564d01 may be used.
bool kvmclock_available();

// Registers this CPU's pvclock area (one per CPU index) with KVM. False
// when kvmclock is not available.
bool kvmclock_init_cpu(uint32_t cpu_index);

// The TSC rate KVM states in the boot CPU's area (tsc_to_system_mul and
// tsc_shift), after kvmclock_init_cpu(0); 0 if unavailable or implausible.
uint64_t kvmclock_tsc_khz();

// Nanoseconds of KVM's system time on the calling CPU (its registered
// area; interrupts off so it stays the same CPU). For cross-checks.
uint64_t kvmclock_system_time_ns(uint32_t cpu_index);

}  // namespace capsule
