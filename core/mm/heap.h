#pragma once
// Kernel heap: size-class slabs for small objects, whole page blocks for
// large ones.
//
// - 14 size classes, 16..2048 bytes, each a multiple of 16 (so every object
//   is 16-byte aligned) and spaced ~1.5x apart to bound internal waste.
// - A slab is one 4 KiB page holding objects of one class. Its free objects
//   form a list through their first two bytes (object indices, not
//   pointers); the page's PageFrame says which class it is, how many objects
//   are out and where the free list starts, so free() needs no header.
// - Slabs with a free object sit on their class's list (linked through the
//   PageFrame). A slab that becomes empty goes back to the page source,
//   except one per class kept to avoid thrashing at the boundary.
// - Larger requests take 2^order pages straight from the page source; the
//   order is kept in the head page's PageFrame.
// - Exhaustion returns nullptr. Before giving up, alloc() gives back the
//   cached empty slabs and retries, so freed memory of any class is reusable.
// - free() of a pointer the heap does not own, of a pointer into the middle of
//   an object, or of an object already free returns Error::Invalid (a
//   poison word marks freed objects; a hit is confirmed on the free list).
//
// Not thread-safe: the caller holds the lock (core/mm/mm.cc).
#include <cstddef>
#include <cstdint>

#include "core/mm/page_frame.h"
#include "lib/result.h"

namespace capsule::mm {

// Where the heap gets pages. In the kernel: the buddy allocator plus the
// direct map; in unit tests: a fake arena.
class PageSource {
 public:
  virtual Result<uintptr_t> alloc_pages(unsigned order) = 0;
  virtual void free_pages(uintptr_t addr, unsigned order) = 0;
  // Metadata: frames()[frame_index(addr)] describes the page holding addr;
  // frame_index returns PFN_NONE for addresses the source never handed out.
  virtual PageFrame* frames() = 0;
  virtual uint64_t frame_index(uintptr_t addr) = 0;
  virtual uintptr_t frame_address(uint64_t index) = 0;

 protected:
  ~PageSource() = default;
};

constexpr size_t HEAP_CLASS_COUNT = 14;
constexpr size_t HEAP_CLASS_SIZES[HEAP_CLASS_COUNT] = {16,  32,  48,  64,  96,   128,  192,
                                                       256, 384, 512, 768, 1024, 1536, 2048};
constexpr size_t HEAP_MAX_SMALL = 2048;
constexpr unsigned HEAP_MAX_ORDER = 10;  // largest block: 4 MiB

struct HeapStats {
  uint64_t pages;           // pages held (slabs and large blocks)
  uint64_t bytes_in_use;    // rounded up to class size / whole pages
  uint64_t objects_in_use;  // small and large
};

class Heap {
 public:
  void init(PageSource* source);

  void* alloc(size_t size);
  void* zalloc(size_t size);
  Result<void> free(void* p);

  // The object (live or free) whose memory holds addr: its start, and in
  // *bytes its size (class size, or whole pages); 0 if addr is not heap
  // memory. For the debug heap (core/mm/debug_heap.h).
  uintptr_t object_of(uintptr_t addr, size_t* bytes);

  // Gives every cached empty slab back to the page source.
  void trim();
  HeapStats stats() const { return stats_; }

  static int class_of(size_t size);  // -1 if larger than HEAP_MAX_SMALL

 private:
  void* alloc_small(unsigned cls);
  void* alloc_large(size_t size);
  Result<void> free_small(uint64_t idx, PageFrame& f, uintptr_t addr);
  bool new_slab(unsigned cls);
  void list_push(unsigned cls, uint64_t idx);
  void list_remove(unsigned cls, uint64_t idx);
  void release_slab(unsigned cls, uint64_t idx);

  PageSource* src_ = nullptr;
  uint32_t partial_[HEAP_CLASS_COUNT];  // slabs with a free object (frame index)
  uint32_t empty_[HEAP_CLASS_COUNT];    // number of empty slabs on that list
  HeapStats stats_{};
};

}  // namespace capsule::mm
