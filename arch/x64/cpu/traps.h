#pragma once
// Exception handling internals shared by the dispatcher and the report.
#include <cstdint>

#include "arch/x64/cpu/trap_frame.h"

namespace capsule::x64 {

constexpr unsigned VEC_DIVIDE = 0, VEC_NMI = 2, VEC_BREAKPOINT = 3, VEC_INVALID_OPCODE = 6,
                   VEC_DOUBLE_FAULT = 8, VEC_GENERAL_PROTECTION = 13, VEC_PAGE_FAULT = 14,
                   VEC_MACHINE_CHECK = 18;

// "#PF Page Fault" for 0..31, "IRQ" above.
const char* exception_name(unsigned vector);

// Writes the #PF error code's meaning ("not-present write kernel") into buf.
void describe_page_fault_error(uint64_t error, char* buf, size_t cap);

// "thread 'main' on cpu 0", from the scheduler's hooks.
void describe_current_thread(char* buf, size_t cap);

// Prints the panic report for an exception and powers off. `cr2` was read
// on entry (only meaningful for #PF).
[[noreturn]] void exception_panic(const TrapFrame& f, uint64_t cr2);

}  // namespace capsule::x64
