#pragma once
// ramfs's nodes (private to fs/ramfs): the base every node kind shares
// (attributes, link count, the node lock), and the two kinds that are only
// attributes: symlinks and special files. Regular files are in file.h,
// directories in dir.h; the file system object in fs/include/fs/ramfs/ramfs.h.
//
// Locking (docs/vfs.md): each node's lock_ guards its attributes and its
// kind's contents (GUARDED_BY below and in the subclasses). A directory's
// lock may be held while one non-directory child's is taken; two
// directories are locked only under Ramfs::rename_lock() (dir.h).
#include <cstddef>
#include <cstdint>

#include "fs/ramfs/ramfs.h"
#include "lib/thread_annotations.h"

namespace capsule::ramfs {

inline constexpr uint64_t PAGE = PAGE_SIZE;

inline uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

class Node : public vfs::Vnode {
 public:
  Node(Ramfs* fs, const vfs::CreateArgs& a);
  ~Node() override;

  Ramfs* rfs() const { return static_cast<Ramfs*>(fs()); }

  Result<vfs::Attr> getattr() override;
  Result<void> setattr(const vfs::SetAttr& s) override;
  Result<void> truncate(uint64_t size) override;
  // Extended attributes (user.*, trusted.*, security.*, POSIX ACLs) in
  // xattrs_; an access ACL also sets the mode, and chmod updates it.
  Result<size_t> getxattr(StringView name, void* buf, size_t cap) override;
  Result<void> setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) override;
  Result<size_t> listxattr(char* buf, size_t cap, bool trusted) override;
  Result<void> removexattr(StringView name) override;

  // A node being unlinked or linked (the directory holds its own lock and
  // takes this one second).
  void add_link_locked(int delta) REQUIRES(lock_);

  vfs::FsMutex lock_;  // over everything below and the subclass's contents
  uint32_t mode_ GUARDED_BY(lock_);
  uint32_t uid_ GUARDED_BY(lock_), gid_ GUARDED_BY(lock_);
  uint32_t nlink_ GUARDED_BY(lock_);
  bool linkable_ GUARDED_BY(lock_) = false;  // an O_TMPFILE file that link() may still name
  uint64_t rdev_ GUARDED_BY(lock_);
  int64_t atime_ GUARDED_BY(lock_), mtime_ GUARDED_BY(lock_), ctime_ GUARDED_BY(lock_);
  vfs::XattrStore xattrs_ GUARDED_BY(lock_);

 protected:
  virtual void fill_size_locked(vfs::Attr&) REQUIRES(lock_) { lock_.assert_held(); }
  virtual Result<void> truncate_locked(uint64_t) REQUIRES(lock_);
  // relatime (Linux's default): atime moves only if it is older than mtime
  // or ctime, or a day old, so reads rarely write.
  void touch_atime_locked() REQUIRES(lock_);
};

// Device nodes, FIFOs, sockets: attributes only (devfs and pipes give them
// behaviour through the Vfs later).
class Special final : public Node {
 public:
  using Node::Node;
};

class Symlink final : public Node {
 public:
  // Takes `target` (new[]'d, len bytes).
  Symlink(Ramfs* fs, const vfs::CreateArgs& a, char* target, size_t len) : Node(fs, a), target_(target), len_(len) {}
  ~Symlink() override { delete[] target_; }

  Result<size_t> readlink(char* buf, size_t cap) override;

 protected:
  void fill_size_locked(vfs::Attr& a) override REQUIRES(lock_);

 private:
  // Immutable after creation: no lock.
  char* const target_;
  const size_t len_;
};

}  // namespace capsule::ramfs
