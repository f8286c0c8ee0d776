#pragma once
// ext4 (and ext2) on the block layer (docs/ext4.md): mounts a volume made
// by mke2fs, read-write where its features allow and the disk is writable
// (docs/ext4.md "Writing"), read-only otherwise (changes are EROFS).
#include "fs/block_cache.h"
#include "fs/vfs.h"

namespace capsule::ext4 {

struct MountResult {
  vfs::FsRef fs;
  bool read_only = true;  // false: mounted read-write
  char note[160] = {};  // why it was refused, or a warning (journal not replayed)
};

// Reads and checks the superblock and the group descriptors. BadFormat:
// not ext2/3/4; NotSupported: features this driver does not read; Io: the
// device failed or the metadata is corrupted. `out.note` says why.
// A writable `io` is mounted read-write when every feature is one the
// writer keeps right; otherwise read-only with `out.note` saying why.
Result<void> mount(bcache::BlockIo& io, MountResult& out);

// The VM is about to power off: every read-write volume's last changes to
// the device, files unlinked while open freed, and the superblock marked
// clean (kernel/ registers it as a shutdown hook).
void shutdown_all();
// sync(2): every read-write volume's dirty pages written back, its
// device cache flushed.
void sync_all();
// Every read-write volume's dirty pages written back and its running
// journal transaction committed (the kernel's flusher calls it every few
// seconds, as jbd2 commits every 5 s; docs/ext4.md "Write-back",
// "Journal").
void writeback_all();

}  // namespace capsule::ext4
