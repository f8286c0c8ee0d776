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
// A thread switch's save (XSAVEOPT where present: it may skip components
// unchanged since the last XRSTOR from the same address) and restore.
void fpu_save(void* area);
void fpu_restore(const void* area);

// For saved state that leaves the kernel (a signal frame, docs/signals.md):
// the enabled XSAVE components (XCR0; 0 without XSAVE, when the area is
// the 512-byte FXSAVE format) and the MXCSR bits the CPU accepts.
uint64_t fpu_xfeatures();
uint32_t fpu_mxcsr_mask();
// Saves every enabled component (plain XSAVE with a zeroed header, or
// FXSAVE): complete whatever the area's address or history.
void fpu_save_all(void* area);
// Makes an area read from untrusted memory safe for fpu_restore (which
// would #GP otherwise): MXCSR limited to the supported bits, a
// standard-format XSAVE header naming only enabled components.
void fpu_sanitize(void* area);

}  // namespace capsule
