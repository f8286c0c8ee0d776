#pragma once
// The debug kernel's heap (docs/debug-kernel.md): the kernel heap with red
// zones around every object and freed objects poisoned and held in a FIFO
// quarantine before the heap may hand their memory out again.
//
// Each allocation of n bytes takes a larger object from the heap
// underneath. A slab object (HEADER + LEFT_RED + round16(n) + 16 bytes at
// most 2048) is laid out as
//
//   | header (96) | red zone (16) | payload n | red zone to the object's end |
//
// and a page block, so that its payload stays page-aligned as the plain
// heap's are (XSAVE areas and CPU tables rely on it), as
//
//   | payload n | red zone (>= 16) | header (96) |
//
// (no red zone before it). The header keeps the state, the size and a few
// return addresses of the allocation and of the free. Slab payloads are
// 16-byte aligned (kmalloc's contract); alignment beyond that is the
// caller's (core/runtime/cxx.cc).
// A report (on_error) comes for:
//   - a free of a pointer the heap never returned, or into the middle of an
//     object, or of an object already freed (while it is in the quarantine:
//     with the allocation's and the first free's backtraces);
//   - a red zone changed (an overflow or underflow), seen at free or when
//     the object leaves the quarantine;
//   - a freed payload changed (a write after free), seen when the object
//     leaves the quarantine, or by check_all().
// Reads of freed memory are not seen (no compiler instrumentation).
//
// Not thread-safe: the caller holds the heap's lock (core/mm/mm.cc).
#include <cstddef>
#include <cstdint>

#include "core/mm/heap.h"

namespace capsule::mm {

constexpr size_t DEBUG_HEAP_TRACE = 5;  // return addresses kept per event

enum class DebugHeapFault : uint8_t {
  InvalidFree,    // not a pointer the heap returned
  DoubleFree,     // freed again while in the quarantine
  Overflow,       // a red zone changed (offset > size or < 0)
  UseAfterFree,   // the poisoned payload changed
};

struct DebugHeapError {
  DebugHeapFault fault;
  uintptr_t payload;       // the object's address as kmalloc returned it
  size_t size;             // its requested size (0 if unknown)
  long offset;             // of the first changed byte from payload (Overflow, UseAfterFree)
  const uintptr_t* alloc;  // DEBUG_HEAP_TRACE return addresses, or nullptr
  const uintptr_t* freed;  // ditto, for the (first) free
};

struct DebugHeapConfig {
  size_t quarantine_bytes;    // chunk bytes held freed at most
  // Saves `max` return addresses of the caller's caller on (kernel:
  // backtrace_save); nullptr saves none.
  size_t (*save_trace)(uintptr_t* out, size_t max, unsigned skip);
  // Called for each fault (the kernel's prints it with the backtrace of
  // the call that found it, and panics); if it returns, the chunk is leaked.
  void (*on_error)(const DebugHeapError& e);
};

struct DebugHeapStats {
  uint64_t quarantined;        // objects held now
  uint64_t quarantined_bytes;  // their chunks' bytes
  uint64_t checked;            // objects that left the quarantine intact
};

class DebugHeap {
 public:
  static constexpr size_t HEADER = 96;
  static constexpr size_t LEFT_RED = 16;
  static constexpr size_t MIN_RIGHT_RED = 16;
  static constexpr size_t QUARANTINE_SLOTS = 4096;
  static constexpr uint8_t RED_BYTE = 0xbb;
  static constexpr uint8_t FREE_BYTE = 0xf5;
  static constexpr uint8_t NEW_BYTE = 0xa5;  // a fresh payload (kmalloc)

  void init(PageSource* source, const DebugHeapConfig& config);
  void* alloc(size_t size);
  void* zalloc(size_t size);
  void free(void* p);
  // Frees everything in the quarantine (checking each).
  void drain();
  // Empties the quarantine, then gives cached empty slabs back: what was
  // freed is free again (memory accounting tests compare after it).
  void trim() {
    drain();
    heap_.trim();
  }
  // The heap underneath, minus what the quarantine holds.
  HeapStats stats() const;
  DebugHeapStats debug_stats() const { return dstats_; }

 private:
  struct Header;
  struct Layout;
  void release(uintptr_t chunk);  // quarantine exit: check, then free
  void report(DebugHeapFault f, const Header* h, uintptr_t payload, long offset);

  Heap heap_;
  DebugHeapConfig cfg_{};
  uintptr_t ring_[QUARANTINE_SLOTS];
  size_t head_ = 0, count_ = 0;
  DebugHeapStats dstats_{};
};

// The kernel's: the quarantine's size, backtrace_save, and a report on the
// console followed by a panic (core/mm/debug_heap_report.cc).
DebugHeapConfig kernel_debug_heap_config();

}  // namespace capsule::mm
