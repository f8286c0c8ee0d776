#pragma once
// core/mm internals shared by mm.cc and the in-kernel tests (mm_ktests.cc).
#include "arch/x64/mm/paging.h"
#include "core/mm/heap.h"
#include "core/mm/page_frame.h"

namespace capsule::mm {

// The kernel's PML4 (physical address), live after mm_init.
uint64_t kernel_root();
// Page-table memory after boot: zeroed pages from the buddy, reached through
// the direct map.
x64::TableMemory& live_tables();
// The metadata of the page at phys (an allocated RAM page).
PageFrame& frame_of(uint64_t phys);
// Walks the live kernel page tables.
x64::Translation kernel_translate(uintptr_t va);
HeapStats kernel_heap_stats();
// Maps one 4 KiB kernel page in the live tables (no TLB flush needed: the
// address was never mapped).
Result<void> kernel_map_page(uintptr_t va, uint64_t pa, uint64_t flags);
void kernel_heap_trim();
// Registers with arch/ what its APIC and trap code need from mm
// (arch/arch.h MmHooks: mmio_map, guard pages, demand paging). mm_init.
void register_arch_hooks();

}  // namespace capsule::mm
