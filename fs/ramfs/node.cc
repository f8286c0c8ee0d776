// ramfs: what every node kind shares (attributes, times, link count), and
// symlinks.
#include "fs/ramfs/node.h"

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
  if (s.mask & SetAttr::MODE) mode_ = (mode_ & vfs::MODE_TYPE) | (s.mode & vfs::MODE_PERM);
  if (s.mask & SetAttr::UID) uid_ = s.uid;
  if (s.mask & SetAttr::GID) gid_ = s.gid;
  if (s.mask & SetAttr::ATIME) atime_ = s.atime_ns;
  if (s.mask & SetAttr::ATIME_NOW) atime_ = now;
  if (s.mask & SetAttr::MTIME) mtime_ = s.mtime_ns;
  if (s.mask & SetAttr::MTIME_NOW) mtime_ = now;
  if (s.mask) ctime_ = now;
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
