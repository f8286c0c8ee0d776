// ramfs, the file system object: creating an instance and its root,
// tearing the tree down, page accounting, statfs, and the entry points
// memfd and the initrd populator use. The nodes are in node.cc (common,
// symlinks), file.cc and dir.cc.
#include "fs/ramfs/ramfs.h"
#include "fs/vfs/page_cache.h"

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

uint64_t Ramfs::default_max_pages() {
  uint64_t half = vfs::fs_total_pages() / 2;
  return half ? half : 1;
}

// 1/32 of RAM plus 4 MiB, the 4 MiB scaled down to 1/8 of RAM in VMs
// under 32 MiB: a fixed 4 MiB was all of a small VM's free memory, so a
// 4-8 MiB VM could not even copy a program's pages out of the initrd.
uint64_t Ramfs::kernel_reserve_pages() {
  const uint64_t total = vfs::fs_total_pages();
  const uint64_t fixed = (4u << 20) / PAGE_SIZE;
  return total / 32 + (total / 8 < fixed ? total / 8 : fixed);
}

uint64_t Ramfs::pages_available() const {
  uint64_t used = pages_used();
  uint64_t free = vfs::fs_free_pages(), reserve = kernel_reserve_pages();
  uint64_t avail = free > reserve ? free - reserve : 0;
  if (options_.max_pages) {
    uint64_t left = options_.max_pages > used ? options_.max_pages - used : 0;
    if (left < avail) avail = left;
  }
  return avail;
}

// The count goes up first and comes back down on failure, so that two
// writers racing for the last page never both get it (the limit holds);
// the reserve is a floor under the page allocator's free count.
Result<uint8_t*> Ramfs::alloc_page(bool archive_copy) {
  uint64_t used = pages_used_.fetch_add(1, std::memory_order_relaxed);
  // Clean pages of disk files give way first (vfs::page_cache_reclaim).
  if (!archive_copy && vfs::fs_free_pages() <= kernel_reserve_pages()) (void)vfs::page_cache_reclaim(64);
  if ((options_.max_pages && used >= options_.max_pages) ||
      (!archive_copy && vfs::fs_free_pages() <= kernel_reserve_pages())) {
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

// tmpfs's figures: a sized instance reports its size (f_blocks) and what is
// left of it; an unlimited one (the root, memfd's) what it holds plus what
// it could still get. Blocks are pages (f_bsize 4096). Inodes: tmpfs's
// default nr_inodes is half of RAM's pages, and each live node counts.
vfs::FsStat Ramfs::statfs() {
  vfs::FsStat st;
  st.magic = 0x01021994;  // TMPFS_MAGIC (statfs(2)): ramfs has tmpfs's semantics
  uint64_t used = pages_used();
  uint64_t avail = pages_available();
  if (options_.max_pages) {
    st.blocks = options_.max_pages;
    st.bfree = options_.max_pages > used ? options_.max_pages - used : 0;
  } else {
    st.blocks = used + avail;
    st.bfree = avail;
  }
  st.bavail = st.bfree;
  uint64_t inodes = inodes_used();
  uint64_t max_inodes = default_max_pages();
  if (max_inodes < inodes) max_inodes = inodes;
  st.files = max_inodes;
  st.ffree = max_inodes - inodes;
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
