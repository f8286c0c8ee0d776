// The FUSE client file system: a host directory served by virtiofsd over
// a virtio-fs device (fs/include/fs/fuse.h, docs/virtiofs.md).
//
// A vnode is a server node (nodeid). The server counts the replies that
// named each node (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK); the vnode
// counts them too and gives them back with FORGET when it goes. Reads and
// writes use file handles opened on demand with OPEN (one read-only, one
// read-write per file, kept until the vnode goes); readdir opens a
// directory handle of its own per call. One vnode per server node while
// any reference to it lives (a table by nodeid), so mappings, locks and
// page caches see one object.
//
// Caching, as fs/p9 (docs/9p.md): none for names, attributes or data;
// mmap keeps pages, written back at fsync and when the last reference goes.
#include <atomic>
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/shutdown.h"
#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "core/time.h"
#include "fs/fuse.h"
#include "fs/fuse/wire.h"
#include "fs/reaper.h"

namespace capsule::fuse {
namespace {

using vfs::Attr;
using vfs::CreateArgs;
using vfs::DirSink;
using vfs::FsGuard;
using vfs::FsMutex;
using vfs::FsStat;
using vfs::OpenHow;
using vfs::SetAttr;
using vfs::VnodeRef;
using vfs::VType;

constexpr uint64_t FUSE_SUPER_MAGIC = 0x65735546;  // statfs f_type, as Linux's virtiofs
constexpr size_t MAX_CHUNK = 65536;                // data per READ/WRITE
constexpr size_t NODE_BUCKETS = 256;
constexpr size_t PAGE_BUCKETS = 256;

std::atomic<uint64_t> g_unique{1};

// One request in flight: holds a slot of the channel for its lifetime.
class Call {
 public:
  explicit Call(Transport* t) : t_(t), r_(t->acquire()) {}
  ~Call() { t_->release(r_); }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  Writer begin(uint32_t opcode, uint64_t nodeid) {
    unique_ = g_unique.fetch_add(1, std::memory_order_relaxed);
    return Writer(r_.out, r_.cap, opcode, unique_, nodeid);
  }
  // reply_max: room for the reply, header included (the largest reply
  // without data is a READLINK of PATH_MAX).
  Result<Reader> send(Writer& w, size_t reply_max = OUT_HEADER + 4096) {
    if (w.overflow()) return Error::Invalid;  // cannot happen within the VFS's limits
    size_t n = TRY(t_->transact(r_, w.finish(), reply_max));
    return parse_reply(r_.in, n, unique_);
  }
  Result<void> send_forget(Writer& w) {
    if (w.overflow()) return Error::Invalid;
    return t_->forget(r_, w.finish());
  }

 private:
  Transport* t_;
  Request r_;
  uint64_t unique_ = 0;
};

struct CachedPage {
  uint64_t index;
  uint64_t phys;
  CachedPage* next;
};

Result<void> release_fh(Transport* t, uint32_t opcode, uint64_t nodeid, uint64_t fh) {
  Call c(t);
  Writer w = c.begin(opcode, nodeid);
  w.u64(fh);
  w.u32(0);  // flags
  w.u32(0);  // release_flags
  w.u64(0);  // lock_owner
  TRY(c.send(w));
  return {};
}

void forget(Transport* t, uint64_t nodeid, uint64_t nlookup) {
  if (!nlookup || nodeid == ROOT_ID) return;
  Call c(t);
  Writer w = c.begin(FORGET, nodeid);
  w.u64(nlookup);
  (void)c.send_forget(w);  // no reply [fuse.h: FORGET]
}

Result<WireAttr> getattr_of(Transport* t, uint64_t nodeid) {
  Call c(t);
  Writer w = c.begin(GETATTR, nodeid);
  w.u32(0);  // getattr_flags
  w.u32(0);
  w.u64(0);  // fh
  Reader r = TRY(c.send(w));
  r.skip(16);  // attr_valid, attr_valid_nsec, dummy
  WireAttr a = read_attr(r);
  if (r.bad()) return Error::Io;
  return a;
}

Result<size_t> write_at(Transport* t, uint64_t nodeid, uint64_t fh, uint64_t off, const void* data, size_t n) {
  Call c(t);
  Writer w = c.begin(WRITE, nodeid);
  w.u64(fh);
  w.u64(off);
  w.u32(uint32_t(n));
  w.u32(0);  // write_flags
  w.u64(0);  // lock_owner
  w.u32(0);  // flags
  w.u32(0);
  w.bytes(data, n);
  Reader r = TRY(c.send(w));
  uint32_t done = r.u32();
  if (r.bad() || done > n) return Error::Io;
  return size_t(done);
}

// Cached pages go back to the host through `fh`, up to `size`.
Result<void> write_pages(Transport* t, uint64_t nodeid, uint64_t fh, uint64_t size, CachedPage** pages) {
  for (size_t b = 0; b < PAGE_BUCKETS; ++b) {
    for (CachedPage* p = pages[b]; p; p = p->next) {
      uint64_t off = p->index * PAGE_SIZE;
      if (off >= size) continue;
      size_t n = size - off < PAGE_SIZE ? size_t(size - off) : PAGE_SIZE;
      TRY(write_at(t, nodeid, fh, off, phys_to_virt(p->phys), n));
    }
  }
  return {};
}

// What a vnode leaves behind: its handles, its lookup count and its kept
// pages. A vnode's last reference can go where nothing may sleep (munmap
// holds the address space's spinlock), so the RELEASEs, the FORGET and
// the write-back happen in the reaper thread, and in the shutdown hook
// for what is still queued when the program exits.
struct Remains : vfs::Remains {
  Transport* t;
  uint64_t nodeid, nlookup;
  bool has_rfh, has_wfh;
  uint64_t rfh, wfh;
  bool write_back;
  CachedPage** pages;
};

void finish(vfs::Remains* base) {
  auto* r = static_cast<Remains*>(base);
  if (r->write_back && r->pages && r->has_wfh) {
    auto a = getattr_of(r->t, r->nodeid);
    if (a.ok()) (void)write_pages(r->t, r->nodeid, r->wfh, a.value().size, r->pages);
  }
  if (r->pages) {
    for (size_t b = 0; b < PAGE_BUCKETS; ++b) {
      while (CachedPage* p = r->pages[b]) {
        r->pages[b] = p->next;
        page_free(p->phys);
        delete p;
      }
    }
    kfree(r->pages);
  }
  if (r->has_wfh) (void)release_fh(r->t, RELEASE, r->nodeid, r->wfh);
  if (r->has_rfh) (void)release_fh(r->t, RELEASE, r->nodeid, r->rfh);
  forget(r->t, r->nodeid, r->nlookup);
  delete r;
}


class Node;

class FuseFs final : public vfs::FileSystem {
 public:
  FuseFs(Transport* t, bool ro) : t_(t), ro_(ro) {}
  const char* name() const override { return "virtiofs"; }
  VnodeRef root() override { return root_; }
  // The host changes names behind the Vfs's back: the dentry cache keeps
  // nothing of this file system.
  bool cache_names() const override { return false; }
  FsStat statfs() override;
  void shutdown() override { root_ = VnodeRef(); }

  Result<void> connect();

  Transport* t() const { return t_; }
  bool read_only() const { return ro_; }
  size_t chunk() const { return chunk_; }
  Attr to_attr(const WireAttr& w);
  // The vnode for a node the server just named (one lookup count).
  Result<VnodeRef> node_for(const Entry& e);
  // Reads a fuse_entry_out reply into a vnode.
  Result<VnodeRef> entry_reply(Call& c, Writer& w);

  SpinLock nodes_lock_;
  Node* nodes_[NODE_BUCKETS] GUARDED_BY(nodes_lock_) = {};
  void unhash_locked(Node* n) REQUIRES(nodes_lock_);

 private:
  Transport* t_;
  bool ro_;
  size_t chunk_ = MAX_CHUNK;
  VnodeRef root_;
};

class Node final : public vfs::Vnode {
 public:
  Node(FuseFs* fs, uint64_t nodeid, uint64_t ino, uint32_t mode)
      : Vnode(fs, ino, mode), fs_(fs), nodeid_(nodeid) {}

  void release() override;

  Result<VnodeRef> lookup(StringView name) override;
  Result<VnodeRef> create(StringView name, const CreateArgs& args) override;
  Result<VnodeRef> mkdir(StringView name, const CreateArgs& args) override;
  Result<VnodeRef> symlink(StringView name, StringView target, const CreateArgs& args) override;
  Result<void> link(StringView name, Vnode& target) override;
  Result<void> unlink(StringView name) override;
  Result<void> rmdir(StringView name) override;
  Result<void> rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace) override;
  Result<void> readdir(uint64_t cookie, DirSink& sink) override;
  Result<size_t> readlink(char* buf, size_t cap) override;
  Result<VnodeRef> open_as(uint32_t how) override;
  Result<size_t> read(uint64_t offset, IoBuffer& buf) override;
  Result<size_t> write(uint64_t* offset, IoBuffer& buf, bool append) override;
  Result<void> truncate(uint64_t size) override;
  Result<void> fsync() override;
  Result<void> fdatasync() override;
  Result<void> allocate(uint64_t offset, uint64_t len, bool keep_size) override;
  Result<void> punch_hole(uint64_t offset, uint64_t len) override;
  Result<Attr> getattr() override;
  Result<void> setattr(const SetAttr& a) override;
  Result<uint64_t> page(uint64_t offset) override;

  uint64_t nodeid() const { return nodeid_; }
  void add_lookup() { nlookup_.fetch_add(1, std::memory_order_relaxed); }
  Node* hash_next = nullptr;  // FuseFs::nodes_, under its lock

  // A file just made by CREATE: its read-write handle serves I/O.
  void adopt_handle(uint64_t fh) {
    FsGuard g(io_lock_);
    if (!has_wfh_) {
      wfh_ = fh;
      has_wfh_ = true;
      wfh_reads_ = true;
    } else {
      (void)release_fh(fs_->t(), RELEASE, nodeid_, fh);
    }
  }

 protected:
  ~Node() override;

 private:
  Result<uint64_t> io_fh_locked(bool write) REQUIRES(io_lock_);
  Result<void> sync(bool data_only);
  Result<void> fallocate_locked(uint64_t offset, uint64_t len, uint32_t mode) REQUIRES(io_lock_);
  Result<uint64_t> open_fh(uint32_t flags);
  Result<size_t> read_fh(uint64_t fh, uint64_t offset, IoBuffer& buf);
  Result<VnodeRef> made(Call& c, Writer& w);
  void cache_update_locked(uint64_t offset, const uint8_t* data, size_t n) REQUIRES(io_lock_);
  void cache_drop_locked(uint64_t size) REQUIRES(io_lock_);
  Result<void> writeback_locked() REQUIRES(io_lock_);
  CachedPage* cache_find_locked(uint64_t index) REQUIRES(io_lock_);
  Result<void> check_dir_change() {
    if (!is_dir()) return Error::NotDir;
    if (fs_->read_only()) return Error::ReadOnly;
    return {};
  }

  FuseFs* const fs_;
  const uint64_t nodeid_;
  std::atomic<uint64_t> nlookup_{0};  // replies that named this node: FORGET gives them back
  FsMutex io_lock_;
  bool has_rfh_ GUARDED_BY(io_lock_) = false;
  bool has_wfh_ GUARDED_BY(io_lock_) = false;
  uint64_t rfh_ GUARDED_BY(io_lock_) = 0;  // opened read-only
  uint64_t wfh_ GUARDED_BY(io_lock_) = 0;  // opened read-write (or write-only)
  bool wfh_reads_ GUARDED_BY(io_lock_) = false;
  bool written_ GUARDED_BY(io_lock_) = false;
  CachedPage** pages_ GUARDED_BY(io_lock_) = nullptr;
  size_t page_count_ GUARDED_BY(io_lock_) = 0;
};

// ---------------------------------------------------------------- FuseFs

Result<void> FuseFs::connect() {
  Call c(t_);
  Writer w = c.begin(INIT, 0);
  w.u32(KERNEL_VERSION);
  w.u32(KERNEL_MINOR);
  w.u32(uint32_t(MAX_CHUNK));  // max_readahead
  w.u32(INIT_BIG_WRITES);
  // The whole 7.36 fuse_init_in (flags2 and unused words, zero), as Linux
  // sends it: a server built on the newer header reads that much.
  for (int i = 0; i < 12; ++i) w.u32(0);
  Reader r = TRY(c.send(w));
  uint32_t major = r.u32(), minor = r.u32();
  (void)r.u32();  // max_readahead
  (void)r.u32();  // flags
  (void)r.u32();  // max_background, congestion_threshold
  uint32_t max_write = r.u32();
  if (r.bad()) return Error::Io;
  if (major != KERNEL_VERSION) return Error::NotSupported;
  (void)minor;  // the server speaks ours when it knows more
  if (max_write < 4096) return Error::Io;
  if (max_write < chunk_) chunk_ = max_write;
  size_t room = t_->max_message() - IN_HEADER - WRITE_IN;
  if (room < chunk_) chunk_ = room;
  auto* n = new (std::nothrow) Node(this, ROOT_ID, ROOT_ID, vfs::MODE_DIR | 0755);
  if (!n) return Error::NoMemory;
  root_ = VnodeRef::adopt(n);
  Attr a = TRY(root_->getattr());
  if (vfs::type_of_mode(a.mode) != VType::Dir) return Error::NotDir;
  return {};
}

Attr FuseFs::to_attr(const WireAttr& w) {
  Attr a;
  a.mode = w.mode;
  a.uid = w.uid;
  a.gid = w.gid;
  a.nlink = w.nlink;
  a.size = w.size;
  a.blksize = w.blksize ? w.blksize : 4096;
  a.blocks = w.blocks;
  a.atime_ns = w.atime_ns;
  a.mtime_ns = w.mtime_ns;
  a.ctime_ns = w.ctime_ns;
  a.rdev = decode_dev(w.rdev);
  a.dev = dev();
  a.ino = w.ino;
  return a;
}

Result<VnodeRef> FuseFs::node_for(const Entry& e) {
  if (e.nodeid == 0) return Error::NotFound;  // a negative entry
  VnodeRef found;
  size_t b = e.nodeid % NODE_BUCKETS;
  {
    SpinGuard g(nodes_lock_);
    for (Node* n = nodes_[b]; n; n = n->hash_next) {
      if (n->nodeid() == e.nodeid && n->type() == vfs::type_of_mode(e.attr.mode)) {
        found = VnodeRef(n);
        n->add_lookup();
        break;
      }
    }
  }
  if (found) return found;
  auto* fresh = new (std::nothrow) Node(this, e.nodeid, e.attr.ino, e.attr.mode);
  if (!fresh) {
    forget(t_, e.nodeid, 1);
    return Error::NoMemory;
  }
  fresh->add_lookup();
  VnodeRef mine = VnodeRef::adopt(fresh);
  {
    SpinGuard g(nodes_lock_);
    for (Node* n = nodes_[b]; n; n = n->hash_next) {
      if (n->nodeid() == e.nodeid && n->type() == vfs::type_of_mode(e.attr.mode)) {
        found = VnodeRef(n);
        break;  // another thread's: `mine` goes and forgets its count
      }
    }
    if (!found) {
      fresh->hash_next = nodes_[b];
      nodes_[b] = fresh;
    }
  }
  if (found) return found;
  return mine;
}

Result<VnodeRef> FuseFs::entry_reply(Call& c, Writer& w) {
  Reader r = TRY(c.send(w));
  Entry e = read_entry(r);
  if (r.bad()) return Error::Io;
  return node_for(e);
}

void FuseFs::unhash_locked(Node* n) {
  Node** p = &nodes_[n->nodeid() % NODE_BUCKETS];
  while (*p && *p != n) p = &(*p)->hash_next;
  if (*p) *p = n->hash_next;
}

FsStat FuseFs::statfs() {
  FsStat s;
  s.magic = FUSE_SUPER_MAGIC;
  Call c(t_);
  Writer w = c.begin(STATFS, ROOT_ID);
  auto rr = c.send(w);
  if (!rr.ok()) return s;
  Reader& r = rr.value();
  uint64_t blocks = r.u64(), bfree = r.u64(), bavail = r.u64(), files = r.u64(), ffree = r.u64();
  uint32_t bsize = r.u32(), namelen = r.u32();
  if (r.bad()) return s;
  s.bsize = bsize ? bsize : 4096;
  s.blocks = blocks;
  s.bfree = bfree;
  s.bavail = bavail;
  s.files = files;
  s.ffree = ffree;
  s.namelen = namelen ? namelen : vfs::MAX_NAME;
  return s;
}

// ---------------------------------------------------------------- Node

void Node::release() {
  // The table and the count change together under the table's lock, so a
  // lookup never revives a vnode on its way out. The FS is held across:
  // the last vnode may hold the FS's last reference.
  vfs::FsRef keep(static_cast<vfs::FileSystem*>(fs_));
  SpinGuard g(fs_->nodes_lock_);
  if (ref_count() == 1) fs_->unhash_locked(this);
  Vnode::release();
}

// No reference is left, and this may run where nothing can sleep: the
// handles, the lookup count and the pages go to the reaper.
Node::~Node() NO_THREAD_SAFETY_ANALYSIS {
  auto* r = new (std::nothrow) Remains{{finish}, fs_->t(), nodeid_, nlookup_.load(), has_rfh_, has_wfh_, rfh_, wfh_,
                                       written_ && page_count_, pages_};
  if (!r) {
    log_warn("virtiofs: out of memory: node {} and {} pages are lost", nodeid_, page_count_);
    return;
  }
  vfs::reap(r);
}

Result<VnodeRef> Node::lookup(StringView name) {
  if (!is_dir()) return Error::NotDir;
  Call c(fs_->t());
  Writer w = c.begin(LOOKUP, nodeid_);
  w.cstr(name);
  return fs_->entry_reply(c, w);
}

Result<VnodeRef> Node::made(Call& c, Writer& w) { return fs_->entry_reply(c, w); }

Result<VnodeRef> Node::create(StringView name, const CreateArgs& args) {
  TRY(check_dir_change());
  VType t = vfs::type_of_mode(args.mode);
  if (t == VType::Regular || t == VType::Unknown) {
    // CREATE makes and opens the file read-write: its handle serves I/O.
    Entry e;
    uint64_t fh;
    {
      Call c(fs_->t());
      Writer w = c.begin(CREATE, nodeid_);
      w.u32(O_RDWR_ | O_CREAT_ | O_EXCL_);
      w.u32(vfs::MODE_REGULAR | (args.mode & vfs::MODE_PERM));
      w.u32(0);  // umask: the VFS applied it
      w.u32(0);  // open_flags
      w.cstr(name);
      Reader r = TRY(c.send(w));
      e = read_entry(r);
      fh = r.u64();
      if (r.bad()) return Error::Io;  // (a server that answers garbage keeps its node)
    }
    auto v = fs_->node_for(e);
    if (!v.ok()) {
      (void)release_fh(fs_->t(), RELEASE, e.nodeid, fh);
      return v.error();
    }
    static_cast<Node*>(v.value().get())->adopt_handle(fh);
    return v;
  }
  Call c(fs_->t());
  Writer w = c.begin(MKNOD, nodeid_);
  w.u32(args.mode);
  w.u32(encode_dev(args.rdev));
  w.u32(0);  // umask
  w.u32(0);
  w.cstr(name);
  return made(c, w);
}

Result<VnodeRef> Node::mkdir(StringView name, const CreateArgs& args) {
  TRY(check_dir_change());
  Call c(fs_->t());
  Writer w = c.begin(MKDIR, nodeid_);
  w.u32(args.mode & vfs::MODE_PERM);
  w.u32(0);  // umask
  w.cstr(name);
  return made(c, w);
}

Result<VnodeRef> Node::symlink(StringView name, StringView target, const CreateArgs&) {
  TRY(check_dir_change());
  Call c(fs_->t());
  Writer w = c.begin(SYMLINK, nodeid_);
  w.cstr(name);
  w.cstr(target);
  return made(c, w);
}

Result<void> Node::link(StringView name, Vnode& target) {
  TRY(check_dir_change());
  Call c(fs_->t());
  Writer w = c.begin(LINK, nodeid_);
  w.u64(static_cast<Node&>(target).nodeid());  // same FS: the Vfs checked
  w.cstr(name);
  TRY(made(c, w));  // the reply names the target once more: its vnode counts it
  return {};
}

Result<void> Node::unlink(StringView name) {
  TRY(check_dir_change());
  Call c(fs_->t());
  Writer w = c.begin(UNLINK, nodeid_);
  w.cstr(name);
  TRY(c.send(w));
  return {};
}

Result<void> Node::rmdir(StringView name) {
  TRY(check_dir_change());
  Call c(fs_->t());
  Writer w = c.begin(RMDIR, nodeid_);
  w.cstr(name);
  TRY(c.send(w));
  return {};
}

Result<void> Node::rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace) {
  TRY(check_dir_change());
  auto& to = static_cast<Node&>(new_dir);
  Call c(fs_->t());
  Writer w = c.begin(no_replace ? RENAME2 : RENAME, nodeid_);
  w.u64(to.nodeid());
  if (no_replace) {
    w.u32(RENAME_NOREPLACE_);  // the server renames with renameat2: atomic
    w.u32(0);
  }
  w.cstr(name);
  w.cstr(new_name);
  TRY(c.send(w));
  return {};
}

Result<void> Node::readdir(uint64_t cookie, DirSink& sink) {
  if (!is_dir()) return Error::NotDir;
  uint64_t dh;
  {
    Call c(fs_->t());
    Writer w = c.begin(OPENDIR, nodeid_);
    w.u32(O_RDONLY_);
    w.u32(0);
    Reader r = TRY(c.send(w));
    dh = r.u64();
    if (r.bad()) return Error::Io;
  }
  Result<void> result;
  for (bool more = true; more;) {
    Call c(fs_->t());
    Writer w = c.begin(READDIR, nodeid_);
    w.u64(dh);
    w.u64(cookie);  // the server's own offsets: 0, then each entry's off
    w.u32(uint32_t(fs_->chunk()));
    w.u32(0);
    w.u64(0);
    w.u32(0);
    w.u32(0);
    auto rr = c.send(w, OUT_HEADER + fs_->chunk());
    if (!rr.ok()) {
      result = rr.error();
      break;
    }
    Reader& r = rr.value();
    if (!r.left()) break;  // the end
    uint64_t asked = cookie;
    Dirent d;
    while (read_dirent(r, &d)) {
      if (!sink.emit(d.name, d.ino, VType(d.type & 0xf), d.next)) {
        more = false;
        break;
      }
      cookie = d.next;
    }
    // A malformed entry, or a batch that does not move on (a server that
    // would have this loop forever).
    if (r.bad() || (more && cookie == asked)) {
      result = Error::Io;
      break;
    }
  }
  (void)release_fh(fs_->t(), RELEASEDIR, nodeid_, dh);
  return result;
}

Result<size_t> Node::readlink(char* buf, size_t cap) {
  if (!is_symlink()) return Error::Invalid;
  Call c(fs_->t());
  Writer w = c.begin(READLINK, nodeid_);
  Reader r = TRY(c.send(w));
  size_t n = r.left();
  const uint8_t* t = r.bytes(n);
  for (size_t i = 0; i < n && i < cap; ++i) buf[i] = char(t[i]);
  return n;
}

Result<uint64_t> Node::open_fh(uint32_t flags) {
  Call c(fs_->t());
  Writer w = c.begin(OPEN, nodeid_);
  w.u32(flags);
  w.u32(0);  // open_flags
  Reader r = TRY(c.send(w));
  uint64_t fh = r.u64();
  if (r.bad()) return Error::Io;
  return fh;
}

Result<VnodeRef> Node::open_as(uint32_t how) {
  if (fs_->read_only() && (how & (OpenHow::WRITE | OpenHow::TRUNC))) return Error::ReadOnly;
  if (is_regular() && !(how & OpenHow::PATH)) {
    // Open the server's file now, so that a refusal (EACCES) comes from
    // open(2) as it would on the host.
    FsGuard g(io_lock_);
    if (how & OpenHow::WRITE) {
      TRY(io_fh_locked(true));
      written_ = true;
    }
    if (how & OpenHow::READ) TRY(io_fh_locked(false));
  }
  return VnodeRef(this);
}

Result<uint64_t> Node::io_fh_locked(bool write) {
  io_lock_.assert_held();
  if (write) {
    if (has_wfh_) return wfh_;
    auto f = open_fh(O_RDWR_);
    if (f.ok()) {
      wfh_reads_ = true;
      wfh_ = f.value();
    } else {
      if (f.error() != Error::AccessDenied) return f.error();
      wfh_ = TRY(open_fh(O_WRONLY_));  // a write-only file
    }
    has_wfh_ = true;
    return wfh_;
  }
  if (has_rfh_) return rfh_;
  if (has_wfh_ && wfh_reads_) return wfh_;
  rfh_ = TRY(open_fh(O_RDONLY_));
  has_rfh_ = true;
  return rfh_;
}

Result<size_t> Node::read_fh(uint64_t fh, uint64_t offset, IoBuffer& buf) {
  size_t done = 0;
  size_t chunk = fs_->chunk();
  while (done < buf.size()) {
    size_t want = buf.size() - done < chunk ? buf.size() - done : chunk;
    Call c(fs_->t());
    Writer w = c.begin(READ, nodeid_);
    w.u64(fh);
    w.u64(offset + done);
    w.u32(uint32_t(want));
    w.u32(0);  // read_flags
    w.u64(0);  // lock_owner
    w.u32(0);  // flags
    w.u32(0);
    auto rr = c.send(w, OUT_HEADER + want);
    if (!rr.ok()) {
      if (done) break;
      return rr.error();
    }
    Reader& r = rr.value();
    size_t n = r.left();
    const uint8_t* data = r.bytes(n);
    if (n > want) return done ? Result<size_t>(done) : Result<size_t>(Error::Io);
    if (n) {
      if (auto cr = buf.copy_out(done, data, n); !cr.ok()) {
        if (done) break;
        return cr.error();
      }
    }
    done += n;
    if (n < want) break;  // the end of the file
  }
  return done;
}

Result<size_t> Node::read(uint64_t offset, IoBuffer& buf) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  uint64_t fh;
  {
    FsGuard g(io_lock_);
    fh = TRY(io_fh_locked(false));
  }
  return read_fh(fh, offset, buf);
}

Result<size_t> Node::write(uint64_t* offset, IoBuffer& buf, bool append) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  if (fs_->read_only()) return Error::ReadOnly;
  // One writer at a time per file: appends see each other's ends, and the
  // cached pages follow the order of the writes.
  FsGuard g(io_lock_);
  uint64_t fh = TRY(io_fh_locked(true));
  if (append) *offset = TRY(getattr_of(fs_->t(), nodeid_)).size;
  size_t done = 0;
  size_t chunk = fs_->chunk();
  Error failed = Error::None;
  while (done < buf.size()) {
    size_t want = buf.size() - done < chunk ? buf.size() - done : chunk;
    Call c(fs_->t());
    Writer w = c.begin(WRITE, nodeid_);
    w.u64(fh);
    w.u64(*offset + done);
    w.u32(uint32_t(want));
    w.u32(0);  // write_flags
    w.u64(0);  // lock_owner
    w.u32(0);  // flags
    w.u32(0);
    uint8_t* data = w.reserve(want);
    if (!data) {
      failed = Error::Invalid;
      break;
    }
    if (auto cr = buf.copy_in(done, data, want); !cr.ok()) {
      failed = cr.error();
      break;
    }
    auto rr = c.send(w);
    if (!rr.ok()) {
      failed = rr.error();
      break;
    }
    uint32_t n = rr.value().u32();
    if (rr.value().bad() || n > want) {
      failed = Error::Io;
      break;
    }
    cache_update_locked(*offset + done, data, n);
    done += n;
    if (n < want) break;
  }
  if (!done && failed != Error::None) return failed;
  *offset += done;
  return done;
}

Result<void> Node::truncate(uint64_t size) {
  SetAttr a;
  a.mask = SetAttr::SIZE;
  a.size = size;
  return setattr(a);
}

Result<void> Node::fsync() { return sync(false); }
Result<void> Node::fdatasync() { return sync(true); }

Result<void> Node::sync(bool data_only) {
  FsGuard g(io_lock_);
  if (!has_wfh_) return {};
  if (written_) TRY(writeback_locked());
  Call c(fs_->t());
  Writer w = c.begin(FSYNC, nodeid_);
  w.u64(wfh_);
  w.u32(data_only ? FSYNC_FDATASYNC : 0);
  w.u32(0);
  TRY(c.send(w));
  return {};
}

// FALLOCATE through the file's write handle; `mode` is fallocate(2)'s.
Result<void> Node::fallocate_locked(uint64_t offset, uint64_t len, uint32_t mode) {
  io_lock_.assert_held();
  uint64_t fh = TRY(io_fh_locked(true));
  Call c(fs_->t());
  Writer w = c.begin(FALLOCATE, nodeid_);
  w.u64(fh);
  w.u64(offset);
  w.u64(len);
  w.u32(mode);
  w.u32(0);
  TRY(c.send(w));
  return {};
}

Result<void> Node::allocate(uint64_t offset, uint64_t len, bool keep_size) {
  if (!is_regular()) return Error::NoDevice;
  if (fs_->read_only()) return Error::ReadOnly;
  FsGuard g(io_lock_);
  return fallocate_locked(offset, len, keep_size ? FALLOC_KEEP_SIZE : 0);
}

Result<void> Node::punch_hole(uint64_t offset, uint64_t len) {
  if (!is_regular()) return Error::NoDevice;
  if (fs_->read_only()) return Error::ReadOnly;
  FsGuard g(io_lock_);
  TRY(fallocate_locked(offset, len, FALLOC_KEEP_SIZE | FALLOC_PUNCH_HOLE));
  // Kept pages read zeros where the hole is now.
  for (uint64_t at = offset; at < offset + len && page_count_;) {
    size_t in = at % PAGE_SIZE;
    size_t k = PAGE_SIZE - in < offset + len - at ? PAGE_SIZE - in : size_t(offset + len - at);
    if (CachedPage* p = cache_find_locked(at / PAGE_SIZE))
      __builtin_memset(static_cast<uint8_t*>(phys_to_virt(p->phys)) + in, 0, k);
    at += k;
  }
  return {};
}

Result<Attr> Node::getattr() {
  // The server holds the node by itself (not by name): this works for a
  // file unlinked while open too.
  WireAttr a = TRY(getattr_of(fs_->t(), nodeid_));
  return fs_->to_attr(a);
}

Result<void> Node::setattr(const SetAttr& a) {
  if (fs_->read_only()) return Error::ReadOnly;
  if ((a.mask & SetAttr::SIZE) && is_dir()) return Error::IsDir;
  uint32_t valid = 0;
  if (a.mask & SetAttr::MODE) valid |= FATTR_MODE;
  if (a.mask & SetAttr::UID) valid |= FATTR_UID;
  if (a.mask & SetAttr::GID) valid |= FATTR_GID;
  if (a.mask & SetAttr::SIZE) valid |= FATTR_SIZE;
  if (a.mask & SetAttr::ATIME) valid |= FATTR_ATIME;
  if (a.mask & SetAttr::ATIME_NOW) valid |= FATTR_ATIME | FATTR_ATIME_NOW;
  if (a.mask & SetAttr::MTIME) valid |= FATTR_MTIME;
  if (a.mask & SetAttr::MTIME_NOW) valid |= FATTR_MTIME | FATTR_MTIME_NOW;
  if (!valid) return {};
  auto send = [&]() -> Result<void> {
    Call c(fs_->t());
    Writer w = c.begin(SETATTR, nodeid_);
    w.u32(valid);
    w.u32(0);
    w.u64(0);  // fh (FATTR_FH unset: by node)
    w.u64(a.size);
    w.u64(0);  // lock_owner
    w.u64(uint64_t(a.atime_ns / 1000000000));
    w.u64(uint64_t(a.mtime_ns / 1000000000));
    w.u64(0);  // ctime
    w.u32(uint32_t(a.atime_ns % 1000000000));
    w.u32(uint32_t(a.mtime_ns % 1000000000));
    w.u32(0);
    w.u32(a.mode & vfs::MODE_PERM);
    w.u32(0);
    w.u32(a.uid);
    w.u32(a.gid);
    w.u32(0);
    TRY(c.send(w));
    return {};
  };
  if (!(a.mask & SetAttr::SIZE)) return send();
  FsGuard g(io_lock_);
  TRY(send());
  mm::backing_shrinking(*this, a.size);
  cache_drop_locked(a.size);
  return {};
}

// --- the pages of mappings (as fs/p9)

CachedPage* Node::cache_find_locked(uint64_t index) {
  io_lock_.assert_held();
  if (!pages_) return nullptr;
  for (CachedPage* p = pages_[index % PAGE_BUCKETS]; p; p = p->next)
    if (p->index == index) return p;
  return nullptr;
}

Result<uint64_t> Node::page(uint64_t offset) {
  if (!is_regular()) return Error::Range;
  FsGuard g(io_lock_);
  uint64_t index = offset / PAGE_SIZE;
  if (CachedPage* p = cache_find_locked(index)) return p->phys;
  WireAttr a = TRY(getattr_of(fs_->t(), nodeid_));
  if (offset >= a.size) return Error::Range;
  if (!pages_) {
    pages_ = static_cast<CachedPage**>(kmalloc(PAGE_BUCKETS * sizeof(CachedPage*)));
    if (!pages_) return Error::NoMemory;
    for (size_t b = 0; b < PAGE_BUCKETS; ++b) pages_[b] = nullptr;
  }
  auto* cp = new (std::nothrow) CachedPage;
  if (!cp) return Error::NoMemory;
  auto phys = page_alloc();
  if (!phys.ok()) {
    delete cp;
    return phys.error();
  }
  void* mem = phys_to_virt(phys.value());
  __builtin_memset(mem, 0, PAGE_SIZE);
  KernelBuffer kb(mem, PAGE_SIZE);
  auto f = io_fh_locked(false);
  Result<size_t> got = f.ok() ? read_fh(f.value(), index * PAGE_SIZE, kb) : Result<size_t>(f.error());
  if (!got.ok()) {
    page_free(phys.value());
    delete cp;
    return got.error();
  }
  cp->index = index;
  cp->phys = phys.value();
  cp->next = pages_[index % PAGE_BUCKETS];
  pages_[index % PAGE_BUCKETS] = cp;
  ++page_count_;
  return cp->phys;
}

void Node::cache_update_locked(uint64_t offset, const uint8_t* data, size_t n) {
  io_lock_.assert_held();
  if (!page_count_) return;
  while (n) {
    uint64_t index = offset / PAGE_SIZE;
    size_t in = offset % PAGE_SIZE;
    size_t k = PAGE_SIZE - in < n ? PAGE_SIZE - in : n;
    if (CachedPage* p = cache_find_locked(index))
      __builtin_memcpy(static_cast<uint8_t*>(phys_to_virt(p->phys)) + in, data, k);
    offset += k;
    data += k;
    n -= k;
  }
}

void Node::cache_drop_locked(uint64_t size) {
  io_lock_.assert_held();
  if (!page_count_) return;
  uint64_t keep = (size + PAGE_SIZE - 1) / PAGE_SIZE;
  for (size_t b = 0; b < PAGE_BUCKETS; ++b) {
    for (CachedPage** pp = &pages_[b]; *pp;) {
      CachedPage* p = *pp;
      if (p->index >= keep) {
        *pp = p->next;
        page_free(p->phys);
        delete p;
        --page_count_;
      } else {
        if (p->index == keep - 1 && size % PAGE_SIZE) {
          size_t tail = size % PAGE_SIZE;
          __builtin_memset(static_cast<uint8_t*>(phys_to_virt(p->phys)) + tail, 0, PAGE_SIZE - tail);
        }
        pp = &p->next;
      }
    }
  }
}

Result<void> Node::writeback_locked() {
  io_lock_.assert_held();
  if (!page_count_ || !has_wfh_) return {};
  uint64_t size = TRY(getattr_of(fs_->t(), nodeid_)).size;
  return write_pages(fs_->t(), nodeid_, wfh_, size, pages_);
}

}  // namespace

Result<vfs::FsRef> mount_share(Transport& t, bool read_only) {
  TRY(vfs::start_reaper());
  auto* fs = new (std::nothrow) FuseFs(&t, read_only);
  if (!fs) return Error::NoMemory;
  vfs::FsRef ref = vfs::FsRef::adopt(fs);
  TRY(fs->connect());
  return ref;
}

}  // namespace capsule::fuse
