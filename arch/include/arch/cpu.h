#pragma once
// CPU features, detected once at boot from CPUID (arch/x64/cpu/features.cc).
#include <cstdint>

namespace capsule {

struct CpuFeatures {
  char vendor[13];
  char brand[49];
  char hypervisor[13];     // "TCGTCGTCGTCG", "KVMKVMKVM", or empty
  uint32_t max_leaf;
  uint32_t max_ext_leaf;
  uint32_t max_hv_leaf;
  uint32_t family, model, stepping;
  bool fpu, tsc, apic, x2apic, tsc_deadline, hypervisor_bit;
  bool sse2, sse3, ssse3, sse41, sse42, avx, avx2, avx512f;
  bool xsave, osxsave, xsaveopt, xsavec, xsaves;
  bool fsgsbase, smep, smap, erms, rdrand, rdseed, pcid, invpcid;
  bool nx, pdpe1gb, rdtscp, rdpid, syscall, invariant_tsc, arat;
  bool kvmclock;
  uint32_t xsave_size;     // bytes XSAVE needs for the enabled features
  uint64_t tsc_khz_cpuid;  // 0 unless leaf 0x15/0x16/0x40000010 says
};

const CpuFeatures& cpu_features();
void cpu_detect_features();
void cpu_report_features();  // one line per group, log level info

// The TSC rate in kHz the kernel runs with (0 until boot chooses it:
// core/time's time_early_init sets it). The APIC timer converts with it.
uint64_t tsc_khz();
void tsc_set_khz(uint64_t khz);

}  // namespace capsule
