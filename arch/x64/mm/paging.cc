#include "arch/x64/mm/paging.h"

namespace capsule::x64 {
namespace {

unsigned index_at(uintptr_t va, int level) {  // level 4 = PML4 ... 1 = PT
  return unsigned(va >> (12 + 9 * (level - 1))) & 511;
}

int leaf_level(PageSize s) { return s == PageSize::Size1G ? 3 : s == PageSize::Size2M ? 2 : 1; }

}  // namespace

Result<void> map_page(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t pa, PageSize size,
                      uint64_t flags) {
  uint64_t bytes = uint64_t(size);
  if ((va | pa) & (bytes - 1) || pa & ~PTE_ADDR_MASK & ~(bytes - 1)) return Error::Invalid;
  int target = leaf_level(size);
  uint64_t table = root;
  for (int level = 4; level > target; --level) {
    uint64_t& e = mem.table(table)[index_at(va, level)];
    if (!(e & PTE_PRESENT)) {
      uint64_t t = TRY(mem.alloc_table());
      e = t | PTE_PRESENT | PTE_WRITE;
    } else if (e & PTE_HUGE) {
      return Error::Exists;
    }
    table = e & PTE_ADDR_MASK;
  }
  uint64_t& leaf = mem.table(table)[index_at(va, target)];
  if (leaf & PTE_PRESENT) return Error::Exists;
  leaf = pa | flags | PTE_PRESENT | (target > 1 ? PTE_HUGE : 0);
  return {};
}

Result<void> map_range(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t pa, uint64_t len,
                       uint64_t flags, PageSize max) {
  if ((va | pa | len) & 0xfff) return Error::Invalid;
  while (len) {
    PageSize s = PageSize::Size4K;
    constexpr PageSize LARGE[] = {PageSize::Size1G, PageSize::Size2M};
    for (PageSize c : LARGE) {
      uint64_t b = uint64_t(c);
      if (uint64_t(c) <= uint64_t(max) && !((va | pa) & (b - 1)) && len >= b) {
        s = c;
        break;
      }
    }
    TRY(map_page(mem, root, va, pa, s, flags));
    va += uint64_t(s);
    pa += uint64_t(s);
    len -= uint64_t(s);
  }
  return {};
}

Result<void> unmap_page(TableMemory& mem, uint64_t root, uintptr_t va) {
  uint64_t table = root;
  for (int level = 4; level >= 1; --level) {
    uint64_t& e = mem.table(table)[index_at(va, level)];
    if (!(e & PTE_PRESENT)) return Error::NotFound;
    if (level == 1 || (e & PTE_HUGE)) {
      e = 0;
      return {};
    }
    table = e & PTE_ADDR_MASK;
  }
  return Error::NotFound;
}

uint64_t* pte_lookup(TableMemory& mem, uint64_t root, uintptr_t va, uint64_t* span) {
  uint64_t table = root;
  for (int level = 4; level > 1; --level) {
    uint64_t e = mem.table(table)[index_at(va, level)];
    if (!(e & PTE_PRESENT) || (e & PTE_HUGE)) {
      if (span) *span = uint64_t(1) << (12 + 9 * (level - 1));
      return nullptr;
    }
    table = e & PTE_ADDR_MASK;
  }
  return &mem.table(table)[index_at(va, 1)];
}

Result<uint64_t*> pte_create(TableMemory& mem, uint64_t root, uintptr_t va) {
  uint64_t table = root;
  for (int level = 4; level > 1; --level) {
    uint64_t& e = mem.table(table)[index_at(va, level)];
    if (!(e & PTE_PRESENT)) {
      uint64_t t = TRY(mem.alloc_table());
      e = t | PTE_PRESENT | PTE_WRITE;
    } else if (e & PTE_HUGE) {
      return Error::Exists;
    }
    table = e & PTE_ADDR_MASK;
  }
  return &mem.table(table)[index_at(va, 1)];
}

Translation translate(TableMemory& mem, uint64_t root, uintptr_t va) {
  Translation t{};
  t.writable = true;
  t.executable = true;
  uint64_t table = root;
  for (int level = 4; level >= 1; --level) {
    uint64_t e = mem.table(table)[index_at(va, level)];
    if (!(e & PTE_PRESENT)) return Translation{};
    if (!(e & PTE_WRITE)) t.writable = false;
    if (e & PTE_NX) t.executable = false;
    if (level == 1 || (level <= 3 && (e & PTE_HUGE))) {
      uint64_t bytes = uint64_t(1) << (12 + 9 * (level - 1));
      t.present = true;
      t.entry = e;
      t.size = PageSize(bytes);
      t.phys = (e & PTE_ADDR_MASK & ~(bytes - 1)) + (va & (bytes - 1));
      t.uncached = (e & PTE_PCD) && (e & PTE_PWT);
      return t;
    }
    table = e & PTE_ADDR_MASK;
  }
  return Translation{};
}

}  // namespace capsule::x64
