// ramfs, the file system object: creating an instance and its root,
// tearing the tree down, page accounting, statfs, and the entry points
// memfd and the initrd populator use. The nodes are in node.cc (common,
// symlinks), file.cc and dir.cc.
#include "fs/ramfs/ramfs.h"

#include <new>

#include "fs/ramfs/dir.h"
#include "fs/ramfs/file.h"

namespace capsule::ramfs {

using vfs::CreateArgs;
using vfs::FsGuard;
using vfs::VnodeRef;

Result<RefPtr<Ramfs>> Ramfs::create(const Options& options) {
  auto* fs = new (std::nothrow) Ramfs(options);
  if (!fs) return Error::NoMemory;
  RefPtr<Ramfs> ref = RefPtr<Ramfs>::adopt(fs);
  CreateArgs a;
  a.mode = vfs::MODE_DIR | (options.root_mode & vfs::MODE_PERM);
  a.uid = options.uid;
  a.gid = options.gid;
  auto* root = new (std::nothrow) Dir(fs, a, nullptr);
  if (!root) return Error::NoMemory;
  fs->root_ = VnodeRef::adopt(root);
  return ref;
}

VnodeRef Ramfs::root() { return root_; }

// Empties the tree without recursion (a deep tree must not overflow a
// kernel stack): walk down through first entries, holding a reference on
// each directory on the way, and climb back through the parent pointers.
void Ramfs::shutdown() {
  if (!root_) return;
  Dir* cur = static_cast<Dir*>(root_.leak());
  while (cur) {
    if (Node* n = cur->take_first()) {
      if (n->is_dir()) {
        cur = static_cast<Dir*>(n);  // our reference on the old cur stays: we come back
      } else {
        n->release();
      }
      continue;
    }
    Dir* up = cur->take_parent();
    cur->release();
    cur = up;
  }
}

Result<uint8_t*> Ramfs::alloc_page() {
  uint64_t used = pages_used_.fetch_add(1, std::memory_order_relaxed);
  if (options_.max_pages && used >= options_.max_pages) {
    pages_used_.fetch_sub(1, std::memory_order_relaxed);
    return Error::NoSpace;
  }
  auto p = vfs::fs_page_alloc();
  if (!p.ok()) {
    pages_used_.fetch_sub(1, std::memory_order_relaxed);
    return Error::NoSpace;  // tmpfs: ENOSPC when memory runs out
  }
  return p.value();
}

void Ramfs::free_page(uint8_t* p) {
  vfs::fs_page_free(p);
  pages_used_.fetch_sub(1, std::memory_order_relaxed);
}

vfs::FsStat Ramfs::statfs() {
  vfs::FsStat st;
  st.magic = 0x01021994;  // TMPFS_MAGIC (statfs(2)): ramfs has tmpfs's semantics
  uint64_t used = pages_used();
  uint64_t free = 0;
  if (options_.max_pages) {
    free = options_.max_pages > used ? options_.max_pages - used : 0;
  } else {
    free = vfs::fs_free_pages();
  }
  st.blocks = used + free;
  st.bfree = st.bavail = free;
  // Inodes are only limited by memory: report the count so far and room.
  st.files = next_ino_.load(std::memory_order_relaxed) + free;
  st.ffree = free;
  return st;
}

Result<vfs::VnodeRef> Ramfs::create_unlinked(const CreateArgs& a, bool sealable) {
  auto* f = new (std::nothrow) File(this, a);
  if (!f) return Error::NoMemory;
  {
    FsGuard g(f->lock_);  // not shared yet, but nlink_ is the lock's
    f->add_link_locked(-1);  // no name: nlink 0
  }
  if (sealable) f->allow_sealing();
  return VnodeRef::adopt(f);
}

Result<void> Ramfs::set_name_tag(vfs::Vnode& file, StringView tag) {
  if (file.fs() != this || !file.is_regular()) return Error::Invalid;
  return static_cast<File&>(file).set_tag(tag);
}

StringView Ramfs::name_tag(vfs::Vnode& file) {
  if (file.fs() != this || !file.is_regular()) return {};
  return static_cast<File&>(file).tag();
}

Result<void> Ramfs::set_backing(vfs::Vnode& file, const uint8_t* data, size_t size) {
  if (file.fs() != this || !file.is_regular()) return Error::Invalid;
  return static_cast<File&>(file).set_backing(data, size);
}

}  // namespace capsule::ramfs
