#pragma once
// virtio-mmio transport, modern layout (version 2) [virtio 1.2 §4.2].
#include "drivers/virtio/transport.h"

namespace capsule::virtio {

// Probes QEMU microvm's transport slots at 0xfeb00000 + 0x200 * i (see
// docs/virtio.md for slot counts and GSIs) and calls `attach` for each
// slot that holds a device.
void mmio_probe_all(void (*attach)(Transport&));

}  // namespace capsule::virtio
