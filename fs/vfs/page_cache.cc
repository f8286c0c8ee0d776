// Eviction of clean file pages (fs/include/fs/vfs/page_cache.h, docs/vfs.md
// "Page cache eviction").
#include "fs/vfs/page_cache.h"

#include <atomic>

namespace capsule::vfs {
namespace {

// Pages one fill reclaims when memory is low: enough that the next 63
// fills find memory above the mark without reclaiming.
constexpr size_t BATCH = 64;

FsMutex g_lock;
IntrusiveList<Evictable, &Evictable::lru_node> g_lru GUARDED_BY(g_lock);
std::atomic<uint64_t> g_evicted{0};

}  // namespace

void page_cache_touch(Evictable& f) {
  FsGuard g(g_lock);
  if (f.lru_node.linked()) g_lru.remove(f);
  g_lru.push_back(f);
}

void page_cache_forget(Evictable& f) {
  FsGuard g(g_lock);
  if (f.lru_node.linked()) g_lru.remove(f);
}

// A file on the list cannot go away while the lock is held (its
// destructor calls page_cache_forget first), so it is safe to try its
// page lock and evict under ours.
size_t page_cache_reclaim(size_t want, Evictable* self) {
  FsGuard g(g_lock);
  size_t freed = 0;
  const size_t files = g_lru.size();
  for (size_t i = 0; i < files && freed < want; ++i) {
    Evictable* f = g_lru.pop_front();
    if (!f) break;
    const bool mine = f == self;
    if (!mine && !f->evict_try_lock()) {
      g_lru.push_back(*f);  // busy: someone is using it right now
      continue;
    }
    bool empty = false;
    freed += f->evict_locked(want - freed, &empty);
    if (!mine) f->evict_unlock();
    if (!empty) g_lru.push_back(*f);
  }
  g_evicted.fetch_add(freed, std::memory_order_relaxed);
  return freed;
}

uint64_t page_cache_low_water() { return fs_total_pages() / 16 + (4u << 20) / PAGE_SIZE; }

Result<uint8_t*> page_cache_alloc(Evictable* self) {
  if (fs_free_pages() < page_cache_low_water()) (void)page_cache_reclaim(BATCH, self);
  auto p = fs_page_alloc();
  if (p.ok() || p.error() != Error::NoMemory) return p;
  if (!page_cache_reclaim(BATCH, self)) return Error::NoMemory;
  return fs_page_alloc();
}

uint64_t page_cache_evicted() { return g_evicted.load(std::memory_order_relaxed); }

}  // namespace capsule::vfs
