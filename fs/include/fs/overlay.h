#pragma once
// A union file system (docs/overlay.md): a writable upper directory tree
// (a ramfs) over a read-only lower one (an ext4 disk), seen as one
// writable file system, as Linux's overlayfs.
#include "fs/vfs.h"

namespace capsule::overlay {

// The union of `upper_root` (written) over `lower_root` (only read). Both
// must be directories; `lower_root` may be null, and given later by
// set_lower (a boot root whose disk is read after the root is mounted).
// NotDir, NoMemory.
Result<vfs::FsRef> create(vfs::VnodeRef upper_root, vfs::VnodeRef lower_root);
// The lower tree of a union made without one (create): the names looked
// up before keep what they found (the boot's /dev, /proc, /sys). Exists
// if it has one, NotDir if `lower_root` is not a directory, Invalid if
// `fs` is not a union.
Result<void> set_lower(vfs::FileSystem& fs, vfs::VnodeRef lower_root);

}  // namespace capsule::overlay
