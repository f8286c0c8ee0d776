#include "core/mm/heap.h"

namespace capsule::mm {
namespace {

constexpr size_t PAGE = 4096;
constexpr uint16_t OBJ_NONE = 0xffff;
// Written into bytes 8..15 of a freed object. A free() that finds it checks
// the slab's free list before calling it a double free.
constexpr uint64_t FREE_POISON = 0xf3eef3eef3eef3eeull;

// class_of() without a search: index by size in 16-byte steps.
struct ClassTable {
  uint8_t by_step[HEAP_MAX_SMALL / 16 + 1];
  constexpr ClassTable() : by_step{} {
    unsigned c = 0;
    for (size_t s = 0; s <= HEAP_MAX_SMALL / 16; ++s) {
      while (HEAP_CLASS_SIZES[c] < s * 16) ++c;
      by_step[s] = uint8_t(c);
    }
  }
};
constexpr ClassTable CLASS_TABLE;

uint16_t& next_of(uintptr_t obj) { return *reinterpret_cast<uint16_t*>(obj); }
uint64_t& poison_of(uintptr_t obj) { return *reinterpret_cast<uint64_t*>(obj + 8); }

unsigned order_for(size_t size) {
  size_t pages = (size + PAGE - 1) / PAGE;
  unsigned order = 0;
  while ((size_t(1) << order) < pages) ++order;
  return order;
}

}  // namespace

int Heap::class_of(size_t size) {
  if (size > HEAP_MAX_SMALL) return -1;
  return CLASS_TABLE.by_step[(size + 15) / 16];
}

void Heap::init(PageSource* source) {
  src_ = source;
  for (size_t c = 0; c < HEAP_CLASS_COUNT; ++c) {
    partial_[c] = PFN_NONE;
    empty_[c] = 0;
  }
  stats_ = {};
}

void Heap::list_push(unsigned cls, uint64_t idx) {
  PageFrame* fr = src_->frames();
  fr[idx].prev = PFN_NONE;
  fr[idx].next = partial_[cls];
  if (partial_[cls] != PFN_NONE) fr[partial_[cls]].prev = uint32_t(idx);
  partial_[cls] = uint32_t(idx);
}

void Heap::list_remove(unsigned cls, uint64_t idx) {
  PageFrame* fr = src_->frames();
  PageFrame& f = fr[idx];
  if (f.prev != PFN_NONE) {
    fr[f.prev].next = f.next;
  } else {
    partial_[cls] = f.next;
  }
  if (f.next != PFN_NONE) fr[f.next].prev = f.prev;
  f.next = f.prev = PFN_NONE;
}

bool Heap::new_slab(unsigned cls) {
  auto page = src_->alloc_pages(0);
  if (!page) return false;
  uintptr_t base = *page;
  uint64_t idx = src_->frame_index(base);
  PageFrame& f = src_->frames()[idx];
  size_t size = HEAP_CLASS_SIZES[cls];
  uint16_t count = uint16_t(PAGE / size);
  for (uint16_t i = 0; i < count; ++i) next_of(base + i * size) = i + 1 < count ? i + 1 : OBJ_NONE;
  f.kind = HeapKind::Slab;
  f.slab_class = uint8_t(cls);
  f.inuse = 0;
  f.free_head = 0;
  list_push(cls, idx);
  ++empty_[cls];
  ++stats_.pages;
  return true;
}

void Heap::release_slab(unsigned cls, uint64_t idx) {
  list_remove(cls, idx);
  --empty_[cls];
  PageFrame& f = src_->frames()[idx];
  f.kind = HeapKind::None;
  --stats_.pages;
  src_->free_pages(src_->frame_address(idx), 0);
}

void Heap::trim() {
  PageFrame* fr = src_->frames();
  for (unsigned c = 0; c < HEAP_CLASS_COUNT; ++c) {
    for (uint32_t idx = partial_[c]; idx != PFN_NONE && empty_[c];) {
      uint32_t next = fr[idx].next;
      if (fr[idx].inuse == 0) release_slab(c, idx);
      idx = next;
    }
  }
}

void* Heap::alloc_small(unsigned cls) {
  if (partial_[cls] == PFN_NONE && !new_slab(cls)) {
    trim();
    if (!new_slab(cls)) return nullptr;
  }
  uint64_t idx = partial_[cls];
  PageFrame& f = src_->frames()[idx];
  size_t size = HEAP_CLASS_SIZES[cls];
  uintptr_t obj = src_->frame_address(idx) + f.free_head * size;
  f.free_head = next_of(obj);
  if (f.inuse++ == 0) --empty_[cls];
  if (f.free_head == OBJ_NONE) list_remove(cls, idx);  // now full
  poison_of(obj) = 0;
  ++stats_.objects_in_use;
  stats_.bytes_in_use += size;
  return reinterpret_cast<void*>(obj);
}

void* Heap::alloc_large(size_t size) {
  if (size > (size_t(PAGE) << HEAP_MAX_ORDER)) return nullptr;
  unsigned order = order_for(size);
  auto first = src_->alloc_pages(order);
  uintptr_t block;
  if (first) {
    block = *first;
  } else {
    trim();
    auto second = src_->alloc_pages(order);
    if (!second) return nullptr;
    block = *second;
  }
  uint64_t idx = src_->frame_index(block);
  PageFrame& f = src_->frames()[idx];
  f.kind = HeapKind::Large;
  f.slab_class = uint8_t(order);  // the order, for free()
  stats_.pages += uint64_t(1) << order;
  stats_.bytes_in_use += PAGE << order;
  ++stats_.objects_in_use;
  return reinterpret_cast<void*>(block);
}

void* Heap::alloc(size_t size) {
  int cls = class_of(size);
  return cls < 0 ? alloc_large(size) : alloc_small(unsigned(cls));
}

void* Heap::zalloc(size_t size) {
  void* p = alloc(size);
  if (p) __builtin_memset(p, 0, size);
  return p;
}

Result<void> Heap::free_small(uint64_t idx, PageFrame& f, uintptr_t addr) {
  unsigned cls = f.slab_class;
  size_t size = HEAP_CLASS_SIZES[cls];
  uintptr_t base = src_->frame_address(idx);
  size_t off = addr - base;
  if (off % size || off / size >= PAGE / size) return Error::Invalid;
  uint16_t obj_index = uint16_t(off / size);
  if (poison_of(addr) == FREE_POISON) {
    for (uint16_t i = f.free_head; i != OBJ_NONE; i = next_of(base + i * size))
      if (i == obj_index) return Error::Invalid;  // double free
  }
  if (f.inuse == 0) return Error::Invalid;
  bool was_full = f.free_head == OBJ_NONE;
  next_of(addr) = f.free_head;
  poison_of(addr) = FREE_POISON;
  f.free_head = obj_index;
  --stats_.objects_in_use;
  stats_.bytes_in_use -= size;
  if (was_full) list_push(cls, idx);
  if (--f.inuse == 0) {
    ++empty_[cls];
    // Keep one empty slab per class; return the rest.
    if (empty_[cls] > 1) release_slab(cls, idx);
  }
  return {};
}

uintptr_t Heap::object_of(uintptr_t addr, size_t* bytes) {
  uint64_t idx = src_->frame_index(addr);
  if (idx == PFN_NONE) return 0;
  PageFrame& f = src_->frames()[idx];
  uintptr_t page = src_->frame_address(idx);
  if (f.kind == HeapKind::Slab) {
    size_t size = HEAP_CLASS_SIZES[f.slab_class];
    size_t i = (addr - page) / size;
    if (i >= PAGE / size) return 0;  // the slack at the page's end
    *bytes = size;
    return page + i * size;
  }
  if (f.kind == HeapKind::Large) {  // addr in the head page only
    *bytes = PAGE << f.slab_class;
    return page;
  }
  return 0;
}

Result<void> Heap::free(void* p) {
  if (!p) return {};
  auto addr = reinterpret_cast<uintptr_t>(p);
  uint64_t idx = src_->frame_index(addr);
  if (idx == PFN_NONE) return Error::Invalid;
  PageFrame& f = src_->frames()[idx];
  if (f.kind == HeapKind::Slab) return free_small(idx, f, addr);
  if (f.kind != HeapKind::Large || addr != src_->frame_address(idx)) return Error::Invalid;
  unsigned order = f.slab_class;
  f.kind = HeapKind::None;
  stats_.pages -= uint64_t(1) << order;
  stats_.bytes_in_use -= PAGE << order;
  --stats_.objects_in_use;
  src_->free_pages(addr, order);
  return {};
}

}  // namespace capsule::mm
