#pragma once
// ACPI tables (arch/x64/acpi): what the kernel needs from firmware tables —
// the CPUs and interrupt controllers (MADT) and how to power off (FADT +
// the \_S5 sleep type from the DSDT). No AML interpreter: the one AML object
// we need (\_S5) is a constant package found by a bounded scan.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {

struct AcpiGas {          // Generic Address Structure (ACPI 6.4 5.2.3.2)
  uint8_t space;          // 0 system memory, 1 system I/O
  uint8_t bit_width;
  uint8_t bit_offset;
  uint8_t access_size;
  uint64_t address;
} __attribute__((packed));

struct AcpiCpu {
  uint32_t apic_id;
  uint32_t acpi_uid;
  bool enabled;
};

struct AcpiIoApic {
  uint8_t id;
  uint32_t address;
  uint32_t gsi_base;
};

struct AcpiIrqOverride {  // ISA IRQ `source` is wired to `gsi`
  uint8_t source;
  uint32_t gsi;
  uint16_t flags;         // polarity / trigger mode (MPS INTI flags)
};

struct AcpiInfo {
  static constexpr size_t MAX_CPUS = 256;
  static constexpr size_t MAX_IOAPICS = 8;
  static constexpr size_t MAX_OVERRIDES = 16;

  bool present = false;
  char oem_id[7] = {};
  uint64_t lapic_address = 0;
  size_t cpu_count = 0;
  AcpiCpu cpus[MAX_CPUS];
  size_t ioapic_count = 0;
  AcpiIoApic ioapics[MAX_IOAPICS];
  size_t override_count = 0;
  AcpiIrqOverride overrides[MAX_OVERRIDES];
  bool has_8259 = false;

  // Power-off (FADT)
  bool hardware_reduced = false;
  AcpiGas sleep_control{};   // hardware-reduced machines (microvm)
  uint32_t pm1a_control = 0; // I/O port (q35)
  uint32_t pm1b_control = 0;
  uint32_t smi_command = 0;  // SMI_CMD port; writing acpi_enable sets SCI_EN
  uint8_t acpi_enable = 0;
  bool s5_known = false;
  uint8_t s5_typ_a = 0, s5_typ_b = 0;
};

// Parses the tables under the RSDP at `rsdp_phys` (from hvm_start_info).
// A missing table is not an error; a table with a bad checksum or length is
// skipped with a warning.
Result<void> acpi_init(uint64_t rsdp_phys);
const AcpiInfo& acpi_info();

// Pure parsers (host-tested and fuzzed): they read only what `map` gives.
// How the walk reaches a table: a pointer to `len` readable bytes at
// physical `phys`, or an error (the kernel maps firmware memory; the tests
// hand out pieces of a buffer).
struct AcpiMemory {
  Result<const uint8_t*> (*map)(void* ctx, uint64_t phys, size_t len);
  void* ctx;
};
// The whole walk: RSDP -> XSDT (RSDT for revision 1) -> FADT (-> DSDT's
// \_S5) and MADT, into `info`. Each table's length (36 bytes .. 1 MiB)
// and checksum are verified before it is read; a bad table is skipped
// with a warning. BadFormat for a bad RSDP or root table.
Result<void> acpi_parse(uint64_t rsdp_phys, const AcpiMemory& mem, AcpiInfo& info);
// Finds \_S5's SLP_TYPa/b in an AML byte stream.
bool acpi_find_s5(const uint8_t* aml, size_t len, uint8_t& typ_a, uint8_t& typ_b);
// Parses a MADT (the whole table, header included) into `info`.
Result<void> acpi_parse_madt(const uint8_t* table, size_t len, AcpiInfo& info);
bool acpi_checksum_ok(const uint8_t* p, size_t len);

}  // namespace capsule
