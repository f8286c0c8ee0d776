#pragma once
// The process's file descriptors (linux/file_common.cc): each Process has its
// own vfs::FdTable, root and working directory (linux/process_state.h:
// ProcessFiles). Fds 0-2 are the console; /dev/null, /dev/console and /dev/tty are served by
// linux/ itself (docs/vfs.md).
#include <cstdint>

#include "fs/file.h"
#include "linux/process.h"
#include "lib/result.h"

namespace capsule::linux_abi {

// Boot, after the root file system is mounted: the first process's root,
// cwd and fds 0-2, and the /dev nodes.
Result<void> files_init(Process& init);

}  // namespace capsule::linux_abi
