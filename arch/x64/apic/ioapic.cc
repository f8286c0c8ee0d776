// I/O APIC [82093AA datasheet]: an index register at +0x00 and a data window
// at +0x10; redirection entry n is registers 0x10+2n (low) and 0x11+2n (high,
// destination APIC id in bits 24..31).
#include "arch/acpi.h"
#include "arch/apic.h"
#include "lib/log.h"
#include "arch/arch.h"
#include "arch/memory_layout.h"
#include "arch/spinlock.h"

namespace capsule {
namespace {

struct IoApic {
  volatile uint32_t* regs;
  uint32_t gsi_base;
  uint32_t count;
};
IoApic g_ioapics[AcpiInfo::MAX_IOAPICS];
size_t g_count;
SpinLock g_lock;

uint32_t rd(const IoApic& a, uint32_t reg) {
  a.regs[0] = reg;
  return a.regs[4];
}
void wr(const IoApic& a, uint32_t reg, uint32_t v) {
  a.regs[0] = reg;
  a.regs[4] = v;
}

IoApic* find(uint32_t gsi) {
  for (size_t i = 0; i < g_count; ++i)
    if (gsi >= g_ioapics[i].gsi_base && gsi < g_ioapics[i].gsi_base + g_ioapics[i].count)
      return &g_ioapics[i];
  return nullptr;
}

}  // namespace

Result<void> ioapic_init() {
  const AcpiInfo& a = acpi_info();
  for (size_t i = 0; i < a.ioapic_count; ++i) {
    auto m = TRY(arch_mmio_map(a.ioapics[i].address, 4096));
    IoApic& io = g_ioapics[g_count];
    io.regs = static_cast<volatile uint32_t*>(m);
    io.gsi_base = a.ioapics[i].gsi_base;
    io.count = ((rd(io, 1) >> 16) & 0xff) + 1;  // version register: max redirection entry
    for (uint32_t n = 0; n < io.count; ++n) wr(io, 0x10 + 2 * n, 1u << 16);  // all masked
    log_info("ioapic: id {} at {:#x}, GSI {}..{}", a.ioapics[i].id, a.ioapics[i].address, io.gsi_base,
             io.gsi_base + io.count - 1);
    ++g_count;
  }
  return g_count ? Result<void>() : Result<void>(Error::NotFound);
}

Result<void> ioapic_route(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool level, bool active_low) {
  SpinGuard guard(g_lock);
  IoApic* io = find(gsi);
  if (!io) return Error::NotFound;
  uint32_t n = gsi - io->gsi_base;
  uint32_t low = vector | (level ? 1u << 15 : 0) | (active_low ? 1u << 13 : 0);
  wr(*io, 0x11 + 2 * n, apic_id << 24);
  wr(*io, 0x10 + 2 * n, low);
  return {};
}

void ioapic_mask(uint32_t gsi, bool masked) {
  SpinGuard guard(g_lock);
  IoApic* io = find(gsi);
  if (!io) return;
  uint32_t reg = 0x10 + 2 * (gsi - io->gsi_base);
  uint32_t low = rd(*io, reg);
  wr(*io, reg, masked ? low | (1u << 16) : low & ~(1u << 16));
}

uint32_t isa_irq_to_gsi(uint8_t irq, bool* level, bool* active_low) {
  const AcpiInfo& a = acpi_info();
  if (level) *level = false;       // ISA default: edge, active high
  if (active_low) *active_low = false;
  for (size_t i = 0; i < a.override_count; ++i) {
    const AcpiIrqOverride& o = a.overrides[i];
    if (o.source != irq) continue;
    // MPS INTI flags: bits 0-1 polarity (3 = low), bits 2-3 trigger (3 = level)
    if (active_low) *active_low = (o.flags & 3) == 3;
    if (level) *level = ((o.flags >> 2) & 3) == 3;
    return o.gsi;
  }
  return irq;
}

}  // namespace capsule
