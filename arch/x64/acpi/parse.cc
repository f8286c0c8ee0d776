// Pure ACPI parsing (no mapping, no globals): compiled into the kernel and
// into the host unit tests.
#include "arch/acpi.h"
#include "lib/log.h"

namespace capsule {
namespace {

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }

constexpr size_t SDT_HEADER = 36;
constexpr size_t MAX_TABLE = 1 << 20;

// A whole table at `phys` after checking its header: length in
// [36, MAX_TABLE], the signature when one is expected, the checksum.
Result<const uint8_t*> map_table(const AcpiMemory& mem, uint64_t phys, const char* expect_sig = nullptr) {
  const uint8_t* h = TRY(mem.map(mem.ctx, phys, SDT_HEADER));
  uint32_t len = rd32(h + 4);
  if (len < SDT_HEADER || len > MAX_TABLE) {
    log_warn("acpi: table at {:#x} has a bad length {}", phys, len);
    return Error::BadFormat;
  }
  if (expect_sig && __builtin_memcmp(h, expect_sig, 4) != 0) return Error::BadFormat;
  const uint8_t* t = TRY(mem.map(mem.ctx, phys, len));
  if (rd32(t + 4) != len) return Error::BadFormat;  // changed under us
  if (!acpi_checksum_ok(t, len)) {
    log_warn("acpi: table {:c}{:c}{:c}{:c} at {:#x}: bad checksum, ignored", t[0], t[1], t[2], t[3], phys);
    return Error::BadFormat;
  }
  return t;
}

// FADT (ACPI 6.4 5.2.9): the fields are read only when the table is long
// enough to hold them (revision 1 tables are 116 bytes).
void parse_fadt(const AcpiMemory& mem, const uint8_t* f, size_t len, AcpiInfo& i) {
  if (len >= 116) i.hardware_reduced = rd32(f + 112) & (1u << 20);
  if (len >= 72) {
    i.smi_command = rd32(f + 48);
    i.acpi_enable = f[52];
    i.pm1a_control = rd32(f + 64);
    i.pm1b_control = rd32(f + 68);
  }
  if (len >= 256) __builtin_memcpy(&i.sleep_control, f + 244, sizeof(AcpiGas));
  uint64_t dsdt = len >= 148 ? rd64(f + 140) : 0;
  if (!dsdt && len >= 44) dsdt = rd32(f + 40);
  if (!dsdt) return;
  auto d = map_table(mem, dsdt, "DSDT");
  if (!d.ok()) return;
  const uint8_t* t = d.value();
  i.s5_known = acpi_find_s5(t + SDT_HEADER, rd32(t + 4) - SDT_HEADER, i.s5_typ_a, i.s5_typ_b);
}

}  // namespace

Result<void> acpi_parse(uint64_t rsdp_phys, const AcpiMemory& mem, AcpiInfo& info) {
  if (!rsdp_phys) return Error::NotFound;
  // RSDP (5.2.5): 20 bytes in revision 0; revision 2 adds the length, the
  // XSDT's address and an extended checksum over all 36.
  const uint8_t* rsdp = TRY(mem.map(mem.ctx, rsdp_phys, 20));
  if (__builtin_memcmp(rsdp, "RSD PTR ", 8) != 0 || !acpi_checksum_ok(rsdp, 20)) {
    log_warn("acpi: no valid RSDP at {:#x}", rsdp_phys);
    return Error::BadFormat;
  }
  for (int k = 0; k < 6; ++k) info.oem_id[k] = char(rsdp[9 + k]);
  uint64_t root_phys = rd32(rsdp + 16);
  bool xsdt = false;
  if (rsdp[15] >= 2) {
    auto full = mem.map(mem.ctx, rsdp_phys, 36);
    if (full.ok() && acpi_checksum_ok(full.value(), 36) && rd64(full.value() + 24)) {
      rsdp = full.value();
      root_phys = rd64(rsdp + 24);
      xsdt = true;
    } else {
      log_warn("acpi: RSDP revision {} without a valid XSDT address, using the RSDT", rsdp[15]);
    }
  }
  const uint8_t* root = TRY(map_table(mem, root_phys, xsdt ? "XSDT" : "RSDT"));
  size_t entry = xsdt ? 8 : 4;
  size_t n = (rd32(root + 4) - SDT_HEADER) / entry;
  for (size_t k = 0; k < n; ++k) {
    const uint8_t* e = root + SDT_HEADER + k * entry;
    uint64_t phys = xsdt ? rd64(e) : rd32(e);
    auto t = map_table(mem, phys);
    if (!t.ok()) continue;
    const uint8_t* tab = t.value();
    size_t len = rd32(tab + 4);
    if (__builtin_memcmp(tab, "FACP", 4) == 0) {
      parse_fadt(mem, tab, len, info);
    } else if (__builtin_memcmp(tab, "APIC", 4) == 0) {
      if (!acpi_parse_madt(tab, len, info).ok()) log_warn("acpi: malformed MADT ignored");
    }
  }
  info.present = true;
  return {};
}

bool acpi_checksum_ok(const uint8_t* p, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = uint8_t(sum + p[i]);
  return sum == 0;
}

// \_S5 is `Name(_S5, Package(){a, b, ...})`:
//   NameOp(0x08) "_S5_" PackageOp(0x12) PkgLength NumElements elements...
// each element a ZeroOp(0x00), OneOp(0x01), BytePrefix(0x0a) n, or OnesOp.
bool acpi_find_s5(const uint8_t* aml, size_t len, uint8_t& typ_a, uint8_t& typ_b) {
  for (size_t i = 0; i + 4 < len; ++i) {
    if (aml[i] != '_' || aml[i + 1] != 'S' || aml[i + 2] != '5' || aml[i + 3] != '_') continue;
    // Must be a name definition: NameOp right before, or a root prefix '\'.
    bool named = (i >= 1 && aml[i - 1] == 0x08) || (i >= 2 && aml[i - 1] == '\\' && aml[i - 2] == 0x08);
    size_t p = i + 4;
    if (!named || p >= len || aml[p] != 0x12) continue;
    ++p;
    if (p >= len) return false;
    size_t pkglen_bytes = (aml[p] >> 6) + 1;  // ACPI 6.4 20.2.4: bits 7:6 count follow-on bytes
    p += pkglen_bytes;
    if (p >= len) return false;
    unsigned elements = aml[p++];
    uint8_t vals[2] = {0, 0};
    for (unsigned e = 0; e < elements && e < 2; ++e) {
      if (p >= len) return false;
      uint8_t op = aml[p++];
      if (op == 0x0a) {
        if (p >= len) return false;
        vals[e] = aml[p++];
      } else if (op == 0x00 || op == 0x01) {
        vals[e] = op;
      } else if (op == 0xff) {
        vals[e] = 0xff;
      } else {
        return false;  // something we do not understand: no guessing
      }
    }
    typ_a = vals[0];
    typ_b = vals[1];
    return true;
  }
  return false;
}

Result<void> acpi_parse_madt(const uint8_t* t, size_t len, AcpiInfo& info) {
  if (len < SDT_HEADER + 8 || rd32(t + 4) != len) return Error::BadFormat;
  info.lapic_address = rd32(t + SDT_HEADER);
  info.has_8259 = rd32(t + SDT_HEADER + 4) & 1;  // PCAT_COMPAT
  size_t off = SDT_HEADER + 8;
  while (off + 2 <= len) {
    uint8_t type = t[off];
    uint8_t elen = t[off + 1];
    if (elen < 2 || off + elen > len) return Error::BadFormat;
    const uint8_t* e = t + off;
    switch (type) {
      case 0:  // Processor Local APIC
        if (elen >= 8 && info.cpu_count < AcpiInfo::MAX_CPUS) {
          uint32_t flags = rd32(e + 4);
          // Bit 0 enabled; bit 1 online-capable (may be brought up).
          if (flags & 3) info.cpus[info.cpu_count++] = {e[3], e[2], bool(flags & 1)};
        }
        break;
      case 1:  // I/O APIC
        if (elen >= 12 && info.ioapic_count < AcpiInfo::MAX_IOAPICS)
          info.ioapics[info.ioapic_count++] = {e[2], rd32(e + 4), rd32(e + 8)};
        break;
      case 2:  // Interrupt Source Override
        if (elen >= 10 && info.override_count < AcpiInfo::MAX_OVERRIDES)
          info.overrides[info.override_count++] = {e[3], rd32(e + 4), rd16(e + 8)};
        break;
      case 5:  // Local APIC Address Override (64-bit)
        if (elen >= 12) info.lapic_address = uint64_t(rd32(e + 4)) | uint64_t(rd32(e + 8)) << 32;
        break;
      case 9:  // Processor Local x2APIC
        if (elen >= 16 && info.cpu_count < AcpiInfo::MAX_CPUS) {
          uint32_t flags = rd32(e + 8);
          if (flags & 3) info.cpus[info.cpu_count++] = {rd32(e + 4), rd32(e + 12), bool(flags & 1)};
        }
        break;
      default:
        break;
    }
    off += elen;
  }
  return {};
}

}  // namespace capsule
