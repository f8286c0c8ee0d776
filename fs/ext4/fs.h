#pragma once
// The ext4 volume (fs/include/fs/ext4.h): superblock, group descriptors,
// inodes read through the block cache, and the map from a file's logical
// blocks to the disk's (extents or ext2's block map). docs/ext4.md.
#include "fs/block_cache.h"
#include "fs/ext4.h"
#include "fs/ext4/layout.h"
#include "fs/vfs.h"

namespace capsule::ext4 {

class Ext4Fs final : public vfs::FileSystem {
 public:
  Ext4Fs(bcache::BlockIo& io, const Super& s, GroupDesc* groups);
  ~Ext4Fs() override;

  const char* name() const override { return "ext4"; }
  vfs::VnodeRef root() override { return root_; }
  vfs::FsStat statfs() override;
  void shutdown() override { root_ = vfs::VnodeRef(); }

  const Super& super() const { return s_; }
  bcache::BlockCache& cache() { return cache_; }
  uint32_t block_size() const { return s_.block_size; }

  // The vnode for inode `ino` (a new one each call; the dentry cache keeps
  // the ones in use). Io for a corrupted inode, NotFound for a free one.
  Result<vfs::VnodeRef> node(uint32_t ino);
  Result<void> read_inode(uint32_t ino, Inode& in);
  // The disk block holding logical block `lblk` of the file: 0 for a hole
  // (or an unwritten extent); *run: how many blocks from lblk on map the
  // same way (contiguous on disk, or all hole). Io for a corrupted map.
  Result<uint64_t> map(const Inode& in, uint64_t lblk, uint64_t* run);

  Result<void> set_root(uint32_t ino);

 private:
  Result<uint64_t> map_extents(const Inode& in, uint64_t lblk, uint64_t* run);
  Result<uint64_t> map_blockmap(const Inode& in, uint64_t lblk, uint64_t* run);

  Super s_;
  GroupDesc* groups_;  // s_.groups entries, owned
  bcache::BlockCache cache_;
  vfs::VnodeRef root_;
};

}  // namespace capsule::ext4
