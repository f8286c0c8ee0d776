// Walks the firmware's ACPI tables: RSDP -> XSDT (or RSDT) -> FADT, MADT,
// DSDT. Tables live in firmware-reserved memory that the direct map need not
// cover, so they are reached through mmio_map.
#include "arch/acpi.h"
#include "lib/log.h"
#include "arch/arch.h"

namespace capsule {
namespace {

AcpiInfo g_info;
constexpr size_t MAX_TABLE = 1 << 20;

uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }

Result<const uint8_t*> map(uint64_t phys, size_t len) {
  auto v = TRY(arch_mmio_map(phys, len));
  return const_cast<const uint8_t*>(static_cast<volatile uint8_t*>(v));
}

// Maps a whole table after checking its header; nullptr-free Result.
Result<const uint8_t*> map_table(uint64_t phys, const char* expect_sig = nullptr) {
  const uint8_t* h = TRY(map(phys, 36));
  uint32_t len = rd32(h + 4);
  if (len < 36 || len > MAX_TABLE) {
    log_warn("acpi: table at {:#x} has a bad length {}", phys, len);
    return Error::BadFormat;
  }
  if (expect_sig && __builtin_memcmp(h, expect_sig, 4) != 0) return Error::BadFormat;
  const uint8_t* t = TRY(map(phys, len));
  if (!acpi_checksum_ok(t, len)) {
    log_warn("acpi: table {:c}{:c}{:c}{:c} at {:#x}: bad checksum, ignored", t[0], t[1], t[2], t[3], phys);
    return Error::BadFormat;
  }
  return t;
}

void parse_fadt(const uint8_t* f) {
  uint32_t len = rd32(f + 4);
  AcpiInfo& i = g_info;
  if (len >= 116) i.hardware_reduced = rd32(f + 112) & (1u << 20);
  if (len >= 72) {
    i.smi_command = rd32(f + 48);
    i.acpi_enable = f[52];
    i.pm1a_control = rd32(f + 64);
    i.pm1b_control = rd32(f + 68);
  }
  if (len >= 256) __builtin_memcpy(&i.sleep_control, f + 244, sizeof(AcpiGas));
  uint64_t dsdt = len >= 148 ? rd64(f + 140) : 0;
  if (!dsdt) dsdt = rd32(f + 40);
  if (!dsdt) return;
  auto d = map_table(dsdt, "DSDT");
  if (!d.ok()) return;
  const uint8_t* t = d.value();
  i.s5_known = acpi_find_s5(t + 36, rd32(t + 4) - 36, i.s5_typ_a, i.s5_typ_b);
}

}  // namespace

const AcpiInfo& acpi_info() { return g_info; }

Result<void> acpi_init(uint64_t rsdp_phys) {
  if (!rsdp_phys) return Error::NotFound;
  const uint8_t* rsdp = TRY(map(rsdp_phys, 36));
  if (__builtin_memcmp(rsdp, "RSD PTR ", 8) != 0 || !acpi_checksum_ok(rsdp, 20)) {
    log_warn("acpi: no valid RSDP at {:#x}", rsdp_phys);
    return Error::BadFormat;
  }
  for (int k = 0; k < 6; ++k) g_info.oem_id[k] = char(rsdp[9 + k]);
  bool xsdt = rsdp[15] >= 2 && rd64(rsdp + 24);
  uint64_t root_phys = xsdt ? rd64(rsdp + 24) : rd32(rsdp + 16);
  const uint8_t* root = TRY(map_table(root_phys, xsdt ? "XSDT" : "RSDT"));
  size_t entry = xsdt ? 8 : 4;
  size_t n = (rd32(root + 4) - 36) / entry;
  for (size_t k = 0; k < n; ++k) {
    const uint8_t* e = root + 36 + k * entry;
    uint64_t phys = xsdt ? rd64(e) : rd32(e);
    auto t = map_table(phys);
    if (!t.ok()) continue;
    const uint8_t* tab = t.value();
    if (__builtin_memcmp(tab, "FACP", 4) == 0) {
      parse_fadt(tab);
    } else if (__builtin_memcmp(tab, "APIC", 4) == 0) {
      if (!acpi_parse_madt(tab, rd32(tab + 4), g_info).ok()) log_warn("acpi: malformed MADT ignored");
    }
  }
  g_info.present = true;
  log_info("acpi: oem {} cpus {} ioapics {} lapic {:#x} hw-reduced {} pm1a {:#x} s5 {}({},{})", g_info.oem_id,
           g_info.cpu_count, g_info.ioapic_count, g_info.lapic_address, g_info.hardware_reduced, g_info.pm1a_control,
           g_info.s5_known, g_info.s5_typ_a, g_info.s5_typ_b);
  return {};
}

}  // namespace capsule
