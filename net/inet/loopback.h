#pragma once
// The loopback interface lo (127.0.0.1/8): what it is sent comes back to
// ip_input. Private to net/.
#include "net/netif.h"

namespace capsule::net {

// lo, registered (index 1) on first use.
Netif& loopback_netif();

}  // namespace capsule::net
