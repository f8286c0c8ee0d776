// PCI configuration mechanism #1 (ports 0xCF8/0xCFC) and bus-0 enumeration
// (drivers/pci/pci.h). ECAM would reach more than 256 bytes of
// configuration space; nothing Capsule drives needs it yet.
#include "drivers/pci/pci.h"

#include "arch/x64/cpu/x64.h"
#include "arch/apic.h"
#include "arch/spinlock.h"
#include "core/mm.h"

namespace capsule::pci {
namespace {

SpinLock g_lock;  // the address/data port pair is one shared window

uint32_t inl(uint16_t port) {
  uint32_t v;
  asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

uint32_t addr_word(Address a, uint8_t off) {
  return 0x80000000u | uint32_t(a.bus) << 16 | uint32_t(a.dev & 31) << 11 | uint32_t(a.fn & 7) << 8 |
         (off & 0xfc);
}

}  // namespace

uint32_t read32(Address a, uint8_t off) {
  SpinGuard g(g_lock);
  x64::outl(0xcf8, addr_word(a, off));
  return inl(0xcfc);
}
uint16_t read16(Address a, uint8_t off) { return uint16_t(read32(a, off) >> ((off & 2) * 8)); }
uint8_t read8(Address a, uint8_t off) { return uint8_t(read32(a, off) >> ((off & 3) * 8)); }
void write32(Address a, uint8_t off, uint32_t v) {
  SpinGuard g(g_lock);
  x64::outl(0xcf8, addr_word(a, off));
  x64::outl(0xcfc, v);
}
void write16(Address a, uint8_t off, uint16_t v) {
  uint32_t w = read32(a, off);
  unsigned shift = (off & 2) * 8;
  w = (w & ~(0xffffu << shift)) | uint32_t(v) << shift;
  write32(a, off, w);
}

uint64_t bar_address(Address a, unsigned bar) {
  if (bar > 5) return 0;
  uint8_t off = uint8_t(BAR0 + 4 * bar);
  uint32_t lo = read32(a, off);
  if (lo & 1) return 0;  // I/O space
  uint64_t addr = lo & ~0xfull;
  if (((lo >> 1) & 3) == 2 && bar < 5) addr |= uint64_t(read32(a, uint8_t(off + 4))) << 32;
  return addr;
}

uint8_t find_capability(Address a, uint8_t id) {
  if (!(read16(a, STATUS) & STATUS_CAP_LIST)) return 0;
  uint8_t cap = read8(a, CAP_PTR) & 0xfc;
  for (int guard = 0; cap && guard < 48; ++guard) {
    if (read8(a, cap) == id) return cap;
    cap = read8(a, uint8_t(cap + 1)) & 0xfc;
  }
  return 0;
}

unsigned msix_table_size(Address a) {
  uint8_t cap = find_capability(a, CAP_MSIX);
  return cap ? (read16(a, uint8_t(cap + 2)) & 0x7ff) + 1u : 0;
}

Result<void> msix_route(Address a, unsigned entry, uint8_t vector) {
  uint8_t cap = find_capability(a, CAP_MSIX);
  if (!cap) return Error::NotSupported;
  if (entry >= msix_table_size(a)) return Error::Range;
  // Table Offset/BIR at +4: the BAR in bits 2:0, the offset in the rest.
  uint32_t table = read32(a, uint8_t(cap + 4));
  uint64_t bar = bar_address(a, table & 7);
  if (!bar) return Error::NotFound;
  auto m = TRY(mmio_map(bar + (table & ~7u) + entry * 16u, 16));
  auto* e = static_cast<volatile uint32_t*>(m);
  e[0] = 0xfee00000u | (lapic_id() << 12);  // fixed delivery, physical destination
  e[1] = 0;
  e[2] = vector;  // edge-triggered, fixed
  e[3] = 0;       // unmasked
  uint16_t ctl = read16(a, uint8_t(cap + 2));
  ctl = uint16_t((ctl | 0x8000) & ~0x4000);  // MSI-X enable, function not masked
  write16(a, uint8_t(cap + 2), ctl);
  return {};
}

void for_each_function(void (*fn)(Address, uint16_t, uint16_t, void*), void* ctx) {
  for (uint8_t dev = 0; dev < 32; ++dev) {
    for (uint8_t f = 0; f < 8; ++f) {
      Address a{0, dev, f};
      uint32_t id = read32(a, VENDOR_ID);
      if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
        if (f == 0) break;
        continue;
      }
      fn(a, uint16_t(id), uint16_t(id >> 16), ctx);
      if (f == 0 && !(read8(a, HEADER_TYPE) & 0x80)) break;  // single-function
    }
  }
}

}  // namespace capsule::pci
