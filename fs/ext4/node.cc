// ext4 files as vnodes (fs/ext4/node.h, docs/ext4.md).
#include "fs/ext4/node.h"

#include <new>

#include "lib/log.h"

namespace capsule::ext4 {
namespace {

constexpr size_t PAGE = 4096;

vfs::VType dirent_type(uint8_t t) {
  switch (t) {
    case 1: return vfs::VType::Regular;
    case 2: return vfs::VType::Dir;
    case 3: return vfs::VType::Char;
    case 4: return vfs::VType::Block;
    case 5: return vfs::VType::Fifo;
    case 6: return vfs::VType::Socket;
    case 7: return vfs::VType::Symlink;
    default: return vfs::VType::Unknown;
  }
}

// A fast symlink keeps its target in i_block itself.
bool fast_symlink(const Inode& in) {
  return in.size < sizeof in.block && !(in.flags & (INODE_EXTENTS_FL | INODE_INLINE_DATA_FL));
}

}  // namespace

Node::Node(Ext4Fs* fs, const Inode& in) : Vnode(fs, in.ino, in.mode), in_(in) {}

Node::~Node() {
  vfs::page_cache_forget(*this);  // first: a reclaim may be using it
  vfs::FsGuard g(lock_);
  undirty_locked(0);  // none left unless the volume could not write them
  pages_.truncate(0, [](uint8_t* p) { vfs::fs_page_free(p); });
}

template <typename F>
Result<void> Node::each_entry(uint64_t pos, F&& fn) {
  Ext4Fs& fs = *xfs();
  const uint32_t bs = fs.block_size();
  // Larger than LARGEDIR's 3-level index could ever make it: corrupted
  // (and a walk over a huge run of holes would take the CPU for minutes).
  if (in_.size > (1ull << 32)) return Error::Io;
  while (pos < in_.size) {
    uint64_t lblk = pos / bs;
    size_t off = pos % bs;
    uint64_t run;
    uint64_t pblk = TRY(fs.map(in_, lblk, &run));
    if (pblk) {
      bcache::BlockRef b = TRY(fs.cache().get(pblk));
      TRY(check_dir_block(fs.super(), in_, b.data(), bs));
      while (off < bs) {
        DirEntry d = TRY(parse_dir_entry(b.data(), bs, off));
        off += d.rec_len;
        // Inode 0: a deleted entry, htree's fake entries, the checksum tail.
        if (d.ino && d.name_len && !fn(d, lblk * bs + off)) return {};
      }
      pos = (lblk + 1) * bs;
    } else {
      pos = (lblk + (run ? run : 1)) * bs;  // a hole: no entries in the whole run
    }
  }
  return {};
}

void Node::release() {
  Ext4Fs* f = xfs();
  {
    Ext4Fs::Txn g(*f);
    if (!f->forget_if_last(this)) {
      Vnode::release();  // not the last: only a count goes down, under the lock
      return;
    }
    // The last reference, off the cache: nobody can find it again. Times
    // an overwrite left in memory go to the disk (node_write.cc).
    if (f->writable())
      if (auto r = write_times_locked(); !r.ok())
        log_warn("ext4: inode {}'s times not written: {}", in_.ino, error_name(r.error()));
    // A file whose last link went while it was open is deleted now.
    if (in_.links == 0 && !deleted_ && f->writable()) {
      if (auto r = f->delete_inode(in_); !r.ok())
        log_warn("ext4: inode {} not freed: {}", in_.ino, error_name(r.error()));
      deleted_ = true;
    }
  }
  Vnode::release();
}

Result<vfs::VnodeRef> Node::lookup(StringView name) {
  if (!is_dir()) return Error::NotDir;
  Ext4Fs::Txn g(*xfs());
  uint32_t found = 0;
  if (xfs()->dx_indexed(in_)) {
    // By the name's hash, in its leaf (fs/ext4/htree_write.cc).
    auto r = xfs()->dir_find(in_, name);
    if (!r.ok()) return r.error();
    return xfs()->node_locked(r.value());
  }
  TRY(each_entry(0, [&](const DirEntry& d, uint64_t) {
    if (StringView(d.name, d.name_len) != name) return true;
    found = d.ino;
    return false;
  }));
  if (!found) return Error::NotFound;
  return xfs()->node_locked(found);
}

Result<void> Node::readdir(uint64_t cookie, vfs::DirSink& sink) {
  if (!is_dir()) return Error::NotDir;
  bool filetype = xfs()->super().incompat & INCOMPAT_FILETYPE;
  // Entries are copied out under the meta lock in batches and handed to
  // the sink after it: the sink writes to the program's memory, whose page
  // faults may need locks that a thread waiting for the meta lock holds
  // (munmap releasing an ext4 file's last reference).
  struct Ent {
    uint64_t ino, next;
    vfs::VType type;
    uint8_t len;
    char name[255];
  };
  constexpr size_t BATCH = 16;
  struct Batch {
    Ent* e = new (std::nothrow) Ent[BATCH];
    ~Batch() { delete[] e; }
  } batch;
  if (!batch.e) return Error::NoMemory;
  for (;;) {
    size_t n = 0;
    bool more = false;
    {
      Ext4Fs::Txn g(*xfs());
      TRY(each_entry(cookie, [&](const DirEntry& d, uint64_t next) {
        if (n == BATCH) {
          more = true;
          return false;
        }
        Ent& e = batch.e[n++];
        e.ino = d.ino;
        e.next = next;
        e.type = filetype ? dirent_type(d.file_type) : vfs::VType::Unknown;
        e.len = d.name_len;
        __builtin_memcpy(e.name, d.name, d.name_len);
        return true;
      }));
    }
    for (size_t i = 0; i < n; ++i) {
      const Ent& e = batch.e[i];
      if (!sink.emit(StringView(e.name, e.len), e.ino, e.type, e.next)) return {};
      cookie = e.next;
    }
    if (!more) return {};
  }
}

Result<size_t> Node::readlink(char* buf, size_t cap) {
  if (!is_symlink()) return Error::Invalid;
  if (in_.size >= PAGE) return Error::Io;  // longer than PATH_MAX: corrupted
  size_t n = in_.size < cap ? size_t(in_.size) : cap;
  if (fast_symlink(in_)) {
    __builtin_memcpy(buf, in_.block, n);
    return size_t(in_.size);
  }
  vfs::FsGuard g(lock_);
  uint8_t* p = TRY(page_locked(0));
  __builtin_memcpy(buf, p, n);
  return size_t(in_.size);
}

Result<vfs::VnodeRef> Node::open_as(uint32_t how) {
  if ((how & (vfs::OpenHow::WRITE | vfs::OpenHow::TRUNC)) && !xfs()->writable()) return Error::ReadOnly;
  return vfs::VnodeRef(this);
}

Result<uint8_t*> Node::page_locked(uint64_t index) {
  lock_.assert_held();
  if (uint8_t* p = pages_.get(index)) return p;
  Ext4Fs& fs = *xfs();
  const uint32_t bs = fs.block_size();
  const uint64_t per_page = PAGE / bs;
  const uint64_t size_blocks = (in_.size + bs - 1) / bs;
  uint8_t* p = TRY(vfs::page_cache_alloc(this));
  auto fail = [&](Error e) -> Result<uint8_t*> {
    vfs::fs_page_free(p);
    return e;
  };
  for (uint64_t i = 0; i < per_page;) {
    uint64_t lblk = index * per_page + i;
    if (lblk >= size_blocks) {
      __builtin_memset(p + i * bs, 0, (per_page - i) * bs);
      break;
    }
    uint64_t run;
    auto m = fs.map(in_, lblk, &run);
    if (!m.ok()) return fail(m.error());
    uint64_t n = per_page - i;
    if (run < n) n = run;
    if (size_blocks - lblk < n) n = size_blocks - lblk;
    if (!m.value()) {
      __builtin_memset(p + i * bs, 0, n * bs);  // a hole reads as zeros
    } else if (auto r = fs.cache().read_blocks(m.value(), n, p + i * bs); !r.ok()) {
      return fail(r.error());
    }
    i += n;
  }
  // Past the end of the file the page reads as zeros (mmap's tail).
  uint64_t start = index * PAGE;
  if (in_.size < start + PAGE && in_.size > start) __builtin_memset(p + (in_.size - start), 0, start + PAGE - in_.size);
  if (auto r = pages_.set(index, p); !r.ok()) return fail(r.error());
  vfs::page_cache_touch(*this);
  return p;
}

// One request per page cost 256 requests per MiB read; whole pages that
// follow each other on the disk go in one request into a buffer, then
// into their pages. Best effort: whatever it leaves (holes, unwritten
// extents, the last partial page, a page not contiguous with the next,
// an error, no memory) page_locked() reads and reports as before.
void Node::gather_pages_locked(uint64_t first, uint64_t last) {
  constexpr uint64_t MAX_PAGES = 16;
  const uint32_t bs = xfs()->block_size();
  const uint64_t per_page = PAGE / bs;
  const uint64_t whole = in_.size / PAGE;  // pages entirely inside the file
  if (whole == 0) return;
  if (last >= whole) last = whole - 1;
  uint8_t* buf = nullptr;
  for (uint64_t idx = first; idx <= last;) {
    uint64_t run = 0, start = 0;
    if (!pages_.get(idx)) {
      auto m = xfs()->map(in_, idx * per_page, &run);
      if (m.ok()) start = m.value();
    }
    uint64_t n = start ? run / per_page : 0;
    if (n > last - idx + 1) n = last - idx + 1;
    if (n > MAX_PAGES) n = MAX_PAGES;
    for (uint64_t i = 1; i < n; ++i)
      if (pages_.get(idx + i)) n = i;
    if (n < 2) {  // cached, a hole, an error, or alone: page_locked's
      ++idx;
      continue;
    }
    if (!buf) buf = new (std::nothrow) uint8_t[MAX_PAGES * PAGE];
    if (!buf || !xfs()->cache().read_blocks(start, n * per_page, buf).ok()) break;
    for (uint64_t i = 0; i < n; ++i) {
      auto p = vfs::fs_page_alloc();
      if (!p.ok()) {
        n = 0;
        break;
      }
      __builtin_memcpy(p.value(), buf + i * PAGE, PAGE);
      if (!pages_.set(idx + i, p.value()).ok()) {
        vfs::fs_page_free(p.value());
        n = 0;
        break;
      }
    }
    if (n == 0) break;
    idx += n;
  }
  delete[] buf;
}

Result<size_t> Node::read(uint64_t offset, vfs::IoBuffer& buf) {
  if (is_dir()) return Error::IsDir;
  if (!is_regular()) return Error::Invalid;
  if (offset >= in_.size) return size_t(0);
  uint64_t left = in_.size - offset;
  size_t total = buf.size() < left ? buf.size() : size_t(left);
  size_t done = 0;
  vfs::FsGuard g(lock_);
  if (total > PAGE) gather_pages_locked(offset / PAGE, (offset + total - 1) / PAGE);
  while (done < total) {
    uint64_t pos = offset + done;
    size_t in_page = PAGE - pos % PAGE;
    size_t k = total - done < in_page ? total - done : in_page;
    auto p = page_locked(pos / PAGE);
    if (!p.ok()) {
      if (done) break;  // a short read, the error comes with the next call
      return p.error();
    }
    if (auto r = buf.copy_out(done, p.value() + pos % PAGE, k); !r.ok()) {
      if (done) break;
      return r.error();
    }
    done += k;
  }
  return done;
}

Result<uint64_t> Node::page(uint64_t offset) {
  if (!is_regular()) return Error::NotSupported;
  if (offset >= ((in_.size + PAGE - 1) & ~uint64_t(PAGE - 1))) return Error::Range;
  vfs::FsGuard g(lock_);
  // A shared writable mapping may store into the page: keep the pages
  // until sync() has written them back.
  if (vm_writable_maps.load(std::memory_order_acquire)) maybe_dirty_ = true;
  uint8_t* p = TRY(page_locked(offset / PAGE));
  return vfs::fs_page_phys(p);
}

Result<uint64_t> Node::page_for_read(uint64_t offset, bool zero_ok, uint64_t* next) {
  if (!is_regular()) return Error::NotSupported;
  if (!zero_ok) {
    if (offset >= ((in_.size + PAGE - 1) & ~uint64_t(PAGE - 1))) return Error::Range;
    vfs::FsGuard g(lock_);
    if (!pages_.get(offset / PAGE)) {
      // Not cached: left unmapped (a fault reads it). The next cached one.
      uint64_t n = pages_.next_present(offset / PAGE);
      *next = n == ~uint64_t(0) ? n : n * PAGE;
      return Error::NotFound;
    }
  }
  return page(offset);
}

bool Node::evict_try_lock() { return lock_.try_lock(); }
void Node::evict_unlock() { lock_.unlock(); }

// From the clock hand on, runs of cached pages: unmapped from every
// address space (a later touch faults and reads them again; private
// copies stay), then freed. Clean by construction: write() puts its bytes
// on the disk before it returns (write_busy_ until then), and a shared
// writable mapping marks the file maybe_dirty_.
size_t Node::evict_locked(size_t want, bool* now_empty) {
  lock_.assert_held();
  size_t freed = 0;
  if (!write_busy_ && !maybe_dirty_ && dirty_.count() == 0 && !vm_writable_maps.load(std::memory_order_acquire)) {
    constexpr uint64_t NONE = ~uint64_t(0);
    uint64_t idx = pages_.next_present(evict_hand_);
    if (idx == NONE) idx = pages_.next_present(0);
    while (freed < want && idx != NONE) {
      uint64_t end = idx + 1;
      while (end - idx < want - freed && pages_.get(end)) ++end;
      mm::backing_punching(*this, idx * PAGE, end * PAGE);
      for (uint64_t i = idx; i < end; ++i) {
        vfs::fs_page_free(pages_.get(i));
        (void)pages_.set(i, nullptr);  // clearing allocates nothing
      }
      freed += end - idx;
      evict_hand_ = end;
      idx = pages_.next_present(end);
      if (idx == NONE) idx = pages_.next_present(0);
    }
  }
  *now_empty = pages_.count() == 0;
  return freed;
}

Result<vfs::Attr> Node::getattr() {
  Ext4Fs::Txn g(*xfs());
  vfs::Attr a;
  a.dev = fs()->dev();
  a.ino = in_.ino;
  a.mode = in_.mode;
  a.nlink = in_.links;
  a.uid = in_.uid;
  a.gid = in_.gid;
  if (type() == vfs::VType::Char || type() == vfs::VType::Block) {
    // Old encoding in i_block[0] (8-bit major and minor), else the new one
    // in i_block[1] (Linux's new_encode_dev).
    uint32_t old_dev = le32(in_.block), new_dev = le32(in_.block + 4);
    uint64_t major, minor;
    if (old_dev) {
      major = (old_dev >> 8) & 0xff;
      minor = old_dev & 0xff;
    } else {
      major = (new_dev & 0xfff00) >> 8;
      minor = (new_dev & 0xff) | ((new_dev >> 12) & 0xfff00);
    }
    a.rdev = major << 32 | minor;
  }
  a.size = in_.size;
  a.blocks = in_.blocks512;
  a.blksize = xfs()->block_size();
  a.atime_ns = in_.atime_ns;
  a.mtime_ns = in_.mtime_ns;
  a.ctime_ns = in_.ctime_ns;
  return a;
}

}  // namespace capsule::ext4
