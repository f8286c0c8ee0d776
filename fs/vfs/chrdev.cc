// The character and block device tables (fs/include/fs/vfs.h): device
// number -> the function that opens the device, consulted by Vfs::open for
// character and block device nodes of every file system (Linux's chrdev and
// blkdev registries; two spaces of numbers, one table with a flag).
#include "fs/vfs.h"
#include "fs/block_device_table.h"

namespace capsule::vfs {
namespace {

constexpr size_t MAX_DEVICES = 32;

struct Slot {
  bool block;
  uint64_t rdev;
  std::atomic<CharDeviceOpen> open;
};

Slot g_slots[MAX_DEVICES];
std::atomic<size_t> g_count{0};  // slots published (each filled before it counts)
FsMutex g_lock;                  // one registration at a time

Result<void> register_device(bool block, uint64_t rdev, CharDeviceOpen open) {
  FsGuard g(g_lock);
  size_t n = g_count.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    if (g_slots[i].rdev == rdev && g_slots[i].block == block) {
      g_slots[i].open.store(open, std::memory_order_release);
      return {};
    }
  }
  if (n == MAX_DEVICES) return Error::NoMemory;
  g_slots[n].block = block;
  g_slots[n].rdev = rdev;
  g_slots[n].open.store(open, std::memory_order_relaxed);
  g_count.store(n + 1, std::memory_order_release);
  return {};
}

CharDeviceOpen find_device(bool block, uint64_t rdev) {
  size_t n = g_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i)
    if (g_slots[i].rdev == rdev && g_slots[i].block == block) return g_slots[i].open.load(std::memory_order_acquire);
  return nullptr;
}

}  // namespace

Result<void> register_char_device(uint64_t rdev, CharDeviceOpen open) { return register_device(false, rdev, open); }
CharDeviceOpen char_device(uint64_t rdev) { return find_device(false, rdev); }
Result<void> register_block_device(uint64_t rdev, CharDeviceOpen open) { return register_device(true, rdev, open); }
CharDeviceOpen block_device(uint64_t rdev) { return find_device(true, rdev); }

}  // namespace capsule::vfs
