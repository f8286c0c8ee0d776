#include <atomic>

#include "arch/x64/cpu/x64.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "arch/power.h"

namespace capsule {
namespace {
std::atomic<int> g_panicking{0};
}

bool panic_begin() {
  x64::cli();
  return g_panicking.fetch_add(1) == 0;
}

bool panic_in_progress() { return g_panicking.load(std::memory_order_relaxed) != 0; }

[[noreturn]] void panic_v(StringView fmt, const FormatArg* args, size_t n) {
  if (!panic_begin()) {
    // A panic while panicking (a fault in the printer): stop at once.
    kprint("\npanic: nested panic, halting\n");
    power_off(PANIC_EXIT_STATUS);
  }
  kprint("\npanic: ");
  kprint_v(fmt, args, n);
  kprint("\n");
  uintptr_t rbp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  print_backtrace(reinterpret_cast<uintptr_t>(__builtin_return_address(0)), rbp);
  power_off(PANIC_EXIT_STATUS);
}

}  // namespace capsule
