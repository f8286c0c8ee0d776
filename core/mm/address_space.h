#pragma once
// core/mm internals of application address spaces (core/include/core/address_space.h):
// how a page-table entry of the lower half is encoded. Shared by
// address_space.cc and the in-kernel tests.
//
// A leaf entry for an application page is one of
//   0                                   nothing there: the next touch faults it in
//   phys | P | [W] | [NX] | [SW_ANON]   mapped with the VMA's protection
//   phys | P | [NX] | SW_COW            a private mapping's view of a file page:
//                                       never writable; the first write copies it
//   phys | SW_PROTNONE | [SW_ANON]      PROT_NONE: not present, but the page is
//                                       kept (the CPU ignores every bit of a
//                                       non-present entry but P [SDM 4.5.4]),
//                                       so mprotect back restores the contents
// SW_ANON marks pages the address space owns (zero-filled or private
// copies), counted in PageFrame::next (atomically: after fork several
// spaces map one page, each under its own lock); SW_ANON | SW_COW is such
// a page shared by fork, copied (or taken back if the last) at a write; without it the page belongs to a
// VmBacking (a shared file page) and is only unmapped. Bits 9..11 are
// ignored by the MMU [SDM Table 4-19].
#include <cstdint>

#include "arch/x64/mm/paging.h"
#include "core/mm/vma.h"

namespace capsule::mm {

constexpr uint64_t PTE_SW_ANON = 1ull << 9;
constexpr uint64_t PTE_SW_PROTNONE = 1ull << 10;
constexpr uint64_t PTE_SW_COW = 1ull << 11;

inline bool pte_has_page(uint64_t e) { return e & (x64::PTE_PRESENT | PTE_SW_PROTNONE); }

inline uint64_t make_pte(uint64_t phys, uint32_t prot, bool anon, bool cow = false) {
  uint64_t e = phys | (anon ? PTE_SW_ANON : 0) | (cow ? PTE_SW_COW : 0);
  if (!(prot & VM_PROT_MASK)) return e | PTE_SW_PROTNONE;
  e |= x64::PTE_PRESENT;
  if ((prot & VM_WRITE) && !cow) e |= x64::PTE_WRITE;
  if (!(prot & VM_EXEC)) e |= x64::PTE_NX;
  return e;
}

// The same page under a new protection (mprotect, a refreshed entry).
inline uint64_t reprotect_pte(uint64_t e, uint32_t prot) {
  return make_pte(e & x64::PTE_ADDR_MASK, prot, e & PTE_SW_ANON, e & PTE_SW_COW);
}

// Walks an address space's page table (tests, debugging).
x64::Translation translate_in(uint64_t root, uintptr_t va);

// Anonymous pages: a zeroed page with one reference, and dropping one.
Result<uint64_t> anon_page_alloc();
void anon_page_put(uint64_t phys);
// fork: another page table maps it too; and how many do.
void anon_page_get(uint64_t phys);
uint32_t anon_page_refs(uint64_t phys);

}  // namespace capsule::mm
