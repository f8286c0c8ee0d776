#pragma once
// Vector (x87/SSE/AVX) state. The kernel itself is built general-registers-
// only, so syscalls and interrupts never touch it; only a thread switch saves
// and restores it, with the best XSAVE variant the CPU has.
#include <cstddef>
#include <cstdint>

namespace capsule {

// Enables SSE/XSAVE (CR0, CR4, XCR0) on the calling CPU.
void fpu_init_cpu();
// Bytes (and alignment 64) a thread's save area needs; valid after fpu_init_cpu.
size_t fpu_state_size();
// Fills `area` with the clean initial state (FCW 0x37f, MXCSR 0x1f80).
void fpu_init_state(void* area);
void fpu_save(void* area);
void fpu_restore(const void* area);

}  // namespace capsule
