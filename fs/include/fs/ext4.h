#pragma once
// ext4 (and ext2) on the block layer (docs/ext4.md): mounts a volume made
// by mke2fs, read-only in this slice (every change is ReadOnly: EROFS).
#include "fs/block_cache.h"
#include "fs/vfs.h"

namespace capsule::ext4 {

struct MountResult {
  vfs::FsRef fs;
  bool read_only = true;
  char note[160] = {};  // why it was refused, or a warning (journal not replayed)
};

// Reads and checks the superblock and the group descriptors. BadFormat:
// not ext2/3/4; NotSupported: features this driver does not read; Io: the
// device failed or the metadata is corrupted. `out.note` says why.
Result<void> mount(bcache::BlockIo& io, MountResult& out);

}  // namespace capsule::ext4
