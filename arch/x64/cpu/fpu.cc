// x87/SSE/AVX state management.
//   CR0: MP=1, EM=0, TS=0 (no lazy switching: one XSAVEOPT per switch is
//        cheaper than a #NM trap under virtualization).
//   CR4: OSFXSR, OSXMMEXCPT, OSXSAVE.
//   XCR0: x87 | SSE | AVX, plus the AVX-512 components where present
//         [Intel SDM Vol. 1, 13.3].
#include <cstring>

#include "arch/x64/cpu/x64.h"
#include "arch/cpu.h"
#include "arch/fpu.h"

namespace capsule {
namespace {

bool g_xsave;
bool g_xsaveopt;
uint64_t g_xcr0;
size_t g_size = 512;  // FXSAVE area
uint32_t g_mxcsr_mask = 0xffbf;  // the default when FXSAVE reports 0 [SDM Vol. 1, 11.6.6]

void xsetbv(uint32_t reg, uint64_t v) {
  asm volatile("xsetbv" : : "c"(reg), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}

}  // namespace

void fpu_init_cpu() {
  const CpuFeatures& f = cpu_features();
  uint64_t cr0 = x64::read_cr0();
  cr0 &= ~((1ull << 2) | (1ull << 3));  // EM, TS
  cr0 |= (1ull << 1) | (1ull << 5);     // MP, NE
  x64::write_cr0(cr0);
  uint64_t cr4 = x64::read_cr4();
  cr4 |= (1ull << 9) | (1ull << 10);    // OSFXSR, OSXMMEXCPT
  if (f.xsave) cr4 |= 1ull << 18;       // OSXSAVE
  x64::write_cr4(cr4);
  if (f.xsave) {
    auto d0 = x64::cpuid(0xd, 0);
    uint64_t supported = uint64_t(d0.edx) << 32 | d0.eax;
    uint64_t want = 0x3;                             // x87, SSE
    if (supported & 0x4) want |= 0x4;                // AVX
    if ((supported & 0xe0) == 0xe0) want |= 0xe0;    // AVX-512 opmask, ZMM_Hi256, Hi16_ZMM
    xsetbv(0, want);
    g_xcr0 = want;
    g_xsave = true;
    g_xsaveopt = f.xsaveopt;
    g_size = x64::cpuid(0xd, 0).ebx;  // size for the components enabled in XCR0
  }
  // MXCSR_MASK: bytes 28..31 of an FXSAVE image [SDM Vol. 1, 10.5.1.2].
  alignas(16) uint8_t area[512];
  asm volatile("fxsave64 %0" : "=m"(area));
  uint32_t m;
  memcpy(&m, area + 28, 4);
  if (m) g_mxcsr_mask = m;
}

size_t fpu_state_size() { return g_size; }

void fpu_init_state(void* area) {
  memset(area, 0, g_size);
  auto* b = static_cast<uint8_t*>(area);
  b[0] = 0x7f;  // FCW = 0x037f: all x87 exceptions masked, 64-bit precision
  b[1] = 0x03;
  uint32_t mxcsr = 0x1f80;  // all SSE exceptions masked, round to nearest
  memcpy(b + 24, &mxcsr, 4);
  // XSTATE_BV = 0 in the XSAVE header means "initial state" for every
  // component, except that x87/SSE then come from the init values anyway.
}

void fpu_save(void* area) {
  if (g_xsaveopt) {
    asm volatile("xsaveopt64 (%0)" : : "r"(area), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  } else if (g_xsave) {
    asm volatile("xsave64 (%0)" : : "r"(area), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  } else {
    asm volatile("fxsave64 (%0)" : : "r"(area) : "memory");
  }
}

void fpu_restore(const void* area) {
  if (g_xsave) {
    asm volatile("xrstor64 (%0)" : : "r"(area), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  } else {
    asm volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
  }
}

uint64_t fpu_xfeatures() { return g_xsave ? g_xcr0 : 0; }

uint32_t fpu_mxcsr_mask() { return g_mxcsr_mask; }

void fpu_save_all(void* area) {
  if (g_xsave) {
    memset(static_cast<uint8_t*>(area) + 512, 0, 64);  // XSAVE writes only the header's XSTATE_BV
    asm volatile("xsave64 (%0)" : : "r"(area), "a"(uint32_t(g_xcr0)), "d"(uint32_t(g_xcr0 >> 32)) : "memory");
  } else {
    asm volatile("fxsave64 (%0)" : : "r"(area) : "memory");
  }
}

void fpu_sanitize(void* area) {
  auto* a = static_cast<uint8_t*>(area);
  uint32_t mxcsr;
  memcpy(&mxcsr, a + 24, 4);
  mxcsr &= g_mxcsr_mask;
  memcpy(a + 24, &mxcsr, 4);
  if (g_xsave) {
    // XSTATE_BV within XCR0; XCOMP_BV 0 (standard format) and the reserved
    // header bytes 0 [SDM Vol. 1, 13.8.1].
    uint64_t bv;
    memcpy(&bv, a + 512, 8);
    bv &= g_xcr0;
    memset(a + 512, 0, 64);
    memcpy(a + 512, &bv, 8);
  }
}

}  // namespace capsule
