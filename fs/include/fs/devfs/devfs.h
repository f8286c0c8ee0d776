#pragma once
// devfs (docs/pseudo-fs.md): /dev as Linux's devtmpfs presents it. A ramfs
// instance holding the standard nodes, mounted on /dev, that users may add
// to (mknod, mkdir, symlink); /dev/shm a second ramfs (tmpfs, mode 1777)
// for shm_open and POSIX semaphores. The memory devices behind the nodes
// (zero, full, random, urandom) are registered in the VFS's character
// device table, so a node with their number opens them wherever it lives.
// /dev/null, /dev/console and /dev/tty are nodes here too; linux/ serves
// them (linux/console_file.cc).
#include "fs/vfs.h"

namespace capsule::devfs {

// Device numbers, (major << 32) | minor as vfs::Attr::rdev has them.
constexpr uint64_t dev_number(uint64_t major, uint64_t minor) { return (major << 32) | minor; }
constexpr uint64_t DEV_NULL = dev_number(1, 3), DEV_ZERO = dev_number(1, 5), DEV_FULL = dev_number(1, 7),
                   DEV_RANDOM = dev_number(1, 8), DEV_URANDOM = dev_number(1, 9), DEV_TTY = dev_number(5, 0),
                   DEV_CONSOLE = dev_number(5, 1), DEV_PTMX = dev_number(5, 2);

// Registers the memory devices (idempotent). Host tests call it too.
Result<void> register_memory_devices();

// A devfs instance with the standard nodes, not mounted (host tests).
Result<vfs::FsRef> create();

// Boot: creates /dev if missing, mounts devfs on it and a tmpfs on
// /dev/shm.
Result<void> mount_boot(vfs::Vfs& v, const vfs::PathContext& pc);

}  // namespace capsule::devfs
