#pragma once
// panic(): a broken invariant. Prints the message, registers where known and
// a symbolized backtrace, then powers off with status PANIC_EXIT_STATUS.
#include "lib/format.h"

namespace capsule {

constexpr int PANIC_EXIT_STATUS = 125;

[[noreturn]] void panic_v(StringView fmt, const FormatArg* args, size_t n);
template <typename... Args>
[[noreturn]] void panic(StringView fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    panic_v(fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {detail::make_arg(args)...};
    panic_v(fmt, list, sizeof...(Args));
  }
}

// The nested-panic guard, shared by panic() and the exception handlers
// (arch/x64/cpu/trap_report.cc). panic_begin() claims the panic: true for the
// first caller; a later caller (a fault inside the panic printer) gets false
// and must print at most one line and halt. While a panic is in progress the
// console skips its lock, so a fault taken inside kprint cannot deadlock.
bool panic_begin();
bool panic_in_progress();

// Backtrace from a frame pointer chain, symbolized (core/debug/backtrace.cc,
// through the hook below; nothing before it is registered).
void print_backtrace(uintptr_t rip, uintptr_t rbp);

// What a panic needs from the layers above, registered by core first thing
// at boot (debug_init, core/debug/panic.cc). Before that, a panic stops the
// CPU with ud2.
struct PanicHooks {
  void (*interrupts_off)();                         // panic_begin, first
  void (*backtrace)(uintptr_t rip, uintptr_t rbp);  // print_backtrace
  void (*power_off)(int status);                    // does not return
  void (*hold)();                                   // this CPU halts for good (--gdb)
};
void panic_set_hooks(const PanicHooks* hooks);

// The end of every panic report (panic(), the exception and unserved-fault
// reports): one line on how to debug it, then power-off with
// PANIC_EXIT_STATUS; or, after panic_hold_for_debugger(true) (the kernel
// option --gdb, docs/gdb.md), the line says the VM stays and this CPU halts
// with interrupts off so that gdb attached to QEMU's stub sees the panic.
[[noreturn]] void panic_stop();
void panic_hold_for_debugger(bool on);

#define CAPSULE_ASSERT(cond)                                                   \
  do {                                                                         \
    if (!(cond)) ::capsule::panic("assertion failed: {} ({}:{})", #cond, __FILE__, __LINE__); \
  } while (0)

}  // namespace capsule
