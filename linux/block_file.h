#pragma once
// Block device nodes (linux/block_file.cc, docs/block.md "Device nodes"):
// /dev/vda, /dev/nvme0n1... over the block devices the drivers found, with
// byte-addressed read/write, fsync and the block ioctls (BLKGETSIZE64,
// BLKSSZGET, BLKDISCARD, BLKZEROOUT...).
#include "fs/vfs.h"

namespace capsule::linux_abi {

// Boot, after the drivers' probes and devfs: a node in /dev for every
// block device, opened through the VFS's block device table.
Result<void> block_files_init(vfs::Vfs& v, const vfs::PathContext& pc);

}  // namespace capsule::linux_abi
