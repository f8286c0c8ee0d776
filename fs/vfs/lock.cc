// Advisory lock bookkeeping for one file (fs/file_lock.h,
// docs/file-locks.md): a sorted singly linked list of ranges. Lock counts
// per file are small, so linear passes are the simple and fast choice.
#include <new>

#include "fs/file_lock.h"

namespace capsule::vfs {
namespace {

bool overlaps(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2) { return s1 <= e2 && s2 <= e1; }

// Overlapping or touching ([0,4] and [5,9] merge into [0,9]).
bool touches(uint64_t s1, uint64_t e1, uint64_t s2, uint64_t e2) {
  uint64_t e1p = e1 == LOCK_TO_EOF ? e1 : e1 + 1;
  uint64_t e2p = e2 == LOCK_TO_EOF ? e2 : e2 + 1;
  return s1 <= e2p && s2 <= e1p;
}

bool before(const FileLock& a, const FileLock& b) {
  if (a.owner != b.owner) return reinterpret_cast<uintptr_t>(a.owner) < reinterpret_cast<uintptr_t>(b.owner);
  return a.start < b.start;
}

}  // namespace

LockList::~LockList() {
  while (head_) {
    FileLock* n = head_->next;
    delete head_;
    head_ = n;
  }
}

const FileLock* LockList::conflict(const void* owner, LockType type, uint64_t start, uint64_t end) const {
  for (const FileLock* l = head_; l; l = l->next) {
    if (l->owner == owner || !overlaps(l->start, l->end, start, end)) continue;
    if (type == LockType::Write || l->type == LockType::Write) return l;
  }
  return nullptr;
}

Result<void> LockList::lock(const void* owner, int32_t pid, LockType type, uint64_t start, uint64_t end) {
  if (start > end) return Error::Invalid;
  // Allocate up front: the new lock and, at most, the far half of one
  // lock of the other type that the new range splits. After this nothing
  // can fail.
  auto* n = new (std::nothrow) FileLock{start, end, type, owner, pid, nullptr};
  auto* spare = new (std::nothrow) FileLock{};
  if (!n || !spare) {
    delete n;
    delete spare;
    return Error::NoMemory;
  }
  FileLock** link = &head_;
  while (FileLock* l = *link) {
    if (l->owner != owner || !touches(l->start, l->end, start, end)) {
      link = &l->next;
      continue;
    }
    if (l->type == type) {  // absorb it
      if (l->start < n->start) n->start = l->start;
      if (l->end > n->end) n->end = l->end;
      *link = l->next;
      delete l;
      continue;
    }
    if (!overlaps(l->start, l->end, start, end)) {  // only touching: keep it
      link = &l->next;
      continue;
    }
    if (l->start < start && l->end > end) {  // split around the new range
      *spare = FileLock{end + 1, l->end, l->type, owner, l->pid, l->next};
      l->end = start - 1;
      l->next = spare;
      spare = nullptr;
      link = &l->next->next;
    } else if (l->start < start) {
      l->end = start - 1;
      link = &l->next;
    } else if (l->end > end) {
      l->start = end + 1;
      link = &l->next;
    } else {
      *link = l->next;
      delete l;
    }
  }
  delete spare;
  // Insert in order.
  link = &head_;
  while (*link && before(**link, *n)) link = &(*link)->next;
  n->next = *link;
  *link = n;
  return {};
}

Result<void> LockList::unlock(const void* owner, uint64_t start, uint64_t end) {
  if (start > end) return Error::Invalid;
  for (FileLock** link = &head_; *link;) {
    FileLock* l = *link;
    if (l->owner != owner || !overlaps(l->start, l->end, start, end)) {
      link = &l->next;
      continue;
    }
    if (l->start < start && l->end > end) {
      auto* tail = new (std::nothrow) FileLock{end + 1, l->end, l->type, owner, l->pid, l->next};
      if (!tail) return Error::NoMemory;  // a straddling lock is alone: nothing changed yet
      l->end = start - 1;
      l->next = tail;
      return {};
    }
    if (l->start < start) {
      l->end = start - 1;
      link = &l->next;
    } else if (l->end > end) {
      l->start = end + 1;
      link = &l->next;
    } else {
      *link = l->next;
      delete l;
    }
  }
  return {};
}

void LockList::unlock_all(const void* owner) {
  for (FileLock** link = &head_; *link;) {
    FileLock* l = *link;
    if (l->owner == owner) {
      *link = l->next;
      delete l;
    } else {
      link = &l->next;
    }
  }
}

bool LockList::holds(const void* owner) const {
  for (const FileLock* l = head_; l; l = l->next)
    if (l->owner == owner) return true;
  return false;
}

size_t LockList::count() const {
  size_t n = 0;
  for (const FileLock* l = head_; l; l = l->next) ++n;
  return n;
}

}  // namespace capsule::vfs
