#pragma once
// Per-page metadata: one 16-byte PageFrame per 4 KiB physical page, in one
// array indexed by page frame number (pfn). Links are 32-bit pfns rather
// than pointers, which halves the array (16 TiB of RAM fits in 32 bits).
//
// Ownership of the fields:
//   state, order        the buddy allocator (core/mm/buddy.h)
//   next, prev          the buddy's free lists while the page is free; the
//                       page's owner (the heap's slab lists) while allocated
//                       or, for an anonymous application page, `next` counts
//                       the page tables mapping it (core/mm/address_space.cc;
//                       fork's copy-on-write will share pages through it)
//   kind, slab_class, inuse, free_head
//                       the kernel heap (core/mm/heap.h) for pages it holds
#include <cstdint>

namespace capsule::mm {

constexpr uint32_t PFN_NONE = 0xffffffffu;

enum class FrameState : uint8_t {
  Reserved = 0,  // not managed (holes, kernel image, firmware): never handed out
  Free,       // head of a free block of 2^order pages
  Allocated,  // head of an allocated block of 2^order pages
  Tail,       // was a block head, now inside a bigger block (never read back)
};

enum class HeapKind : uint8_t { None = 0, Slab, Large };

struct PageFrame {
  uint32_t next;
  uint32_t prev;
  FrameState state;
  uint8_t order;
  HeapKind kind;
  uint8_t slab_class;
  uint16_t inuse;      // slab: objects handed out
  uint16_t free_head;  // slab: index of the first free object, 0xffff if none
};
static_assert(sizeof(PageFrame) == 16);

}  // namespace capsule::mm
