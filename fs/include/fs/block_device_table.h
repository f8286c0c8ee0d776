#pragma once
// Block devices (Linux's blkdev table), as the character device table in
// fs/vfs.h: open() of a block device node of any file system with device
// number `rdev` ((major << 32) | minor) opens the vnode `open` returns
// instead; a node with no device registered opens as the bare node. A
// table of its own: block and character numbers are separate spaces.
// Registered at boot (linux/block_file.cc); fs/vfs/chrdev.cc.
#include "fs/vfs.h"

namespace capsule::vfs {

Result<void> register_block_device(uint64_t rdev, CharDeviceOpen open);
CharDeviceOpen block_device(uint64_t rdev);

}  // namespace capsule::vfs
