// panic() and the nested-panic guard. What a panic needs from above
// (interrupts off, the backtrace, powering off) comes through PanicHooks,
// which core registers at boot (core/debug/panic.cc).
#include "lib/panic.h"

#include <atomic>

#include "lib/log.h"

namespace capsule {
namespace {

std::atomic<int> g_panicking{0};
const PanicHooks* g_hooks = nullptr;
bool g_hold = false;

}  // namespace

void panic_set_hooks(const PanicHooks* hooks) { g_hooks = hooks; }

void panic_hold_for_debugger(bool on) { g_hold = on; }

[[noreturn]] void panic_stop() {
  if (g_hold) {
    kprint("capsule: the VM stays up for the debugger (--gdb): attach with the gdb command printed at start, "
           "then `bt` (docs/gdb.md)\n");
    if (g_hooks && g_hooks->hold) g_hooks->hold();
  } else {
    kprint("capsule: to debug this panic, run again with `capsule run --gdb ...` and attach gdb (docs/gdb.md)\n");
  }
  if (g_hooks) g_hooks->power_off(PANIC_EXIT_STATUS);
  for (;;) __builtin_trap();
}

bool panic_begin() {
  if (g_hooks) g_hooks->interrupts_off();
  return g_panicking.fetch_add(1) == 0;
}

bool panic_in_progress() { return g_panicking.load(std::memory_order_relaxed) != 0; }

void print_backtrace(uintptr_t rip, uintptr_t rbp) {
  if (g_hooks) g_hooks->backtrace(rip, rbp);
}

[[noreturn]] void panic_v(StringView fmt, const FormatArg* args, size_t n) {
  if (!panic_begin()) {
    // A panic while panicking (a fault in the printer): stop at once.
    kprint("\npanic: nested panic, halting\n");
    panic_stop();
  }
  kprint("\npanic: ");
  kprint_v(fmt, args, n);
  kprint("\n");
  uintptr_t rbp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  print_backtrace(reinterpret_cast<uintptr_t>(__builtin_return_address(0)), rbp);
  panic_stop();
}

}  // namespace capsule
