// The 9P2000.L client file system: a host directory exported by QEMU's
// virtio-9p device (fs/include/fs/p9.h, docs/9p.md).
//
// Every vnode holds a fid walked to its file (the "path fid"): lookups,
// getattr/setattr and directory changes use it. Reads and writes use fids
// opened on demand with Tlopen (one read-only, one read-write per file,
// kept until the vnode goes); readdir opens a fid of its own per call.
// One vnode per host file while any reference to it lives (a table by
// qid.path), so mappings, locks and page caches see one object.
//
// Caching: none for names (the host may change the tree: every walk asks
// the server) nor for attributes or read/write data (each call asks the
// server). Only mmap keeps pages: a page is read on the first fault and
// kept while the file is referenced; write() updates cached pages too, and
// the pages of a file opened for writing go back to the host at fsync and
// when the file's last reference goes (MAP_SHARED write-back).
#include <atomic>
#include <new>

#include "lib/log.h"
#include "core/mm.h"
#include "core/shutdown.h"
#include "core/sync/wait_queue.h"
#include "core/thread.h"
#include "core/time.h"
#include "fs/p9.h"
#include "fs/p9/wire.h"
#include "fs/reaper.h"

namespace capsule::p9 {
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

constexpr size_t MSIZE = 65536;              // what we ask for in Tversion
constexpr uint64_t V9FS_MAGIC = 0x01021997;  // statfs f_type, as Linux's v9fs
constexpr size_t NODE_BUCKETS = 256;
constexpr size_t PAGE_BUCKETS = 256;

class P9Fs;

// One request in flight: holds a slot of the channel for its lifetime.
class Call {
 public:
  Call(Transport* ch, size_t msize) : ch_(ch), msize_(msize), s_(ch->acquire()) {}
  ~Call() { ch_->release(s_); }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  Writer begin(uint8_t type) {
    type_ = type;
    return Writer(s_.out, msize_, type);
  }
  Result<Reader> send(Writer& w) {
    if (w.overflow()) return Error::Invalid;  // cannot happen within the VFS's limits
    size_t n = TRY(ch_->transact(s_, w.finish()));
    return parse_reply(s_.in, n, type_);
  }

 private:
  Transport* ch_;
  size_t msize_;
  Request s_;
  uint8_t type_ = 0;
};

struct CachedPage {
  uint64_t index;
  uint64_t phys;
  CachedPage* next;
};

class Node;

void clunk_fid(Transport* t, size_t msize, uint32_t fid) {
  if (fid == NOFID) return;
  Call c(t, msize);
  Writer w = c.begin(TCLUNK);
  w.u32(fid);
  (void)c.send(w);  // the fid is gone whatever the answer [9P clunk(5)]
}

Result<uint64_t> size_of(Transport* t, size_t msize, uint32_t fid) {
  Call c(t, msize);
  Writer w = c.begin(TGETATTR);
  w.u32(fid);
  w.u64(GETATTR_BASIC);
  Reader r = TRY(c.send(w));
  r.bytes(8 + QID_SIZE + 4 + 4 + 4 + 8 + 8);  // valid qid mode uid gid nlink rdev
  uint64_t size = r.u64();
  if (r.bad()) return Error::Io;
  return size;
}

// Cached pages go back to the host through `wfid`, up to `size`.
Result<void> write_pages(Transport* t, size_t msize, uint32_t wfid, uint64_t size, CachedPage** pages) {
  for (size_t b = 0; b < PAGE_BUCKETS; ++b) {
    for (CachedPage* p = pages[b]; p; p = p->next) {
      uint64_t off = p->index * PAGE_SIZE;
      if (off >= size) continue;
      size_t n = size - off < PAGE_SIZE ? size_t(size - off) : PAGE_SIZE;
      Call c(t, msize);
      Writer w = c.begin(TWRITE);
      w.u32(wfid);
      w.u64(off);
      w.u32(uint32_t(n));
      w.bytes(phys_to_virt(p->phys), n);
      TRY(c.send(w));
    }
  }
  return {};
}

// What a vnode leaves behind: its fids and kept pages. A vnode's last
// reference can go where nothing may sleep (munmap holds the address
// space's spinlock), so the clunks and the write-back happen in the
// reaper thread, and in the shutdown hook for what is still queued when
// the program exits.
struct Remains : vfs::Remains {
  Transport* t;
  size_t msize;
  uint32_t fid, rfid, wfid;
  bool write_back;
  CachedPage** pages;
};

void finish(vfs::Remains* base) {
  auto* r = static_cast<Remains*>(base);
  if (r->write_back && r->pages && r->wfid != NOFID) {
    auto size = size_of(r->t, r->msize, r->wfid);
    if (size.ok()) (void)write_pages(r->t, r->msize, r->wfid, size.value(), r->pages);
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
  clunk_fid(r->t, r->msize, r->wfid);
  clunk_fid(r->t, r->msize, r->rfid);
  clunk_fid(r->t, r->msize, r->fid);
  delete r;
}


class P9Fs final : public vfs::FileSystem {
 public:
  P9Fs(Transport* ch, bool ro) : ch_(ch), ro_(ro) {}
  const char* name() const override { return "9p"; }
  VnodeRef root() override { return root_; }
  // The host changes names behind the Vfs's back: the dentry cache keeps
  // nothing of this file system.
  bool cache_names() const override { return false; }
  FsStat statfs() override;
  void shutdown() override { root_ = VnodeRef(); }

  Result<void> connect();

  Transport* ch() const { return ch_; }
  size_t msize() const { return msize_; }
  bool read_only() const { return ro_; }
  uint32_t new_fid() { return next_fid_.fetch_add(1, std::memory_order_relaxed); }

  Result<Reader> rpc(Call& c, Writer& w) { return c.send(w); }
  void clunk(uint32_t fid);
  // A new fid for `name` in directory `fid` (empty name: a copy of fid).
  Result<uint32_t> walk(uint32_t fid, StringView name);
  Result<Attr> getattr(uint32_t fid, uint64_t* qpath);
  // The vnode for a new path fid (taken over: used or clunked).
  Result<VnodeRef> node_for(uint32_t fid);
  // Tlopen on a copy of `fid`.
  Result<uint32_t> open_fid(uint32_t fid, uint32_t flags);

  // The table of live vnodes (Node::release). A spinlock: releases come
  // from places that cannot sleep.
  SpinLock nodes_lock_;
  Node* nodes_[NODE_BUCKETS] GUARDED_BY(nodes_lock_) = {};
  void unhash_locked(Node* n) REQUIRES(nodes_lock_);

 private:
  Transport* ch_;
  bool ro_;
  size_t msize_ = MSIZE;
  std::atomic<uint32_t> next_fid_{1};
  uint32_t root_fid_ = NOFID;
  VnodeRef root_;
};

class Node final : public vfs::Vnode {
 public:
  Node(P9Fs* fs, uint32_t fid, uint64_t qpath, uint32_t mode)
      : Vnode(fs, qpath, mode), p9_(fs), fid_(fid), qpath_(qpath) {}

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
  Result<Attr> getattr() override;
  Result<void> setattr(const SetAttr& a) override;
  Result<uint64_t> page(uint64_t offset) override;

  uint64_t qpath() const { return qpath_; }
  uint32_t fid() const { return fid_; }
  Node* hash_next = nullptr;  // P9Fs::nodes_, under its lock

  // A file just made by Tlcreate: its open read-write fid serves I/O.
  void adopt_open_fid(uint32_t fid) {
    FsGuard g(io_lock_);
    if (wfid_ == NOFID) {
      wfid_ = fid;
      wfid_reads_ = true;
    } else {
      p9_->clunk(fid);
    }
  }

 protected:
  ~Node() override;

 private:
  Result<uint32_t> io_fid_locked(bool write) REQUIRES(io_lock_);
  Result<Attr> getattr_locked() REQUIRES(io_lock_);
  Result<size_t> read_fid(uint32_t fid, uint64_t offset, IoBuffer& buf);
  Result<VnodeRef> made(StringView name);
  void cache_update_locked(uint64_t offset, const uint8_t* data, size_t n) REQUIRES(io_lock_);
  void cache_drop_locked(uint64_t size) REQUIRES(io_lock_);
  Result<void> writeback_locked() REQUIRES(io_lock_);
  CachedPage* cache_find_locked(uint64_t index) REQUIRES(io_lock_);

  P9Fs* const p9_;
  const uint32_t fid_;
  const uint64_t qpath_;
  FsMutex io_lock_;
  uint32_t rfid_ GUARDED_BY(io_lock_) = NOFID;  // opened read-only
  uint32_t wfid_ GUARDED_BY(io_lock_) = NOFID;  // opened read-write (or write-only)
  bool wfid_reads_ GUARDED_BY(io_lock_) = false;
  bool written_ GUARDED_BY(io_lock_) = false;   // opened for writing: write back cached pages
  CachedPage** pages_ GUARDED_BY(io_lock_) = nullptr;  // PAGE_BUCKETS chains, made at the first fault
  size_t page_count_ GUARDED_BY(io_lock_) = 0;
};

// ---------------------------------------------------------------- P9Fs

Result<void> P9Fs::connect() {
  if (ch_->max_message() < msize_) msize_ = ch_->max_message();
  {
    Call c(ch_, msize_);
    Writer w = c.begin(TVERSION);
    w.u32(uint32_t(msize_));
    w.str("9P2000.L");
    Reader r = TRY(rpc(c, w));
    uint32_t m = r.u32();
    StringView version = r.str();
    if (r.bad() || m < 4096) return Error::Io;
    if (version != StringView("9P2000.L")) return Error::NotSupported;
    if (m < msize_) msize_ = m;
  }
  root_fid_ = new_fid();
  {
    Call c(ch_, msize_);
    Writer w = c.begin(TATTACH);
    w.u32(root_fid_);
    w.u32(NOFID);  // no authentication
    w.str("root");
    w.str("");
    w.u32(0);  // n_uname: uid 0, the program's
    Reader r = TRY(rpc(c, w));
    (void)r.qid();
    if (r.bad()) return Error::Io;
  }
  root_ = TRY(node_for(root_fid_));
  if (!root_->is_dir()) return Error::NotDir;
  return {};
}

void P9Fs::clunk(uint32_t fid) { clunk_fid(ch_, msize_, fid); }

Result<uint32_t> P9Fs::walk(uint32_t fid, StringView name) {
  uint32_t nf = new_fid();
  Call c(ch_, msize_);
  Writer w = c.begin(TWALK);
  w.u32(fid);
  w.u32(nf);
  if (name.empty()) {
    w.u16(0);
  } else {
    w.u16(1);
    w.str(name);
  }
  Reader r = TRY(rpc(c, w));
  uint16_t n = r.u16();
  if (r.bad()) return Error::Io;
  // Fewer qids than names: the walk failed and the new fid was not made.
  if (!name.empty() && n != 1) return Error::NotFound;
  return nf;
}

Result<Attr> P9Fs::getattr(uint32_t fid, uint64_t* qpath) {
  Call c(ch_, msize_);
  Writer w = c.begin(TGETATTR);
  w.u32(fid);
  w.u64(GETATTR_BASIC);
  Reader r = TRY(rpc(c, w));
  Attr a;
  (void)r.u64();  // valid
  Qid q = r.qid();
  a.mode = r.u32();
  a.uid = r.u32();
  a.gid = r.u32();
  a.nlink = uint32_t(r.u64());
  uint64_t rdev = r.u64();
  a.size = r.u64();
  a.blksize = uint32_t(r.u64());
  a.blocks = r.u64();
  int64_t as = int64_t(r.u64()), ans = int64_t(r.u64());
  int64_t ms = int64_t(r.u64()), mns = int64_t(r.u64());
  int64_t cs = int64_t(r.u64()), cns = int64_t(r.u64());
  if (r.bad()) return Error::Io;
  a.atime_ns = as * 1000000000 + ans;
  a.mtime_ns = ms * 1000000000 + mns;
  a.ctime_ns = cs * 1000000000 + cns;
  // The host's dev_t (glibc's encoding) as (major << 32) | minor.
  uint64_t major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~uint64_t(0xfff));
  uint64_t minor = (rdev & 0xff) | ((rdev >> 12) & ~uint64_t(0xff));
  a.rdev = (major << 32) | (minor & 0xffffffff);
  a.dev = dev();
  a.ino = q.path;
  if (!a.blksize) a.blksize = 4096;
  if (qpath) *qpath = q.path;
  return a;
}

Result<VnodeRef> P9Fs::node_for(uint32_t fid) {
  uint64_t qpath = 0;
  auto attr = getattr(fid, &qpath);
  if (!attr.ok()) {
    clunk(fid);
    return attr.error();
  }
  uint32_t mode = attr.value().mode;
  auto* fresh = new (std::nothrow) Node(this, fid, qpath, mode);
  if (!fresh) {
    clunk(fid);
    return Error::NoMemory;
  }
  VnodeRef mine = VnodeRef::adopt(fresh);
  VnodeRef found;
  size_t b = qpath % NODE_BUCKETS;
  {
    SpinGuard g(nodes_lock_);
    for (Node* n = nodes_[b]; n; n = n->hash_next) {
      // Same file, same type (a number the host reused for another kind
      // of file is a new vnode).
      if (n->qpath() == qpath && n->type() == vfs::type_of_mode(mode)) {
        found = VnodeRef(n);
        break;
      }
    }
    if (!found) {
      fresh->hash_next = nodes_[b];
      nodes_[b] = fresh;
    }
  }
  if (found) return found;  // `mine` goes, and its fid with it (the reaper)
  return mine;
}

void P9Fs::unhash_locked(Node* n) {
  Node** p = &nodes_[n->qpath() % NODE_BUCKETS];
  while (*p && *p != n) p = &(*p)->hash_next;
  if (*p) *p = n->hash_next;
}

Result<uint32_t> P9Fs::open_fid(uint32_t fid, uint32_t flags) {
  uint32_t of = TRY(walk(fid, ""));
  Result<void> opened;
  {
    Call c(ch_, msize_);
    Writer w = c.begin(TLOPEN);
    w.u32(of);
    w.u32(flags);
    if (auto r = rpc(c, w); !r.ok()) opened = r.error();
  }  // the slot goes back before the clunk needs one
  if (!opened.ok()) {
    clunk(of);
    return opened.error();
  }
  return of;
}

FsStat P9Fs::statfs() {
  FsStat s;
  s.magic = V9FS_MAGIC;
  Call c(ch_, msize_);
  Writer w = c.begin(TSTATFS);
  w.u32(root_fid_);
  auto rr = rpc(c, w);
  if (!rr.ok()) return s;
  Reader& r = rr.value();
  (void)r.u32();  // the host's type
  uint32_t bsize = r.u32();
  uint64_t blocks = r.u64(), bfree = r.u64(), bavail = r.u64(), files = r.u64(), ffree = r.u64();
  (void)r.u64();  // fsid
  uint32_t namelen = r.u32();
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
  vfs::FsRef keep(static_cast<vfs::FileSystem*>(p9_));
  SpinGuard g(p9_->nodes_lock_);
  if (ref_count() == 1) p9_->unhash_locked(this);
  Vnode::release();
}

// No reference is left, and this may run where nothing can sleep: the
// fids and pages go to the reaper. (The analysis is off: with no reference
// left nobody else can hold io_lock_, so the fields are read without it.)
Node::~Node() NO_THREAD_SAFETY_ANALYSIS {
  auto* r = new (std::nothrow)
      Remains{{finish}, p9_->ch(), p9_->msize(), fid_, rfid_, wfid_, written_ && page_count_, pages_};
  if (!r) {
    log_warn("9p: out of memory: fids {} {} {} and {} pages of a file are lost", fid_, rfid_, wfid_, page_count_);
    return;
  }
  vfs::reap(r);
}

Result<VnodeRef> Node::lookup(StringView name) {
  if (!is_dir()) return Error::NotDir;
  uint32_t nf = TRY(p9_->walk(fid_, name));
  return p9_->node_for(nf);
}

Result<VnodeRef> Node::made(StringView name) {
  uint32_t nf = TRY(p9_->walk(fid_, name));
  return p9_->node_for(nf);
}

Result<VnodeRef> Node::create(StringView name, const CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  VType t = vfs::type_of_mode(args.mode);
  if (t == VType::Regular || t == VType::Unknown) {
    // Tlcreate turns a copy of the directory's fid into the new file, open
    // read-write: it serves the file's I/O.
    uint32_t of = TRY(p9_->walk(fid_, ""));
    Result<void> made_ok;
    {
      Call c(p9_->ch(), p9_->msize());
      Writer w = c.begin(TLCREATE);
      w.u32(of);
      w.str(name);
      w.u32(P9_RDWR | P9_CREAT | P9_EXCL);
      w.u32(args.mode & vfs::MODE_PERM);
      w.u32(args.gid);
      auto r = p9_->rpc(c, w);
      if (!r.ok()) made_ok = r.error();
    }
    if (!made_ok.ok()) {
      p9_->clunk(of);
      return made_ok.error();
    }
    auto v = made(name);
    if (!v.ok()) {
      p9_->clunk(of);
      return v.error();
    }
    static_cast<Node*>(v.value().get())->adopt_open_fid(of);
    return v;
  }
  uint64_t major = args.rdev >> 32, minor = args.rdev & 0xffffffff;
  {
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TMKNOD);
    w.u32(fid_);
    w.str(name);
    w.u32(args.mode);
    w.u32(uint32_t(major));
    w.u32(uint32_t(minor));
    w.u32(args.gid);
    TRY(p9_->rpc(c, w));
  }
  return made(name);
}

Result<VnodeRef> Node::mkdir(StringView name, const CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  {
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TMKDIR);
    w.u32(fid_);
    w.str(name);
    w.u32(args.mode & vfs::MODE_PERM);
    w.u32(args.gid);
    TRY(p9_->rpc(c, w));
  }
  return made(name);
}

Result<VnodeRef> Node::symlink(StringView name, StringView target, const CreateArgs& args) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  {
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TSYMLINK);
    w.u32(fid_);
    w.str(name);
    w.str(target);
    w.u32(args.gid);
    TRY(p9_->rpc(c, w));
  }
  return made(name);
}

Result<void> Node::link(StringView name, Vnode& target) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TLINK);
  w.u32(fid_);
  w.u32(static_cast<Node&>(target).fid());  // same FS: the Vfs checked
  w.str(name);
  TRY(p9_->rpc(c, w));
  return {};
}

Result<void> Node::unlink(StringView name) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TUNLINKAT);
  w.u32(fid_);
  w.str(name);
  w.u32(0);
  TRY(p9_->rpc(c, w));
  return {};
}

Result<void> Node::rmdir(StringView name) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TUNLINKAT);
  w.u32(fid_);
  w.str(name);
  w.u32(P9_AT_REMOVEDIR);
  TRY(p9_->rpc(c, w));
  return {};
}

Result<void> Node::rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace) {
  if (!is_dir()) return Error::NotDir;
  if (p9_->read_only()) return Error::ReadOnly;
  auto& to = static_cast<Node&>(new_dir);
  if (no_replace) {
    // 9P has no RENAME_NOREPLACE: asked first, so a name the host makes
    // in between is replaced (docs/9p.md).
    auto there = p9_->walk(to.fid(), new_name);
    if (there.ok()) {
      p9_->clunk(there.value());
      return Error::Exists;
    }
    if (there.error() != Error::NotFound) return there.error();
  }
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TRENAMEAT);
  w.u32(fid_);
  w.str(name);
  w.u32(to.fid());
  w.str(new_name);
  TRY(p9_->rpc(c, w));
  return {};
}

Result<void> Node::readdir(uint64_t cookie, DirSink& sink) {
  if (!is_dir()) return Error::NotDir;
  uint32_t df = TRY(p9_->open_fid(fid_, P9_RDONLY | P9_DIRECTORY));
  Result<void> result;
  for (bool more = true; more;) {
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TREADDIR);
    w.u32(df);
    w.u64(cookie);  // the server's own cookies: 0, then each entry's offset
    w.u32(uint32_t(p9_->msize() - READDIR_OVERHEAD));
    auto rr = p9_->rpc(c, w);
    if (!rr.ok()) {
      result = rr.error();
      break;
    }
    Reader& r = rr.value();
    uint32_t count = r.u32();
    const uint8_t* data = r.bytes(count);
    if (!data) {
      result = Error::Io;
      break;
    }
    if (count == 0) break;  // the end
    Reader e(data, count);
    while (e.left()) {
      Qid q = e.qid();
      uint64_t next = e.u64();
      uint8_t type = e.u8();
      StringView name = e.str();
      if (e.bad()) {
        result = Error::Io;
        more = false;
        break;
      }
      if (!sink.emit(name, q.path, VType(type), next)) {
        more = false;
        break;
      }
      cookie = next;
    }
  }
  p9_->clunk(df);
  return result;
}

Result<size_t> Node::readlink(char* buf, size_t cap) {
  if (!is_symlink()) return Error::Invalid;
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TREADLINK);
  w.u32(fid_);
  Reader r = TRY(p9_->rpc(c, w));
  StringView t = r.str();
  if (r.bad()) return Error::Io;
  for (size_t i = 0; i < t.size() && i < cap; ++i) buf[i] = t[i];
  return t.size();
}

Result<VnodeRef> Node::open_as(uint32_t how) {
  if (p9_->read_only() && (how & (OpenHow::WRITE | OpenHow::TRUNC))) return Error::ReadOnly;
  if (is_regular() && !(how & OpenHow::PATH)) {
    // Open the server's file now, so that a refusal (EACCES) comes from
    // open(2) as it would on the host.
    FsGuard g(io_lock_);
    if (how & OpenHow::WRITE) {
      TRY(io_fid_locked(true));
      written_ = true;
    }
    if (how & OpenHow::READ) TRY(io_fid_locked(false));
  }
  return VnodeRef(this);
}

Result<uint32_t> Node::io_fid_locked(bool write) {
  io_lock_.assert_held();
  if (write) {
    if (wfid_ != NOFID) return wfid_;
    auto f = p9_->open_fid(fid_, P9_RDWR);
    if (f.ok()) {
      wfid_reads_ = true;
      wfid_ = f.value();
    } else {
      if (f.error() != Error::AccessDenied) return f.error();
      wfid_ = TRY(p9_->open_fid(fid_, P9_WRONLY));  // a write-only file
    }
    return wfid_;
  }
  if (rfid_ != NOFID) return rfid_;
  if (wfid_ != NOFID && wfid_reads_) return wfid_;
  rfid_ = TRY(p9_->open_fid(fid_, P9_RDONLY));
  return rfid_;
}

Result<size_t> Node::read_fid(uint32_t f, uint64_t offset, IoBuffer& buf) {
  size_t done = 0;
  size_t chunk = p9_->msize() - READ_OVERHEAD;
  while (done < buf.size()) {
    size_t want = buf.size() - done < chunk ? buf.size() - done : chunk;
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TREAD);
    w.u32(f);
    w.u64(offset + done);
    w.u32(uint32_t(want));
    auto rr = p9_->rpc(c, w);
    if (!rr.ok()) {
      if (done) break;
      return rr.error();
    }
    Reader& r = rr.value();
    uint32_t n = r.u32();
    const uint8_t* data = r.bytes(n);
    if (!data || n > want) return done ? Result<size_t>(done) : Result<size_t>(Error::Io);
    if (auto cr = buf.copy_out(done, data, n); !cr.ok()) {
      if (done) break;
      return cr.error();
    }
    done += n;
    if (n < want) break;  // the end of the file
  }
  return done;
}

Result<size_t> Node::read(uint64_t offset, IoBuffer& buf) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  uint32_t f;
  {
    FsGuard g(io_lock_);
    f = TRY(io_fid_locked(false));
  }
  return read_fid(f, offset, buf);
}

Result<size_t> Node::write(uint64_t* offset, IoBuffer& buf, bool append) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  if (p9_->read_only()) return Error::ReadOnly;
  // One writer at a time per file: appends see each other's ends, and the
  // cached pages follow the order of the writes.
  FsGuard g(io_lock_);
  uint32_t f = TRY(io_fid_locked(true));
  if (append) *offset = TRY(getattr_locked()).size;
  size_t done = 0;
  size_t chunk = p9_->msize() - WRITE_OVERHEAD;
  Error failed = Error::None;
  while (done < buf.size()) {
    size_t want = buf.size() - done < chunk ? buf.size() - done : chunk;
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TWRITE);
    w.u32(f);
    w.u64(*offset + done);
    w.u32(uint32_t(want));
    uint8_t* data = w.reserve(want);
    if (!data) {
      failed = Error::Invalid;
      break;
    }
    if (auto cr = buf.copy_in(done, data, want); !cr.ok()) {
      failed = cr.error();
      break;
    }
    auto rr = p9_->rpc(c, w);
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

Result<void> Node::fsync() {
  FsGuard g(io_lock_);
  if (wfid_ == NOFID) return {};
  if (written_) TRY(writeback_locked());
  Call c(p9_->ch(), p9_->msize());
  Writer w = c.begin(TFSYNC);
  w.u32(wfid_);
  w.u32(0);  // datasync: no, all of it
  TRY(p9_->rpc(c, w));
  return {};
}

Result<Attr> Node::getattr() {
  auto a = p9_->getattr(fid_, nullptr);
  if (a.ok() || a.error() != Error::NotFound || !is_regular()) return a;
  FsGuard g(io_lock_);
  return getattr_locked();
}

Result<Attr> Node::getattr_locked() {
  io_lock_.assert_held();
  auto a = p9_->getattr(fid_, nullptr);
  if (a.ok() || a.error() != Error::NotFound) return a;
  // Unlinked while open: the server still knows the open file.
  uint32_t f = wfid_ != NOFID ? wfid_ : rfid_;
  if (f == NOFID) return a;
  return p9_->getattr(f, nullptr);
}

Result<void> Node::setattr(const SetAttr& a) {
  if (p9_->read_only()) return Error::ReadOnly;
  if ((a.mask & SetAttr::SIZE) && is_dir()) return Error::IsDir;
  uint32_t valid = 0;
  if (a.mask & SetAttr::MODE) valid |= SETATTR_MODE;
  if (a.mask & SetAttr::UID) valid |= SETATTR_UID;
  if (a.mask & SetAttr::GID) valid |= SETATTR_GID;
  if (a.mask & SetAttr::SIZE) valid |= SETATTR_SIZE;
  if (a.mask & SetAttr::ATIME) valid |= SETATTR_ATIME | SETATTR_ATIME_SET;
  if (a.mask & SetAttr::ATIME_NOW) valid |= SETATTR_ATIME;
  if (a.mask & SetAttr::MTIME) valid |= SETATTR_MTIME | SETATTR_MTIME_SET;
  if (a.mask & SetAttr::MTIME_NOW) valid |= SETATTR_MTIME;
  if (!valid) return {};
  auto send = [&]() -> Result<void> {
    Call c(p9_->ch(), p9_->msize());
    Writer w = c.begin(TSETATTR);
    w.u32(fid_);
    w.u32(valid);
    w.u32(a.mode & vfs::MODE_PERM);
    w.u32(a.uid);
    w.u32(a.gid);
    w.u64(a.size);
    w.u64(uint64_t(a.atime_ns / 1000000000));
    w.u64(uint64_t(a.atime_ns % 1000000000));
    w.u64(uint64_t(a.mtime_ns / 1000000000));
    w.u64(uint64_t(a.mtime_ns % 1000000000));
    TRY(p9_->rpc(c, w));
    return {};
  };
  if (!(a.mask & SetAttr::SIZE)) return send();
  FsGuard g(io_lock_);
  TRY(send());
  mm::backing_shrinking(*this, a.size);
  cache_drop_locked(a.size);
  return {};
}

// --- the pages of mappings

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
  Attr a = TRY(getattr_locked());
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
  auto f = io_fid_locked(false);
  Result<size_t> got = f.ok() ? read_fid(f.value(), index * PAGE_SIZE, kb) : Result<size_t>(f.error());
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
  uint64_t keep = (size + PAGE_SIZE - 1) / PAGE_SIZE;  // pages wholly or partly below size
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

// Cached pages go back to the host (MAP_SHARED writes), up to the size.
Result<void> Node::writeback_locked() {
  io_lock_.assert_held();
  if (!page_count_ || wfid_ == NOFID) return {};
  uint64_t size = TRY(getattr_locked()).size;
  return write_pages(p9_->ch(), p9_->msize(), wfid_, size, pages_);
}

}  // namespace

Result<vfs::FsRef> mount_share(Transport& t, bool read_only) {
  TRY(vfs::start_reaper());
  auto* fs = new (std::nothrow) P9Fs(&t, read_only);
  if (!fs) return Error::NoMemory;
  vfs::FsRef ref = vfs::FsRef::adopt(fs);
  TRY(fs->connect());
  return ref;
}

}  // namespace capsule::p9
