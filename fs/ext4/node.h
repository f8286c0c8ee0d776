#pragma once
// An ext4 file of any type as a vfs::Vnode (docs/ext4.md): directories
// read as linear lists of entries (htree indexes are skipped as the
// entries they hide in), regular files through a page cache of their own
// (read() and mmap's page() share the pages), fast and slow symlinks.
// Read-write where the volume is (docs/ext4.md "Writing"): data is written
// through to the disk at each write(); ReadOnly (EROFS) otherwise.
#include "fs/ext4/fs.h"
#include "fs/ext4/layout.h"
#include "fs/ramfs/page_tree.h"
#include "fs/vfs.h"
#include "fs/vfs/page_cache.h"

namespace capsule::ext4 {

// Its pages are clean copies of the disk's blocks (writes go through at
// once), so under memory pressure the page cache may drop them
// (vfs::Evictable): read() and page faults read them again.
class Node final : public vfs::Vnode, public vfs::Evictable {
 public:
  Node(Ext4Fs* fs, const Inode& in);
  ~Node() override;

  // Off the inode cache before the last reference goes; a file with no
  // link left is deleted then (its blocks and inode freed).
  void release() override;

  Result<vfs::VnodeRef> lookup(StringView name) override;
  Result<vfs::VnodeRef> create(StringView name, const vfs::CreateArgs& args) override;
  Result<vfs::VnodeRef> mkdir(StringView name, const vfs::CreateArgs& args) override;
  Result<vfs::VnodeRef> tmpfile(const vfs::CreateArgs&, bool) override { return refuse(); }
  Result<vfs::VnodeRef> symlink(StringView name, StringView target, const vfs::CreateArgs& args) override;
  Result<void> link(StringView name, Vnode& target) override;
  Result<void> unlink(StringView name) override;
  Result<void> rmdir(StringView name) override;
  Result<void> rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace) override;
  Result<void> readdir(uint64_t cookie, vfs::DirSink& sink) override;
  Result<size_t> readlink(char* buf, size_t cap) override;
  Result<vfs::VnodeRef> open_as(uint32_t how) override;
  Result<size_t> read(uint64_t offset, vfs::IoBuffer& buf) override;
  Result<size_t> write(uint64_t* offset, vfs::IoBuffer& buf, bool append) override;
  Result<void> truncate(uint64_t size) override;
  Result<void> fsync() override;
  Result<void> fdatasync() override;
  // msync of a shared mapping: the file's cached pages (which the mapping
  // may have changed) back to their blocks, then the device's flush.
  Result<void> sync() override;
  // fallocate (fs/ext4/node_space.cc): holes backed by unwritten extents,
  // and holes punched.
  Result<void> allocate(uint64_t offset, uint64_t len, bool keep_size) override;
  Result<void> punch_hole(uint64_t offset, uint64_t len) override;
  Result<vfs::Attr> getattr() override;
  Result<void> setattr(const vfs::SetAttr& a) override;
  // Extended attributes (fs/ext4/xattr.cc): in the inode and a block.
  Result<size_t> getxattr(StringView name, void* buf, size_t cap) override;
  Result<void> setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) override;
  Result<size_t> listxattr(char* buf, size_t cap, bool trusted) override;
  Result<void> removexattr(StringView name) override;
  Result<uint64_t> page(uint64_t offset) override;
  // mmap fills with the pages cached now only (the rest fault in when
  // touched), so mapping a file larger than memory costs nothing at once.
  Result<uint64_t> page_for_read(uint64_t offset, bool zero_ok, uint64_t* next) override;

  bool evict_try_lock() override TRY_ACQUIRE(true, lock_);
  void evict_unlock() override RELEASE(lock_);
  size_t evict_locked(size_t want, bool* now_empty) override REQUIRES(lock_);

 private:
  friend class Ext4Fs;
  // What an operation this driver does not do answers: ReadOnly on a
  // read-only volume, OpNotSupported otherwise.
  Error refuse() const { return xfs()->writable() ? Error::OpNotSupported : Error::ReadOnly; }
  Ext4Fs* xfs() const { return static_cast<Ext4Fs*>(fs()); }
  // The page of the file at index `index`, read from the disk if not cached.
  Result<uint8_t*> page_locked(uint64_t index) REQUIRES(lock_);
  // Pages [first, last] not cached yet whose blocks follow each other on
  // the disk, read ahead of page_locked() in requests of up to 64 KiB.
  void gather_pages_locked(uint64_t first, uint64_t last) REQUIRES(lock_);
  // Directory entries from byte `pos` on: fn(entry, next_pos) returns false
  // to stop. Io for a corrupted block.
  template <typename F>
  Result<void> each_entry(uint64_t pos, F&& fn);
  // A new inode named `name` here (create, mkdir, symlink), set up by
  // `fill` before it is linked in.
  template <typename F>
  Result<vfs::VnodeRef> make(StringView name, uint32_t mode, const vfs::CreateArgs& args, F&& fill);
  // One link of inode `ino` gone (unlink, rmdir, a rename's victim): its
  // link count and ctime; freed now if nothing holds it.
  // The caller holds the volume's meta lock (a Txn); asserted.
  Result<void> drop_link(uint32_t ino, bool dir);
  // The file's blocks [first, first + count) from the page at `p` to the
  // disk, allocating holes; the size grows to `end` if it is less.
  Result<void> write_blocks_locked(uint64_t first, uint64_t count, const uint8_t* p, uint64_t end) REQUIRES(lock_);
  Result<void> truncate_locked(uint64_t size) REQUIRES(lock_);
  // Write-back (docs/ext4.md "Write-back"): a write() of [off, off + len)
  // that only overwrites blocks the file has (allocated, not unwritten)
  // and does not grow it leaves its pages dirty instead of writing them:
  // true if it did (the caller's write is done), false to write through.
  bool write_back_locked(uint64_t off, size_t len) REQUIRES(lock_);
  // The dirty pages' blocks to the disk (fsync, fdatasync, sync(2), the
  // flusher, the volume's end); on an error they stay dirty.
  Result<void> writeback_locked() REQUIRES(lock_);
  // Forgets the dirty marks of pages from `first` on (their pages went or
  // were written).
  void undirty_locked(uint64_t first) REQUIRES(lock_);
  // The inode written if its times are dirty (times_dirty_); the caller
  // holds the meta lock (a Txn).
  Result<void> write_times_locked();

  // The inode: changed under the volume's meta lock (and, for a regular
  // file's size and blocks, under lock_ too), so either lock reads it.
  Inode in_;
  bool deleted_ = false;        // its inode has been freed (meta lock)
  // in_'s mtime/ctime are newer than the disk's: an overwrite that
  // allocated nothing and did not grow the file (or a chown/chmod that
  // changed nothing but the ctime) leaves the inode to its
  // fsync, last reference, sync(2) or the unmount (as Linux's lazy inode
  // times). Set and cleared under the meta lock (a Txn).
  bool times_dirty_ = false;
  Node* cache_next_ = nullptr;  // the inode cache's chain (meta lock)
  vfs::FsMutex lock_;
  ramfs::PageTree pages_ GUARDED_BY(lock_);
  // Eviction's clock hand: the page index it goes on from.
  uint64_t evict_hand_ GUARDED_BY(lock_) = 0;
  // Pages that may differ from the disk: a write() between filling the
  // pages and writing their blocks (busy), or a shared writable mapping
  // that has stored into them (until sync() writes them back with no such
  // mapping left). Nothing is evicted meanwhile.
  bool write_busy_ GUARDED_BY(lock_) = false;
  bool maybe_dirty_ GUARDED_BY(lock_) = false;
  // Pages an overwrite changed whose blocks the disk has not seen yet
  // (write_back_locked), each marked by its page pointer. Never evicted;
  // the file is on the volume's dirty list meanwhile.
  ramfs::PageTree dirty_ GUARDED_BY(lock_);
  // The volume's dirty list (Ext4Fs::dirty_add; under its dirty lock).
  Node* dirty_next_ = nullptr;
  bool on_dirty_list_ = false;
};

}  // namespace capsule::ext4
