// CPUID-based feature detection. Every leaf is checked against the highest
// leaf first: under TCG, leaves above the maximum return the maximum leaf's
// values rather than zeros (docs/arch-x64.md).
#include "arch/x64/cpu/x64.h"
#include "arch/cpu.h"
#include "lib/log.h"

namespace capsule {
namespace {

CpuFeatures g_features;

void copy_regs(char* dst, const uint32_t* regs, int n) {
  for (int i = 0; i < n; ++i)
    for (int b = 0; b < 4; ++b) dst[i * 4 + b] = char(regs[i] >> (8 * b));
  dst[n * 4] = 0;
}

}  // namespace

const CpuFeatures& cpu_features() { return g_features; }

namespace {
uint64_t g_tsc_khz;
}
uint64_t tsc_khz() { return g_tsc_khz; }
void tsc_set_khz(uint64_t khz) { g_tsc_khz = khz; }

void cpu_detect_features() {
  using x64::cpuid;
  CpuFeatures& f = g_features;
  auto l0 = cpuid(0);
  f.max_leaf = l0.eax;
  uint32_t v[3] = {l0.ebx, l0.edx, l0.ecx};
  copy_regs(f.vendor, v, 3);

  auto l1 = cpuid(1);
  f.stepping = l1.eax & 0xf;
  f.model = (l1.eax >> 4) & 0xf;
  f.family = (l1.eax >> 8) & 0xf;
  if (f.family == 0xf) f.family += (l1.eax >> 20) & 0xff;
  if (f.family >= 6) f.model |= ((l1.eax >> 16) & 0xf) << 4;
  f.fpu = l1.edx & (1u << 0);
  f.tsc = l1.edx & (1u << 4);
  f.apic = l1.edx & (1u << 9);
  f.sse2 = l1.edx & (1u << 26);
  f.sse3 = l1.ecx & (1u << 0);
  f.ssse3 = l1.ecx & (1u << 9);
  f.pcid = l1.ecx & (1u << 17);
  f.sse41 = l1.ecx & (1u << 19);
  f.sse42 = l1.ecx & (1u << 20);
  f.x2apic = l1.ecx & (1u << 21);
  f.tsc_deadline = l1.ecx & (1u << 24);
  f.xsave = l1.ecx & (1u << 26);
  f.osxsave = l1.ecx & (1u << 27);
  f.avx = l1.ecx & (1u << 28);
  f.rdrand = l1.ecx & (1u << 30);
  f.hypervisor_bit = l1.ecx & (1u << 31);

  if (f.max_leaf >= 6) f.arat = cpuid(6).eax & (1u << 2);
  if (f.max_leaf >= 7) {
    auto l7 = cpuid(7, 0);
    f.fsgsbase = l7.ebx & (1u << 0);
    f.avx2 = l7.ebx & (1u << 5);
    f.smep = l7.ebx & (1u << 7);
    f.erms = l7.ebx & (1u << 9);
    f.invpcid = l7.ebx & (1u << 10);
    f.avx512f = l7.ebx & (1u << 16);
    f.rdseed = l7.ebx & (1u << 18);
    f.smap = l7.ebx & (1u << 20);
    f.rdpid = l7.ecx & (1u << 22);  // [SDM Vol. 2B, RDPID]
  }
  if (f.max_leaf >= 0xd && f.xsave) {
    auto d1 = cpuid(0xd, 1);
    f.xsaveopt = d1.eax & (1u << 0);
    f.xsavec = d1.eax & (1u << 1);
    f.xsaves = d1.eax & (1u << 3);
    f.xsave_size = cpuid(0xd, 0).ecx;  // size for all supported features
  }
  if (f.max_leaf >= 0x15) {
    auto l15 = cpuid(0x15);  // TSC = crystal (ecx Hz) * ebx / eax
    if (l15.eax && l15.ebx && l15.ecx)
      f.tsc_khz_cpuid = uint64_t(l15.ecx) * l15.ebx / l15.eax / 1000;
  }
  if (!f.tsc_khz_cpuid && f.max_leaf >= 0x16) {
    auto l16 = cpuid(0x16);
    if (l16.eax & 0xffff) f.tsc_khz_cpuid = uint64_t(l16.eax & 0xffff) * 1000;
  }

  auto e0 = cpuid(0x80000000);
  f.max_ext_leaf = e0.eax;
  if (f.max_ext_leaf >= 0x80000001) {
    auto e1 = cpuid(0x80000001);
    f.syscall = e1.edx & (1u << 11);
    f.nx = e1.edx & (1u << 20);
    f.pdpe1gb = e1.edx & (1u << 26);
    f.rdtscp = e1.edx & (1u << 27);
  }
  if (f.max_ext_leaf >= 0x80000004) {
    uint32_t b[12];
    for (uint32_t i = 0; i < 3; ++i) {
      auto r = cpuid(0x80000002 + i);
      b[i * 4] = r.eax; b[i * 4 + 1] = r.ebx; b[i * 4 + 2] = r.ecx; b[i * 4 + 3] = r.edx;
    }
    copy_regs(f.brand, b, 12);
  }
  if (f.max_ext_leaf >= 0x80000007) f.invariant_tsc = cpuid(0x80000007).edx & (1u << 8);

  if (f.hypervisor_bit) {
    auto h = cpuid(0x40000000);
    f.max_hv_leaf = h.eax;
    uint32_t hv[3] = {h.ebx, h.ecx, h.edx};
    copy_regs(f.hypervisor, hv, 3);
    if (f.max_hv_leaf >= 0x40000001) f.kvmclock = cpuid(0x40000001).eax & ((1u << 3) | (1u << 0));
    if (f.max_hv_leaf >= 0x40000010 && !f.tsc_khz_cpuid) {
      auto t = cpuid(0x40000010);
      if (t.eax) f.tsc_khz_cpuid = t.eax;
    }
  }
}

void cpu_report_features() {
  const CpuFeatures& f = g_features;
  log_info("cpu: {} family {} model {} stepping {} \"{}\"", f.vendor, f.family, f.model,
           f.stepping, f.brand);
  log_info("cpu: hypervisor {} max leaf {:#x} ext {:#x} hv {:#x}",
           f.hypervisor[0] ? f.hypervisor : "none", f.max_leaf, f.max_ext_leaf, f.max_hv_leaf);
  log_info("cpu: apic={} x2apic={} tsc-deadline={} arat={} invariant-tsc={} kvmclock={} tsc-khz(cpuid)={}",
           f.apic, f.x2apic, f.tsc_deadline, f.arat, f.invariant_tsc, f.kvmclock, f.tsc_khz_cpuid);
  log_info("cpu: nx={} 1g-pages={} pcid={} fsgsbase={} smep={} smap={} erms={} rdrand={} rdseed={}",
           f.nx, f.pdpe1gb, f.pcid, f.fsgsbase, f.smep, f.smap, f.erms, f.rdrand, f.rdseed);
  log_info("cpu: sse4.2={} avx={} avx2={} avx512f={} xsave={} xsaveopt={} xsavec={} xsaves={} xsave-size={}",
           f.sse42, f.avx, f.avx2, f.avx512f, f.xsave, f.xsaveopt, f.xsavec, f.xsaves, f.xsave_size);
}

}  // namespace capsule
