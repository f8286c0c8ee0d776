#include "fs/vfs/platform.h"

#ifdef CAPSULE_HOST
#include <cstdlib>
#include <ctime>
#else
#include "core/mm/vma.h"
#include "core/thread.h"
#include "core/time.h"
#endif

namespace capsule::vfs {

#ifdef CAPSULE_HOST

int64_t fs_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Result<uint8_t*> fs_page_alloc() {
  void* p = std::aligned_alloc(PAGE_SIZE, PAGE_SIZE);
  if (!p) return Error::NoMemory;
  return static_cast<uint8_t*>(p);
}
void fs_page_free(uint8_t* page) { std::free(page); }
uint64_t fs_free_pages() { return 1u << 20; }  // host tests: a nominal 4 GiB
// Host tests have no physical addresses: the pointer stands in for one.
uint64_t fs_page_phys(const uint8_t* page) { return reinterpret_cast<uintptr_t>(page); }
uint64_t fs_total_pages() { return 1u << 20; }
uint64_t fs_zero_page_phys() {
  alignas(4096) static const uint8_t zeros[4096] = {};
  return reinterpret_cast<uintptr_t>(zeros);
}
bool fs_interrupted() { return false; }

#else

int64_t fs_now_ns() { return realtime_ns(); }

Result<uint8_t*> fs_page_alloc() {
  uint64_t pa = TRY(page_alloc(0));
  return static_cast<uint8_t*>(phys_to_virt(pa));
}
void fs_page_free(uint8_t* page) { page_free(virt_to_phys(page), 0); }
uint64_t fs_free_pages() { return memory_stats().free_bytes / PAGE_SIZE; }
uint64_t fs_page_phys(const uint8_t* page) { return virt_to_phys(page); }
uint64_t fs_total_pages() { return memory_stats().total_bytes / PAGE_SIZE; }
uint64_t fs_zero_page_phys() { return mm::zero_page_phys(); }
bool fs_interrupted() { return thread_interrupt_pending(thread_current()); }

#endif

}  // namespace capsule::vfs
