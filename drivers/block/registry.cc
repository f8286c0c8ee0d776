// The registry of block devices (drivers/include/drivers/block.h): filled
// by the drivers' probes at boot, read by kernel/ when it mounts disks.
#include <atomic>

#include "drivers/block.h"

namespace capsule::block {
namespace {

constexpr size_t MAX_DEVICES = 16;
Device* g_devices[MAX_DEVICES];
std::atomic<size_t> g_count{0};

}  // namespace

void register_device(Device* d) {
  size_t n = g_count.load(std::memory_order_relaxed);
  if (n == MAX_DEVICES) return;  // QEMU's microvm has 24 virtio slots; 16 disks is plenty
  g_devices[n] = d;
  g_count.store(n + 1, std::memory_order_release);
}

size_t device_count() { return g_count.load(std::memory_order_acquire); }

Device* device(size_t i) { return i < device_count() ? g_devices[i] : nullptr; }

Device* find(StringView name) {
  for (size_t i = 0; i < device_count(); ++i)
    if (name == StringView(g_devices[i]->name())) return g_devices[i];
  return nullptr;
}

}  // namespace capsule::block
