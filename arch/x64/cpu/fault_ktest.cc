// Tests that crash the kernel on purpose (KTEST_FAULT, not part of
// --test=all). tests/guest/traps.cmake runs each one and checks the panic
// report: exit status 125, the exception's name, CR2 where it applies, and
// this file's function in the symbolized backtrace.
//
// Each fault sits in the test function itself (inline asm or a volatile
// access through a pointer the compiler cannot see), so the faulting RIP
// symbolizes as ktest_fn_fault_*.
#include "arch/x64/cpu/idt.h"
#include "lib/ktest.h"

namespace capsule::x64 {
namespace {

// Hides a value from the optimizer, so a null or non-canonical pointer is
// not recognized (GCC would turn a visible null dereference into ud2).
template <typename T>
T opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

volatile uint64_t g_sink;
volatile uint64_t g_recursion_limit = ~0ull;
volatile uint64_t g_depth;

}  // namespace

// Address 0 is unmapped once mm builds the kernel's page tables (the lower
// half belongs to the application).
KTEST_FAULT(fault_null) {
  g_sink = *reinterpret_cast<volatile uint64_t*>(opaque<uintptr_t>(0));
  KEXPECT(!"reading address 0 did not fault");
}

// A kernel-half hole (see traps_ktest.cc): #PF on every branch.
KTEST_FAULT(fault_unmapped) {
  g_sink = *reinterpret_cast<volatile uint64_t*>(opaque<uintptr_t>(0xffffff0000000000ull));
  KEXPECT(!"reading an unmapped address did not fault");
}

KTEST_FAULT(fault_ud) { asm volatile("ud2"); }

KTEST_FAULT(fault_gp) {
  g_sink = *reinterpret_cast<volatile uint64_t*>(opaque<uintptr_t>(0x8000000000000000ull));
  KEXPECT(!"reading a non-canonical address did not fault");
}

KTEST_FAULT(fault_divide) {
  // In asm: a C++ division by zero is undefined and need not reach DIV.
  uint32_t lo = 1, hi = 0;
  asm volatile("divl %2" : "+a"(lo), "+d"(hi) : "r"(opaque<uint32_t>(0)));
  KEXPECT(!"dividing by zero did not fault");
}

// int3 panics for now: there is no debugger to hand it to.
KTEST_FAULT(fault_breakpoint) { asm volatile("int3"); }

// Recurses on the current (boot) stack until it reaches the guard page
// below it. Not a tail call (work follows the call) and bounded by a
// volatile the compiler cannot see, so it cannot become a loop; the volatile
// array makes each frame big.
KTEST_FAULT(fault_stack_overflow) {
  volatile uint8_t frame[512];
  frame[0] = 1;
  g_depth = g_depth + 1;
  if (g_depth != g_recursion_limit) ktest_fn_fault_stack_overflow();
  frame[1] = frame[0];
}

// #DE whose gate is not present: delivering it raises #NP, and a
// contributory fault during a contributory fault's delivery is #DF
// [SDM Vol. 3A Table 6-5]. #DF has its own IST stack and must still report.
KTEST_FAULT(fault_double) {
  idt_gate(0)->type_attr &= 0x7f;
  uint32_t lo = 1, hi = 0;
  asm volatile("divl %2" : "+a"(lo), "+d"(hi) : "r"(opaque<uint32_t>(0)));
}

// Vector 2 raised by software: the NMI stub, on its own IST stack.
KTEST_FAULT(fault_nmi_vector) { asm volatile("int $2"); }

}  // namespace capsule::x64

namespace capsule::x64 {

// A fault inside the panic printer: RBP points at an unmapped kernel-half
// address that the backtrace walker accepts as a frame, so printing the #UD
// report takes a #PF. The nested-panic guard must print one line and stop
// (no second report, no loop). RBP is not restored: this never returns.
KTEST_FAULT(fault_in_panic) {
  asm volatile("movabsq $0xffffff0000000000, %%rax\n\tmovq %%rax, %%rbp\n\tud2" ::: "rax");
}

}  // namespace capsule::x64
