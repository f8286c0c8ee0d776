#pragma once
// The vDSO: Capsule's own linux-vdso.so.1 (source in linux/vdso/, kernel
// side in core/vdso/, docs/vdso.md). It serves clock_gettime, gettimeofday,
// time, clock_getres and getcpu without a system call from a read-only
// data page (vvar) the kernel keeps current.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule {

class AddressSpace;

// Maps the vvar page (read-only) and, just above it, the vDSO (read +
// execute) into `as`, top-down in its mmap area like any mmap without a
// hint (so call it once the loader has set the mmap base). Returns the
// vDSO's base address: the ELF header, for AT_SYSINFO_EHDR.
Result<uintptr_t> vdso_map(AddressSpace& as);

// Republishes the wall-clock offset (time_set_realtime calls it through
// its observer; callable directly).
void vdso_update_realtime();

// The embedded image (tests, the loader's checks).
const uint8_t* vdso_image();
size_t vdso_image_size();   // bytes of the ELF file
size_t vdso_pages();        // pages mapped: 1 vvar + the image's pages

}  // namespace capsule
