// libFuzzer target: the ACPI table walk (arch/x64/acpi/parse.cc) over a
// made-up physical memory: RSDP -> XSDT/RSDT -> FADT (-> DSDT's \_S5) and
// MADT. The input's first byte holds options, the rest is the memory from
// BASE, with the RSDP at its start. Every `map` hands out a fresh buffer of
// exactly the bytes asked for, so a read past what the parser mapped is an
// ASan report. With option 1 the harness corrects each checksum as the
// parser maps the structure (the memory is the harness's own copy), so
// mutations reach the table parsers behind the checksums.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "arch/acpi.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;

namespace {

constexpr uint64_t BASE = 0xe0000;
constexpr size_t MAX_MEMORY = 256 * 1024;

struct Memory {
  std::vector<uint8_t> bytes;
  bool fix_checksums = false;
  std::vector<void*> handed_out;
  size_t maps = 0;
};

uint32_t rd32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }

// Sets byte `at` of [p, p+len) so the bytes sum to zero.
void fix_sum(uint8_t* p, size_t len, size_t at) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i)
    if (i != at) sum = uint8_t(sum + p[i]);
  p[at] = uint8_t(-sum);
}

Result<const uint8_t*> map(void* ctx, uint64_t phys, size_t len) {
  auto& m = *static_cast<Memory*>(ctx);
  ++m.maps;
  FUZZ_CHECK(m.maps < 10000);  // the walk is bounded by the root table's entries
  if (phys < BASE || len == 0 || phys - BASE > m.bytes.size() || len > m.bytes.size() - (phys - BASE))
    return Error::Range;
  uint8_t* p = m.bytes.data() + (phys - BASE);
  if (m.fix_checksums) {
    if (phys == BASE && len == 20) fix_sum(p, 20, 8);        // the RSDP's checksum
    else if (phys == BASE && len == 36) fix_sum(p, 36, 32);  // its extended checksum
    else if (len >= 36 && rd32(p + 4) == len) fix_sum(p, len, 9);  // a whole table
  }
  auto* copy = static_cast<uint8_t*>(std::malloc(len));
  std::memcpy(copy, p, len);
  m.handed_out.push_back(copy);
  return const_cast<const uint8_t*>(copy);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size - 1 > MAX_MEMORY) return -1;
  Memory m;
  m.fix_checksums = data[0] & 1;
  m.bytes.assign(data + 1, data + size);
  auto* info = new AcpiInfo;
  auto r = acpi_parse(BASE, AcpiMemory{map, &m}, *info);
  FUZZ_SAY("acpi: %s, %zu maps, cpus %zu ioapics %zu overrides %zu s5 %d hw-reduced %d\n",
           r.ok() ? "ok" : "refused", m.maps, info->cpu_count, info->ioapic_count, info->override_count,
           info->s5_known, info->hardware_reduced);
  FUZZ_CHECK(info->cpu_count <= AcpiInfo::MAX_CPUS);
  FUZZ_CHECK(info->ioapic_count <= AcpiInfo::MAX_IOAPICS);
  FUZZ_CHECK(info->override_count <= AcpiInfo::MAX_OVERRIDES);
  FUZZ_CHECK(info->present == r.ok());
  // Nothing is found without a valid RSDP: the first thing checked.
  if (size - 1 < 20 || std::memcmp(data + 1, "RSD PTR ", 8) != 0) FUZZ_CHECK(!r.ok() && m.maps <= 1);
  for (void* p : m.handed_out) std::free(p);
  delete info;
  return 0;
}
