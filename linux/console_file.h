#pragma once
// The console as files (linux/console_file.cc): fds 0-2, /dev/console,
// /dev/tty and /dev/null. A character device node of the root file system
// with one of those device numbers opens the console object instead.
#include "fs/file.h"
#include "fs/vfs.h"

namespace capsule::linux_abi {

class StreamVnode;

// Boot: descriptors 0 (read), 1 and 2 (write). The /dev nodes are devfs's.
Result<void> console_files_init(vfs::Vfs& vfs, const vfs::PathContext& pc, vfs::FdTable& fds);
// Descriptors 0 (read), 1 and 2 (write) on the console: the lowest free
// ones (a fresh table: 0-2). Boot, and each command of a sequence.
Result<void> console_install_stdio(vfs::FdTable& fds);

// The object a device node opens, or nullptr for devices linux/ does not
// serve (then the node itself is opened).
StreamVnode* device_for(vfs::Vnode& node);

}  // namespace capsule::linux_abi
