#pragma once
// core/debug's pieces, private to it: lib's log and panic are served by
// these (debug_init in core/console.h registers them).
#include <cstdint>

namespace capsule::debug {

// The frame-pointer chain from rip/rbp, symbolized (backtrace.cc).
void print_backtrace(uintptr_t rip, uintptr_t rbp);
void register_log_output();   // log.cc
void register_panic_hooks();  // panic.cc

}  // namespace capsule::debug
