// Copy-up (fs/overlay/overlay.h, docs/overlay.md): a file of the lower
// tree becomes a file of the upper tree before it changes, its parent
// directories first. Data is copied only for changes that keep it (a write
// open, chmod, rename); an open with O_TRUNC copies none.
#include <new>

#include "fs/overlay/overlay.h"

namespace capsule::overlay {
namespace {

constexpr size_t CHUNK = 64 * 1024;

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

}  // namespace

Result<void> copy_data(vfs::Vnode& src, vfs::Vnode& dst, uint64_t size) {
  struct Buf {
    uint8_t* p = new (std::nothrow) uint8_t[CHUNK];
    ~Buf() { delete[] p; }
  } buf;
  if (!buf.p) return Error::NoMemory;
  for (uint64_t off = 0; off < size;) {
    KernelBuffer in(buf.p, CHUNK);
    size_t n = TRY(src.read(off, in));
    if (n == 0) break;  // shrank meanwhile: cannot, the lower tree is read-only
    // Runs of zeros stay holes (the size is set at the end).
    if (!all_zero(buf.p, n)) {
      uint64_t at = off;
      KernelBuffer out(buf.p, n);
      size_t w = TRY(dst.write(&at, out, false));
      if (w != n) return Error::NoSpace;
    }
    off += n;
    if (vfs::fs_interrupted()) return Error::Interrupted;
  }
  return dst.truncate(size);
}

Result<vfs::Vnode*> Node::upper_dir_locked() {
  if (!upper_) TRY(copy_up_locked());
  return upper_.get();
}

Result<void> Node::copy_up_locked(bool data) {
  if (upper_) return {};
  if (!parent_ || !lower_) return Error::Io;  // the root always has an upper tree
  vfs::Vnode* pu = TRY(parent_->upper_dir_locked());
  const StringView nm(name_, name_len_);
  // Another node for the same name may have copied it up already.
  if (auto e = pu->lookup(nm); e.ok() && !is_whiteout(*e.value())) {
    upper_ = e.value();
    return {};
  }
  const vfs::Attr a = TRY(lower_->getattr());
  vfs::CreateArgs c;
  c.mode = a.mode;
  c.uid = a.uid;
  c.gid = a.gid;
  c.rdev = a.rdev;
  vfs::VnodeRef u;
  switch (type()) {
    case vfs::VType::Dir: u = TRY(pu->mkdir(nm, c)); break;
    case vfs::VType::Symlink: {
      char target[vfs::MAX_PATH];
      size_t n = TRY(lower_->readlink(target, sizeof target));
      if (n > sizeof target) return Error::NameTooLong;
      u = TRY(pu->symlink(nm, StringView(target, n), c));
      break;
    }
    default: u = TRY(pu->create(nm, c)); break;
  }
  auto undo = [&](Error e) -> Result<void> {
    if (u->is_dir()) (void)pu->rmdir(nm);
    else (void)pu->unlink(nm);
    return e;
  };
  if (type() == vfs::VType::Regular && data) {
    if (auto r = copy_data(*lower_, *u, a.size); !r.ok()) return undo(r.error());
  }
  // Owner first (a chown clears set-user-ID), then the mode and times.
  vfs::SetAttr s;
  s.mask = vfs::SetAttr::UID | vfs::SetAttr::GID;
  s.uid = a.uid;
  s.gid = a.gid;
  (void)u->setattr(s);
  s.mask = vfs::SetAttr::ATIME | vfs::SetAttr::MTIME | (type() == vfs::VType::Symlink ? 0 : vfs::SetAttr::MODE);
  s.mode = a.mode & vfs::MODE_PERM;
  s.atime_ns = a.atime_ns;
  s.mtime_ns = a.mtime_ns;
  (void)u->setattr(s);
  upper_ = u;
  return {};
}

}  // namespace capsule::overlay
