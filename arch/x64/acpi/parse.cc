// Pure ACPI parsing (no mapping, no globals): compiled into the kernel and
// into the host unit tests.
#include "arch/acpi.h"

namespace capsule {
namespace {

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

constexpr size_t SDT_HEADER = 36;

}  // namespace

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
