// ext4 files changed (fs/ext4/node.h, docs/ext4.md "Writing"): names made
// and removed, data written to the disk (through, or back for overwrites in
// place: docs/ext4.md "Write-back"), truncation, attributes.
// Each operation takes the volume's meta lock for the metadata it
// touches; a regular file's page lock is taken first where its data
// changes.
#include "fs/ext4/node.h"
#include "fs/vfs/page_cache.h"
#include "lib/log.h"

namespace capsule::ext4 {
namespace {

constexpr size_t PAGE = 4096;
constexpr uint32_t MAX_LINKS = 65000;  // EXT4_LINK_MAX

bool is_dir_mode(uint32_t mode) { return (mode & vfs::MODE_TYPE) == vfs::MODE_DIR; }

// Linux's new_encode_dev, in i_block[1] (i_block[0] stays 0).
void put_rdev(Inode& in, uint64_t rdev) {
  uint32_t major = uint32_t(rdev >> 32), minor = uint32_t(rdev);
  put32(in.block + 4, (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12));
}

// A file's blocks that follow each other on the disk, gathered from its
// pages into one request of up to GATHER_BYTES (a request per page cost
// 256 requests per MiB written). A run of one block is written from its
// page; longer ones are copied into a buffer first (allocated on the
// first run of two; without memory, block by block).
class Gather {
 public:
  static constexpr size_t GATHER_BYTES = 64 * 1024;
  explicit Gather(uint32_t bs) : bs_(bs), cap_(GATHER_BYTES / bs) {}
  ~Gather() { delete[] buf_; }
  Gather(const Gather&) = delete;
  Gather& operator=(const Gather&) = delete;

  // Whether disk block `pblk` can join the run (else write() it first).
  bool joins(uint64_t pblk) {
    if (!n_) return true;
    if (pblk != pblk_ + n_ || n_ == cap_) return false;
    if (!buf_) buf_ = new (std::nothrow) uint8_t[GATHER_BYTES];
    if (!buf_) cap_ = 1;
    return buf_ != nullptr;
  }
  void add(uint64_t lblk, uint64_t pblk, const uint8_t* src) {
    if (!n_) lblk_ = lblk, pblk_ = pblk;
    src_[n_++] = src;
  }
  // The run to the disk; on an error it stays (first_lblk() says where
  // the blocks that did not reach the disk start).
  Result<void> write(bcache::BlockCache& cache) {
    if (!n_) return {};
    const uint8_t* from = src_[0];
    if (n_ > 1) {
      for (uint64_t i = 0; i < n_; ++i) __builtin_memcpy(buf_ + i * bs_, src_[i], bs_);
      from = buf_;
    }
    TRY(cache.write_blocks(pblk_, n_, from));
    n_ = 0;
    return {};
  }
  uint64_t pending() const { return n_; }
  uint64_t first_lblk() const { return lblk_; }

 private:
  uint32_t bs_;
  uint64_t cap_;
  uint8_t* buf_ = nullptr;
  uint64_t n_ = 0, lblk_ = 0, pblk_ = 0;
  const uint8_t* src_[GATHER_BYTES / 1024];
};

}  // namespace

template <typename F>
Result<vfs::VnodeRef> Node::make(StringView name, uint32_t mode, const vfs::CreateArgs& args, F&& fill) {
  if (!is_dir()) return Error::NotDir;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  Ext4Fs::Txn g(fs);
  if (in_.links == 0) return Error::NotFound;  // a removed directory
  if (is_dir_mode(mode) && in_.links >= MAX_LINKS && !(fs.super().ro_compat & RO_COMPAT_DIR_NLINK))
    return Error::TooManyLinks;
  Inode child = TRY(fs.new_inode(in_, mode, args.uid, args.gid));
  child.links = 1;
  auto undo = [&](Error e) -> Result<vfs::VnodeRef> {
    fs.meta().assert_held();  // the Txn's lock, which clang cannot see inside a lambda
    (void)fs.delete_inode(child);
    return e;
  };
  if (auto r = fill(child); !r.ok()) return undo(r.error());
  if (auto r = fs.write_inode(child); !r.ok()) return undo(r.error());
  // A new directory's ".." links here: counted in the same transaction
  // (dir_add writes this inode). Past EXT4_LINK_MAX, dir_nlink says
  // "many" with a count of 1.
  const uint32_t links = in_.links;
  if (is_dir_mode(mode) && in_.links != 1) in_.links = in_.links + 1 >= MAX_LINKS ? 1 : in_.links + 1;
  if (auto r = fs.dir_add(in_, name, child.ino, child.mode); !r.ok()) {
    in_.links = links;
    return undo(r.error());
  }
  return fs.node_locked(child.ino);
}

Result<vfs::VnodeRef> Node::create(StringView name, const vfs::CreateArgs& args) {
  return make(name, args.mode, args, [&](Inode& in) -> Result<void> {
    uint32_t type = args.mode & vfs::MODE_TYPE;
    if (type == vfs::MODE_CHAR || type == vfs::MODE_BLOCK) put_rdev(in, args.rdev);
    return {};
  });
}

Result<vfs::VnodeRef> Node::mkdir(StringView name, const vfs::CreateArgs& args) {
  uint32_t mode = vfs::MODE_DIR | (args.mode & vfs::MODE_PERM);
  return make(name, mode, args, [&](Inode& in) -> Result<void> {
    in.links = 2;  // its name and its "."
    xfs()->meta().assert_held();  // make's Txn, which clang cannot see inside a lambda
    return xfs()->dir_init(in, in_.ino);
  });
}

Result<vfs::VnodeRef> Node::symlink(StringView name, StringView target, const vfs::CreateArgs& args) {
  Ext4Fs& fs = *xfs();
  if (target.size() == 0) return Error::NotFound;
  if (target.size() >= fs.block_size()) return Error::NameTooLong;
  return make(name, vfs::MODE_SYMLINK | 0777, args, [&](Inode& in) -> Result<void> {
    in.size = target.size();
    if (target.size() < sizeof in.block) {
      // A fast symlink: the target in i_block, no extent tree.
      in.flags = 0;
      __builtin_memset(in.block, 0, sizeof in.block);
      __builtin_memcpy(in.block, target.data(), target.size());
      return {};
    }
    fs.meta().assert_held();  // make's Txn, which clang cannot see inside a lambda
    bool fresh;
    uint64_t pblk = TRY(fs.map_alloc(in, 0, &fresh));
    bcache::BlockRef b = TRY(fs.cache().get_zeroed(pblk));
    __builtin_memcpy(b.mutable_data(), target.data(), target.size());
    return fs.write_meta(b);
  });
}

Result<void> Node::link(StringView name, Vnode& target) {
  if (!is_dir()) return Error::NotDir;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  if (target.fs() != this->fs()) return Error::CrossDevice;
  Node& t = static_cast<Node&>(target);
  Ext4Fs::Txn g(fs);
  if (in_.links == 0 || t.in_.links == 0) return Error::NotFound;
  if (t.in_.links >= MAX_LINKS) return Error::TooManyLinks;
  TRY(fs.dir_add(in_, name, t.in_.ino, t.in_.mode));
  ++t.in_.links;
  t.in_.ctime_ns = vfs::fs_now_ns();
  return fs.write_inode(t.in_);
}

Result<void> Node::drop_link(uint32_t ino, bool dir) {
  Ext4Fs& fs = *xfs();
  fs.meta().assert_held();  // the caller's Txn (clang cannot tie fs.meta_ to xfs()->meta())
  Node* n = fs.cached_node(ino);
  Inode tmp;
  if (!n) TRY(fs.read_inode(ino, tmp));
  Inode& t = n ? n->in_ : tmp;
  if (dir)
    t.links = 0;  // its name and its "." go together
  else if (t.links)
    --t.links;
  t.ctime_ns = vfs::fs_now_ns();
  // Held open (or cached): freed at its last release (Node::release), on
  // the orphan list until then.
  if (t.links == 0 && !n) return fs.delete_inode(t);
  if (t.links == 0) return fs.orphan_add(t);
  return fs.write_inode(t);
}

Result<void> Node::unlink(StringView name) {
  if (!is_dir()) return Error::NotDir;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  Ext4Fs::Txn g(fs);
  uint32_t ino = TRY(fs.dir_find(in_, name));
  Node* n = fs.cached_node(ino);
  Inode tmp;
  if (!n) TRY(fs.read_inode(ino, tmp));
  if (is_dir_mode(n ? n->in_.mode : tmp.mode)) return Error::IsDir;
  TRY(fs.dir_remove(in_, name));
  return drop_link(ino, false);
}

Result<void> Node::rmdir(StringView name) {
  if (!is_dir()) return Error::NotDir;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  Ext4Fs::Txn g(fs);
  uint32_t ino = TRY(fs.dir_find(in_, name));
  Node* n = fs.cached_node(ino);
  Inode tmp;
  if (!n) TRY(fs.read_inode(ino, tmp));
  const Inode& child = n ? n->in_ : tmp;
  if (!is_dir_mode(child.mode)) return Error::NotDir;
  if (!TRY(fs.dir_empty(child))) return Error::NotEmpty;
  TRY(fs.dir_remove(in_, name));
  TRY(drop_link(ino, true));
  if (in_.links > 2) --in_.links;  // its ".." (1 means "many": dir_nlink)
  return fs.write_inode(in_);
}

Result<void> Node::rename(StringView name, Vnode& new_dir, StringView new_name, bool no_replace) {
  if (!is_dir() || !new_dir.is_dir()) return Error::NotDir;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  if (new_dir.fs() != this->fs()) return Error::CrossDevice;
  Node& nd = static_cast<Node&>(new_dir);
  Ext4Fs::Txn g(fs);
  if (nd.in_.links == 0) return Error::NotFound;
  uint32_t src = TRY(fs.dir_find(in_, name));
  Node* sn = fs.cached_node(src);
  Inode stmp;
  if (!sn) TRY(fs.read_inode(src, stmp));
  Inode& s = sn ? sn->in_ : stmp;
  const bool sdir = is_dir_mode(s.mode);
  if (sdir && &nd != this) {
    // rename(2): EINVAL when the directory would move under itself. Walk
    // up from the new parent by "..".
    uint32_t cur = nd.in_.ino;
    for (int depth = 0; cur != ROOT_INO; ++depth) {
      if (cur == src) return Error::Invalid;
      if (depth > 4096) return Error::Loop;
      Node* cn = fs.cached_node(cur);
      Inode ctmp;
      if (!cn) TRY(fs.read_inode(cur, ctmp));
      cur = TRY(fs.dir_find(cn ? cn->in_ : ctmp, ".."));
    }
  }
  auto existing = fs.dir_find(nd.in_, new_name);
  if (existing.ok()) {
    uint32_t victim = existing.value();
    if (no_replace) return Error::Exists;
    if (victim == src) return {};  // two names of one file: nothing happens
    Node* vn = fs.cached_node(victim);
    Inode vtmp;
    if (!vn) TRY(fs.read_inode(victim, vtmp));
    const bool vdir = is_dir_mode(vn ? vn->in_.mode : vtmp.mode);
    if (sdir && !vdir) return Error::NotDir;
    if (!sdir && vdir) return Error::IsDir;
    if (vdir && !TRY(fs.dir_empty(vn ? vn->in_ : vtmp))) return Error::NotEmpty;
    TRY(fs.dir_retarget(nd.in_, new_name, src, s.mode));
    TRY(drop_link(victim, vdir));
    if (vdir && nd.in_.links > 2) --nd.in_.links;  // the victim's ".."
  } else if (existing.error() != Error::NotFound) {
    return existing.error();
  } else {
    if (sdir && &nd != this && nd.in_.links >= MAX_LINKS && !(fs.super().ro_compat & RO_COMPAT_DIR_NLINK))
      return Error::TooManyLinks;
    TRY(fs.dir_add(nd.in_, new_name, src, s.mode));
  }
  TRY(fs.dir_remove(in_, name));
  if (sdir && &nd != this) {
    TRY(fs.dir_retarget(s, "..", nd.in_.ino, vfs::MODE_DIR));
    if (in_.links > 2) --in_.links;
    if (nd.in_.links != 1) nd.in_.links = nd.in_.links + 1 >= MAX_LINKS ? 1 : nd.in_.links + 1;
  }
  s.ctime_ns = vfs::fs_now_ns();
  TRY(fs.write_inode(s));
  TRY(fs.write_inode(in_));
  if (&nd != this) TRY(fs.write_inode(nd.in_));
  return {};
}

Result<void> Node::write_blocks_locked(uint64_t first, uint64_t count, const uint8_t* p, uint64_t end) {
  Ext4Fs& fs = *xfs();
  const uint32_t bs = fs.block_size();
  uint64_t pblk[PAGE / 512];
  // One transaction: the blocks allocated, the data written, then the
  // metadata that points at it committed (the data never trails the
  // metadata: jbd2's "ordered" mode).
  Ext4Fs::Txn g(fs);
  for (uint64_t i = 0; i < count; ++i) {
    bool fresh;
    pblk[i] = TRY(fs.map_alloc(in_, first + i, &fresh));
  }
  // The size covers the new blocks in the same transaction (e2fsck refuses
  // extents past the end).
  if (end > in_.size) in_.size = end;
  TRY(fs.write_inode(in_));  // the extent tree, the block count, the size
  for (uint64_t i = 0; i < count;) {
    uint64_t n = 1;
    while (i + n < count && pblk[i + n] == pblk[i] + n) ++n;
    TRY(fs.cache().write_blocks(pblk[i], n, p + i * bs));
    i += n;
  }
  return {};
}

Result<size_t> Node::write(uint64_t* offset, vfs::IoBuffer& buf, bool append) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  const uint32_t bs = fs.block_size();
  vfs::FsGuard g(lock_);
  // The pages this write fills are newer than the disk until step 2 has
  // written them: not evicted meanwhile (vfs::page_cache_reclaim).
  struct Busy {
    bool& b;
    explicit Busy(bool& x) : b(x) { b = true; }
    ~Busy() { b = false; }
  } busy(write_busy_);
  uint64_t off = append ? in_.size : *offset;
  size_t n = buf.size();
  if (n == 0) {
    *offset = off;
    return size_t(0);
  }
  // Logical blocks are 32 bits: the largest file is 2^32 - 1 blocks.
  const uint64_t limit = 0xFFFFFFFFull * bs;
  if (off >= limit) return Error::FileTooBig;
  if (n > limit - off) n = size_t(limit - off);
  // 1. The bytes into the file's pages. The program's memory is read
  // here, with no volume lock held (its page faults may need locks that a
  // thread waiting for the volume holds).
  size_t done = 0;
  Error copy_failed = Error::None;
  while (done < n) {
    uint64_t pos = off + done;
    size_t in = size_t(pos % PAGE);
    size_t k = n - done < PAGE - in ? n - done : PAGE - in;
    // A whole page overwritten needs nothing of what it held: a fresh page
    // instead of a read from the disk (a random 4 KiB pwrite was a read
    // and a write).
    uint8_t* pg = pages_.get(pos / PAGE);
    bool fresh = false;
    if (!pg && in == 0 && k == PAGE) {
      if (auto np = vfs::page_cache_alloc(this); np.ok()) {
        if (pages_.set(pos / PAGE, np.value()).ok()) {
          pg = np.value();
          fresh = true;
          vfs::page_cache_touch(*this);
        } else {
          vfs::fs_page_free(np.value());
        }
      }
    }
    if (!pg) {
      auto page = page_locked(pos / PAGE);
      if (!page.ok()) {
        copy_failed = page.error();
        break;
      }
      pg = page.value();
    }
    auto r = buf.copy_in_partial(done, pg + in, k);
    if (!r.ok() || r.value() < k) {
      copy_failed = r.ok() ? Error::Fault : r.error();
      if (fresh) {
        // Partly the program's bytes, partly nothing: not the file's page.
        (void)pages_.set(pos / PAGE, nullptr);
        vfs::fs_page_free(pg);
      } else {
        done += r.ok() ? r.value() : 0;
      }
      break;
    }
    done += k;
  }
  if (done == 0) return copy_failed;
  // 2a. An overwrite in place (no block to allocate, the size unchanged):
  // the pages stay dirty until fsync, sync(2), the flusher or the end.
  if (off + done <= in_.size && write_back_locked(off, done)) {
    *offset = off + done;
    return done;
  }
  Error failed = Error::None;
  // 2. The blocks those bytes touched: allocated and written, one
  // transaction per MiB (the data before the metadata that points at it).
  const uint64_t per_page = PAGE / bs;
  const uint64_t first = off / bs, last = (off + done - 1) / bs;
  constexpr uint64_t BATCH_PAGES = 256;
  uint64_t b = first;
  while (b <= last && failed == Error::None) {
    Ext4Fs::Txn t(fs);
    bool allocated = false;
    uint64_t stop = b + BATCH_PAGES * per_page;
    if (stop > last + 1) stop = last + 1;
    Gather run(bs);
    bool write_failed = false;
    while (b < stop) {
      uint64_t idx = b / per_page;
      uint8_t* p = pages_.get(idx);
      if (!p) {
        failed = Error::Io;  // filled in step 1: cannot be
        break;
      }
      bool fresh;
      auto m = fs.map_alloc(in_, b, &fresh);
      if (!m.ok()) {
        failed = m.error();
        break;
      }
      allocated |= fresh;
      if (!run.joins(m.value())) {
        if (auto w = run.write(fs.cache()); !w.ok()) {
          failed = w.error();
          write_failed = true;
          break;
        }
      }
      run.add(b, m.value(), p + (b - idx * per_page) * bs);
      ++b;
    }
    // The last run (also after ENOSPC: what was allocated is written); a
    // run that did not reach the disk is not the file's yet.
    if (!write_failed) {
      if (auto w = run.write(fs.cache()); !w.ok() && failed == Error::None) failed = w.error();
    }
    if (run.pending()) b = run.first_lblk();
    // The size covers what is on the disk, in the same transaction.
    uint64_t end = b * uint64_t(bs) < off + done ? b * uint64_t(bs) : off + done;
    bool grows = end > in_.size;
    if (grows) in_.size = end;
    in_.mtime_ns = in_.ctime_ns = vfs::fs_now_ns();
    // An overwrite in place changes only the times: the inode waits for
    // fsync (a journal transaction, two flushes and ~6 block writes saved
    // per write(); sqlite overwrites pages between its fsyncs).
    if (!allocated && !grows) {
      times_dirty_ = true;
    } else if (auto w = fs.write_inode(in_); !w.ok()) {
      if (failed == Error::None) failed = w.error();
    } else {
      times_dirty_ = false;
    }
  }
  // What reached the disk counts; bytes copied past it (no space) are
  // taken back out of the pages where they lie past the end of the file.
  uint64_t reached = b * uint64_t(bs) < off + done ? b * uint64_t(bs) : off + done;
  if (reached < off) reached = off;
  if (reached < off + done) {
    for (uint64_t pos = reached < in_.size ? in_.size : reached; pos < off + done;) {
      uint8_t* p = pages_.get(pos / PAGE);
      uint64_t k = PAGE - pos % PAGE;
      if (k > off + done - pos) k = off + done - pos;
      if (p) __builtin_memset(p + pos % PAGE, 0, k);
      pos += k;
    }
    done = size_t(reached - off);
    if (done == 0) return failed;
  }
  *offset = off + done;
  return done;
}

Result<void> Node::truncate_locked(uint64_t size) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  Ext4Fs& fs = *xfs();
  const uint32_t bs = fs.block_size();
  if (size > 0xFFFFFFFFull * bs) return Error::FileTooBig;
  if (size < in_.size) {
    // Pages wholly past the new end go; the partial page's and block's
    // tails become zeros, in memory and on the disk, so that a later
    // extension reads zeros there.
    // Mappings lose the pages past the new end first (a later touch is
    // SIGBUS), as ramfs does, then the pages go.
    mm::backing_shrinking(*this, size);
    undirty_locked((size + PAGE - 1) / PAGE);
    pages_.truncate((size + PAGE - 1) / PAGE, [](uint8_t* p) { vfs::fs_page_free(p); });
    if (size % bs) {
      uint8_t* p = TRY(page_locked(size / PAGE));
      __builtin_memset(p + size % PAGE, 0, PAGE - size % PAGE);
      uint64_t lblk = size / bs, run;
      uint64_t pblk;
      {
        Ext4Fs::Txn g(fs);
        pblk = TRY(fs.map(in_, lblk, &run));
      }
      if (pblk) TRY(fs.cache().write_blocks(pblk, 1, p + (size % PAGE) / bs * bs));
    }
  }
  Ext4Fs::Txn g(fs);
  if (size < in_.size) TRY(fs.drop_blocks(in_, (size + bs - 1) / bs));
  in_.size = size;
  in_.mtime_ns = in_.ctime_ns = vfs::fs_now_ns();
  return fs.write_inode(in_);
}

Result<void> Node::truncate(uint64_t size) {
  if (!xfs()->writable()) return Error::ReadOnly;
  vfs::FsGuard g(lock_);
  return truncate_locked(size);
}

Result<void> Node::setattr(const vfs::SetAttr& a) {
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  vfs::FsGuard pg(lock_);
  if (a.mask & vfs::SetAttr::SIZE) TRY(truncate_locked(a.size));
  Ext4Fs::Txn g(fs);
  int64_t now = vfs::fs_now_ns();
  const uint32_t mode0 = in_.mode, uid0 = in_.uid, gid0 = in_.gid;
  if (a.mask & vfs::SetAttr::MODE) in_.mode = (in_.mode & vfs::MODE_TYPE) | (a.mode & vfs::MODE_PERM);
  if (a.mask & vfs::SetAttr::UID) in_.uid = a.uid;
  if (a.mask & vfs::SetAttr::GID) in_.gid = a.gid;
  if (a.mask & vfs::SetAttr::ATIME) in_.atime_ns = a.atime_ns;
  if (a.mask & vfs::SetAttr::ATIME_NOW) in_.atime_ns = now;
  if (a.mask & vfs::SetAttr::MTIME) in_.mtime_ns = a.mtime_ns;
  if (a.mask & vfs::SetAttr::MTIME_NOW) in_.mtime_ns = now;
  if (!a.mask) return {};
  in_.ctime_ns = now;
  // A chown or chmod to what the file has already (sqlite fchowns its
  // journal to the database's owner at every transaction) changes the
  // ctime alone: it waits with an overwrite's times (times_dirty_).
  constexpr uint32_t OTHER = vfs::SetAttr::SIZE | vfs::SetAttr::ATIME | vfs::SetAttr::ATIME_NOW |
                             vfs::SetAttr::MTIME | vfs::SetAttr::MTIME_NOW;
  if (is_regular() && !(a.mask & OTHER) && in_.mode == mode0 && in_.uid == uid0 && in_.gid == gid0) {
    times_dirty_ = true;
    return {};
  }
  return fs.write_inode(in_);
}

Result<void> Node::fsync() {
  // Metadata and allocating writes went to the disk at each change;
  // overwrites in place wait in the pages (write-back); then the device's
  // own cache. Not Ext4Fs::sync(): writing
  // the superblock's free counts cost a journal transaction (two more
  // flushes and five block writes) per fsync, and e2fsck and Linux take
  // those counts from the group descriptors.
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return {};
  if (is_regular()) {
    vfs::FsGuard g(lock_);
    TRY(writeback_locked());
    Ext4Fs::Txn t(fs);
    TRY(write_times_locked());
  }
  return fs.commit();
}

Result<void> Node::fdatasync() {
  // Overwritten pages may wait (write-back); the size and the block map
  // are on the disk already, only the times of overwrites wait for fsync.
  if (!xfs()->writable()) return {};
  if (is_regular()) {
    vfs::FsGuard g(lock_);
    TRY(writeback_locked());
  }
  return xfs()->commit();
}

Result<void> Node::write_times_locked() {
  Ext4Fs& fs = *xfs();
  fs.meta().assert_held();  // the caller's Txn (clang cannot tie fs.meta_ to xfs()->meta())
  if (!times_dirty_ || deleted_ || in_.links == 0) return {};
  TRY(fs.write_inode(in_));
  times_dirty_ = false;
  return {};
}

Result<void> Node::sync() {
  if (!is_regular() || !xfs()->writable()) return fsync();
  {
    vfs::FsGuard g(lock_);
    const uint32_t bs = xfs()->block_size();
    const uint64_t size_blocks = (in_.size + bs - 1) / bs;
    for (uint64_t idx = pages_.next_present(0); idx != UINT64_MAX; idx = pages_.next_present(idx + 1)) {
      uint64_t first = idx * (PAGE / bs);
      if (first >= size_blocks) break;
      uint64_t count = size_blocks - first < PAGE / bs ? size_blocks - first : PAGE / bs;
      TRY(write_blocks_locked(first, count, pages_.get(idx), 0));
    }
    // Written back: evictable again unless a writable mapping remains.
    undirty_locked(0);
    if (!vm_writable_maps.load(std::memory_order_acquire)) maybe_dirty_ = false;
  }
  return fsync();
}

// --- Write-back (docs/ext4.md "Write-back") ---

uint64_t Ext4Fs::dirty_limit() { return vfs::page_cache_low_water() / 2; }

bool Node::write_back_locked(uint64_t off, size_t len) {
  lock_.assert_held();
  Ext4Fs& fs = *xfs();
  const uint32_t bs = fs.block_size();
  const uint64_t first_page = off / PAGE, last_page = (off + len - 1) / PAGE;
  if (Ext4Fs::dirty_pages.load(std::memory_order_relaxed) + (last_page - first_page + 1) > Ext4Fs::dirty_limit())
    return false;
  {
    // Every block written has its disk block, initialized: nothing to
    // allocate, convert or journal but the times.
    Ext4Fs::Txn t(fs);
    for (uint64_t b = off / bs, last = (off + len - 1) / bs; b <= last;) {
      uint64_t run = 0;
      bool unwritten = false;
      auto m = fs.map(in_, b, &run, &unwritten);
      if (!m.ok() || !m.value() || unwritten || run == 0) return false;
      b += run;
    }
    in_.mtime_ns = in_.ctime_ns = vfs::fs_now_ns();
    times_dirty_ = true;
  }
  uint64_t added = 0;
  bool marked = true;
  for (uint64_t i = first_page; i <= last_page; ++i) {
    if (dirty_.get(i)) continue;
    uint8_t* page = pages_.get(i);
    if (!page || !dirty_.set(i, page).ok()) {
      marked = false;  // no memory for the mark: written through instead
      break;
    }
    ++added;
  }
  Ext4Fs::dirty_pages.fetch_add(added, std::memory_order_relaxed);
  if (dirty_.count()) fs.dirty_add(*this);
  return marked;
}

void Node::undirty_locked(uint64_t first) {
  lock_.assert_held();
  size_t n = dirty_.truncate(first, [](uint8_t*) {});
  Ext4Fs::dirty_pages.fetch_sub(n, std::memory_order_relaxed);
}

Result<void> Node::writeback_locked() {
  lock_.assert_held();
  if (dirty_.count() == 0) return {};
  Ext4Fs& fs = *xfs();
  // A file deleted since has no blocks to write (they may be another's).
  if (!deleted_ && in_.links != 0 && fs.writable()) {
    const uint32_t bs = fs.block_size();
    const uint64_t per_page = PAGE / bs;
    // The block map is read under the meta lock; a block punched since is
    // a hole (skipped), one made unwritten reads zeros (skipped).
    Ext4Fs::Txn t(fs);
    const uint64_t size_blocks = (in_.size + bs - 1) / bs;
    Gather run(bs);
    constexpr uint64_t NONE = ~uint64_t(0);
    for (uint64_t idx = dirty_.next_present(0); idx != NONE; idx = dirty_.next_present(idx + 1)) {
      const uint8_t* p = pages_.get(idx);
      if (!p) continue;  // cannot be: dirty pages are not evicted
      for (uint64_t k = 0; k < per_page && idx * per_page + k < size_blocks; ++k) {
        const uint64_t b = idx * per_page + k;
        uint64_t n = 0;
        bool unwritten = false;
        uint64_t pblk = TRY(fs.map(in_, b, &n, &unwritten));
        if (!pblk || unwritten) continue;
        if (!run.joins(pblk)) TRY(run.write(fs.cache()));
        run.add(b, pblk, p + k * bs);
      }
    }
    TRY(run.write(fs.cache()));
  }
  undirty_locked(0);
  return {};
}

void Ext4Fs::dirty_add(Node& n) {
  vfs::FsGuard g(dirty_lock_);
  if (n.on_dirty_list_) return;
  n.retain();  // the list's: the node outlives its dirty pages
  n.on_dirty_list_ = true;
  n.dirty_next_ = dirty_head_;
  dirty_head_ = &n;
}

Result<void> Ext4Fs::writeback_all() {
  Result<void> first = {};
  for (;;) {
    Node* n;
    {
      vfs::FsGuard g(dirty_lock_);
      n = dirty_head_;
      if (!n) break;
      dirty_head_ = n->dirty_next_;
      n->dirty_next_ = nullptr;
      n->on_dirty_list_ = false;
    }
    {
      vfs::FsGuard g(n->lock_);
      if (auto r = n->writeback_locked(); !r.ok()) {
        log_warn("ext4: inode {}: dirty pages not written back: {}", n->in_.ino, error_name(r.error()));
        if (first.ok()) first = r.error();
      }
    }
    n->release();  // the list's reference
  }
  return first;
}

}  // namespace capsule::ext4
