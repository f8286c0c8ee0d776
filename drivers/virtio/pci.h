#pragma once
// virtio-pci transport, modern interface [virtio 1.2 §4.1].
#include "drivers/virtio/transport.h"

namespace capsule::virtio {

// Finds virtio functions (vendor 0x1af4, device 0x1000..0x107f) on PCI bus
// 0 and calls `attach` for each one that has the modern capabilities.
void pci_probe_all(void (*attach)(Transport&));

}  // namespace capsule::virtio
