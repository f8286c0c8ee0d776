// The registry of network devices (drivers/include/drivers/net_device.h):
// filled by the drivers' probes at boot, read by kernel/ when it starts
// the network. Devices are never removed.
#include <atomic>

#include "drivers/net_device.h"

namespace capsule::netdev {
namespace {

constexpr size_t MAX_DEVICES = 8;
Device* g_devices[MAX_DEVICES];
std::atomic<size_t> g_count{0};

}  // namespace

void register_device(Device* d) {
  size_t n = g_count.load(std::memory_order_relaxed);
  if (n == MAX_DEVICES) return;  // more NICs than anyone gives a unikernel
  g_devices[n] = d;
  g_count.store(n + 1, std::memory_order_release);
}

size_t device_count() { return g_count.load(std::memory_order_acquire); }

Device* device(size_t i) { return i < device_count() ? g_devices[i] : nullptr; }

void flush_all(uint64_t deadline_ns) {
  for (size_t i = 0; i < device_count(); ++i) g_devices[i]->flush(deadline_ns);
}

}  // namespace capsule::netdev
