// Symbolized backtraces from the frame-pointer chain (the kernel is built
// with -fno-omit-frame-pointer). Symbols come from the .ksyms table that the
// second link pass embeds (tools/build/mksyms.py).
#include "core/backtrace.h"
#include "core/debug/debug.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/symbols.h"

namespace capsule {

static void print_frame(unsigned i, uintptr_t addr) {
  StringView name;
  uintptr_t off;
  if (symbolize(addr, name, off))
    kprint("  #{:<2} {:#018x} {}+{:#x}\n", i, addr, name, off);
  else
    kprint("  #{:<2} {:#018x} ?\n", i, addr);
}

static bool plausible_frame(uintptr_t rbp) {
  // Kernel frames live in the higher half, 8-byte aligned.
  return rbp >= 0xffff800000000000ull && (rbp & 7) == 0 && rbp < 0xfffffffffffff000ull;
}

void debug::print_backtrace(uintptr_t rip, uintptr_t rbp) {
  kprint("backtrace:\n");
  unsigned i = 0;
  print_frame(i++, rip);
  while (i < 32 && plausible_frame(rbp)) {
    auto* frame = reinterpret_cast<const uintptr_t*>(rbp);
    uintptr_t ret = frame[1];
    if (!ret) break;
    // The return address points after the call; show the call site.
    print_frame(i++, ret - 1);
    uintptr_t next = frame[0];
    if (next <= rbp) break;  // stacks grow down, so callers' frames are higher
    rbp = next;
  }
}

size_t backtrace_save(uintptr_t* out, size_t max, unsigned skip) {
  size_t n = 0;
  auto rbp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  for (unsigned depth = 0; n < max && depth < 32 && plausible_frame(rbp); ++depth) {
    auto* frame = reinterpret_cast<const uintptr_t*>(rbp);
    uintptr_t ret = frame[1];
    if (!ret) break;
    if (depth >= skip) out[n++] = ret - 1;  // the call instruction
    uintptr_t next = frame[0];
    if (next <= rbp) break;
    rbp = next;
  }
  for (size_t i = n; i < max; ++i) out[i] = 0;
  return n;
}

void backtrace_print_saved(const uintptr_t* frames, size_t max) {
  for (size_t i = 0; i < max && frames[i]; ++i) print_frame(unsigned(i), frames[i]);
}

}  // namespace capsule
