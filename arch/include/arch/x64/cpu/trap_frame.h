#pragma once
// What every vector stub (arch/x64/cpu/vectors.S) saves, lowest address
// first: the 15 general registers it pushes, the vector and error code (a
// dummy 0 where the CPU pushes none), then the CPU's own frame. The C++
// dispatcher may change it (an extable fixup rewrites rip); iretq resumes
// from whatever it holds.
#include <cstddef>
#include <cstdint>

namespace capsule::x64 {

struct TrapFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector;
  uint64_t error_code;
  // Pushed by the CPU [SDM Vol. 3A 6.14.1, Figure 6-9].
  uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(TrapFrame) == 22 * 8);
static_assert(offsetof(TrapFrame, vector) == 15 * 8);  // vectors.S pushes in this order

// The 256 stubs, 16 bytes apart, starting at trap_stubs (vectors.S).
constexpr size_t TRAP_STUB_SIZE = 16;
extern "C" const char trap_stubs[];
inline uintptr_t trap_stub(unsigned vector) {
  return reinterpret_cast<uintptr_t>(trap_stubs) + vector * TRAP_STUB_SIZE;
}

// Called by the stubs with interrupts off, on an IST stack.
// Returns the frame to resume from: `frame`, or a copy on the thread stack
// when the interrupted thread is to be preempted (vectors.S then calls
// trap_preempt there).
extern "C" TrapFrame* trap_dispatch(TrapFrame* frame);

// Vectors for which the CPU pushes an error code [SDM Vol. 3A Table 6-1;
// AMD APM Vol. 2 8.2 for #VC and #SX]. vectors.S has the same list.
constexpr bool has_error_code(unsigned v) {
  return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 ||
         v == 21 || v == 29 || v == 30;
}

}  // namespace capsule::x64
