// ramfs directories: lookup, the calls that add and remove names (create,
// mkdir, symlink, link, unlink, rmdir, rename), readdir, and the teardown
// steps Ramfs::shutdown uses.
#include "fs/ramfs/dir.h"

#include <new>

#include "fs/ramfs/file.h"

namespace capsule::ramfs {

using vfs::Attr;
using vfs::CreateArgs;
using vfs::DirSink;
using vfs::FsGuard;
using vfs::VnodeRef;
using vfs::VType;

Dirent* Dirent::make(StringView n, Node* node, uint64_t cookie) {
  void* mem = ::operator new(sizeof(Dirent) + n.size(), std::nothrow);
  if (!mem) return nullptr;
  auto* d = new (mem) Dirent;
  d->cookie = cookie;
  d->node = node;
  d->len = uint16_t(n.size());
  for (size_t i = 0; i < n.size(); ++i) d->name[i] = n[i];
  return d;
}

void Dirent::destroy(Dirent* d) {
  d->~Dirent();
  ::operator delete(d);
}

Dir::~Dir() {
  // Only an empty directory dies (its entries held it), except at
  // shutdown, which empties it first.
  while (Dirent* e = order_.pop_first()) {
    names_.remove(*e);
    e->node->release();
    Dirent::destroy(e);
  }
}

Result<VnodeRef> Dir::lookup(StringView name) {
  FsGuard g(lock_);
  if (name.size() == 2 && name[0] == '.' && name[1] == '.') {
    if (!parent_) return Error::NotFound;  // removed
    return VnodeRef(parent_);
  }
  Dirent* e = find_locked(name);
  if (!e) return Error::NotFound;
  return VnodeRef(e->node);
}

Result<VnodeRef> Dir::create(StringView name, const CreateArgs& args) {
  VType t = vfs::type_of_mode(args.mode);
  if (t == VType::Dir || t == VType::Symlink || t == VType::Unknown) return Error::Invalid;
  Node* n = t == VType::Regular ? static_cast<Node*>(new (std::nothrow) File(rfs(), args))
                                : static_cast<Node*>(new (std::nothrow) Special(rfs(), args));
  return insert_new(name, n);
}

Result<VnodeRef> Dir::tmpfile(const CreateArgs& args, bool linkable) {
  {
    FsGuard g(lock_);
    if (!parent_) return Error::NotFound;  // a removed directory
  }
  VnodeRef v = TRY(rfs()->create_unlinked(args, false));
  auto* n = static_cast<Node*>(v.get());
  FsGuard g(n->lock_);  // not shared yet, but linkable_ is the lock's
  n->linkable_ = linkable;
  return v;
}

Result<VnodeRef> Dir::mkdir(StringView name, const CreateArgs& args) {
  CreateArgs a = args;
  a.mode = vfs::MODE_DIR | (args.mode & vfs::MODE_PERM);
  // parent_ is set before the directory is visible (insert_new publishes it).
  return insert_new(name, new (std::nothrow) Dir(rfs(), a, this));
}

Result<VnodeRef> Dir::symlink(StringView name, StringView target, const CreateArgs& args) {
  if (target.empty()) return Error::NotFound;
  if (target.size() >= vfs::MAX_PATH) return Error::NameTooLong;
  char* copy = new (std::nothrow) char[target.size()];
  if (!copy) return Error::NoMemory;
  for (size_t i = 0; i < target.size(); ++i) copy[i] = target[i];
  CreateArgs a = args;
  a.mode = vfs::MODE_SYMLINK | 0777;
  auto* s = new (std::nothrow) Symlink(rfs(), a, copy, target.size());
  if (!s) {
    delete[] copy;
    return Error::NoMemory;
  }
  return insert_new(name, s);
}

Result<void> Dir::link(StringView name, vfs::Vnode& target) {
  if (target.fs() != fs()) return Error::CrossDevice;
  if (target.is_dir()) return Error::Permission;
  auto& t = static_cast<Node&>(target);
  FsGuard g(lock_);
  if (!parent_) return Error::NotFound;
  if (find_locked(name)) return Error::Exists;
  Dirent* e = Dirent::make(name, &t, next_cookie_);
  if (!e) return Error::NoMemory;
  {
    FsGuard tg(t.lock_);
    // An unlinked file cannot get a name back (link(2) on Linux: ENOENT),
    // except an O_TMPFILE file made linkable.
    if (t.nlink_ == 0 && !t.linkable_) {
      Dirent::destroy(e);
      return Error::NotFound;
    }
    t.linkable_ = false;
    t.add_link_locked(+1);
  }
  t.retain();
  ++next_cookie_;
  names_.insert(*e);
  order_.insert(*e);
  touch_locked();
  return {};
}

Result<void> Dir::unlink(StringView name) {
  Node* victim;
  {
    FsGuard g(lock_);
    Dirent* e = find_locked(name);
    if (!e) return Error::NotFound;
    if (e->node->is_dir()) return Error::IsDir;
    victim = e->node;
    {
      FsGuard vg(victim->lock_);
      victim->add_link_locked(-1);
    }
    remove_locked(e);
    touch_locked();
  }
  victim->release();  // may free the file's pages: outside the directory lock
  return {};
}

Result<void> Dir::rmdir(StringView name) {
  Node* victim;
  {
    FsGuard rl(rfs()->rename_lock());
    FsGuard g(lock_);
    Dirent* e = find_locked(name);
    if (!e) return Error::NotFound;
    if (!e->node->is_dir()) return Error::NotDir;
    auto* d = static_cast<Dir*>(e->node);
    {
      FsGuard dg(d->lock_);
      if (!d->names_.empty()) return Error::NotEmpty;
      d->detach_locked();
    }
    victim = d;
    remove_locked(e);
    --nlink_;  // its ".." no longer names us
    touch_locked();
  }
  victim->release();
  return {};
}

// rename(2) inside one ramfs. Under the rename lock, so two directory
// locks may be held (this one, then the destination if it is another);
// nobody else holds two.
Result<void> Dir::rename(StringView name, vfs::Vnode& new_dir_v, StringView new_name, bool no_replace) {
  if (new_dir_v.fs() != fs()) return Error::CrossDevice;
  if (!new_dir_v.is_dir()) return Error::NotDir;
  auto& nd = static_cast<Dir&>(new_dir_v);
  Node* released = nullptr;  // the replaced node's reference, dropped at the end
  Result<void> r;
  {
    FsGuard rl(rfs()->rename_lock());
    FsGuard g1(lock_);
    if (&nd == this) {
      r = rename_locked(name, *this, new_name, no_replace, &released);
    } else {
      FsGuard g2(nd.lock_);
      r = rename_locked(name, nd, new_name, no_replace, &released);
    }
  }
  if (released) released->release();
  return r;
}

Result<void> Dir::rename_locked(StringView name, Dir& nd, StringView new_name, bool no_replace, Node** released) {
  lock_.assert_held();
  nd.lock_.assert_held();
  if (!parent_ || !nd.parent_) return Error::NotFound;
  Dirent* src = find_locked(name);
  if (!src) return Error::NotFound;
  Node* s = src->node;
  bool moving_dir = s->is_dir();
  // A directory cannot move under itself (rename(2): EINVAL).
  if (moving_dir && static_cast<Dir*>(s)->is_ancestor_of(&nd)) return Error::Invalid;
  Dirent* dst = nd.find_locked(new_name);
  if (!dst) {
    Dirent* moved = nd.new_entry_locked(new_name, s);
    if (!moved) return Error::NoMemory;
    move_locked(src, nd, moved);  // nothing fails from here on
    return {};
  }
  if (dst->node == s) return {};  // two names of one file: nothing to do (POSIX)
  if (no_replace) return Error::Exists;
  Node* victim = dst->node;
  // The victim may be this directory (nd is its parent), which holds s:
  // not empty, and a directory.
  if (victim == this) return moving_dir ? Error::NotEmpty : Error::IsDir;
  FsGuard vg(victim->lock_);  // not one of the two directories
  if (moving_dir && !victim->is_dir()) return Error::NotDir;
  if (!moving_dir && victim->is_dir()) return Error::IsDir;
  if (victim->is_dir() && !static_cast<Dir*>(victim)->names_.empty()) return Error::NotEmpty;
  Dirent* moved = nd.new_entry_locked(new_name, s);
  if (!moved) return Error::NoMemory;

  // Nothing can fail from here on.
  nd.remove_locked(dst);
  if (victim->is_dir()) {
    static_cast<Dir*>(victim)->detach_locked();
    --nd.nlink_;
  } else {
    victim->add_link_locked(-1);
  }
  *released = victim;
  move_locked(src, nd, moved);
  return {};
}

void Dir::move_locked(Dirent* src, Dir& nd, Dirent* moved) {
  lock_.assert_held();
  nd.lock_.assert_held();
  Node* s = moved->node;
  remove_locked(src);
  nd.names_.insert(*moved);
  nd.order_.insert(*moved);
  if (s->is_dir() && &nd != this) {
    auto* sd = static_cast<Dir*>(s);
    FsGuard sg(sd->lock_);
    sd->parent_ = &nd;
    --nlink_;
    ++nd.nlink_;
  }
  if (!s->is_dir()) {
    FsGuard sg(s->lock_);
    s->ctime_ = vfs::fs_now_ns();
  }
  touch_locked();
  if (&nd != this) nd.touch_locked();
}

Result<void> Dir::readdir(uint64_t cookie, DirSink& sink) {
  FsGuard g(lock_);
  if (cookie == 0) {
    if (!sink.emit(".", ino(), VType::Dir, 1)) return {};
    cookie = 1;
  }
  if (cookie == 1) {
    Dir* up = parent_ ? parent_ : this;
    if (!sink.emit("..", up->ino(), VType::Dir, 2)) return {};
    cookie = 2;
  }
  for (Dirent* e = order_.partition_point([&](const Dirent& d) { return d.cookie < cookie; }); e;
       e = order_.next(*e)) {
    if (!sink.emit(e->view(), e->node->ino(), e->node->type(), e->cookie + 1)) break;
  }
  touch_atime_locked();
  return {};
}

Node* Dir::take_first() {
  FsGuard g(lock_);
  Dirent* e = order_.first();
  if (!e) return nullptr;
  Node* n = e->node;
  names_.remove(*e);
  order_.remove(*e);
  Dirent::destroy(e);
  {
    if (n != this) {
      FsGuard ng(n->lock_);
      n->nlink_ = 0;
    }
  }
  return n;
}

Dir* Dir::take_parent() {
  FsGuard g(lock_);
  Dir* p = parent_ == this ? nullptr : parent_;
  parent_ = nullptr;
  nlink_ = 0;
  return p;
}

void Dir::fill_size_locked(Attr& a) {
  lock_.assert_held();
  // Like tmpfs: a size that grows with the entries, in fake bytes.
  a.size = (names_.size() + 2) * 20;
}

Dirent* Dir::find_locked(StringView name) {
  lock_.assert_held();
  Dirent* e = names_.partition_point([&](const Dirent& d) { return compare_names(d.view(), name) < 0; });
  return e && e->view() == name ? e : nullptr;
}

Dirent* Dir::new_entry_locked(StringView name, Node* n) {
  lock_.assert_held();
  Dirent* e = Dirent::make(name, n, next_cookie_);
  if (e) ++next_cookie_;
  return e;
}

Result<VnodeRef> Dir::insert_new(StringView name, Node* n) {
  if (!n) return Error::NoMemory;
  VnodeRef made = VnodeRef::adopt(n);  // freed on any failure below
  FsGuard g(lock_);
  if (!parent_) return Error::NotFound;  // this directory was removed
  if (find_locked(name)) return Error::Exists;
  Dirent* e = new_entry_locked(name, n);
  if (!e) return Error::NoMemory;
  n->retain();  // the entry's reference
  names_.insert(*e);
  order_.insert(*e);
  if (n->is_dir()) ++nlink_;
  touch_locked();
  return made;
}

void Dir::remove_locked(Dirent* e) {
  lock_.assert_held();
  names_.remove(*e);
  order_.remove(*e);
  Dirent::destroy(e);  // the node's reference passes to the caller
}

void Dir::detach_locked() {
  lock_.assert_held();
  parent_ = nullptr;
  nlink_ = 0;
  ctime_ = vfs::fs_now_ns();
}

void Dir::touch_locked() {
  lock_.assert_held();
  mtime_ = ctime_ = vfs::fs_now_ns();
}

// Is this directory `d` or above it? Reads the parent pointers of
// directories it does not lock: they are stable under the rename lock,
// which the caller (rename) holds, as does every change of a parent
// pointer but shutdown's (when nothing else runs). Not analysed
// (NO_THREAD_SAFETY_ANALYSIS): parent_ is GUARDED_BY its directory's
// lock, and the analysis cannot say "or the rename lock".
bool Dir::is_ancestor_of(const Dir* d) const NO_THREAD_SAFETY_ANALYSIS {
  for (const Dir* p = d; p; p = p->parent_ == p ? nullptr : p->parent_)
    if (p == this) return true;
  return false;
}

}  // namespace capsule::ramfs
