#pragma once
// Memory services: physical pages, kernel heap, kernel address space.
//
// The layout (direct map, MMIO window, kernel image, the application half)
// is the architecture's: arch/memory_layout.h, included here.
//
// Out of memory is an error value (Error::NoMemory), never a crash.
#include <cstddef>
#include <cstdint>

#include "arch/memory_layout.h"
#include "lib/result.h"

namespace capsule {

struct HvmStartInfo;

// Boot: build the kernel's page tables and allocators from the PVH memory
// map. Called once, early, on the boot CPU.
void mm_init(const HvmStartInfo* start_info);
// Gives the RAM of the first MiB (above 64 KiB, less the boot loader's
// structures) to the page allocator; mm_init keeps it back so that firmware
// tables there can still be read. Call once, after ACPI's tables are read.
void mm_release_low_memory();

// Physical pages (buddy allocator). Blocks of 2^order pages, order 0..10,
// aligned to their size; contents are not zeroed. Freeing something that is
// not an allocated block of that order (double free) panics.
Result<uint64_t> page_alloc(unsigned order = 0);
void page_free(uint64_t phys, unsigned order = 0);

// Kernel heap. kmalloc returns nullptr when memory runs out (or for more
// than 4 MiB); results are 16-byte aligned. kfree(nullptr) does nothing;
// kfree of a pointer kmalloc did not return (or a double free) panics.
void* kmalloc(size_t size);
void* kzalloc(size_t size);
void kfree(void* p);

// Maps device registers uncached; returns the kernel virtual address.
Result<volatile void*> mmio_map(uint64_t phys, size_t size);

struct MemoryStats {
  uint64_t total_bytes;      // usable RAM reported by the firmware
  uint64_t free_bytes;       // free in the page allocator
  uint64_t kernel_bytes;     // kernel image
  uint64_t heap_bytes;       // held by the kernel heap
  uint64_t reserved_bytes;   // page metadata, page tables, modules
  uint64_t peak_used_bytes;  // the most the page allocator has had handed out (--stats)
};
MemoryStats memory_stats();

// Kernel stacks for threads: mapped with 4 KiB pages in their own area
// (KSTACK_BASE), each slot starting with an unmapped guard page, so an
// overflow faults and is reported as one. Freed stacks stay mapped on a free
// list for reuse (no TLB shootdown needed to recycle them).
constexpr uintptr_t KSTACK_BASE = 0xffffe00000000000ull;
struct KernelStack {
  uintptr_t base = 0;  // lowest usable byte (the guard page is just below)
  uintptr_t top = 0;   // one past the highest byte
  bool valid() const { return top != 0; }
  bool contains(uintptr_t sp) const { return sp >= base && sp <= top; }
};
Result<KernelStack> kstack_alloc();  // KSTACK_SIZE usable bytes
void kstack_free(const KernelStack& s);
constexpr size_t KSTACK_SIZE = 16384;

// Kernel stack guard pages: addresses that fault on purpose. Used by the
// page-fault handler to report "stack overflow" rather than a plain #PF.
bool is_stack_guard(uintptr_t va);
// Registers a guard page (page-aligned, left unmapped by its owner).
// Error::NoMemory when the registry (64 entries) is full.
Result<void> stack_guard_add(uintptr_t va);

}  // namespace capsule
