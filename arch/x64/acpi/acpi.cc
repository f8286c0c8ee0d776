// Walks the firmware's ACPI tables (the parser is arch/x64/acpi/parse.cc).
// Tables live in firmware-reserved memory that the direct map need not
// cover, so they are reached through mmio_map.
#include "arch/acpi.h"
#include "lib/log.h"
#include "arch/arch.h"

namespace capsule {
namespace {

AcpiInfo g_info;

Result<const uint8_t*> map_firmware(void*, uint64_t phys, size_t len) {
  auto v = TRY(arch_mmio_map(phys, len));
  return const_cast<const uint8_t*>(static_cast<volatile uint8_t*>(v));
}

}  // namespace

const AcpiInfo& acpi_info() { return g_info; }

Result<void> acpi_init(uint64_t rsdp_phys) {
  TRY(acpi_parse(rsdp_phys, AcpiMemory{map_firmware, nullptr}, g_info));
  log_info("acpi: oem {} cpus {} ioapics {} lapic {:#x} hw-reduced {} pm1a {:#x} s5 {}({},{})", g_info.oem_id,
           g_info.cpu_count, g_info.ioapic_count, g_info.lapic_address, g_info.hardware_reduced, g_info.pm1a_control,
           g_info.s5_known, g_info.s5_typ_a, g_info.s5_typ_b);
  return {};
}

}  // namespace capsule
