#pragma once
// The network at boot (docs/net_device.md): every device found by the
// drivers gets an Ethernet interface; its IPv4 address comes from the
// command line (--ip, --gw, --dns) or from DHCP, which runs in a thread
// while the rest of the boot goes on.
#include "kernel/cmdline.h"

namespace capsule {

// After the drivers' probes.
void network_start(const BootSettings& s);
// Before the program starts, with the root file system mounted: waits for
// the DHCP answer (bounded), then writes /etc/resolv.conf (and /etc/hosts
// when the image has none). Nothing to do without a device.
void network_ready();

}  // namespace capsule
