#pragma once
// An ext4 file of any type as a vfs::Vnode (docs/ext4.md): directories
// read as linear lists of entries (htree indexes are skipped as the
// entries they hide in), regular files through a page cache of their own
// (read() and mmap's page() share the pages), fast and slow symlinks.
// Read-only: every change is ReadOnly (EROFS).
#include "fs/ext4/fs.h"
#include "fs/ext4/layout.h"
#include "fs/ramfs/page_tree.h"
#include "fs/vfs.h"

namespace capsule::ext4 {

class Node final : public vfs::Vnode {
 public:
  Node(Ext4Fs* fs, const Inode& in);
  ~Node() override;

  Result<vfs::VnodeRef> lookup(StringView name) override;
  Result<vfs::VnodeRef> create(StringView, const vfs::CreateArgs&) override { return refuse(); }
  Result<vfs::VnodeRef> mkdir(StringView, const vfs::CreateArgs&) override { return refuse(); }
  Result<vfs::VnodeRef> tmpfile(const vfs::CreateArgs&, bool) override { return refuse(); }
  Result<vfs::VnodeRef> symlink(StringView, StringView, const vfs::CreateArgs&) override { return refuse(); }
  Result<void> link(StringView, Vnode&) override { return refuse(); }
  Result<void> unlink(StringView) override { return refuse(); }
  Result<void> rmdir(StringView) override { return refuse(); }
  Result<void> rename(StringView, Vnode&, StringView, bool) override { return refuse(); }
  Result<void> readdir(uint64_t cookie, vfs::DirSink& sink) override;
  Result<size_t> readlink(char* buf, size_t cap) override;
  Result<vfs::VnodeRef> open_as(uint32_t how) override;
  Result<size_t> read(uint64_t offset, vfs::IoBuffer& buf) override;
  Result<size_t> write(uint64_t*, vfs::IoBuffer&, bool) override { return refuse(); }
  Result<void> truncate(uint64_t) override { return refuse(); }
  Result<void> allocate(uint64_t, uint64_t, bool) override { return refuse(); }
  Result<void> punch_hole(uint64_t, uint64_t) override { return refuse(); }
  Result<vfs::Attr> getattr() override;
  Result<void> setattr(const vfs::SetAttr&) override { return Error::ReadOnly; }
  Result<void> setxattr(StringView, const void*, size_t, vfs::XattrSet) override { return Error::ReadOnly; }
  Result<void> removexattr(StringView) override { return Error::ReadOnly; }
  Result<uint64_t> page(uint64_t offset) override;

 private:
  // What a change answers: ReadOnly where the operation exists for this
  // type, the VFS's default answer otherwise.
  Error refuse() const {
    return is_dir() ? Error::ReadOnly : (type() == vfs::VType::Regular ? Error::ReadOnly : Error::NotDir);
  }
  Ext4Fs* xfs() const { return static_cast<Ext4Fs*>(fs()); }
  // The page of the file at index `index`, read from the disk if not cached.
  Result<uint8_t*> page_locked(uint64_t index) REQUIRES(lock_);
  // Directory entries from byte `pos` on: fn(entry, next_pos) returns false
  // to stop. Io for a corrupted block.
  template <typename F>
  Result<void> each_entry(uint64_t pos, F&& fn);

  const Inode in_;
  vfs::FsMutex lock_;
  ramfs::PageTree pages_ GUARDED_BY(lock_);
};

}  // namespace capsule::ext4
