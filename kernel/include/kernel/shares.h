#pragma once
// Host directories at boot (--share=TAG:/DIR[:ro], docs/9p.md): each 9P
// device named on the command line is mounted on its directory, which is
// made (with its parents) when the image lacks it.
#include "kernel/cmdline.h"

namespace capsule {

// After the root file system is mounted. A share that cannot be mounted
// stops the boot with status 2 and a line saying why.
void mount_shares(const BootSettings& s);

}  // namespace capsule
