#pragma once
// The virtual memory layout, as the architecture fixes it (x86-64, 4-level
// paging). core/mm builds on it; arch/ code (APIC, traps, uaccess) needs the
// addresses without the memory manager above it.
//
//   0x0000000000010000  USER_START (Linux's default vm.mmap_min_addr)
//   0x00007ffffffff000  USER_END: the application half ends here
//   0xffff800000000000  direct map of all physical memory (DIRECT_MAP_BASE)
//   0xffffc00000000000  MMIO window (device registers, uncached)
//   0xffffffff80000000  kernel image (KERNEL_VMA), text RX / rodata R / data RW+NX
#include <cstddef>
#include <cstdint>

namespace capsule {

constexpr uintptr_t DIRECT_MAP_BASE = 0xffff800000000000ull;
constexpr uintptr_t MMIO_BASE = 0xffffc00000000000ull;
constexpr uintptr_t KERNEL_VMA = 0xffffffff80000000ull;
constexpr size_t PAGE_SIZE = 4096;
constexpr unsigned PAGE_SHIFT = 12;

inline void* phys_to_virt(uint64_t pa) { return reinterpret_cast<void*>(pa + DIRECT_MAP_BASE); }
inline uint64_t virt_to_phys(const void* va) {
  auto v = reinterpret_cast<uintptr_t>(va);
  return v >= KERNEL_VMA ? v - KERNEL_VMA : v - DIRECT_MAP_BASE;
}

namespace mm {
// The application half: [USER_START, USER_END). Below USER_START nothing is
// mapped (NULL dereferences fault); USER_END is the top of the lower
// canonical half less one page, as on Linux.
constexpr uintptr_t USER_START = 0x10000;
constexpr uintptr_t USER_END = 0x7ffffffff000;
}  // namespace mm

}  // namespace capsule
