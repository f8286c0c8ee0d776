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

[[noreturn]] void stop(int status) {
  if (g_hooks) g_hooks->power_off(status);
  for (;;) __builtin_trap();
}

}  // namespace

void panic_set_hooks(const PanicHooks* hooks) { g_hooks = hooks; }

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
    stop(PANIC_EXIT_STATUS);
  }
  kprint("\npanic: ");
  kprint_v(fmt, args, n);
  kprint("\n");
  uintptr_t rbp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  print_backtrace(reinterpret_cast<uintptr_t>(__builtin_return_address(0)), rbp);
  stop(PANIC_EXIT_STATUS);
}

}  // namespace capsule
