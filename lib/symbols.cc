// symbolize(): the kernel's own symbol table, the .ksyms section that the
// second link pass embeds (tools/build/mksyms.py): addresses sorted, for a
// binary search. Linker-provided symbols only, like the ktests table.
#include "lib/symbols.h"

extern "C" char __text_end[];  // the linker script's end of .text
extern "C" const uint64_t ksyms_count;
extern "C" const uint64_t ksyms_table[];

namespace capsule {

bool symbolize(uintptr_t addr, StringView& name, uintptr_t& offset) {
  uint64_t n = ksyms_count;
  if (!n || addr < ksyms_table[0]) return false;
  // Last symbol with address <= addr.
  uint64_t lo = 0, hi = n;
  while (hi - lo > 1) {
    uint64_t mid = (lo + hi) / 2;
    if (ksyms_table[mid * 2] <= addr) lo = mid;
    else hi = mid;
  }
  if (addr >= reinterpret_cast<uintptr_t>(__text_end)) return false;
  name = reinterpret_cast<const char*>(ksyms_table) + ksyms_table[lo * 2 + 1];
  offset = addr - ksyms_table[lo * 2];
  return true;
}

}  // namespace capsule
