// What lib's panic() needs from the kernel (lib/panic.h, PanicHooks):
// interrupts off, the symbolized backtrace (backtrace.cc) and power-off.
#include "arch/power.h"
#include "arch/x64/cpu/x64.h"
#include "core/debug/debug.h"
#include "lib/panic.h"

namespace capsule {
namespace {

void interrupts_off() { x64::cli(); }

[[noreturn]] void hold() {
  x64::cli();
  for (;;) x64::halt();
}

const PanicHooks g_panic_hooks = {interrupts_off, debug::print_backtrace, power_off, hold};

}  // namespace

void debug::register_panic_hooks() { panic_set_hooks(&g_panic_hooks); }

}  // namespace capsule
