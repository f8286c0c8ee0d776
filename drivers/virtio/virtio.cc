// Virtio device discovery and the status handshake (drivers/virtio/
// transport.h). A small table maps device types to drivers.
#include "lib/log.h"
#include "drivers/virtio/transport.h"
#include "drivers/virtio/mmio.h"
#include "drivers/virtio/pci.h"

namespace capsule::virtio {
namespace {

struct DriverRow {
  uint32_t device;
  const char* name;
  Result<void> (*probe)(Transport&);
};
constexpr DriverRow DRIVERS[] = {
    {DEVICE_CONSOLE, "console", console_probe},
    {DEVICE_NET, "net", net_probe},
    {DEVICE_9P, "9p", p9_probe},
    {DEVICE_BLOCK, "blk", blk_probe},
    {DEVICE_FS, "fs", fs_probe},
};

void attach(Transport& t) {
  uint32_t id = t.device_id();
  for (const DriverRow& d : DRIVERS) {
    if (d.device != id) continue;
    if (auto r = d.probe(t); !r.ok())
      log_warn("virtio-{}: {} device not started: {}", t.kind(), d.name, error_name(r.error()));
    return;
  }
  log_debug("virtio-{}: no driver for device type {}", t.kind(), id);
}

}  // namespace

Result<uint64_t> negotiate(Transport& t, uint64_t wanted, uint64_t (*fixup)(uint64_t)) {
  t.set_status(0);
  t.set_status(STATUS_ACKNOWLEDGE);
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  uint64_t offered = t.device_features();
  if (!(offered & F_VERSION_1)) {
    t.set_status(STATUS_FAILED);
    return Error::NotSupported;
  }
  uint64_t f = wanted & offered;
  if (fixup) f = fixup(f) & offered;
  f |= F_VERSION_1;
  t.set_driver_features(f);
  t.set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  if (!(t.status() & STATUS_FEATURES_OK)) {  // §3.1.1 step 6
    t.set_status(STATUS_FAILED);
    return Error::NotSupported;
  }
  return f;
}

void virtio_init() {
  mmio_probe_all(attach);
  pci_probe_all(attach);
}

}  // namespace capsule::virtio
