#include "core/mm/debug_heap.h"

namespace capsule::mm {
namespace {

constexpr uint32_t MAGIC = 0x6b64626du;  // "mbdk"
constexpr uint32_t LIVE = 0x4c495645u;
constexpr uint32_t QUARANTINED = 0x51554152u;

size_t round16(size_t n) { return (n + 15) & ~size_t(15); }

// The first byte in [p, p + n) that is not `v`, or -1.
long first_not(uintptr_t p, size_t n, uint8_t v) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  uint64_t word = 0x0101010101010101ull * v;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, b + i, 8);
    if (w != word) break;
  }
  for (; i < n; ++i)
    if (b[i] != v) return long(i);
  return -1;
}

}  // namespace

struct DebugHeap::Header {
  uint32_t magic;
  uint32_t state;
  uint32_t size;   // requested
  uint32_t chunk;  // bytes of the heap object underneath
  uintptr_t alloc[DEBUG_HEAP_TRACE];
  uintptr_t freed[DEBUG_HEAP_TRACE];
};

// Where things are in a chunk of `bytes` at `chunk`. Slab objects (up to
// HEAP_MAX_SMALL) hold | header | left red | payload | right red |; page
// blocks keep the payload page-aligned, as the plain heap does, and hold
// | payload | right red | header |.
struct DebugHeap::Layout {
  uintptr_t payload;
  Header* header;
  uintptr_t red1;  // red bytes before the payload (and the header's slack)
  size_t red1_len;
  uintptr_t red2;  // after the payload
  size_t red2_len;

  Layout(uintptr_t chunk, size_t bytes, size_t size) {
    if (bytes <= HEAP_MAX_SMALL) {
      header = reinterpret_cast<Header*>(chunk);
      payload = chunk + HEADER + LEFT_RED;
      red1 = chunk + sizeof(Header);
      red1_len = payload - red1;
      red2 = payload + size;
      red2_len = chunk + bytes - red2;
    } else {
      header = reinterpret_cast<Header*>(chunk + bytes - HEADER);
      payload = chunk;
      red1 = chunk + bytes - HEADER + sizeof(Header);
      red1_len = HEADER - sizeof(Header);
      red2 = payload + size;
      red2_len = chunk + bytes - HEADER - red2;
    }
  }
  // Offset from the payload of the first red byte changed, or `none`.
  static constexpr long none = 1l << 62;
  long bad_red() const {
    long b = first_not(red2, red2_len, RED_BYTE);
    if (b >= 0) return long(red2 - payload) + b;
    b = first_not(red1, red1_len, RED_BYTE);
    if (b >= 0) return long(red1 - payload) + b;
    return none;
  }
};

void DebugHeap::init(PageSource* source, const DebugHeapConfig& config) {
  static_assert(sizeof(Header) <= HEADER);
  heap_.init(source);
  cfg_ = config;
  head_ = count_ = 0;
  dstats_ = {};
}

void* DebugHeap::alloc(size_t size) {
  if (size > (size_t(1) << 31)) return nullptr;
  size_t need = HEADER + LEFT_RED + round16(size) + MIN_RIGHT_RED;
  if (need > HEAP_MAX_SMALL) need = size + MIN_RIGHT_RED + HEADER;  // a page block
  void* raw = heap_.alloc(need);
  if (!raw) {
    drain();  // the quarantine's memory before giving up
    raw = heap_.alloc(need);
    if (!raw) return nullptr;
  }
  auto chunk = reinterpret_cast<uintptr_t>(raw);
  size_t bytes = 0;
  heap_.object_of(chunk, &bytes);
  Layout l(chunk, bytes, size);
  Header* h = l.header;
  h->magic = MAGIC;
  h->state = LIVE;
  h->size = uint32_t(size);
  h->chunk = uint32_t(bytes);
  if (cfg_.save_trace)
    cfg_.save_trace(h->alloc, DEBUG_HEAP_TRACE, 2);  // past alloc and kmalloc
  else
    __builtin_memset(h->alloc, 0, sizeof h->alloc);
  __builtin_memset(h->freed, 0, sizeof h->freed);
  __builtin_memset(reinterpret_cast<void*>(l.red1), RED_BYTE, l.red1_len);
  __builtin_memset(reinterpret_cast<void*>(l.red2), RED_BYTE, l.red2_len);
  __builtin_memset(reinterpret_cast<void*>(l.payload), NEW_BYTE, size);
  return reinterpret_cast<void*>(l.payload);
}

void* DebugHeap::zalloc(size_t size) {
  void* p = alloc(size);
  if (p) __builtin_memset(p, 0, size);
  return p;
}

void DebugHeap::report(DebugHeapFault f, const Header* h, uintptr_t payload, long offset) {
  DebugHeapError e{f, payload, h ? h->size : 0, offset, h ? h->alloc : nullptr,
                   h && h->state == QUARANTINED ? h->freed : nullptr};
  if (cfg_.on_error) cfg_.on_error(e);
}

void DebugHeap::free(void* p) {
  if (!p) return;
  auto payload = reinterpret_cast<uintptr_t>(p);
  size_t bytes = 0;
  uintptr_t chunk = heap_.object_of(payload, &bytes);
  if (!chunk) {
    report(DebugHeapFault::InvalidFree, nullptr, payload, 0);
    return;
  }
  Layout probe(chunk, bytes, 0);
  Header* h = probe.header;
  bool ours = h->magic == MAGIC && h->chunk == bytes;
  if (payload != probe.payload || !ours) {
    report(DebugHeapFault::InvalidFree, ours ? h : nullptr, payload, 0);
    return;
  }
  if (h->state == QUARANTINED) {
    report(DebugHeapFault::DoubleFree, h, payload, 0);
    return;
  }
  if (h->state != LIVE || h->size > bytes) {
    report(DebugHeapFault::InvalidFree, nullptr, payload, 0);
    return;
  }
  Layout l(chunk, bytes, h->size);
  if (long bad = l.bad_red(); bad != Layout::none) {
    report(DebugHeapFault::Overflow, h, payload, bad);
    return;
  }
  h->state = QUARANTINED;
  if (cfg_.save_trace) cfg_.save_trace(h->freed, DEBUG_HEAP_TRACE, 2);
  __builtin_memset(p, FREE_BYTE, h->size);
  // FIFO: the oldest leave first, checked, while the quarantine is over
  // its bounds.
  if (count_ == QUARANTINE_SLOTS) {
    release(ring_[head_]);
    head_ = (head_ + 1) % QUARANTINE_SLOTS;
    --count_;
  }
  ring_[(head_ + count_) % QUARANTINE_SLOTS] = chunk;
  ++count_;
  ++dstats_.quarantined;
  dstats_.quarantined_bytes += bytes;
  while (count_ > 1 && dstats_.quarantined_bytes > cfg_.quarantine_bytes) {
    release(ring_[head_]);
    head_ = (head_ + 1) % QUARANTINE_SLOTS;
    --count_;
  }
}

void DebugHeap::release(uintptr_t chunk) {
  size_t bytes = 0;
  heap_.object_of(chunk, &bytes);
  Layout probe(chunk, bytes, 0);
  Header* h = probe.header;
  --dstats_.quarantined;
  dstats_.quarantined_bytes -= bytes;
  if (h->magic != MAGIC || h->state != QUARANTINED || h->chunk != bytes || h->size > bytes) {
    // The header itself was overwritten after the free.
    report(DebugHeapFault::UseAfterFree, nullptr, probe.payload,
           long(reinterpret_cast<uintptr_t>(h)) - long(probe.payload));
    return;
  }
  Layout l(chunk, bytes, h->size);
  if (long bad = first_not(l.payload, h->size, FREE_BYTE); bad >= 0) {
    report(DebugHeapFault::UseAfterFree, h, l.payload, bad);
    return;
  }
  if (long bad = l.bad_red(); bad != Layout::none) {
    report(DebugHeapFault::Overflow, h, l.payload, bad);
    return;
  }
  ++dstats_.checked;
  h->magic = 0;
  (void)heap_.free(reinterpret_cast<void*>(chunk));
}

void DebugHeap::drain() {
  while (count_) {
    release(ring_[head_]);
    head_ = (head_ + 1) % QUARANTINE_SLOTS;
    --count_;
  }
}

HeapStats DebugHeap::stats() const {
  HeapStats s = heap_.stats();
  s.bytes_in_use -= dstats_.quarantined_bytes;
  s.objects_in_use -= dstats_.quarantined;
  return s;
}

}  // namespace capsule::mm
