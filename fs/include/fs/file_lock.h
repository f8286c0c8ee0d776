#pragma once
// Byte-range and whole-file advisory locks of one file (docs/file-locks.md):
// the bookkeeping behind fcntl(2)'s F_SETLK/F_GETLK (POSIX, one owner per
// process), F_OFD_SETLK/F_OFD_GETLK (one owner per open file description)
// and flock(2) (a whole-file range in a list of its own).
//
// A LockList is pure data — ranges, owners, conflict tests, splitting and
// merging — with no locking and no waiting, so the host unit tests check it
// directly (tests/unit/vfs_lock_test.cc). The caller serializes access and
// does the waiting (linux/sys_file_lock.cc).
//
// Ranges are inclusive [start, end]; end == LOCK_TO_EOF means "to the end
// of the file, however it grows" (l_len == 0).
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::vfs {

enum class LockType : uint8_t { Read, Write };

inline constexpr uint64_t LOCK_TO_EOF = ~uint64_t(0);

struct FileLock {
  uint64_t start, end;  // inclusive
  LockType type;
  const void* owner;    // a process or an open file description; opaque
  int32_t pid;          // reported by F_GETLK (-1 for OFD locks, as Linux)
  FileLock* next;       // sorted by (owner, start)
};

class LockList {
 public:
  LockList() = default;
  LockList(const LockList&) = delete;
  LockList& operator=(const LockList&) = delete;
  ~LockList();

  // The first lock of another owner that a `type` lock on [start, end]
  // would conflict with (two readers never conflict), or nullptr.
  const FileLock* conflict(const void* owner, LockType type, uint64_t start, uint64_t end) const;

  // Gives `owner` a `type` lock on [start, end], replacing what it held
  // there (a read lock inside its write lock splits it into three, and the
  // other way round); touching or overlapping ranges of the same type
  // merge. Does not test conflicts: call conflict() first. NoMemory (and
  // nothing changed) when a split needs a node that cannot be allocated.
  Result<void> lock(const void* owner, int32_t pid, LockType type, uint64_t start, uint64_t end);
  // Drops `owner`'s locks on [start, end] (splitting one that straddles
  // the range). NoMemory only when a lock must split in two.
  Result<void> unlock(const void* owner, uint64_t start, uint64_t end);
  // Drops everything `owner` holds (close of a description / process).
  void unlock_all(const void* owner);

  bool empty() const { return head_ == nullptr; }
  bool holds(const void* owner) const;
  size_t count() const;
  // Iteration for tests and reports: sorted by owner, then start.
  const FileLock* first() const { return head_; }

 private:
  FileLock* head_ = nullptr;
};

}  // namespace capsule::vfs
