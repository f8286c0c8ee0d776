// Local APIC [Intel SDM Vol. 3A, ch. 10 / 11].
// xAPIC registers are 16-byte spaced MMIO at the LAPIC base (0xfee00000);
// in x2APIC mode the same register is MSR 0x800 + (offset >> 4) and the ICR
// is one 64-bit MSR. TCG has no x2APIC; KVM does.
#include "arch/x64/cpu/x64.h"
#include "arch/apic.h"
#include "arch/cpu.h"
#include "arch/irq.h"
#include "lib/log.h"
#include "arch/arch.h"
#include "arch/memory_layout.h"

namespace capsule {
namespace {

enum Reg : uint32_t {
  ID = 0x20, VERSION = 0x30, TPR = 0x80, EOI = 0xb0, SVR = 0xf0, ESR = 0x280,
  ICR_LOW = 0x300, ICR_HIGH = 0x310, LVT_TIMER = 0x320, LVT_LINT0 = 0x350,
  LVT_LINT1 = 0x360, LVT_ERROR = 0x370, TIMER_INIT = 0x380, TIMER_CUR = 0x390,
  TIMER_DIV = 0x3e0,
};
constexpr uint32_t MSR_APIC_BASE = 0x1b;
constexpr uint32_t MSR_TSC_DEADLINE = 0x6e0;
constexpr uint8_t SPURIOUS_VECTOR = 0xff;

volatile uint32_t* g_mmio;
bool g_x2apic;
bool g_deadline;
uint64_t g_ticks_per_ms;  // count-down timer rate (divide by 1)

uint32_t rd(uint32_t reg) {
  if (g_x2apic) return uint32_t(x64::rdmsr(0x800 + (reg >> 4)));
  return g_mmio[reg / 4];
}
void wr(uint32_t reg, uint32_t v) {
  if (g_x2apic) x64::wrmsr(0x800 + (reg >> 4), v);
  else g_mmio[reg / 4] = v;
}

void write_icr(uint32_t dest, uint32_t low) {
  if (g_x2apic) {
    x64::wrmsr(0x830, uint64_t(dest) << 32 | low);
    return;
  }
  wr(ICR_HIGH, dest << 24);
  wr(ICR_LOW, low);  // the low write sends
  while (rd(ICR_LOW) & (1u << 12)) x64::pause();  // delivery status
}

}  // namespace

Result<void> lapic_init(uint64_t phys_base) {
  g_x2apic = cpu_features().x2apic;
  if (!g_x2apic) {
    auto m = TRY(arch_mmio_map(phys_base, 4096));
    g_mmio = static_cast<volatile uint32_t*>(m);
  }
  g_deadline = cpu_features().tsc_deadline;
  lapic_init_cpu();
  irq_set_eoi_hook([](uint8_t vector) {
    if (vector != 0xff) lapic_eoi();  // the spurious vector takes no EOI [SDM 10.9]
  });
  log_info("lapic: {} mode, id {}, version {:#x}, timer {}", g_x2apic ? "x2APIC" : "xAPIC",
           lapic_id(), rd(VERSION) & 0xff, g_deadline ? "TSC-deadline" : "one-shot");
  return {};
}

void lapic_init_cpu() {
  uint64_t base = x64::rdmsr(MSR_APIC_BASE);
  base |= 1u << 11;                  // global enable
  if (g_x2apic) base |= 1u << 10;    // x2APIC mode
  x64::wrmsr(MSR_APIC_BASE, base);
  wr(TPR, 0);
  wr(LVT_LINT0, 1u << 16);           // masked: no 8259 behind us
  wr(LVT_LINT1, (1u << 16));
  wr(LVT_ERROR, 1u << 16);
  wr(SVR, (1u << 8) | SPURIOUS_VECTOR);
  if (!g_x2apic) {
    wr(ESR, 0);
    wr(ESR, 0);
  }
  lapic_eoi();
}

uint32_t lapic_id() { return g_x2apic ? rd(ID) : rd(ID) >> 24; }
void lapic_eoi() { wr(EOI, 0); }

void lapic_send_ipi(uint32_t apic_id, uint8_t vector) { write_icr(apic_id, vector | (1u << 14)); }
void lapic_send_ipi_all_but_self(uint8_t vector) {
  write_icr(0, vector | (1u << 14) | (3u << 18));  // shorthand: all excluding self
}
void lapic_send_init(uint32_t apic_id) {
  write_icr(apic_id, (5u << 8) | (1u << 14) | (1u << 15));  // INIT, assert, level
}
void lapic_send_startup(uint32_t apic_id, uint8_t page) {
  write_icr(apic_id, (6u << 8) | (1u << 14) | page);  // STARTUP
}
void lapic_send_nmi(uint32_t apic_id) { write_icr(apic_id, (4u << 8) | (1u << 14)); }  // delivery mode 100b
bool lapic_ipi_pending() { return !g_x2apic && (rd(ICR_LOW) & (1u << 12)); }

void lapic_timer_init(uint8_t vector) {
  if (g_deadline) {
    wr(LVT_TIMER, vector | (2u << 17));  // TSC-deadline mode
    return;
  }
  wr(TIMER_DIV, 0xb);  // divide by 1
  wr(LVT_TIMER, vector | (1u << 16));  // one-shot, masked while calibrating
  if (!g_ticks_per_ms) {
    // Count down for 250 us of TSC time. Both clocks run from the host
    // under TCG; on hardware the bus clock is fixed, so once per boot is
    // enough. Each end is read as TSC, count, TSC and redone if the pair
    // took long: a vCPU descheduled between the two reads (a busy host)
    // would otherwise inflate the rate by the time it was away — once by
    // 9x, making every timer fire 9x late.
    uint64_t khz = tsc_khz();
    uint64_t max_gap = khz / 500 ? khz / 500 : 1;  // 2 us of TSC: 0.8% at worst
    auto sample = [&](uint64_t& tsc, uint32_t& count) {
      for (int i = 0; i < 100; ++i) {
        uint64_t a = x64::rdtsc();
        count = rd(TIMER_CUR);
        uint64_t b = x64::rdtsc();
        tsc = a + (b - a) / 2;
        if (b - a <= max_gap) return;
      }
    };
    wr(TIMER_INIT, 0xffffffff);
    uint64_t t0, t1;
    uint32_t c0, c1;
    sample(t0, c0);
    while (x64::rdtsc() - t0 < khz / 4) x64::pause();
    sample(t1, c1);
    uint64_t dt = t1 - t0;
    g_ticks_per_ms = dt ? uint64_t(c0 - c1) * khz / dt : 0;
    if (!g_ticks_per_ms) g_ticks_per_ms = 1000000;  // a timer that did not count: assume 1 GHz
    log_info("lapic: timer {} ticks/ms", g_ticks_per_ms);
  }
  wr(TIMER_INIT, 0);
  wr(LVT_TIMER, vector);  // one-shot, unmasked
}

void lapic_timer_arm_ns(uint64_t delta_ns) {
  if (g_deadline) {
    uint64_t ticks = delta_ns ? delta_ns * tsc_khz() / 1000000 : 0;
    x64::wrmsr(MSR_TSC_DEADLINE, delta_ns ? x64::rdtsc() + (ticks ? ticks : 1) : 0);
    return;
  }
  if (!delta_ns) {
    wr(TIMER_INIT, 0);
    return;
  }
  uint64_t ticks = (unsigned __int128)delta_ns * g_ticks_per_ms / 1000000;
  if (ticks == 0) ticks = 1;
  if (ticks > 0xffffffffull) ticks = 0xffffffffull;  // re-armed on expiry if still early
  wr(TIMER_INIT, uint32_t(ticks));
}

bool lapic_timer_uses_deadline() { return g_deadline; }

}  // namespace capsule
