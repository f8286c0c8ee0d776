// ramfs: what every node kind shares (attributes, times, link count), and
// symlinks.
#include "fs/ramfs/node.h"

#include <new>

namespace capsule::ramfs {

using vfs::Attr;
using vfs::FsGuard;
using vfs::SetAttr;
using vfs::VType;

// The constructor runs before the node is shared: its fields need no lock.
Node::Node(Ramfs* fs, const vfs::CreateArgs& a)
    : Vnode(fs, fs->next_ino(), a.mode), mode_(a.mode), uid_(a.uid), gid_(a.gid), rdev_(a.rdev) {
  atime_ = mtime_ = ctime_ = vfs::fs_now_ns();
  nlink_ = type() == VType::Dir ? 2 : 1;
}

Node::~Node() { rfs()->inode_gone(); }

Result<Attr> Node::getattr() {
  FsGuard g(lock_);
  Attr a;
  a.dev = fs()->dev();
  a.ino = ino();
  a.mode = mode_;
  a.nlink = nlink_;
  a.uid = uid_;
  a.gid = gid_;
  a.rdev = rdev_;
  a.atime_ns = atime_;
  a.mtime_ns = mtime_;
  a.ctime_ns = ctime_;
  fill_size_locked(a);
  return a;
}

Result<void> Node::setattr(const SetAttr& s) {
  FsGuard g(lock_);
  int64_t now = vfs::fs_now_ns();
  if (s.mask & SetAttr::SIZE) {
    TRY(truncate_locked(s.size));
    mtime_ = now;
  }
  if (s.mask & SetAttr::MODE) {
    mode_ = (mode_ & vfs::MODE_TYPE) | (s.mode & vfs::MODE_PERM);
    size_t n;
    if (void* acl = xattrs_.find_value(vfs::ACL_ACCESS, &n)) vfs::posix_acl_chmod(acl, n, mode_);
  }
  if (s.mask & SetAttr::UID) uid_ = s.uid;
  if (s.mask & SetAttr::GID) gid_ = s.gid;
  if (s.mask & SetAttr::ATIME) atime_ = s.atime_ns;
  if (s.mask & SetAttr::ATIME_NOW) atime_ = now;
  if (s.mask & SetAttr::MTIME) mtime_ = s.mtime_ns;
  if (s.mask & SetAttr::MTIME_NOW) mtime_ = now;
  if (s.mask) ctime_ = now;
  return {};
}

namespace {
bool is_acl(StringView name) { return name == vfs::ACL_ACCESS || name == vfs::ACL_DEFAULT; }
}  // namespace

Result<size_t> Node::getxattr(StringView name, void* buf, size_t cap) {
  if (is_acl(name) && is_symlink()) return Error::OpNotSupported;  // no ACLs on symlinks
  FsGuard g(lock_);
  return xattrs_.get(name, buf, cap);
}

Result<void> Node::setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) {
  vfs::XattrNs ns = TRY(vfs::xattr_namespace(name));
  if (ns != vfs::XattrNs::AclAccess && ns != vfs::XattrNs::AclDefault) {
    FsGuard g(lock_);
    TRY(xattrs_.set(name, value, size, how));
    ctime_ = vfs::fs_now_ns();
    return {};
  }
  // A POSIX ACL: checked and kept in Linux's normalized form. Symlinks
  // have none (EOPNOTSUPP); a default ACL is for directories (EACCES).
  if (is_symlink()) return Error::OpNotSupported;
  uint8_t small[64];
  uint8_t* norm = size <= sizeof small ? small : static_cast<uint8_t*>(::operator new(size, std::nothrow));
  if (!norm) return Error::NoMemory;
  struct Free {
    uint8_t* p;
    uint8_t* small;
    ~Free() {
      if (p != small) ::operator delete(p);
    }
  } free_norm{norm, small};
  vfs::AclInfo info = TRY(vfs::posix_acl_check(value, size, norm));
  FsGuard g(lock_);
  int64_t now = vfs::fs_now_ns();
  if (ns == vfs::XattrNs::AclDefault) {
    if (!is_dir()) return info.empty ? Result<void>() : Result<void>(Error::AccessDenied);
    if (info.empty) {
      (void)xattrs_.remove(name);
    } else {
      TRY(xattrs_.set(name, norm, size, vfs::XattrSet::Any));
    }
    ctime_ = now;
    return {};
  }
  if (info.empty) {
    (void)xattrs_.remove(name);
  } else {
    // Linux keeps an ACL only when it says more than the mode.
    if (info.equivalent) {
      (void)xattrs_.remove(name);
    } else {
      TRY(xattrs_.set(name, norm, size, vfs::XattrSet::Any));
    }
    mode_ = (mode_ & ~0777u) | info.mode;
  }
  ctime_ = now;
  return {};
}

Result<size_t> Node::listxattr(char* buf, size_t cap, bool trusted) {
  FsGuard g(lock_);
  return xattrs_.list(buf, cap, trusted);
}

Result<void> Node::removexattr(StringView name) {
  if (is_acl(name) && is_symlink()) return Error::OpNotSupported;
  FsGuard g(lock_);
  auto r = xattrs_.remove(name);
  // Removing an ACL is setting none: fine when there was none (Linux).
  if (!r.ok() && !(r.error() == Error::NoData && is_acl(name))) return r.error();
  ctime_ = vfs::fs_now_ns();
  return {};
}

Result<void> Node::truncate(uint64_t size) {
  FsGuard g(lock_);
  TRY(truncate_locked(size));
  mtime_ = ctime_ = vfs::fs_now_ns();
  return {};
}

void Node::add_link_locked(int delta) {
  lock_.assert_held();
  nlink_ = uint32_t(int(nlink_) + delta);
  ctime_ = vfs::fs_now_ns();
}

Result<void> Node::truncate_locked(uint64_t) {
  lock_.assert_held();
  return is_dir() ? Error::IsDir : Error::Invalid;
}

void Node::touch_atime_locked() {
  lock_.assert_held();
  int64_t now = vfs::fs_now_ns();
  if (atime_ <= mtime_ || atime_ <= ctime_ || now - atime_ > 86400ll * 1000000000) atime_ = now;
}

// --- symlinks ---------------------------------------------------------------

Result<size_t> Symlink::readlink(char* buf, size_t cap) {
  for (size_t i = 0; i < len_ && i < cap; ++i) buf[i] = target_[i];
  return len_;
}

void Symlink::fill_size_locked(Attr& a) {
  lock_.assert_held();
  a.size = len_;
}

}  // namespace capsule::ramfs
