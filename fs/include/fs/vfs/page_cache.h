#pragma once
// Clean file pages dropped under memory pressure (docs/vfs.md "Page cache
// eviction"). A file system whose files cache pages that can be read again
// from their store (ext4: the disk) registers each such file here; when
// free memory runs low, or the page allocator has none, the least recently
// used files give back clean pages, unmapping them first where programs
// map them. Files the VFS alone keeps (ramfs) are never here: their pages
// are the only copy.
//
// Lock order: a file's page lock -> the cache's lock (page_cache_touch
// from a file's fill path); the reclaimer holds the cache's lock and only
// *tries* other files' page locks, so it never waits on one.
#include <cstddef>
#include <cstdint>

#include "fs/vfs/platform.h"
#include "lib/intrusive_list.h"
#include "lib/result.h"

namespace capsule::vfs {

class Evictable {
 public:
  // The file's page lock without waiting (false if anyone holds it, the
  // caller included).
  virtual bool evict_try_lock() = 0;
  virtual void evict_unlock() = 0;
  // With the page lock held: drops up to `want` clean pages (unmapping
  // them from every address space first), returns how many; *now_empty
  // says the file holds no page any more. A file that cannot lose pages
  // now (dirty through a shared writable mapping, a write in progress)
  // returns 0.
  virtual size_t evict_locked(size_t want, bool* now_empty) = 0;

  // On the cache's list while the file may hold pages (the cache's lock).
  ListNode lru_node;

 protected:
  ~Evictable() = default;
};

// A file just cached a page: it goes to the most recently used end.
void page_cache_touch(Evictable& f);
// A file going away, before it frees its pages: off the list (waits for a
// reclaim working on it to finish).
void page_cache_forget(Evictable& f);
// Drops up to `want` clean pages, least recently used files first; each
// file visited goes to the back of the list, so reclaims turn over the
// files like a clock. `self`: a file whose page lock the caller holds (it
// may lose pages too). Returns the pages freed.
size_t page_cache_reclaim(size_t want, Evictable* self = nullptr);
// A page for a file's cache (contents undefined): reclaims first when free
// memory is below the low-water mark (page_cache_low_water), and once more
// if the allocator has none. NoMemory if nothing could be freed.
Result<uint8_t*> page_cache_alloc(Evictable* self);
// Free pages below which a cache fill reclaims first: 1/16 of RAM plus 4
// MiB, above ramfs's kernel reserve (1/32 + 4 MiB), so that cached file
// data never pushes anonymous memory or ramfs into their limits.
uint64_t page_cache_low_water();
// Pages reclaimed since boot (--stats, the tests).
uint64_t page_cache_evicted();

}  // namespace capsule::vfs
