// The union file system and its files' non-name operations (fs/overlay/
// overlay.h, docs/overlay.md).
#include "fs/overlay/overlay.h"

#include <new>

#include "fs/overlay.h"

namespace capsule::overlay {

vfs::VnodeRef OverlayFs::root() { return root_; }

// The upper tree's figures: that is where anything written goes.
vfs::FsStat OverlayFs::statfs() {
  vfs::VnodeRef r = root_;
  if (!r) return {};
  Node& n = static_cast<Node&>(*r);
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(lock_);
    u = n.upper_;
  }
  return u ? u->fs()->statfs() : vfs::FsStat{};
}

void OverlayFs::shutdown() { root_ = vfs::VnodeRef(); }

Result<vfs::FsRef> create(vfs::VnodeRef upper_root, vfs::VnodeRef lower_root) {
  if (!upper_root || !upper_root->is_dir() || (lower_root && !lower_root->is_dir())) return Error::NotDir;
  auto* fs = new (std::nothrow) OverlayFs();
  if (!fs) return Error::NoMemory;
  vfs::FsRef ref = vfs::FsRef::adopt(fs);
  const bool opaque = is_opaque(*upper_root);
  auto* root = new (std::nothrow) Node(fs, upper_root, opaque ? vfs::VnodeRef() : lower_root, nullptr, "",
                                       vfs::MODE_DIR);
  if (!root) return Error::NoMemory;
  fs->root_ = vfs::VnodeRef::adopt(root);
  return ref;
}

Result<void> set_lower(vfs::FileSystem& fs, vfs::VnodeRef lower_root) {
  if (StringView(fs.name()) != "overlay") return Error::Invalid;
  if (!lower_root || !lower_root->is_dir()) return Error::NotDir;
  auto& ofs = static_cast<OverlayFs&>(fs);
  vfs::VnodeRef r = ofs.root_;
  if (!r) return Error::Invalid;
  Node& root = static_cast<Node&>(*r);
  vfs::FsGuard g(ofs.lock_);
  if (root.lower_ || root.opaque_) return Error::Exists;
  root.lower_ = lower_root;
  return {};
}

Node::Node(OverlayFs* fs, vfs::VnodeRef upper, vfs::VnodeRef lower, Node* parent, StringView name, uint32_t mode)
    : Vnode(fs, lower ? lower->ino() : upper->ino() | UPPER_INO, mode),
      upper_(static_cast<vfs::VnodeRef&&>(upper)),
      lower_(static_cast<vfs::VnodeRef&&>(lower)),
      parent_(parent) {
  if (parent_) parent_->retain();
  name_len_ = uint8_t(name.size());
  __builtin_memcpy(name_, name.data(), name.size());
}

Node::~Node() {
  if (parent_) parent_->release();
}

bool Node::has_upper() {
  vfs::FsGuard g(ofs()->lock_);
  return bool(upper_);
}

vfs::VnodeRef Node::real() {
  vfs::FsGuard g(ofs()->lock_);
  return upper_ ? upper_ : lower_;
}

Result<vfs::VnodeRef> Node::lookup(StringView name) {
  vfs::FsGuard g(ofs()->lock_);
  return lookup_locked(name);
}

// Upper first: a whiteout hides the name, a file hides the lower one, a
// directory merges with a lower directory of the same name unless it is
// opaque.
Result<vfs::VnodeRef> Node::lookup_locked(StringView name) {
  if (!is_dir()) return Error::NotDir;
  if (name == "..") return vfs::VnodeRef(parent_ ? parent_ : this);
  vfs::VnodeRef u, l;
  if (upper_) {
    auto r = upper_->lookup(name);
    if (r.ok()) {
      if (is_whiteout(*r.value())) return Error::NotFound;
      u = r.value();
    } else if (r.error() != Error::NotFound) {
      return r.error();
    }
  }
  const bool opaque_child = u && u->is_dir() && is_opaque(*u);
  if (lower_ && !opaque_ && (!u || (u->is_dir() && !opaque_child))) {
    auto r = lower_->lookup(name);
    if (r.ok()) {
      l = r.value();
      if (u && !l->is_dir()) l = vfs::VnodeRef();  // a directory hides a lower file
    } else if (r.error() != Error::NotFound) {
      return r.error();
    }
  }
  if (!u && !l) return Error::NotFound;
  const uint32_t mode = uint32_t((u ? u : l)->type()) << 12;
  auto* n = new (std::nothrow) Node(ofs(), u, l, this, name, mode);
  if (!n) return Error::NoMemory;
  n->opaque_ = opaque_child;
  return vfs::VnodeRef::adopt(n);
}

Result<bool> Node::empty_locked() {
  struct Any final : vfs::DirSink {
    bool found = false;
    bool emit(StringView n, uint64_t, vfs::VType, uint64_t) override {
      if (n == "." || n == "..") return true;
      found = true;
      return false;
    }
  } any;
  // readdir takes the lock itself: list without it, the caller's view is
  // kept by the union's lock being held across the check and the change
  // only in so far as no other union operation runs meanwhile.
  TRY(readdir_locked(0, any));
  return !any.found;
}

Result<size_t> Node::readlink(char* buf, size_t cap) { return real()->readlink(buf, cap); }

// Directories and symlinks are opened as themselves (a directory's
// listing is the merged one; openat from it walks the union). Regular
// files open as the real file, the upper one once copied up: read, write
// and mmap then run on it directly, with its own page cache. An open for
// writing copies up first (without data when it truncates).
Result<vfs::VnodeRef> Node::open_as(uint32_t how) {
  if (is_dir() || is_symlink()) return vfs::VnodeRef(this);
  vfs::VnodeRef r;
  {
    vfs::FsGuard g(ofs()->lock_);
    if (how & (vfs::OpenHow::WRITE | vfs::OpenHow::TRUNC)) TRY(copy_up_locked(!(how & vfs::OpenHow::TRUNC)));
    r = upper_ ? upper_ : lower_;
  }
  return r->open_as(how);
}

Result<size_t> Node::read(uint64_t offset, vfs::IoBuffer& buf) { return real()->read(offset, buf); }

Result<size_t> Node::write(uint64_t* offset, vfs::IoBuffer& buf, bool append) {
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(ofs()->lock_);
    TRY(copy_up_locked());
    u = upper_;
  }
  return u->write(offset, buf, append);
}

Result<void> Node::truncate(uint64_t size) {
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(ofs()->lock_);
    TRY(copy_up_locked(size != 0));
    u = upper_;
  }
  return u->truncate(size);
}

// A file's figures are the real file's, device and inode number included:
// an open file is the real file (open_as), so stat and fstat agree. A
// directory (opened as itself) is the union's: its device, and the inode
// number its parent's listing gives (ino()), which stays the same when it
// is copied up, so a path can be found from a directory (getcwd).
Result<vfs::Attr> Node::getattr() {
  vfs::Attr a = TRY(real()->getattr());
  if (is_dir()) {
    a.dev = fs()->dev();
    a.ino = ino();
  }
  return a;
}

Result<void> Node::setattr(const vfs::SetAttr& a) {
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(ofs()->lock_);
    const bool to_zero = (a.mask & vfs::SetAttr::SIZE) && a.size == 0;
    TRY(copy_up_locked(!to_zero));
    u = upper_;
  }
  return u->setattr(a);
}

Result<size_t> Node::getxattr(StringView name, void* buf, size_t cap) { return real()->getxattr(name, buf, cap); }

Result<void> Node::setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) {
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(ofs()->lock_);
    TRY(copy_up_locked());
    u = upper_;
  }
  return u->setxattr(name, value, size, how);
}

Result<size_t> Node::listxattr(char* buf, size_t cap, bool trusted) { return real()->listxattr(buf, cap, trusted); }

Result<void> Node::removexattr(StringView name) {
  vfs::VnodeRef u;
  {
    vfs::FsGuard g(ofs()->lock_);
    TRY(copy_up_locked());
    u = upper_;
  }
  return u->removexattr(name);
}

// Never mapped itself: opens and exec map the real file (open_as), whose
// evictions unmap what maps *it*. A mapping of this node would keep pages
// the real file frees.
Result<uint64_t> Node::page(uint64_t) { return Error::NotSupported; }

}  // namespace capsule::overlay
