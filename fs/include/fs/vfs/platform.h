#pragma once
// What the VFS and ramfs need from below, in one place so that the same
// sources build into the kernel and into the host unit tests (CAPSULE_HOST):
// a sleeping lock, the wall clock, and whole pages.
#include <cstddef>
#include <cstdint>

#include "core/mm.h"
#include "lib/result.h"
#include "lib/thread_annotations.h"

#ifdef CAPSULE_HOST
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <thread>
#else
#include "core/sync/wait_queue.h"
#endif

namespace capsule::vfs {

#ifdef CAPSULE_HOST
class CAPABILITY("mutex") FsMutex {
 public:
  void lock() ACQUIRE() {
    m_.lock();
    owner_ = std::this_thread::get_id();
  }
  void unlock() RELEASE() {
    owner_ = std::thread::id();
    m_.unlock();
  }
  bool try_lock() TRY_ACQUIRE(true) {
    if (!m_.try_lock()) return false;
    owner_ = std::this_thread::get_id();
    return true;
  }
  void assert_held() const ASSERT_CAPABILITY(this) {
    if (owner_.load() != std::this_thread::get_id()) std::abort();
  }
  bool held_by_current() const { return owner_.load() == std::this_thread::get_id(); }

 private:
  std::mutex m_;
  std::atomic<std::thread::id> owner_{};
};
#else
// Sleeping: file data is copied to and from the application under these
// locks, and those copies may take page faults.
using FsMutex = Mutex;
#endif

class SCOPED_CAPABILITY FsGuard {
 public:
  explicit FsGuard(FsMutex& m) ACQUIRE(m) : m_(m) { m_.lock(); }
  ~FsGuard() RELEASE() { m_.unlock(); }
  FsGuard(const FsGuard&) = delete;
  FsGuard& operator=(const FsGuard&) = delete;

 private:
  FsMutex& m_;
};

// Nanoseconds since the Unix epoch, for atime/mtime/ctime.
int64_t fs_now_ns();

// One page of kernel memory for file data, contents undefined (the caller
// fills it), from the page allocator.
Result<uint8_t*> fs_page_alloc();
void fs_page_free(uint8_t* page);
// Pages the page allocator could still hand out (statfs of ramfs).
uint64_t fs_free_pages();
// What a page table maps for it (mm::VmBacking::page).
uint64_t fs_page_phys(const uint8_t* page);
// Pages of RAM the guest has (tmpfs's default size is half of them).
uint64_t fs_total_pages();
// The shared page of zeros a read of a hole maps (mm::zero_page_phys).
uint64_t fs_zero_page_phys();
// True when a signal waits for the calling thread: a long copy (a read of
// /dev/zero or /dev/urandom) stops there, as Linux checks signal_pending()
// between pages. Host tests: never.
bool fs_interrupted();

}  // namespace capsule::vfs
