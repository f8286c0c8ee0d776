#pragma once
// Thin wrappers over x86-64 instructions used across arch/x64.
#include <cstdint>

namespace capsule::x64 {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outw(uint16_t port, uint16_t v) { asm volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t(hi) << 32) | lo;
}

inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" : : "c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}

struct CpuidResult { uint32_t eax, ebx, ecx, edx; };
inline CpuidResult cpuid(uint32_t leaf, uint32_t sub = 0) {
  CpuidResult r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
  return r;
}

inline uint64_t read_cr0() { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
inline void invlpg(uintptr_t va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }

inline uint64_t read_rflags() {
  uint64_t f;
  asm volatile("pushfq; popq %0" : "=r"(f));
  return f;
}
inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void halt() { asm volatile("hlt" ::: "memory"); }
inline void pause() { asm volatile("pause"); }

// FS base (the application's TLS pointer). WRFSBASE/RDFSBASE need
// CR4.FSGSBASE (set by cpu_init_features where CPUID has it); otherwise MSRs.
bool fsgsbase_enabled();
inline uint64_t read_fs_base() {
  uint64_t v;
  if (fsgsbase_enabled()) asm volatile("rdfsbase %0" : "=r"(v));
  else v = rdmsr(0xc0000100);
  return v;
}
inline void write_fs_base(uint64_t v) {
  if (fsgsbase_enabled()) asm volatile("wrfsbase %0" : : "r"(v) : "memory");
  else wrmsr(0xc0000100, v);
}

constexpr uint32_t MSR_EFER = 0xc0000080;
constexpr uint32_t MSR_FS_BASE = 0xc0000100;
constexpr uint32_t MSR_GS_BASE = 0xc0000101;
constexpr uint32_t MSR_KERNEL_GS_BASE = 0xc0000102;
constexpr uint32_t MSR_TSC_AUX = 0xc0000103;  // read by RDTSCP and RDPID

}  // namespace capsule::x64
