// The namespace: mounts, path walk, and the path-level operations with the
// rules of path_resolution(7) and the POSIX pages of each call.
#include <new>

#include "fs/file.h"
#include "fs/vfs.h"
#include "fs/block_device_table.h"
#include "fs/vfs/dcache.h"
#include "fs/vfs/notify.h"

namespace capsule::vfs {

struct Mount {
  FsRef fs;
  VnodeRef root;
  VnodeRef mountpoint;  // the covered directory; null for "/"
  Mount* parent = nullptr;
  Mount* next = nullptr;
};

namespace {

bool is_dot(StringView n) { return n.size() == 1 && n[0] == '.'; }
bool is_dotdot(StringView n) { return n.size() == 2 && n[0] == '.' && n[1] == '.'; }

// Scratch for symlink bodies: two MAX_PATH halves, so that a new remainder
// (target + rest) is built in one while the rest still lives in the other.
class LinkBuffers {
 public:
  ~LinkBuffers() { delete[] p_; }
  Result<char*> half_not_holding(StringView rest) {
    if (!p_) {
      p_ = new (std::nothrow) char[2 * MAX_PATH];
      if (!p_) return Error::NoMemory;
    }
    bool in_first = rest.data() >= p_ && rest.data() < p_ + MAX_PATH;
    return in_first ? p_ + MAX_PATH : p_;
  }

 private:
  char* p_ = nullptr;
};

// A new file's group and set-group-ID bit from its directory's
// (permission.h's init_owner).
Result<void> init_owner(const Cred* c, Vnode& dir, CreateArgs& args) {
  Attr d = TRY(dir.getattr());
  init_owner(c, d.mode, d.gid, args.mode, args.gid);
  return {};
}

}  // namespace

Vfs::Vfs(size_t dcache_capacity) : dcache_(new (std::nothrow) DentryCache(dcache_capacity)) {}

Vfs::~Vfs() {
  if (dcache_) dcache_->clear();
  // Newest first: every mount goes before the one it is mounted on.
  while (Mount* m = mounts_) {
    mounts_ = m->next;
    if (m->mountpoint) m->mountpoint->mounted_.store(nullptr);
    m->root->root_of_ = nullptr;
    FsRef fs = m->fs;
    delete m;
    fs->shutdown();
  }
  delete dcache_;
}

// --- mounts -----------------------------------------------------------------

Result<void> Vfs::mount_root(FsRef fs) {
  if (!fs) return Error::Invalid;
  VnodeRef root = fs->root();
  auto* m = new (std::nothrow) Mount;
  if (!m) return Error::NoMemory;
  FsGuard g(mount_lock_);
  if (root_mount_ || root->root_of_) {
    delete m;
    return Error::Busy;
  }
  m->fs = fs;
  m->root = root;
  root->root_of_ = m;
  m->next = mounts_;
  mounts_ = root_mount_ = m;
  return {};
}

Result<void> Vfs::mount(FsRef fs, const PathContext& ctx, StringView path) {
  if (!fs) return Error::Invalid;
  VnodeRef mp = TRY(resolve(ctx, path, WALK_FOLLOW | WALK_DIRECTORY));
  VnodeRef root = fs->root();
  auto* m = new (std::nothrow) Mount;
  if (!m) return Error::NoMemory;
  FsGuard g(mount_lock_);
  // Someone may have mounted on it since the walk: stack on the top.
  while (Mount* top = mp->mounted_.load()) mp = top->root;
  // One mount per instance: a second would make ".." ambiguous.
  if (root->root_of_) {
    delete m;
    return Error::Busy;
  }
  m->fs = fs;
  m->root = root;
  m->mountpoint = mp;
  for (Mount* p = mounts_; p; p = p->next)
    if (p->fs.get() == mp->fs()) m->parent = p;
  root->root_of_ = m;
  mp->mounted_.store(m);
  m->next = mounts_;
  mounts_ = m;
  return {};
}

Result<void> Vfs::unmount(const PathContext& ctx, StringView path) {
  VnodeRef v = TRY(resolve(ctx, path, WALK_FOLLOW));
  Mount* m;
  {
    FsGuard g(mount_lock_);
    m = v->root_of_;
    if (!m) return Error::Invalid;
    if (m == root_mount_) return Error::Busy;
    for (Mount* p = mounts_; p; p = p->next)
      if (p->parent == m) return Error::Busy;
    m->mountpoint->mounted_.store(nullptr);
    m->root->root_of_ = nullptr;
    for (Mount** pp = &mounts_; *pp; pp = &(*pp)->next) {
      if (*pp == m) {
        *pp = m->next;
        break;
      }
    }
  }
  // Detached: walks already inside finish there (Linux's MNT_DETACH);
  // open files keep their vnodes and, through them, the file system.
  FsRef fs = m->fs;
  if (dcache_) dcache_->purge_fs(fs.get());
  delete m;
  notify_unmount(*fs);  // IN_UNMOUNT; the watches let go of its files
  fs->shutdown();
  return {};
}

VnodeRef Vfs::root() {
  FsGuard g(mount_lock_);
  return root_mount_ ? root_mount_->root : VnodeRef();
}

bool Vfs::is_mount_point(Vnode& v) {
  FsGuard g(mount_lock_);
  return v.mounted_.load() || v.root_of_;
}

VnodeRef Vfs::cross_down(VnodeRef v) {
  if (!v->mounted_.load(std::memory_order_acquire)) return v;
  FsGuard g(mount_lock_);
  while (Mount* m = v->mounted_.load()) v = m->root;
  return v;
}

// ".." of cur: stays at the walk's root; from the root of a mount, the
// parent of the directory it covers (path_resolution(7)).
Result<VnodeRef> Vfs::dotdot(const PathContext& ctx, VnodeRef cur) {
  {
    FsGuard g(mount_lock_);
    for (;;) {
      if (cur.get() == ctx.root) return cur;
      Mount* m = cur->root_of_;
      if (!m || !m->mountpoint) break;
      cur = m->mountpoint;
    }
  }
  VnodeRef up = TRY(cur->lookup(".."));
  return cross_down(up);
}

// --- lookups and the walk ---------------------------------------------------

Result<VnodeRef> Vfs::lookup(Vnode& dir, StringView name) {
  if (!dir.is_dir()) return Error::NotDir;
  if (name.size() > MAX_NAME) return Error::NameTooLong;
  if (!dcache_ || !dir.fs()->cache_names()) return dir.lookup(name);
  VnodeRef child;
  switch (dcache_->lookup(dir, name, &child)) {
    case DentryCache::Hit::Positive: return child;
    case DentryCache::Hit::Negative: return Error::NotFound;
    case DentryCache::Hit::Miss: break;
  }
  DentryCache::Ticket t = dcache_->begin_lookup(dir);
  Result<VnodeRef> r = dir.lookup(name);
  if (r.ok()) dcache_->insert(t, dir, name, r.value().get());
  else if (r.error() == Error::NotFound) dcache_->insert(t, dir, name, nullptr);
  return r;
}

Result<VnodeRef> Vfs::resolve(const PathContext& ctx, StringView path, unsigned flags) {
  return walk(ctx, path, flags, nullptr);
}

Result<VnodeRef> Vfs::resolve_noted(const PathContext& ctx, StringView path, unsigned flags, NotePath* where) {
  return walk(ctx, path, flags, nullptr, where);
}

Result<void> Vfs::resolve_parent(const PathContext& ctx, StringView path, ParentPath& out, unsigned walk_flags) {
  TRY(walk(ctx, path, walk_flags & WALK_RESTRICT, &out));
  return {};
}

// One component at a time. `rest` is what is left to walk: a view into the
// caller's path until a symlink is followed, then into a LinkBuffers half
// holding "target" + the rest. With `parent`, stops before the last
// component and describes it there.
Result<VnodeRef> Vfs::walk(const PathContext& ctx, StringView path, unsigned flags, ParentPath* parent,
                           NotePath* where) {
  if (path.empty()) return Error::NotFound;
  if (path.size() >= MAX_PATH) return Error::NameTooLong;
  if ((flags & WALK_BENEATH) && path[0] == '/') return Error::CrossDevice;
  VnodeRef cur(path[0] == '/' ? ctx.root : ctx.cwd);
  FileSystem* const start_fs = cur->fs();
  LinkBuffers bufs;
  StringView rest = path;
  int links = 0;
  int depth = 0;  // below the start (WALK_BENEATH)
  bool ended_with_slash = false;
  for (;;) {
    if ((flags & WALK_NO_XDEV) && cur->fs() != start_fs) return Error::CrossDevice;
    size_t i = 0;
    while (i < rest.size() && rest[i] == '/') ++i;
    rest = rest.substr(i);
    if (rest.empty()) {
      // Only slashes were left ("/", or a link to "/"): cur is the answer.
      if (parent) {
        parent->dir = cur;
        parent->kind = ParentPath::Kind::Root;
        parent->trailing_slash = false;
        parent->len = 0;
        parent->buf[0] = 0;
        return cur;
      }
      break;
    }
    size_t n = rest.find('/');
    if (n == StringView::npos) n = rest.size();
    StringView name = rest.substr(0, n);
    StringView after = rest.substr(n);
    if (name.size() > MAX_NAME) return Error::NameTooLong;
    size_t j = 0;
    while (j < after.size() && after[j] == '/') ++j;
    bool last = j == after.size();
    bool slash = last && !after.empty();
    if (!cur->is_dir()) return Error::NotDir;
    // path_resolution(7): search permission on every directory a name is
    // looked up in, "." and ".." and the last component's too.
    TRY(may_search(ctx.cred, *cur));

    if (parent && last) {
      parent->dir = cur;
      parent->kind = is_dot(name) ? ParentPath::Kind::Dot
                     : is_dotdot(name) ? ParentPath::Kind::DotDot
                                       : ParentPath::Kind::Normal;
      parent->trailing_slash = slash;
      parent->len = uint16_t(name.size());
      for (size_t k = 0; k < name.size(); ++k) parent->buf[k] = name[k];
      parent->buf[name.size()] = 0;
      return cur;
    }
    rest = after;
    ended_with_slash = slash;
    if (is_dot(name)) continue;
    if (is_dotdot(name)) {
      if ((flags & WALK_BENEATH) && --depth < 0) return Error::CrossDevice;
      cur = TRY(dotdot(ctx, static_cast<VnodeRef&&>(cur)));
      continue;
    }
    VnodeRef child = cross_down(TRY(lookup(*cur, name)));
    if ((flags & WALK_NO_XDEV) && child->fs() != start_fs) return Error::CrossDevice;
    // Symlinks in the middle are always followed; the last one when asked,
    // or when a slash follows it ("link/" means the directory it names).
    if (child->is_symlink() && (!last || slash || (flags & WALK_FOLLOW))) {
      if (flags & WALK_NO_SYMLINKS) return Error::Loop;
      if (++links > MAX_SYMLINKS) return Error::Loop;
      // A magic link names its vnode directly.
      if (Result<VnodeRef> to = child->follow_link(); to.ok() || to.error() != Error::NotSupported) {
        cur = cross_down(TRY(static_cast<Result<VnodeRef>&&>(to)));
        if (where) where->dir.reset();
        if (last) break;
        continue;
      }
      char* dst = TRY(bufs.half_not_holding(rest));
      size_t tlen = TRY(child->readlink(dst, MAX_PATH));
      if (tlen == 0) return Error::NotFound;
      if (tlen >= MAX_PATH || tlen + rest.size() >= MAX_PATH) return Error::NameTooLong;
      for (size_t k = 0; k < rest.size(); ++k) dst[tlen + k] = rest[k];
      rest = StringView(dst, tlen + rest.size());
      if (dst[0] == '/') {
        if (flags & WALK_BENEATH) return Error::CrossDevice;
        cur = VnodeRef(ctx.root);
      }
      continue;  // cur stays the link's directory: relative targets start there
    }
    if (where && last) where->set(cur, name);
    cur = static_cast<VnodeRef&&>(child);
    ++depth;
    if (last) break;
  }
  // POSIX: a trailing slash makes the path name a directory.
  if ((ended_with_slash || (flags & WALK_DIRECTORY)) && !cur->is_dir()) return Error::NotDir;
  return cur;
}

// --- namespace changes ------------------------------------------------------

void Vfs::begin_change(Vnode& dir) {
  if (dcache_) dcache_->begin_change(dir);
}

void Vfs::end_change(Vnode& dir, StringView name) {
  if (dcache_) dcache_->end_change(dir, name);
}

Result<VnodeRef> Vfs::open_create(const PathContext& ctx, StringView path, const OpenHow& how, NotePath* where,
                                  bool* created) {
  if (path.size() >= MAX_PATH) return Error::NameTooLong;
  // A final symlink is followed (unless EXCL or NOFOLLOW) and, if it
  // dangles, its target is created (open(2), O_CREAT).
  char* target = nullptr;
  struct Free {
    char*& p;
    ~Free() { delete[] p; }
  } free_target{target};
  VnodeRef base(ctx.cwd);
  StringView p = path;
  for (int links = 0;;) {
    PathContext c{ctx.root, base.get()};
    ParentPath pp;
    // A link's target is walked from the link's directory; under BENEATH
    // that restarts the depth count there, which can only refuse more.
    TRY(resolve_parent(c, p, pp, how.walk));
    // "/", ".", "..": existing directories. A trailing slash asks for one.
    if (pp.kind != ParentPath::Kind::Normal) return (how.flags & OpenHow::EXCL) ? Error::Exists : Error::IsDir;
    Result<VnodeRef> found = lookup(*pp.dir, pp.name());
    if (found.ok()) {
      VnodeRef v = cross_down(found.value());
      if (how.flags & OpenHow::EXCL) return Error::Exists;
      if (pp.trailing_slash || v->is_dir()) return Error::IsDir;  // open(2): O_CREAT on a directory
      if (!v->is_symlink()) {
        if (where) where->set(pp.dir, pp.name());
        return v;
      }
      if ((how.flags & OpenHow::NOFOLLOW) || (how.walk & WALK_NO_SYMLINKS)) return Error::Loop;
      if (++links > MAX_SYMLINKS) return Error::Loop;
      if (Result<VnodeRef> to = v->follow_link(); to.ok() || to.error() != Error::NotSupported) {
        VnodeRef t = cross_down(TRY(static_cast<Result<VnodeRef>&&>(to)));
        if (t->is_dir()) return Error::IsDir;
        return t;
      }
      if (!target) {
        target = new (std::nothrow) char[MAX_PATH];
        if (!target) return Error::NoMemory;
      }
      size_t n = TRY(v->readlink(target, MAX_PATH));
      if (n == 0) return Error::NotFound;
      if (n >= MAX_PATH) return Error::NameTooLong;
      base = pp.dir;
      p = StringView(target, n);
      continue;
    }
    if (found.error() != Error::NotFound) return found.error();
    if (pp.trailing_slash) return Error::IsDir;
    TRY(may_create(ctx.cred, *pp.dir));
    CreateArgs args = how.create;
    args.mode = MODE_REGULAR | (args.mode & MODE_PERM);
    TRY(init_owner(ctx.cred, *pp.dir, args));
    begin_change(*pp.dir);
    Result<VnodeRef> made = pp.dir->create(pp.name(), args);
    end_change(*pp.dir, pp.name());
    // Lost a race with another creator: open theirs (unless EXCL).
    if (!made.ok() && made.error() == Error::Exists && !(how.flags & OpenHow::EXCL)) continue;
    if (made.ok()) {
      *created = true;
      if (where) where->set(pp.dir, pp.name());
      if (notify_active()) notify_name(*pp.dir, pp.name(), false, NOTE_CREATE);
    }
    return made;
  }
}

namespace {

// Owns a NotePath until an open file takes it.
struct NoteOwner {
  NotePath* p = nullptr;
  ~NoteOwner() { delete p; }
  NotePath* take() {
    NotePath* t = p;
    p = nullptr;
    return t;
  }
};

}  // namespace

Result<FileRef> Vfs::open(const PathContext& ctx, StringView path, const OpenHow& how) {
  VnodeRef v;
  // While anything watches, the file remembers its directory and name
  // (fs/vfs/notify.h); otherwise this costs one load.
  NoteOwner note;
  if (notify_active() && !(how.flags & OpenHow::PATH)) note.p = new (std::nothrow) NotePath;
  bool created = false;
  if (how.flags & OpenHow::CREATE) {
    v = TRY(open_create(ctx, path, how, note.p, &created));
  } else {
    v = TRY(walk(ctx, path, ((how.flags & OpenHow::NOFOLLOW) ? 0 : WALK_FOLLOW) | (how.walk & WALK_RESTRICT), nullptr,
                 note.p));
    // O_NOFOLLOW on a symlink: ELOOP, unless it is an O_PATH handle to it.
    if (v->is_symlink() && !(how.flags & OpenHow::PATH)) return Error::Loop;
  }
  if ((how.flags & OpenHow::DIRECTORY) && !v->is_dir()) return Error::NotDir;
  if (how.flags & OpenHow::PATH) return OpenFile::create(v, OpenFile::PATH);
  bool write = how.flags & OpenHow::WRITE;
  bool trunc = how.flags & OpenHow::TRUNC;
  // O_TRUNC counts as writing (Linux: EISDIR on a directory even O_RDONLY).
  if (v->is_dir() && (write || trunc)) return Error::IsDir;
  // The file this open created is the caller's whatever its mode says.
  // Streams (pipes, the console, reached through /proc/self/fd) have no
  // owner here: not checked.
  // CAP_DAC_OVERRIDE grants any read and write (an open never asks to
  // execute): root's opens skip the getattr, unless O_NOATIME asks who owns it.
  const bool granted = ctx.cred && ctx.cred->dac_override && !(how.flags & OpenHow::NOATIME);
  if (!created && ctx.cred && !granted && !v->is_stream()) {
    Attr a = TRY(v->getattr());
    TRY(may_access(ctx.cred, a, ((how.flags & OpenHow::READ) ? MAY_READ : 0) | (write || trunc ? MAY_WRITE : 0)));
    // open(2): O_NOATIME only for the owner (EPERM).
    if ((how.flags & OpenHow::NOATIME) && !owner_or_capable(ctx.cred, a)) return Error::Permission;
  }
  if (trunc && v->is_regular() && !created) {
    TRY(v->truncate(0));
    TRY(remove_privs(ctx.cred, *v));
  }
  uint32_t f = how.flags & (OpenHow::READ | OpenHow::WRITE | OpenHow::APPEND | OpenHow::NONBLOCK);
  if (v->type() == VType::Char || v->type() == VType::Block) {
    Attr a = TRY(v->getattr());
    CharDeviceOpen dev = v->type() == VType::Char ? char_device(a.rdev) : block_device(a.rdev);
    if (dev) v = TRY(dev(a.rdev, how.flags));
  }
  v = TRY(v->open_as(how.flags));
  FileRef file = TRY(OpenFile::create(v, f));
  if (notify_active()) {
    if (note.p && !note.p->dir) delete note.take();
    NotePath* where = note.p;
    if (where) file->set_note_path(note.take());
    // Linux: OPEN, then the truncation's MODIFY (O_TRUNC of a file that
    // was there).
    notify_event(*v, where, NOTE_OPEN, true);
    if (trunc && !created && v->is_regular()) notify_event(*v, where, NOTE_MODIFY, true);
  }
  return file;
}

Result<void> Vfs::make_node(const PathContext& ctx, StringView path, const CreateArgs& args, StringView target) {
  ParentPath pp;
  TRY(resolve_parent(ctx, path, pp));
  if (pp.kind != ParentPath::Kind::Normal) return Error::Exists;
  Result<VnodeRef> found = lookup(*pp.dir, pp.name());
  if (found.ok()) return Error::Exists;
  if (found.error() != Error::NotFound) return found.error();
  VType type = type_of_mode(args.mode);
  // "new/" names a directory: only mkdir may create it (Linux: ENOENT).
  if (pp.trailing_slash && type != VType::Dir) return Error::NotFound;
  TRY(may_create(ctx.cred, *pp.dir));
  TRY(may_mknod(ctx.cred, args.mode));
  CreateArgs a = args;
  if (type != VType::Symlink) TRY(init_owner(ctx.cred, *pp.dir, a));
  begin_change(*pp.dir);
  Result<VnodeRef> made = type == VType::Dir       ? pp.dir->mkdir(pp.name(), a)
                          : type == VType::Symlink ? pp.dir->symlink(pp.name(), target, a)
                                                   : pp.dir->create(pp.name(), a);
  end_change(*pp.dir, pp.name());
  if (!made.ok()) return made.error();
  if (notify_active()) notify_name(*pp.dir, pp.name(), type == VType::Dir, NOTE_CREATE);
  return {};
}

Result<void> Vfs::mkdir(const PathContext& ctx, StringView path, const CreateArgs& args) {
  CreateArgs a = args;
  a.mode = MODE_DIR | (args.mode & MODE_PERM);
  return make_node(ctx, path, a, {});
}

Result<void> Vfs::mknod(const PathContext& ctx, StringView path, const CreateArgs& args) {
  CreateArgs a = args;
  if ((a.mode & MODE_TYPE) == 0) a.mode |= MODE_REGULAR;
  VType t = type_of_mode(a.mode);
  if (t == VType::Dir || t == VType::Symlink || t == VType::Unknown) return Error::Invalid;
  return make_node(ctx, path, a, {});
}

Result<void> Vfs::symlink(StringView target, const PathContext& ctx, StringView path, const CreateArgs& args) {
  if (target.empty()) return Error::NotFound;
  if (target.size() >= MAX_PATH) return Error::NameTooLong;
  CreateArgs a = args;
  a.mode = MODE_SYMLINK | 0777;
  return make_node(ctx, path, a, target);
}

Result<void> Vfs::unlink(const PathContext& ctx, StringView path) {
  ParentPath pp;
  TRY(resolve_parent(ctx, path, pp));
  if (pp.kind != ParentPath::Kind::Normal) return Error::IsDir;
  VnodeRef v = TRY(lookup(*pp.dir, pp.name()));
  if (pp.trailing_slash) return v->is_dir() ? Error::IsDir : Error::NotDir;
  TRY(may_delete(ctx.cred, *pp.dir, *v));
  if (v->is_dir()) return Error::IsDir;
  if (is_mount_point(*v)) return Error::Busy;
  begin_change(*pp.dir);
  Result<void> r = pp.dir->unlink(pp.name());
  end_change(*pp.dir, pp.name());
  if (r.ok() && notify_active()) {
    notify_unlinked(*v, true, 1);  // `v` is ours
    notify_name(*pp.dir, pp.name(), false, NOTE_DELETE);
  }
  return r;
}

Result<void> Vfs::rmdir(const PathContext& ctx, StringView path) {
  ParentPath pp;
  TRY(resolve_parent(ctx, path, pp));
  switch (pp.kind) {
    case ParentPath::Kind::Root: return Error::Busy;
    case ParentPath::Kind::Dot: return Error::Invalid;       // rmdir(2): EINVAL
    case ParentPath::Kind::DotDot: return Error::NotEmpty;   // rmdir(2): ENOTEMPTY
    case ParentPath::Kind::Normal: break;
  }
  VnodeRef v = TRY(lookup(*pp.dir, pp.name()));
  TRY(may_delete(ctx.cred, *pp.dir, *v));
  if (!v->is_dir()) return Error::NotDir;
  if (is_mount_point(*v)) return Error::Busy;
  begin_change(*pp.dir);
  Result<void> r = pp.dir->rmdir(pp.name());
  end_change(*pp.dir, pp.name());
  if (r.ok() && dcache_) dcache_->purge_dir(*v);
  if (r.ok() && notify_active()) {
    notify_unlinked(*v, false, 1);
    notify_name(*pp.dir, pp.name(), true, NOTE_DELETE);
  }
  return r;
}

Result<void> Vfs::rename(const PathContext& from_ctx, StringView from, const PathContext& to_ctx, StringView to,
                         bool no_replace) {
  ParentPath a, b;
  TRY(resolve_parent(from_ctx, from, a));
  TRY(resolve_parent(to_ctx, to, b));
  // rename(2): EBUSY when either last component is ".", ".." or "/".
  if (a.kind != ParentPath::Kind::Normal || b.kind != ParentPath::Kind::Normal) return Error::Busy;
  if (a.dir->fs() != b.dir->fs()) return Error::CrossDevice;
  VnodeRef src = TRY(lookup(*a.dir, a.name()));
  if (!src->is_dir() && (a.trailing_slash || b.trailing_slash)) return Error::NotDir;
  if (is_mount_point(*src)) return Error::Busy;
  Result<VnodeRef> dst = lookup(*b.dir, b.name());
  if (!dst.ok() && dst.error() != Error::NotFound) return dst.error();
  if (dst.ok()) {
    if (no_replace) return Error::Exists;
    if (is_mount_point(*dst.value())) return Error::Busy;
  }
  // rename(2): the source leaves its directory and the target's name is
  // made or replaced; a directory moving to another parent changes its
  // "..", which needs write permission on it. Renaming a file onto itself
  // succeeds unchecked, as on Linux.
  if (from_ctx.cred && !(dst.ok() && dst.value() == src)) {
    TRY(may_delete(from_ctx.cred, *a.dir, *src));
    if (dst.ok()) TRY(may_delete(to_ctx.cred, *b.dir, *dst.value()));
    else TRY(may_create(to_ctx.cred, *b.dir));
    if (src->is_dir() && a.dir != b.dir) TRY(may_access(from_ctx.cred, *src, MAY_WRITE));
  }
  begin_change(*a.dir);
  begin_change(*b.dir);
  Result<void> r = a.dir->rename(a.name(), *b.dir, b.name(), no_replace);
  end_change(*b.dir, b.name());
  end_change(*a.dir, a.name());
  if (r.ok() && dst.ok() && dst.value()->is_dir() && dst.value() != src && dcache_) dcache_->purge_dir(*dst.value());
  // rename(2) between two names of one file does nothing, and says nothing.
  if (r.ok() && notify_active() && !(dst.ok() && dst.value() == src)) {
    Vnode* replaced = dst.ok() ? dst.value().get() : nullptr;
    notify_rename(*a.dir, a.name(), *b.dir, b.name(), *src, replaced);
    if (replaced) notify_unlinked(*replaced, false, 1);  // `dst` is ours
  }
  return r;
}

Result<void> Vfs::link(const PathContext& from_ctx, StringView existing, const PathContext& to_ctx,
                       StringView new_path, bool follow) {
  VnodeRef src = TRY(resolve(from_ctx, existing, follow ? WALK_FOLLOW : 0));
  return link_vnode(*src, to_ctx, new_path);
}

Result<void> Vfs::link_vnode(Vnode& src, const PathContext& ctx, StringView new_path) {
  ParentPath pp;
  TRY(resolve_parent(ctx, new_path, pp));
  if (pp.kind != ParentPath::Kind::Normal) return Error::Exists;
  Result<VnodeRef> found = lookup(*pp.dir, pp.name());
  if (found.ok()) return Error::Exists;
  if (found.error() != Error::NotFound) return found.error();
  if (pp.trailing_slash) return Error::NotFound;
  if (pp.dir->fs() != src.fs()) return Error::CrossDevice;
  TRY(may_link(ctx.cred, src));
  TRY(may_create(ctx.cred, *pp.dir));
  if (src.is_dir()) return Error::Permission;  // link(2): EPERM for directories
  begin_change(*pp.dir);
  Result<void> r = pp.dir->link(pp.name(), src);
  end_change(*pp.dir, pp.name());
  if (r.ok() && notify_active()) {
    notify_event(src, nullptr, NOTE_ATTRIB);  // its link count
    notify_name(*pp.dir, pp.name(), false, NOTE_CREATE);
  }
  return r;
}

Result<FileRef> Vfs::open_tmpfile(const PathContext& ctx, StringView path, const OpenHow& how) {
  VnodeRef dir = TRY(resolve(ctx, path, WALK_FOLLOW | WALK_DIRECTORY | (how.walk & WALK_RESTRICT)));
  if (!dir->is_dir()) return Error::NotDir;
  TRY(may_create(ctx.cred, *dir));
  CreateArgs args = how.create;
  args.mode = MODE_REGULAR | (args.mode & MODE_PERM);
  TRY(init_owner(ctx.cred, *dir, args));
  // open(2): O_TMPFILE | O_EXCL files can never be linked into a directory.
  VnodeRef v = TRY(dir->tmpfile(args, !(how.flags & OpenHow::EXCL)));
  return OpenFile::create(v, how.flags & (OpenHow::READ | OpenHow::WRITE | OpenHow::APPEND | OpenHow::NONBLOCK));
}

Result<size_t> Vfs::readlink(const PathContext& ctx, StringView path, char* buf, size_t cap) {
  VnodeRef v = TRY(resolve(ctx, path, 0));
  if (!v->is_symlink()) return Error::Invalid;
  size_t n = TRY(v->readlink(buf, cap));
  return n < cap ? n : cap;
}

Result<Attr> Vfs::stat(const PathContext& ctx, StringView path, bool follow) {
  VnodeRef v = TRY(resolve(ctx, path, follow ? WALK_FOLLOW : 0));
  return v->getattr();
}

Result<void> Vfs::setattr(const PathContext& ctx, StringView path, const SetAttr& a, bool follow) {
  NotePath where;
  VnodeRef v = TRY(walk(ctx, path, follow ? WALK_FOLLOW : 0, nullptr, notify_active() ? &where : nullptr));
  if (a.mask & SetAttr::SIZE) {
    if (v->is_dir()) return Error::IsDir;
    if (!v->is_regular()) return Error::Invalid;
    TRY(may_access(ctx.cred, *v, MAY_WRITE));  // truncate(2): EACCES
  }
  return setattr_noted(ctx.cred, *v, where.dir ? &where : nullptr, a);
}

Result<void> setattr_noted(const Cred* cred, Vnode& v, const NotePath* where, const SetAttr& a) {
  TRY(setattr_checked(cred, v, a));
  if (notify_active())
    if (uint32_t ev = notify_setattr_events(a)) notify_event(v, where && where->dir ? where : nullptr, ev);
  return {};
}

namespace {

// Finds the name of inode `ino` in a directory (for path_of).
class FindName final : public DirSink {
 public:
  explicit FindName(uint64_t ino) : ino_(ino) {}
  bool emit(StringView name, uint64_t ino, VType, uint64_t) override {
    if (ino != ino_ || is_dot(name) || is_dotdot(name)) return true;
    len = name.size();
    for (size_t i = 0; i < len; ++i) buf[i] = name[i];
    found = true;
    return false;
  }
  char buf[MAX_NAME + 1];
  size_t len = 0;
  bool found = false;

 private:
  uint64_t ino_;
};

}  // namespace

Result<size_t> Vfs::path_of(const PathContext& ctx, Vnode& dir, char* buf, size_t cap) {
  if (cap < 2) return Error::Range;
  // Built backwards from the end of buf, one "/name" per level.
  size_t pos = cap - 1;
  buf[pos] = 0;
  VnodeRef cur(&dir);
  for (;;) {
    {
      FsGuard g(mount_lock_);
      while (cur.get() != ctx.root && cur->root_of_ && cur->root_of_->mountpoint) cur = cur->root_of_->mountpoint;
    }
    if (cur.get() == ctx.root) break;
    VnodeRef up = TRY(cur->lookup(".."));
    if (up == cur) break;  // the top of a tree outside ctx.root (chroot escape): stop
    FindName f(cur->ino());
    TRY(up->readdir(0, f));
    if (!f.found) return Error::NotFound;
    if (f.len + 1 > pos) return Error::Range;
    pos -= f.len;
    for (size_t i = 0; i < f.len; ++i) buf[pos + i] = f.buf[i];
    buf[--pos] = '/';
    cur = up;
  }
  if (pos == cap - 1) buf[--pos] = '/';
  size_t len = cap - 1 - pos;
  for (size_t i = 0; i <= len; ++i) buf[i] = buf[pos + i];
  return len;
}

VfsStats Vfs::stats() {
  VfsStats s;
  if (dcache_) {
    s.dcache_hits = dcache_->hits();
    s.dcache_misses = dcache_->misses();
    s.dcache_entries = dcache_->size();
  }
  FsGuard g(mount_lock_);
  for (Mount* m = mounts_; m; m = m->next) ++s.mounts;
  return s;
}

void Vfs::drop_caches() {
  if (dcache_) dcache_->clear();
}

}  // namespace capsule::vfs
