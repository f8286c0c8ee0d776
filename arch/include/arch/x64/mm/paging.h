#pragma once
// x86-64 4-level page tables: entry bits, mapping and lookup (Intel SDM
// vol. 3A, 4.5 "4-Level Paging"). Mechanism only; what to map where is
// decided in core/mm.
//
// Pure logic over an abstract TableMemory, so the same code builds the live
// tables in the kernel and fake ones in the host unit tests.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::x64 {

// SDM Table 4-19/4-20: bits of PML4E, PDPTE, PDE and PTE.
constexpr uint64_t PTE_PRESENT = 1ull << 0;
constexpr uint64_t PTE_WRITE = 1ull << 1;
constexpr uint64_t PTE_USER = 1ull << 2;
constexpr uint64_t PTE_PWT = 1ull << 3;  // write-through
constexpr uint64_t PTE_PCD = 1ull << 4;  // cache disable
constexpr uint64_t PTE_ACCESSED = 1ull << 5;
constexpr uint64_t PTE_DIRTY = 1ull << 6;
constexpr uint64_t PTE_HUGE = 1ull << 7;  // PS: 1 GiB in a PDPTE, 2 MiB in a PDE
constexpr uint64_t PTE_GLOBAL = 1ull << 8;
constexpr uint64_t PTE_NX = 1ull << 63;
constexpr uint64_t PTE_ADDR_MASK = 0x000ffffffffff000ull;

enum class PageSize : uint64_t { Size4K = 1ull << 12, Size2M = 1ull << 21, Size1G = 1ull << 30 };

// How page-table pages are obtained and reached. Kernel: pages from the
// early bump allocator or the buddy, reached through the direct map.
class TableMemory {
 public:
  virtual Result<uint64_t> alloc_table() = 0;  // physical address of a zeroed 4 KiB page
  virtual uint64_t* table(uint64_t phys) = 0;  // where the CPU's table at phys can be read

 protected:
  ~TableMemory() = default;
};

// Maps one page of `size` at va -> pa with the leaf `flags` (PTE_PRESENT is
// added). Intermediate entries are created present+writable without NX, so
// the leaf alone decides the permissions. Error::Exists if something is
// mapped there already (a leaf, or a huge page in the way), Error::Invalid
// for misaligned addresses, Error::NoMemory if a table cannot be allocated.
Result<void> map_page(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t pa, PageSize size,
                      uint64_t flags);

// Maps [va, va+len) -> [pa, ...) using the largest page sizes that alignment
// and `max` allow.
Result<void> map_range(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t pa, uint64_t len,
                       uint64_t flags, PageSize max);

// Clears the leaf that maps va (no TLB flush: the caller's job). Returns
// Error::NotFound if nothing is mapped there.
Result<void> unmap_page(TableMemory& mem, uint64_t root, uintptr_t va);

// The 4 KiB leaf entry (PTE) for va, for code that keeps its own bits in
// entries (core/mm/address_space.cc). pte_lookup returns nullptr when a
// table on the way is missing (or a huge page maps va) and sets *span to the
// bytes that missing entry covers, so a walk can skip the whole hole.
// pte_create allocates missing tables (present+writable, as map_page does);
// Error::Exists if a huge page is in the way.
uint64_t* pte_lookup(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t* span);
Result<uint64_t*> pte_create(TableMemory& mem, uint64_t root, uintptr_t va);

struct Translation {
  bool present;
  uint64_t entry;  // the leaf entry (0 if not present)
  uint64_t phys;   // physical address va translates to
  PageSize size;
  // Effective permissions across all levels (SDM 4.6): writable only if every
  // level allows it, executable only if no level sets NX.
  bool writable;
  bool executable;
  bool uncached;   // PCD|PWT on the leaf
};
Translation translate(TableMemory& mem, uint64_t root, uintptr_t va);

}  // namespace capsule::x64
