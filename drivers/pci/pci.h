#pragma once
// PCI configuration space through the legacy ports 0xCF8/0xCFC [PCI Local
// Bus 3.0 §3.2.2.3.2] and enumeration of bus 0 (where QEMU's q35 and
// microvm,pcie=on put their devices; bridges are not followed).
#include <cstdint>

#include "lib/result.h"

namespace capsule::pci {

struct Address {
  uint8_t bus, dev, fn;
};

uint32_t read32(Address a, uint8_t off);
uint16_t read16(Address a, uint8_t off);
uint8_t read8(Address a, uint8_t off);
void write32(Address a, uint8_t off, uint32_t v);
void write16(Address a, uint8_t off, uint16_t v);

enum : uint8_t {
  VENDOR_ID = 0x00, DEVICE_ID = 0x02, COMMAND = 0x04, STATUS = 0x06, PROG_IF = 0x09, SUBCLASS = 0x0a,
  CLASS = 0x0b, HEADER_TYPE = 0x0e,
  BAR0 = 0x10, SUBSYSTEM_ID = 0x2e, CAP_PTR = 0x34,
};
inline constexpr uint16_t COMMAND_MEMORY = 1 << 1, COMMAND_BUS_MASTER = 1 << 2,
                          COMMAND_INTX_DISABLE = 1 << 10;
inline constexpr uint16_t STATUS_CAP_LIST = 1 << 4;
inline constexpr uint8_t CAP_MSIX = 0x11, CAP_VENDOR = 0x09;

// Physical address of memory BAR `bar` (64-bit BARs read both halves);
// 0 for an I/O or unassigned BAR.
uint64_t bar_address(Address a, unsigned bar);

// Offset of the first capability with this id in the capability list; 0
// when there is none (the walk is bounded: a looping list ends it).
uint8_t find_capability(Address a, uint8_t id);

// MSI-X [PCI 3.0 §6.8.2]: the number of table entries (0: no MSI-X), and
// routing one entry to `vector` on the boot CPU's LAPIC (fixed delivery,
// edge) with that entry unmasked and MSI-X enabled for the function. The
// other entries keep their reset state (masked).
unsigned msix_table_size(Address a);
Result<void> msix_route(Address a, unsigned entry, uint8_t vector);

// Calls fn(address, vendor, device) for every function on bus 0.
void for_each_function(void (*fn)(Address, uint16_t vendor, uint16_t device, void* ctx), void* ctx);

}  // namespace capsule::pci
