#pragma once
// Disks at boot (docs/block.md): each --disk=ID[:/MOUNTPOINT][:ro] names a
// block device (by the identity the host gave it, or its name "vda"); with
// a mount point, its ext4 file system is mounted there (the directory is
// made in the root file system if missing). A disk that cannot be mounted
// is reported on the log and the program runs without it.
#include "kernel/cmdline.h"

namespace capsule {

// With interrupts on (the requests sleep until the device answers) and the
// root file system mounted.
void disks_mount(const BootSettings& s);

}  // namespace capsule
