#include "fs/ramfs/ramfs.h"

#include <new>

#include "fs/ramfs/page_tree.h"
#include "lib/rbtree.h"

namespace capsule::ramfs {

using vfs::Attr;
using vfs::CreateArgs;
using vfs::DirSink;
using vfs::FsGuard;
using vfs::FsMutex;
using vfs::IoBuffer;
using vfs::SetAttr;
using vfs::VnodeRef;
using vfs::VType;

namespace {

constexpr uint64_t PAGE = PAGE_SIZE;

uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

// --- nodes ------------------------------------------------------------------

class Node : public vfs::Vnode {
 public:
  Node(Ramfs* fs, const CreateArgs& a)
      : Vnode(fs, fs->next_ino(), a.mode), mode_(a.mode), uid_(a.uid), gid_(a.gid), rdev_(a.rdev) {
    atime_ = mtime_ = ctime_ = vfs::fs_now_ns();
    nlink_ = type() == VType::Dir ? 2 : 1;
  }

  Ramfs* rfs() const { return static_cast<Ramfs*>(fs()); }

  Result<Attr> getattr() override {
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

  Result<void> setattr(const SetAttr& s) override {
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

  Result<void> truncate(uint64_t size) override {
    FsGuard g(lock_);
    TRY(truncate_locked(size));
    mtime_ = ctime_ = vfs::fs_now_ns();
    return {};
  }

  // Under lock_. A node being unlinked or linked (the directory holds its
  // own lock and takes this one second).
  void add_link_locked(int delta) {
    nlink_ = uint32_t(int(nlink_) + delta);
    ctime_ = vfs::fs_now_ns();
  }

  FsMutex lock_;  // over everything below and the subclass's contents
  uint32_t mode_;
  uint32_t uid_, gid_;
  uint32_t nlink_;
  bool linkable_ = false;  // an O_TMPFILE file that link() may still name
  uint64_t rdev_;
  int64_t atime_, mtime_, ctime_;

 protected:
  virtual void fill_size_locked(Attr&) {}
  virtual Result<void> truncate_locked(uint64_t) { return is_dir() ? Error::IsDir : Error::Invalid; }
};

// Device nodes, FIFOs, sockets: attributes only (devfs and pipes give them
// behaviour through the Vfs later).
class Special final : public Node {
 public:
  using Node::Node;
};

class Symlink final : public Node {
 public:
  Symlink(Ramfs* fs, const CreateArgs& a, char* target, size_t len) : Node(fs, a), target_(target), len_(len) {}
  ~Symlink() override { delete[] target_; }

  Result<size_t> readlink(char* buf, size_t cap) override {
    // Immutable after creation: no lock needed.
    for (size_t i = 0; i < len_ && i < cap; ++i) buf[i] = target_[i];
    return len_;
  }

 protected:
  void fill_size_locked(Attr& a) override { a.size = len_; }

 private:
  char* const target_;
  const size_t len_;
};

class File final : public Node {
 public:
  using Node::Node;
  ~File() override { pages_.truncate(0, [this](uint8_t* p) { rfs()->free_page(p); }); }

  Result<size_t> read(uint64_t offset, IoBuffer& buf) override {
    FsGuard g(lock_);
    if (offset >= size_) return size_t(0);
    size_t n = size_t(min64(buf.size(), size_ - offset));
    size_t done = 0;
    while (done < n) {
      uint64_t pos = offset + done;
      size_t in = size_t(pos & (PAGE - 1));
      size_t k = size_t(min64(PAGE - in, n - done));
      Result<void> r;
      if (uint8_t* p = pages_.get(pos / PAGE)) {
        r = buf.copy_out(done, p + in, k);
      } else if (pos < backing_size_) {
        size_t from_archive = size_t(min64(k, backing_size_ - pos));
        r = buf.copy_out(done, backing_ + pos, from_archive);
        if (r.ok() && from_archive < k) r = buf.zero(done + from_archive, k - from_archive);
      } else {
        r = buf.zero(done, k);  // a hole
      }
      if (!r.ok()) {
        if (done) break;
        return r.error();
      }
      done += k;
    }
    touch_atime_locked();
    return done;
  }

  Result<size_t> write(uint64_t* offset, IoBuffer& buf, bool append) override {
    FsGuard g(lock_);
    uint64_t off = append ? size_ : *offset;
    size_t n = buf.size();
    if (n == 0) {
      *offset = off;
      return size_t(0);
    }
    // memfd_create(2): F_SEAL_WRITE refuses every write, F_SEAL_GROW one
    // that would extend the file (EPERM).
    if (seals_ & (vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE)) return Error::Permission;
    // write(2): EFBIG when the offset is past the maximum; a write that
    // straddles it is cut short there.
    if (off >= vfs::MAX_FILE_SIZE) return Error::FileTooBig;
    if (n > vfs::MAX_FILE_SIZE - off) n = size_t(vfs::MAX_FILE_SIZE - off);
    if ((seals_ & vfs::SEAL_GROW) && off + n > size_) return Error::Permission;
    size_t done = 0;
    Error failed = Error::None;
    while (done < n) {
      uint64_t pos = off + done;
      size_t in = size_t(pos & (PAGE - 1));
      size_t k = size_t(min64(PAGE - in, n - done));
      auto page = materialize_locked(pos / PAGE);
      if (!page.ok()) {
        failed = page.error();
        break;
      }
      if (auto r = buf.copy_in(done, page.value() + in, k); !r.ok()) {
        // Bytes of a partly copied page may have landed: past the old size
        // they are beyond EOF and read as written, which Linux also allows.
        failed = r.error();
        break;
      }
      done += k;
    }
    if (done == 0 && failed != Error::None) return failed;
    if (off + done > size_) size_ = off + done;
    mtime_ = ctime_ = vfs::fs_now_ns();
    *offset = off + done;
    return done;
  }

  Result<uint64_t> page(uint64_t offset) override {
    FsGuard g(lock_);
    if (offset >= ((size_ + PAGE - 1) & ~(PAGE - 1))) return Error::Range;
    uint8_t* p = TRY(materialize_locked(offset / PAGE));
    return vfs::fs_page_phys(p);
  }

  Result<void> allocate(uint64_t offset, uint64_t len, bool keep_size) override {
    FsGuard g(lock_);
    if (len == 0) return Error::Invalid;
    if (offset > vfs::MAX_FILE_SIZE || len > vfs::MAX_FILE_SIZE - offset) return Error::FileTooBig;
    uint64_t end = offset + len;
    if (!keep_size && end > size_ && (seals_ & vfs::SEAL_GROW)) return Error::Permission;
    // tmpfs allocates the pages now, so that later writes cannot run out.
    // A request for more than half of the free memory is NoSpace at once
    // (tmpfs's default size is half of RAM), so one call cannot starve
    // the kernel; the instance's max_pages is enforced page by page.
    uint64_t first = offset / PAGE, last = (end + PAGE - 1) / PAGE;
    if (last - first > vfs::fs_free_pages() / 2) return Error::NoSpace;
    for (uint64_t i = first; i < last; ++i) {
      if (auto r = materialize_locked(i); !r.ok()) {
        // Give back what now lies past the end (Linux undoes the whole
        // call; holes filled inside the file just stay zeros).
        pages_.truncate((size_ + PAGE - 1) / PAGE, [&](uint8_t* p) { rfs()->free_page(p); });
        return r.error();
      }
    }
    if (!keep_size && end > size_) size_ = end;
    ctime_ = vfs::fs_now_ns();
    if (!keep_size) mtime_ = ctime_;
    return {};
  }

  Result<void> punch_hole(uint64_t offset, uint64_t len) override {
    FsGuard g(lock_);
    if (seals_ & (vfs::SEAL_WRITE | vfs::SEAL_FUTURE_WRITE)) return Error::Permission;
    if (offset >= size_ || len == 0) return {};
    uint64_t end = len > size_ - offset ? size_ : offset + len;
    uint64_t archive_pages = (backing_size_ + PAGE - 1) / PAGE;
    // A mapped file keeps its pages (a mapping may hold them): punched
    // ranges are zeroed in place instead, which reads the same.
    bool mapped = vm_maps.load(std::memory_order_acquire) != 0;
    for (uint64_t pos = offset; pos < end;) {
      uint64_t index = pos / PAGE;
      size_t in = size_t(pos & (PAGE - 1));
      uint64_t k = min64(PAGE - in, end - pos);
      uint8_t* p = pages_.get(index);
      if (k == PAGE && index >= archive_pages && !mapped) {
        if (p) {  // a whole page: give it back
          (void)pages_.set(index, nullptr);
          rfs()->free_page(p);
        }
      } else if (p || index < archive_pages) {
        // Part of a page, or a page of the archive (which must stop showing
        // through): zeros in a page of our own.
        if (!p) p = TRY(materialize_locked(index));
        __builtin_memset(p + in, 0, size_t(k));
      }
      pos += k;
    }
    mtime_ = ctime_ = vfs::fs_now_ns();
    return {};
  }

  Result<uint32_t> seals() override {
    FsGuard g(lock_);
    return seals_;
  }

  Result<void> add_seals(uint32_t s) override {
    FsGuard g(lock_);
    if (seals_ & vfs::SEAL_SEAL) return Error::Permission;
    seals_ |= s;
    return {};
  }

  // memfd_create(MFD_ALLOW_SEALING): a file that takes seals. Every other
  // ramfs file starts with SEAL_SEAL, as tmpfs files do.
  void allow_sealing() {
    FsGuard g(lock_);
    seals_ &= ~vfs::SEAL_SEAL;
  }

  Result<void> set_backing(const uint8_t* data, size_t size) {
    FsGuard g(lock_);
    if (size_ || pages_.count() || backing_) return Error::Busy;
    backing_ = data;
    backing_size_ = size_ = size;
    return {};
  }

 protected:
  void fill_size_locked(Attr& a) override {
    a.size = size_;
    uint64_t archive_pages = (backing_size_ + PAGE - 1) / PAGE;
    a.blocks = (pages_.count() + archive_pages - shadowed_) * (PAGE / 512);
  }

  Result<void> truncate_locked(uint64_t size) override {
    if (size > vfs::MAX_FILE_SIZE) return Error::FileTooBig;
    if ((seals_ & vfs::SEAL_SHRINK) && size < size_) return Error::Permission;
    if ((seals_ & vfs::SEAL_GROW) && size > size_) return Error::Permission;
    if (size < size_) {
      // Mappings lose the pages beyond the new end first (a later touch
      // is SIGBUS), then the pages go.
      mm::backing_shrinking(*this, size);
      uint64_t keep = (size + PAGE - 1) / PAGE;  // pages still (partly) inside
      pages_.truncate(keep, [&](uint8_t* p) { rfs()->free_page(p); });
      if (backing_size_ > size) backing_size_ = size;
      // Recount the pages that shadow the (shorter) archive range.
      uint64_t new_archive_pages = (backing_size_ + PAGE - 1) / PAGE;
      shadowed_ = 0;
      for (uint64_t i = 0; i < new_archive_pages; ++i)
        if (pages_.get(i)) ++shadowed_;
      // The tail of the last page must read as zeros if the file grows again.
      if (uint8_t* p = (size & (PAGE - 1)) ? pages_.get(size / PAGE) : nullptr)
        __builtin_memset(p + (size & (PAGE - 1)), 0, PAGE - (size & (PAGE - 1)));
      if (backing_size_ == 0) backing_ = nullptr;
    }
    size_ = size;
    return {};
  }

 private:
  // The page at `index`, allocated (zeros, or a copy of the archive's
  // bytes) if absent. NoSpace when the file system is full.
  Result<uint8_t*> materialize_locked(uint64_t index) {
    if (uint8_t* p = pages_.get(index)) return p;
    uint8_t* p = TRY(rfs()->alloc_page());
    uint64_t pos = index * PAGE;
    size_t from_archive = pos < backing_size_ ? size_t(min64(PAGE, backing_size_ - pos)) : 0;
    if (from_archive) __builtin_memcpy(p, backing_ + pos, from_archive);
    __builtin_memset(p + from_archive, 0, PAGE - from_archive);
    if (!pages_.set(index, p).ok()) {
      rfs()->free_page(p);
      return Error::NoSpace;
    }
    if (from_archive) ++shadowed_;
    return p;
  }

  // relatime (Linux's default): atime moves only if it is older than mtime
  // or ctime, or a day old, so reads rarely write.
  void touch_atime_locked() {
    int64_t now = vfs::fs_now_ns();
    if (atime_ <= mtime_ || atime_ <= ctime_ || now - atime_ > 86400ll * 1000000000) atime_ = now;
  }

  PageTree pages_;
  uint64_t size_ = 0;
  const uint8_t* backing_ = nullptr;  // the archive's bytes, until shadowed
  uint64_t backing_size_ = 0;         // <= size_
  uint64_t shadowed_ = 0;             // pages_ entries below backing_size_
  uint32_t seals_ = vfs::SEAL_SEAL;   // memfd seals (vfs::SEAL_*)
};

// --- directories ------------------------------------------------------------

struct Dirent {
  RbNode by_name;
  RbNode by_cookie;
  uint64_t cookie;
  Node* node;  // one reference, owned by the entry
  uint16_t len;
  char name[1];  // len bytes follow (allocated with the entry)

  StringView view() const { return {name, len}; }
  static Dirent* make(StringView n, Node* node, uint64_t cookie) {
    void* mem = ::operator new(sizeof(Dirent) + n.size(), std::nothrow);
    if (!mem) return nullptr;
    auto* d = new (mem) Dirent;
    d->cookie = cookie;
    d->node = node;
    d->len = uint16_t(n.size());
    for (size_t i = 0; i < n.size(); ++i) d->name[i] = n[i];
    return d;
  }
  static void destroy(Dirent* d) {
    d->~Dirent();
    ::operator delete(d);
  }
};

int compare(StringView a, StringView b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return uint8_t(a[i]) < uint8_t(b[i]) ? -1 : 1;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

struct ByName {
  bool operator()(const Dirent& a, const Dirent& b) const { return compare(a.view(), b.view()) < 0; }
};
struct ByCookie {
  bool operator()(const Dirent& a, const Dirent& b) const { return a.cookie < b.cookie; }
};

class Dir final : public Node {
 public:
  Dir(Ramfs* fs, const CreateArgs& a, Dir* parent) : Node(fs, a), parent_(parent ? parent : this) {}
  ~Dir() override {
    // Only an empty directory dies (its entries held it), except at
    // shutdown, which empties it first.
    while (Dirent* e = order_.pop_first()) {
      names_.remove(*e);
      e->node->release();
      Dirent::destroy(e);
    }
  }

  Result<VnodeRef> lookup(StringView name) override {
    FsGuard g(lock_);
    if (name.size() == 2 && name[0] == '.' && name[1] == '.') {
      if (!parent_) return Error::NotFound;  // removed
      return VnodeRef(parent_);
    }
    Dirent* e = find_locked(name);
    if (!e) return Error::NotFound;
    return VnodeRef(e->node);
  }

  Result<VnodeRef> create(StringView name, const CreateArgs& args) override {
    VType t = vfs::type_of_mode(args.mode);
    if (t == VType::Dir || t == VType::Symlink || t == VType::Unknown) return Error::Invalid;
    Node* n = t == VType::Regular ? static_cast<Node*>(new (std::nothrow) File(rfs(), args))
                                  : static_cast<Node*>(new (std::nothrow) Special(rfs(), args));
    return insert_new(name, n);
  }

  Result<VnodeRef> tmpfile(const CreateArgs& args, bool linkable) override {
    {
      FsGuard g(lock_);
      if (!parent_) return Error::NotFound;  // a removed directory
    }
    VnodeRef v = TRY(rfs()->create_unlinked(args, false));
    static_cast<Node*>(v.get())->linkable_ = linkable;  // not shared yet: no lock needed
    return v;
  }

  Result<VnodeRef> mkdir(StringView name, const CreateArgs& args) override {
    CreateArgs a = args;
    a.mode = vfs::MODE_DIR | (args.mode & vfs::MODE_PERM);
    // parent_ is set under our lock in insert_new, before it is visible.
    return insert_new(name, new (std::nothrow) Dir(rfs(), a, this));
  }

  Result<VnodeRef> symlink(StringView name, StringView target, const CreateArgs& args) override {
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

  Result<void> link(StringView name, vfs::Vnode& target) override {
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

  Result<void> unlink(StringView name) override {
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

  Result<void> rmdir(StringView name) override {
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

  Result<void> rename(StringView name, vfs::Vnode& new_dir_v, StringView new_name, bool no_replace) override;

  Result<void> readdir(uint64_t cookie, DirSink& sink) override {
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

  // Shutdown: takes the first entry out (its reference passes to the
  // caller), nullptr when empty.
  Node* take_first() {
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
  // Shutdown: forgets the parent; returns it (nullptr for the root).
  Dir* take_parent() {
    FsGuard g(lock_);
    Dir* p = parent_ == this ? nullptr : parent_;
    parent_ = nullptr;
    nlink_ = 0;
    return p;
  }

 protected:
  void fill_size_locked(Attr& a) override {
    // Like tmpfs: a size that grows with the entries, in fake bytes.
    a.size = (names_.size() + 2) * 20;
  }

 private:
  Dirent* find_locked(StringView name) {
    Dirent* e = names_.partition_point([&](const Dirent& d) { return compare(d.view(), name) < 0; });
    return e && e->view() == name ? e : nullptr;
  }

  Result<VnodeRef> insert_new(StringView name, Node* n) {
    if (!n) return Error::NoMemory;
    VnodeRef made = VnodeRef::adopt(n);  // freed on any failure below
    FsGuard g(lock_);
    if (!parent_) return Error::NotFound;  // this directory was removed
    if (find_locked(name)) return Error::Exists;
    Dirent* e = Dirent::make(name, n, next_cookie_);
    if (!e) return Error::NoMemory;
    ++next_cookie_;
    n->retain();  // the entry's reference
    names_.insert(*e);
    order_.insert(*e);
    if (n->is_dir()) ++nlink_;
    touch_locked();
    return made;
  }

  void remove_locked(Dirent* e) {
    names_.remove(*e);
    order_.remove(*e);
    Dirent::destroy(e);  // the node's reference passes to the caller
  }

  void detach_locked() {
    parent_ = nullptr;
    nlink_ = 0;
    ctime_ = vfs::fs_now_ns();
  }

  void touch_locked() { mtime_ = ctime_ = vfs::fs_now_ns(); }
  void touch_atime_locked() {
    int64_t now = vfs::fs_now_ns();
    if (atime_ <= mtime_ || atime_ <= ctime_ || now - atime_ > 86400ll * 1000000000) atime_ = now;
  }

  // Is this directory `d` or above it? Stable under the rename lock (the
  // only place parents change).
  bool is_ancestor_of(const Dir* d) const {
    for (const Dir* p = d; p; p = p->parent_ == p ? nullptr : p->parent_)
      if (p == this) return true;
    return false;
  }

  Dir* parent_;  // nullptr once removed; the root's is itself
  uint64_t next_cookie_ = 2;  // 0 and 1 are "." and ".."
  IntrusiveRbTree<Dirent, &Dirent::by_name, ByName> names_;
  IntrusiveRbTree<Dirent, &Dirent::by_cookie, ByCookie> order_;
};

}  // namespace

// rename(2) inside one ramfs. Under the rename lock, so the directory
// locks may be taken in any order (nobody else holds two). Not analysed
// (NO_THREAD_SAFETY_ANALYSIS): the second directory and the victim are
// locked only when they are not a node already locked, which the
// analysis cannot follow.
Result<void> Dir::rename(StringView name, vfs::Vnode& new_dir_v, StringView new_name, bool no_replace)
    NO_THREAD_SAFETY_ANALYSIS {
  if (new_dir_v.fs() != fs()) return Error::CrossDevice;
  if (!new_dir_v.is_dir()) return Error::NotDir;
  auto* nd = static_cast<Dir*>(&new_dir_v);
  Node* released = nullptr;  // the replaced node's reference, dropped at the end
  {
    FsGuard rl(rfs()->rename_lock());
    FsGuard g1(lock_);
    struct MaybeGuard {
      FsMutex* m;
      ~MaybeGuard() {
        if (m) m->unlock();
      }
    } g2{nd != this ? &nd->lock_ : nullptr};
    if (g2.m) g2.m->lock();

    if (!parent_ || !nd->parent_) return Error::NotFound;
    Dirent* src = find_locked(name);
    if (!src) return Error::NotFound;
    Node* s = src->node;
    bool moving_dir = s->is_dir();
    // A directory cannot move under itself (rename(2): EINVAL).
    if (moving_dir && static_cast<Dir*>(s)->is_ancestor_of(nd)) return Error::Invalid;
    Dirent* dst = nd->find_locked(new_name);
    if (dst && dst->node == s) return {};  // two names of one file: nothing to do (POSIX)
    if (dst && no_replace) return Error::Exists;
    Node* victim = dst ? dst->node : nullptr;
    // The victim's lock: not held yet unless it is one of the two dirs.
    bool lock_victim = victim && victim != this && victim != nd;
    if (lock_victim) victim->lock_.lock();
    struct Unlock {
      Node* v;
      ~Unlock() {
        if (v) v->lock_.unlock();
      }
    } vu{lock_victim ? victim : nullptr};
    if (victim) {
      if (moving_dir && !victim->is_dir()) return Error::NotDir;
      if (!moving_dir && victim->is_dir()) return Error::IsDir;
      if (victim->is_dir() && !static_cast<Dir*>(victim)->names_.empty()) return Error::NotEmpty;
    }
    Dirent* moved = Dirent::make(new_name, s, nd->next_cookie_);
    if (!moved) return Error::NoMemory;
    ++nd->next_cookie_;

    // Nothing can fail from here on.
    if (victim) {
      nd->remove_locked(dst);
      if (victim->is_dir()) {
        static_cast<Dir*>(victim)->detach_locked();
        --nd->nlink_;
      } else {
        victim->add_link_locked(-1);
      }
      released = victim;
    }
    remove_locked(src);
    nd->names_.insert(*moved);
    nd->order_.insert(*moved);
    if (moving_dir && nd != this) {
      auto* sd = static_cast<Dir*>(s);
      FsGuard sg(sd->lock_);
      sd->parent_ = nd;
      --nlink_;
      ++nd->nlink_;
    }
    if (!moving_dir) {
      FsGuard sg(s->lock_);
      s->ctime_ = vfs::fs_now_ns();
    }
    touch_locked();
    if (nd != this) nd->touch_locked();
  }
  if (released) released->release();
  return {};
}

// --- the file system --------------------------------------------------------

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
  f->add_link_locked(-1);  // no name: nlink 0 (not yet shared, no lock needed)
  if (sealable) f->allow_sealing();
  return VnodeRef::adopt(f);
}

Result<void> Ramfs::set_backing(vfs::Vnode& file, const uint8_t* data, size_t size) {
  if (file.fs() != this || !file.is_regular()) return Error::Invalid;
  return static_cast<File&>(file).set_backing(data, size);
}

}  // namespace capsule::ramfs
