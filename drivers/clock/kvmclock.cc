// kvmclock: KVM's paravirtual clock (pvclock) [Linux
// Documentation/virt/kvm/x86/msr.rst, MSR_KVM_SYSTEM_TIME_NEW; the
// pvclock_vcpu_time_info layout is the ABI KVM and Xen share].
//
// The guest writes the physical address of a 32-byte area, with bit 0 set
// to enable, to MSR 0x4b564d01; KVM then keeps in it, per vCPU, a TSC
// timestamp, the system time (ns) at that timestamp and the scale from TSC
// ticks to ns: ns = ((delta << shift) * mul) >> 32 (a right shift for a
// negative shift). The rate follows: kHz = (10^6 << 32) / mul, shifted the
// other way. Fields are consistent only when `version` is even and the same
// before and after reading them.
//
// Only the rate is used for now (the monotonic clock is the TSC at that
// rate). Not exercised here: TCG has no kvmclock and this machine's /dev/kvm
// is not hardware KVM (PLATFORM.md), so it stays small and by the letter.
#include "drivers/clock/kvmclock.h"

#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "core/mm.h"
#include "arch/percpu.h"

namespace capsule {
namespace {

constexpr uint32_t MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;
constexpr uint32_t KVM_FEATURE_CLOCKSOURCE2 = 1u << 3;

struct [[gnu::packed]] PvclockTimeInfo {
  uint32_t version;
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad[2];
};
static_assert(sizeof(PvclockTimeInfo) == 32);

// 32-byte aligned, so no area crosses a page. In the kernel image, whose
// physical address is its virtual one minus KERNEL_VMA.
struct alignas(32) Area {
  PvclockTimeInfo info;
};
Area g_areas[MAX_CPUS];

struct Snapshot {
  uint64_t tsc_timestamp, system_time;
  uint32_t mul;
  int8_t shift;
};

Snapshot read_area(const volatile PvclockTimeInfo& a) {
  Snapshot s;
  for (;;) {
    uint32_t v = a.version;
    std::atomic_thread_fence(std::memory_order_acquire);
    s.tsc_timestamp = a.tsc_timestamp;
    s.system_time = a.system_time;
    s.mul = a.tsc_to_system_mul;
    s.shift = a.tsc_shift;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (!(v & 1) && v == a.version) return s;
    x64::pause();
  }
}

}  // namespace

bool kvmclock_available() {
  if (!(x64::cpuid(1).ecx & (1u << 31))) return false;  // no hypervisor
  auto h = x64::cpuid(0x40000000);
  // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
  if (h.ebx != 0x4b4d564b || h.ecx != 0x564b4d56 || h.edx != 0x4d) return false;
  if (h.eax < 0x40000001) return false;
  return x64::cpuid(0x40000001).eax & KVM_FEATURE_CLOCKSOURCE2;
}

bool kvmclock_init_cpu(uint32_t cpu_index) {
  if (cpu_index >= MAX_CPUS || !kvmclock_available()) return false;
  x64::wrmsr(MSR_KVM_SYSTEM_TIME_NEW, virt_to_phys(&g_areas[cpu_index].info) | 1);
  return true;
}

uint64_t kvmclock_tsc_khz() {
  Snapshot s = read_area(g_areas[0].info);
  if (!s.mul) return 0;  // never filled in
  uint64_t khz = (uint64_t(1000000) << 32) / s.mul;
  if (s.shift < 0) khz <<= -s.shift;
  else khz >>= s.shift;
  return khz >= 100000 && khz <= 20000000 ? khz : 0;
}

uint64_t kvmclock_system_time_ns(uint32_t cpu_index) {
  Snapshot s = read_area(g_areas[cpu_index].info);
  uint64_t delta = x64::rdtsc() - s.tsc_timestamp;
  if (s.shift < 0) delta >>= -s.shift;
  else delta <<= s.shift;
  return s.system_time + uint64_t((unsigned __int128)delta * s.mul >> 32);
}

}  // namespace capsule
