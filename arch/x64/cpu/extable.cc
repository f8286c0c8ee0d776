#include "arch/x64/cpu/extable.h"

extern "C" const capsule::x64::ExtableEntry __extable_start[], __extable_end[];
extern "C" int probe_read_u64_asm(const void* addr, uint64_t* out);

namespace capsule::x64 {

// A linear scan: the table holds a handful of entries and is searched only
// on a fault. Sort it at boot and bisect once copy helpers multiply.
uintptr_t extable_find(uintptr_t rip) {
  for (const ExtableEntry* e = __extable_start; e < __extable_end; ++e)
    if (e->insn == rip) return e->fixup;
  return 0;
}

size_t extable_size() { return size_t(__extable_end - __extable_start); }

Result<uint64_t> probe_read_u64(const void* addr) {
  uint64_t v;
  if (probe_read_u64_asm(addr, &v) != 0) return Error::Fault;
  return v;
}

}  // namespace capsule::x64
