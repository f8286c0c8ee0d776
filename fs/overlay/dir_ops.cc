// The union's directories (fs/overlay/overlay.h, docs/overlay.md): names
// made, removed and moved in the upper tree, whiteouts where a lower name
// must disappear, and the merged listing.
#include <new>

#include "fs/overlay/overlay.h"

namespace capsule::overlay {
namespace {

// Readdir cookies of the lower directory's part of a merged listing carry
// this bit (ramfs's cookies are entry counters, ext4's byte offsets: both
// far below it).
constexpr uint64_t LOWER_PART = uint64_t(1) << 62;

// Entries taken from a tree's readdir in batches: a tree's readdir may
// hold its directory's lock while it emits, and each entry needs a lookup.
struct Batch final : vfs::DirSink {
  static constexpr size_t N = 16;
  struct Ent {
    uint64_t ino, next;
    vfs::VType type;
    uint8_t len;
    char name[vfs::MAX_NAME + 1];
  };
  Ent* e = new (std::nothrow) Ent[N];
  size_t n = 0;
  bool full = false;
  ~Batch() { delete[] e; }
  bool emit(StringView name, uint64_t ino, vfs::VType type, uint64_t next) override {
    if (n == N) {
      full = true;
      return false;
    }
    Ent& x = e[n++];
    x.ino = ino;
    x.next = next;
    x.type = type;
    x.len = uint8_t(name.size());
    __builtin_memcpy(x.name, name.data(), name.size());
    return true;
  }
  void reset() {
    n = 0;
    full = false;
  }
};

}  // namespace

bool Node::lower_has_locked(StringView name) { return lower_ && !opaque_ && lower_->lookup(name).ok(); }

Result<vfs::VnodeRef> Node::create(StringView name, const vfs::CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  if (auto e = lookup_locked(name); e.ok()) return Error::Exists;
  else if (e.error() != Error::NotFound) return e.error();
  vfs::Vnode* ud = TRY(upper_dir_locked());
  TRY(drop_whiteout_locked(*ud, name));
  vfs::VnodeRef u = TRY(ud->create(name, args));
  auto* n = new (std::nothrow) Node(ofs(), u, vfs::VnodeRef(), this, name, args.mode);
  if (!n) return Error::NoMemory;
  return vfs::VnodeRef::adopt(n);
}

Result<vfs::VnodeRef> Node::symlink(StringView name, StringView target, const vfs::CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  if (auto e = lookup_locked(name); e.ok()) return Error::Exists;
  else if (e.error() != Error::NotFound) return e.error();
  vfs::Vnode* ud = TRY(upper_dir_locked());
  TRY(drop_whiteout_locked(*ud, name));
  vfs::VnodeRef u = TRY(ud->symlink(name, target, args));
  auto* n = new (std::nothrow) Node(ofs(), u, vfs::VnodeRef(), this, name, vfs::MODE_SYMLINK);
  if (!n) return Error::NoMemory;
  return vfs::VnodeRef::adopt(n);
}

// A directory made where a lower name was removed (a whiteout) is opaque:
// the old lower directory's entries must not show through it.
Result<vfs::VnodeRef> Node::mkdir(StringView name, const vfs::CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  if (auto e = lookup_locked(name); e.ok()) return Error::Exists;
  else if (e.error() != Error::NotFound) return e.error();
  vfs::Vnode* ud = TRY(upper_dir_locked());
  const bool over_lower = lower_ && !opaque_ && lower_->lookup(name).ok();
  TRY(drop_whiteout_locked(*ud, name));
  vfs::VnodeRef u = TRY(ud->mkdir(name, args));
  if (over_lower) {
    if (auto r = u->setxattr(OPAQUE_XATTR, "y", 1, vfs::XattrSet::Any); !r.ok()) {
      (void)ud->rmdir(name);
      (void)whiteout_locked(*ud, name);
      return r.error();
    }
  }
  auto* n = new (std::nothrow) Node(ofs(), u, vfs::VnodeRef(), this, name, vfs::MODE_DIR);
  if (!n) return Error::NoMemory;
  n->opaque_ = over_lower;
  return vfs::VnodeRef::adopt(n);
}

Result<void> Node::link(StringView name, vfs::Vnode& target) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  if (auto e = lookup_locked(name); e.ok()) return Error::Exists;
  else if (e.error() != Error::NotFound) return e.error();
  Node& t = static_cast<Node&>(target);
  TRY(t.copy_up_locked());
  vfs::Vnode* ud = TRY(upper_dir_locked());
  TRY(drop_whiteout_locked(*ud, name));
  return ud->link(name, *t.upper_);
}

Result<void> Node::unlink(StringView name) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  vfs::VnodeRef c = TRY(lookup_locked(name));
  if (c->is_dir()) return Error::IsDir;
  Node& n = static_cast<Node&>(*c);
  vfs::Vnode* ud = TRY(upper_dir_locked());
  if (n.upper_) TRY(ud->unlink(name));
  if (lower_has_locked(name)) TRY(whiteout_locked(*ud, name));
  return {};
}

Result<void> Node::rmdir(StringView name) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  vfs::VnodeRef c = TRY(lookup_locked(name));
  if (!c->is_dir()) return Error::NotDir;
  Node& n = static_cast<Node&>(*c);
  if (!TRY(n.empty_locked())) return Error::NotEmpty;
  vfs::Vnode* ud = TRY(upper_dir_locked());
  if (n.upper_) {
    TRY(n.clear_whiteouts_locked(*n.upper_));
    TRY(ud->rmdir(name));
  }
  if (lower_has_locked(name)) TRY(whiteout_locked(*ud, name));
  return {};
}

// The file is copied up and moved in the upper tree; a whiteout stays
// where a lower name must no longer show. A directory that exists in the
// lower tree is not moved (CrossDevice, EXDEV, as Linux's overlayfs
// without redirect_dir: mv copies it instead).
Result<void> Node::rename(StringView name, vfs::Vnode& new_dir, StringView new_name, bool no_replace) {
  if (!is_dir() || !new_dir.is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  Node& nd = static_cast<Node&>(new_dir);
  vfs::VnodeRef src = TRY(lookup_locked(name));
  Node& s = static_cast<Node&>(*src);
  if (s.is_dir() && s.lower_) return Error::CrossDevice;
  auto dst = nd.lookup_locked(new_name);
  if (dst.ok()) {
    if (no_replace) return Error::Exists;
    Node& d = static_cast<Node&>(*dst.value());
    vfs::VnodeRef sr = s.upper_ ? s.upper_ : s.lower_, dr = d.upper_ ? d.upper_ : d.lower_;
    if (sr.get() == dr.get()) return {};  // two names of one file: nothing to do
    if (s.is_dir()) {
      if (!d.is_dir()) return Error::NotDir;
      if (!TRY(d.empty_locked())) return Error::NotEmpty;
    } else if (d.is_dir()) {
      return Error::IsDir;
    }
  } else if (dst.error() != Error::NotFound) {
    return dst.error();
  }
  TRY(s.copy_up_locked());
  vfs::Vnode* sud = TRY(upper_dir_locked());
  vfs::Vnode* dud = TRY(nd.upper_dir_locked());
  const bool dst_lower = nd.lower_has_locked(new_name);
  // A whiteout at the target goes (a directory cannot replace a device);
  // a real upper file there is replaced by the rename itself.
  if (auto r = nd.drop_whiteout_locked(*dud, new_name); !r.ok() && r.error() != Error::Exists) return r.error();
  if (dst.ok()) {
    Node& d = static_cast<Node&>(*dst.value());
    if (d.is_dir() && d.upper_) TRY(d.clear_whiteouts_locked(*d.upper_));
  }
  TRY(sud->rename(name, *dud, new_name, false));
  if (s.is_dir() && dst_lower) {
    (void)s.upper_->setxattr(OPAQUE_XATTR, "y", 1, vfs::XattrSet::Any);
    s.opaque_ = true;
  }
  if (lower_has_locked(name)) TRY(whiteout_locked(*sud, name));
  // The node follows its file (a later copy-up of a child needs the way).
  if (s.parent_ != &nd) {
    nd.retain();
    s.parent_->release();
    s.parent_ = &nd;
  }
  s.name_len_ = uint8_t(new_name.size());
  __builtin_memcpy(s.name_, new_name.data(), new_name.size());
  return {};
}

Result<void> Node::readdir(uint64_t cookie, vfs::DirSink& sink) {
  if (!is_dir()) return Error::NotDir;
  vfs::FsGuard g(ofs()->lock_);
  return readdir_locked(cookie, sink);
}

// The upper directory's entries (whiteouts left out), then the lower
// directory's that the upper one does not name (neither as a file nor as
// a whiteout); "." and ".." from the first of the two that is there.
Result<void> Node::readdir_locked(uint64_t cookie, vfs::DirSink& sink) {
  Batch b;
  if (!b.e) return Error::NoMemory;
  vfs::Vnode* up = upper_.get();
  vfs::Vnode* low = opaque_ ? nullptr : lower_.get();
  if (up && !(cookie & LOWER_PART)) {
    for (;;) {
      b.reset();
      TRY(up->readdir(cookie, b));
      for (size_t i = 0; i < b.n; ++i) {
        const Batch::Ent& e = b.e[i];
        StringView nm(e.name, e.len);
        if (e.type == vfs::VType::Char) {
          if (auto v = up->lookup(nm); v.ok() && is_whiteout(*v.value())) {
            cookie = e.next;
            continue;
          }
        }
        // Directories by the union's numbers (Node::ino): the lower one's
        // when the name merges with a lower directory.
        uint64_t ino = e.ino;
        if (nm == ".") {
          ino = this->ino();
        } else if (nm == "..") {
          ino = parent_ ? parent_->ino() : this->ino();
        } else if (e.type == vfs::VType::Dir) {
          ino = e.ino | UPPER_INO;
          if (auto l = low ? low->lookup(nm) : Result<vfs::VnodeRef>(Error::NotFound); l.ok() && l.value()->is_dir()) {
            if (auto u = up->lookup(nm); u.ok() && !is_opaque(*u.value())) ino = l.value()->ino();
          }
        }
        if (!sink.emit(nm, ino, e.type, e.next)) return {};
        cookie = e.next;
      }
      if (!b.full) break;
    }
    cookie = LOWER_PART;
  }
  if (!low) return {};
  cookie &= ~LOWER_PART;
  for (;;) {
    b.reset();
    TRY(low->readdir(cookie, b));
    for (size_t i = 0; i < b.n; ++i) {
      const Batch::Ent& e = b.e[i];
      StringView nm(e.name, e.len);
      cookie = e.next;
      if (up && (nm == "." || nm == ".." || up->lookup(nm).ok())) continue;
      uint64_t ino = nm == "." ? this->ino() : nm == ".." ? (parent_ ? parent_->ino() : this->ino()) : e.ino;
      if (!sink.emit(nm, ino, e.type, e.next | LOWER_PART)) return {};
    }
    if (!b.full) break;
  }
  return {};
}

}  // namespace capsule::overlay
