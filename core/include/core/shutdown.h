#pragma once
// Work that must finish before the VM powers off: output a device has
// queued but not yet taken (a network card's last frames, a disk's
// write-back). Drivers or kernel/ register a hook at boot; the program's
// exit runs them all (shutdown_prepare) just before power_off. A hook waits
// at most until the deadline it is given, so a stuck device cannot keep a
// finished program's VM alive.
#include <cstdint>

namespace capsule {

using ShutdownHook = void (*)(uint64_t deadline_ns);  // an uptime_ns() deadline

void shutdown_register(ShutdownHook hook);
// Runs every hook in registration order, all against one deadline
// (SHUTDOWN_WAIT_NS from now). Runs them once; later calls do nothing.
void shutdown_prepare();

inline constexpr uint64_t SHUTDOWN_WAIT_NS = 1'000'000'000;

}  // namespace capsule
