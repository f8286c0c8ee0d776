#pragma once
// The dentry cache: (directory vnode, name) -> vnode, or "does not exist"
// (a negative entry). It saves the FS lookup on every component of every
// path; for a disk FS that is a block read, for ramfs a tree search.
//
// A hash table of chains plus an LRU list; at capacity the least recently
// used entry goes. Each entry holds a reference on its directory and, if
// positive, on the child; each directory lists its own entries so rmdir
// and unmount can drop them without a scan.
//
// A vnode's entries live on the vnode: it belongs to at most one cache
// (one Vfs), like a file system instance mounted once.
//
// Coherence. All name changes go through the Vfs, which brackets each FS
// operation on directory D with begin_change(D) ... end_change(D, name).
// A lookup that misses samples D's generation before asking the FS and
// inserts the answer only if no change began or ended in D meanwhile, so
// an answer computed before an unlink can never be cached after it.
#include <cstddef>
#include <cstdint>

#include "fs/vfs.h"
#include "lib/thread_annotations.h"

namespace capsule::vfs {

class DentryCache {
 public:
  explicit DentryCache(size_t capacity);
  ~DentryCache();
  DentryCache(const DentryCache&) = delete;
  DentryCache& operator=(const DentryCache&) = delete;

  enum class Hit : uint8_t { Miss, Positive, Negative };
  // On Positive, *child is the vnode (retained).
  Hit lookup(Vnode& dir, StringView name, VnodeRef* child);

  // A token for a lookup that goes to the FS: pass it back to insert().
  struct Ticket {
    uint64_t gen = 0;
    bool valid = false;
  };
  Ticket begin_lookup(Vnode& dir);
  // Caches the answer (child nullptr: negative) unless `dir` changed since
  // the ticket was taken. Replaces an existing entry of the same name.
  void insert(const Ticket& t, Vnode& dir, StringView name, Vnode* child);

  void begin_change(Vnode& dir);
  // Drops the entry for `name` (if any) and ends the change.
  void end_change(Vnode& dir, StringView name);
  // Drops every entry of `dir`.
  void purge_dir(Vnode& dir);
  // Drops every entry of a file system's directories (unmount).
  void purge_fs(FileSystem* fs);
  void clear();

  size_t size();
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static uint32_t hash_of(const Vnode* dir, StringView name);
  Dentry* find_locked(Vnode& dir, StringView name, uint32_t h) REQUIRES(lock_);
  // Unlinks e from every list; the caller releases its references after
  // dropping the lock (releasing may free a vnode, which may do work).
  void unlink_locked(Dentry* e) REQUIRES(lock_);
  void free_entries(Dentry* list);

  // Guards the table, the LRU, every directory's list of entries (Vnode's
  // dentries), and the directories' busy count and generation.
  FsMutex lock_;
  // The table is fixed by the constructor; its chains are guarded.
  Dentry** buckets_ PT_GUARDED_BY(lock_) = nullptr;
  size_t nbuckets_ = 0;  // power of two
  size_t capacity_;
  IntrusiveList<Dentry, &Dentry::lru> lru_ GUARDED_BY(lock_);
  std::atomic<uint64_t> hits_{0}, misses_{0};
};

}  // namespace capsule::vfs
