#include "fs/vfs/dcache.h"

#include <new>

namespace capsule::vfs {
namespace {

bool same_name(const Dentry& e, StringView name) {
  if (e.len != name.size()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (e.name[i] != name[i]) return false;
  return true;
}

}  // namespace

DentryCache::DentryCache(size_t capacity) : capacity_(capacity ? capacity : 1) {
  nbuckets_ = 64;
  while (nbuckets_ < capacity_) nbuckets_ <<= 1;
  buckets_ = new (std::nothrow) Dentry*[nbuckets_];
  // Without a table the cache stays empty: every lookup misses.
  if (!buckets_) nbuckets_ = 0;
  for (size_t i = 0; i < nbuckets_; ++i) buckets_[i] = nullptr;
}

DentryCache::~DentryCache() {
  clear();
  delete[] buckets_;
}

// FNV-1a over the name, mixed with the directory's address.
uint32_t DentryCache::hash_of(const Vnode* dir, StringView name) {
  uint64_t h = 1469598103934665603ull ^ (reinterpret_cast<uintptr_t>(dir) >> 4);
  for (size_t i = 0; i < name.size(); ++i) {
    h ^= uint8_t(name[i]);
    h *= 1099511628211ull;
  }
  return uint32_t(h ^ (h >> 32));
}

Dentry* DentryCache::find_locked(Vnode& dir, StringView name, uint32_t h) {
  lock_.assert_held();
  if (!nbuckets_) return nullptr;
  for (Dentry* e = buckets_[h & (nbuckets_ - 1)]; e; e = e->hash_next)
    if (e->hash == h && e->parent == &dir && same_name(*e, name)) return e;
  return nullptr;
}

void DentryCache::unlink_locked(Dentry* e) {
  lock_.assert_held();
  Dentry** pp = &buckets_[e->hash & (nbuckets_ - 1)];
  while (*pp != e) pp = &(*pp)->hash_next;
  *pp = e->hash_next;
  e->hash_next = nullptr;
  lru_.remove(*e);
  e->parent->dentries_.remove(*e);
}

// Entries chained through hash_next, already unlinked.
void DentryCache::free_entries(Dentry* list) {
  while (list) {
    Dentry* next = list->hash_next;
    if (list->child) list->child->release();
    list->parent->release();
    delete list;
    list = next;
  }
}

DentryCache::Hit DentryCache::lookup(Vnode& dir, StringView name, VnodeRef* child) {
  uint32_t h = hash_of(&dir, name);
  FsGuard g(lock_);
  Dentry* e = find_locked(dir, name, h);
  if (!e) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return Hit::Miss;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  lru_.remove(*e);
  lru_.push_front(*e);
  if (!e->child) return Hit::Negative;
  *child = VnodeRef(e->child);
  return Hit::Positive;
}

DentryCache::Ticket DentryCache::begin_lookup(Vnode& dir) {
  FsGuard g(lock_);
  return {dir.dc_gen_, dir.dc_busy_ == 0};
}

void DentryCache::insert(const Ticket& t, Vnode& dir, StringView name, Vnode* child) {
  if (!t.valid || !nbuckets_ || name.size() > MAX_NAME) return;
  auto* fresh = new (std::nothrow) Dentry;
  if (!fresh) return;  // a cache: forgetting is always correct
  fresh->parent = &dir;
  fresh->child = child;
  fresh->len = uint16_t(name.size());
  for (size_t i = 0; i < name.size(); ++i) fresh->name[i] = name[i];
  fresh->name[name.size()] = 0;
  fresh->hash = hash_of(&dir, name);
  dir.retain();
  if (child) child->retain();

  Dentry* doomed = nullptr;
  {
    FsGuard g(lock_);
    if (dir.dc_busy_ != 0 || dir.dc_gen_ != t.gen) {
      doomed = fresh;  // dir changed while the FS was asked: the answer may be stale
    } else {
      if (Dentry* old = find_locked(dir, name, fresh->hash)) {
        unlink_locked(old);
        old->hash_next = doomed;
        doomed = old;
      }
      Dentry** b = &buckets_[fresh->hash & (nbuckets_ - 1)];
      fresh->hash_next = *b;
      *b = fresh;
      lru_.push_front(*fresh);
      dir.dentries_.push_back(*fresh);
      while (lru_.size() > capacity_) {
        Dentry* victim = lru_.back();
        unlink_locked(victim);
        victim->hash_next = doomed;
        doomed = victim;
      }
    }
  }
  free_entries(doomed);
}

void DentryCache::begin_change(Vnode& dir) {
  FsGuard g(lock_);
  ++dir.dc_busy_;
  ++dir.dc_gen_;
}

void DentryCache::end_change(Vnode& dir, StringView name) {
  Dentry* doomed = nullptr;
  {
    FsGuard g(lock_);
    if (Dentry* e = find_locked(dir, name, hash_of(&dir, name))) {
      unlink_locked(e);
      doomed = e;
    }
    --dir.dc_busy_;
    ++dir.dc_gen_;
  }
  free_entries(doomed);
}

void DentryCache::purge_dir(Vnode& dir) {
  Dentry* doomed = nullptr;
  {
    FsGuard g(lock_);
    while (Dentry* e = dir.dentries_.front()) {
      unlink_locked(e);
      e->hash_next = doomed;
      doomed = e;
    }
  }
  free_entries(doomed);
}

void DentryCache::purge_fs(FileSystem* fs) {
  Dentry* doomed = nullptr;
  {
    FsGuard g(lock_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      Dentry* e = &*it;
      ++it;
      if (e->parent->fs() != fs) continue;
      unlink_locked(e);
      e->hash_next = doomed;
      doomed = e;
    }
  }
  free_entries(doomed);
}

void DentryCache::clear() {
  Dentry* doomed = nullptr;
  {
    FsGuard g(lock_);
    while (Dentry* e = lru_.front()) {
      unlink_locked(e);
      e->hash_next = doomed;
      doomed = e;
    }
  }
  free_entries(doomed);
}

size_t DentryCache::size() {
  FsGuard g(lock_);
  return lru_.size();
}

}  // namespace capsule::vfs
