#pragma once
// The union file system's pieces (fs/include/fs/overlay.h, docs/overlay.md).
//
// Every file is a Node that holds the file of the upper tree, of the lower
// tree, or both (a directory present in both: a merged directory). Names
// resolve upper first; a whiteout in the upper tree (a character device
// 0:0, as Linux's overlayfs) hides the lower name; an opaque upper
// directory (xattr trusted.overlay.opaque = "y") hides the whole lower
// directory. Changes go to the upper tree only: a file of the lower tree
// is copied up first (its parents too), at the first open for writing or
// change of its attributes; reads never copy.
//
// Locking: one mutex per union (OverlayFs::lock_) over every name
// operation and copy-up, taken before any lock of the two trees (their
// operations are called under it, never the other way round). Opens hand
// out the real file (open_as), so read, write and mmap run on it without
// this lock.
#include "fs/vfs.h"

namespace capsule::overlay {

class Node;

class OverlayFs final : public vfs::FileSystem {
 public:
  OverlayFs() = default;
  const char* name() const override { return "overlay"; }
  vfs::VnodeRef root() override;
  vfs::FsStat statfs() override;
  void shutdown() override;

  vfs::FsMutex lock_;
  vfs::VnodeRef root_;  // set once by create()
};

class Node final : public vfs::Vnode {
 public:
  // `name`: its name in `parent` (nullptr for the root), for copy-up.
  Node(OverlayFs* fs, vfs::VnodeRef upper, vfs::VnodeRef lower, Node* parent, StringView name, uint32_t mode);
  ~Node() override;

  Result<vfs::VnodeRef> lookup(StringView name) override;
  Result<vfs::VnodeRef> create(StringView name, const vfs::CreateArgs& args) override;
  Result<vfs::VnodeRef> mkdir(StringView name, const vfs::CreateArgs& args) override;
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
  Result<vfs::Attr> getattr() override;
  Result<void> setattr(const vfs::SetAttr& a) override;
  Result<size_t> getxattr(StringView name, void* buf, size_t cap) override;
  Result<void> setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) override;
  Result<size_t> listxattr(char* buf, size_t cap, bool trusted) override;
  Result<void> removexattr(StringView name) override;
  Result<uint64_t> page(uint64_t offset) override;

  // For the host tests: which trees hold it.
  bool has_upper();
  bool has_lower() const { return bool(lower_); }

 private:
  friend class OverlayFs;
  friend Result<vfs::FsRef> create(vfs::VnodeRef, vfs::VnodeRef);
  friend Result<void> set_lower(vfs::FileSystem&, vfs::VnodeRef);
  OverlayFs* ofs() const { return static_cast<OverlayFs*>(fs()); }
  // The file that answers for it now: the upper one if there is one.
  vfs::VnodeRef real();
  // Name operations, with the union's lock held.
  Result<vfs::VnodeRef> lookup_locked(StringView name);
  // The upper directory (made, with its parents, if missing).
  Result<vfs::Vnode*> upper_dir_locked();
  // This file copied into the upper tree (data only if `data`: a
  // truncate to 0 needs none); nothing if it is there already.
  Result<void> copy_up_locked(bool data = true);
  // Is `name` visible in the lower directory (not hidden by opacity)?
  bool lower_has_locked(StringView name);
  // The upper entry `name` if it is a whiteout: removed (a new file takes
  // the name).
  Result<void> drop_whiteout_locked(vfs::Vnode& udir, StringView name);
  Result<void> whiteout_locked(vfs::Vnode& udir, StringView name);
  Result<void> readdir_locked(uint64_t cookie, vfs::DirSink& sink);
  // Merged listing is empty (rmdir, rename over a directory).
  Result<bool> empty_locked();
  // Removes the whiteouts an upper directory holds (before its rmdir).
  Result<void> clear_whiteouts_locked(vfs::Vnode& udir);

  vfs::VnodeRef upper_;        // the union's lock
  vfs::VnodeRef lower_;         // set at construction (the root's: set_lower, the union's lock)
  Node* parent_;               // with a reference; the union's lock
  bool opaque_ = false;        // upper directory marked opaque
  uint8_t name_len_ = 0;       // the union's lock
  char name_[vfs::MAX_NAME + 1];
};

// The inode number of a file only the upper tree has is the upper file's
// with this bit (the two trees number their files independently); a file
// with a lower file has the lower one's (Node::ino(), directories' stat,
// readdir).
constexpr uint64_t UPPER_INO = uint64_t(1) << 40;

// Whiteouts and opaque directories (fs/overlay/whiteout.cc).
bool is_whiteout(vfs::Vnode& v);
extern const char OPAQUE_XATTR[];  // "trusted.overlay.opaque"
bool is_opaque(vfs::Vnode& upper_dir);

// Copies `src`'s contents (a regular file) into `dst` (empty), leaving
// holes where src has runs of zeros (fs/overlay/copy_up.cc).
Result<void> copy_data(vfs::Vnode& src, vfs::Vnode& dst, uint64_t size);

}  // namespace capsule::overlay
