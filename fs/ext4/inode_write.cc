// Inodes written, made and deleted; the volume's read-write state (fs/ext4/
// fs.h, docs/ext4.md "Writing").
#include <new>

#include "fs/ext4/fs.h"
#include "fs/ext4/node.h"
#include "lib/format.h"
#include "lib/log.h"

namespace capsule::ext4 {
namespace {

// The read-write volumes, marked clean at the VM's exit.
vfs::FsMutex g_rw_lock;
Ext4Fs* g_rw_head = nullptr;

}  // namespace

Result<void> Ext4Fs::write_inode(const Inode& in) {
  if (in.ino < 1 || in.ino > s_.inodes_count) return Error::Io;
  uint32_t group = (in.ino - 1) / s_.inodes_per_group;
  uint64_t byte = uint64_t((in.ino - 1) % s_.inodes_per_group) * s_.inode_size;
  bcache::BlockRef b = TRY(cache_.get(groups_[group].inode_table + byte / s_.block_size));
  encode_inode(s_, in, b.mutable_data() + byte % s_.block_size);
  return write_meta(b);
}

Result<Inode> Ext4Fs::new_inode(const Inode& dir, uint32_t mode, uint32_t uid, uint32_t gid) {
  bool is_dir = (mode & vfs::MODE_TYPE) == vfs::MODE_DIR;
  uint32_t ino = TRY(alloc_ino((dir.ino - 1) / s_.inodes_per_group, is_dir));
  uint32_t group = (ino - 1) / s_.inodes_per_group;
  uint64_t byte = uint64_t((ino - 1) % s_.inodes_per_group) * s_.inode_size;
  auto got = cache_.get(groups_[group].inode_table + byte / s_.block_size);
  if (!got.ok()) {
    (void)free_ino(ino, is_dir);
    return got.error();
  }
  bcache::BlockRef b = got.release_value();
  uint8_t* raw = b.mutable_data() + byte % s_.block_size;
  int64_t now = vfs::fs_now_ns();
  // A reused slot keeps counting generations (NFS-style handles stay
  // unique); a fresh one starts from the clock.
  uint32_t generation = le32(raw + 0x64) + 1;
  if (generation == 1) generation = uint32_t(now ^ (now >> 32)) | 1;
  init_inode(s_, now, raw);
  Inode in;
  in.ino = ino;
  in.mode = mode;
  in.uid = uid;
  in.gid = gid;
  in.atime_ns = in.mtime_ns = in.ctime_ns = now;
  in.generation = generation;
  in.extra_isize = s_.inode_size > 128 ? le16(raw + 0x80) : 0;
  if (s_.metadata_csum) in.csum_seed = inode_seed(s_, ino, generation);
  uint32_t type = mode & vfs::MODE_TYPE;
  if (type == vfs::MODE_REGULAR || type == vfs::MODE_DIR || type == vfs::MODE_SYMLINK) {
    in.flags = INODE_EXTENTS_FL;
    // An empty extent root: magic, no entries, room for four, depth 0.
    put16(in.block, 0xF30A);
    put16(in.block + 4, 4);
  }
  encode_inode(s_, in, raw);
  if (auto r = write_meta(b); !r.ok()) {
    (void)free_ino(ino, is_dir);
    return r.error();
  }
  return in;
}

Result<void> Ext4Fs::orphan_add(Inode& in) {
  in.dtime = s_.last_orphan;
  s_.last_orphan = in.ino;
  TRY(write_inode(in));
  return write_super();
}

Result<void> Ext4Fs::orphan_remove(Inode& in) {
  if (s_.last_orphan == in.ino) {
    s_.last_orphan = in.dtime;
    in.dtime = 0;
    return write_super();
  }
  // Find the orphan that points at it (a short list: the files unlinked
  // while open). Bounded, so a damaged chain cannot loop.
  uint32_t cur = s_.last_orphan;
  for (int steps = 0; cur && steps < 4096; ++steps) {
    Node* n = cached_node(cur);
    Inode tmp;
    if (!n) TRY(read_inode(cur, tmp));
    Inode& o = n ? n->in_ : tmp;
    if (o.dtime == in.ino) {
      o.dtime = in.dtime;
      in.dtime = 0;
      return write_inode(o);
    }
    cur = o.dtime;
  }
  in.dtime = 0;
  return {};  // not on the list
}

Result<void> Ext4Fs::delete_inode(Inode& in) {
  if (in.links == 0 && s_.last_orphan) TRY(orphan_remove(in));
  bool is_dir = (in.mode & vfs::MODE_TYPE) == vfs::MODE_DIR;
  bool fast_link = (in.mode & vfs::MODE_TYPE) == vfs::MODE_SYMLINK && !(in.flags & INODE_EXTENTS_FL);
  if (!fast_link) TRY(drop_blocks(in, 0));
  TRY(xattr_forget(in));  // its attribute block (fs/ext4/xattr.cc)
  in.links = 0;
  in.size = 0;
  if (fast_link) __builtin_memset(in.block, 0, sizeof in.block);
  int64_t now = vfs::fs_now_ns();
  in.ctime_ns = in.mtime_ns = now;
  in.dtime = uint32_t(now / 1000000000);  // i_dtime: deleted
  TRY(write_inode(in));
  return free_ino(in.ino, is_dir);
}

Result<void> Ext4Fs::write_meta(const bcache::BlockRef& b) {
  if (!journal_) return cache_.write(b);
  for (size_t i = 0; i < txn_n_; ++i)
    if (txn_[i].block() == b.block()) return {};  // already in: its bytes go at the commit
  if (txn_n_ == txn_cap_) {
    size_t cap = txn_cap_ ? 2 * txn_cap_ : 32;
    auto* grown = new (std::nothrow) bcache::BlockRef[cap];
    if (!grown) return Error::NoMemory;
    for (size_t i = 0; i < txn_n_; ++i) grown[i] = static_cast<bcache::BlockRef&&>(txn_[i]);
    delete[] txn_;
    txn_ = grown;
    txn_cap_ = cap;
  }
  txn_[txn_n_] = TRY(cache_.get(b.block()));  // held: not evicted before the commit
  ++txn_n_;
  return {};
}

Result<void> Ext4Fs::commit_locked() {
  // The frees of the running transaction into the bitmaps, in it.
  Result<void> applied = apply_frees_locked();
  if (counts_changed_ && journal_ && txn_n_) {
    counts_changed_ = false;
    (void)write_super();  // the free totals ride along
  }
  if (freed_in_txn_ && journal_) drop_freed_from_txn();
  freed_in_txn_ = false;
  if (!txn_n_) {
    discard_freed();  // no journal: the bitmaps are on the device already
    return applied;
  }
  Result<void> r = journal_->commit(txn_, txn_n_);
  if (!r.ok() && r.error() == Error::TooBig) {
    // More blocks than the journal holds: in place, unjournaled, once the
    // journal holds nothing a replay could write over them.
    if (!warned_big_) log_warn("ext4: a change of {} blocks exceeds the journal: written without it", txn_n_);
    warned_big_ = true;
    r = journal_->drain();
    for (size_t i = 0; i < txn_n_ && r.ok(); ++i) r = cache_.write(txn_[i]);
    if (r.ok()) r = cache_.flush();
  }
  if (!r.ok()) log_warn("ext4: a transaction of {} blocks failed: {}", txn_n_, error_name(r.error()));
  for (size_t i = 0; i < txn_n_; ++i) txn_[i].reset();
  txn_n_ = 0;
  // Only a committed transaction's freed blocks are given back: until it
  // is on stable storage, a crash brings back the tree that holds them.
  if (r.ok()) discard_freed();
  freed_n_ = 0;
  if (r.ok() && !applied.ok()) return applied;
  return r;
}

Result<void> Ext4Fs::end_change_locked() {
  if (!journal_ || txn_n_ >= batch_limit_) return commit_locked();
  return {};
}

Result<void> Ext4Fs::commit(bool flush) {
  if (!writable_) return {};
  vfs::FsGuard g(meta_);
  if (journal_ && (txn_n_ || pending_n_)) return commit_locked();  // its flushes included
  return flush ? cache_.flush() : Result<void>();
}

void Ext4Fs::drop_freed_from_txn() {
  size_t kept = 0;
  for (size_t i = 0; i < txn_n_; ++i) {
    const uint64_t blk = txn_[i].block();
    bool is_free = false;
    if (blk >= s_.first_data_block && blk < s_.blocks_count) {
      const uint64_t rel = blk - s_.first_data_block;
      const GroupDesc& gd = groups_[rel / s_.blocks_per_group];
      if (!(gd.flags & BG_BLOCK_UNINIT)) {
        auto b = cache_.get(gd.block_bitmap);
        const uint64_t bit = rel % s_.blocks_per_group;
        is_free = b.ok() && !(b.value().data()[bit / 8] >> (bit % 8) & 1);
      }
    }
    if (is_free) {
      txn_[i].reset();
      continue;
    }
    if (kept != i) txn_[kept] = static_cast<bcache::BlockRef&&>(txn_[i]);
    ++kept;
  }
  txn_n_ = kept;
}

Result<void> Ext4Fs::begin_writing(Why& why) {
  {
    vfs::FsGuard g(meta_);
    if (s_.compat & COMPAT_HAS_JOURNAL) {
      uint32_t jino = s_.journal_ino;
      Inode jin;
      if (jino < 1 || jino > s_.inodes_count || !read_inode(jino, jin).ok()) {
        format_to(why.text, sizeof why.text, "the journal inode {} cannot be read", jino);
        return Error::NotSupported;
      }
      auto* j = new (std::nothrow) Journal;
      if (!j) return Error::NoMemory;
      if (auto r = j->load(*this, jin, why); !r.ok()) {
        delete j;
        return r.error();
      }
      if (auto r = j->start(); !r.ok()) {
        delete j;
        format_to(why.text, sizeof why.text, "the journal superblock cannot be written ({})", error_name(r.error()));
        return r.error();
      }
      journal_ = j;
      // jbd2's limit (a quarter of the journal), and at most 8 MiB of
      // blocks held in memory until the commit.
      batch_limit_ = j->capacity() / 4;
      if (uint64_t(batch_limit_) * s_.block_size > (8u << 20)) batch_limit_ = (8u << 20) / s_.block_size;
      s_.incompat |= INCOMPAT_RECOVER;  // as Linux: "needs recovery" while mounted
    }
    // Until a clean unmount the superblock says "not clean": e2fsck then
    // checks the volume in full after a crash (no journal yet).
    s_.state = uint16_t(s_.state & ~STATE_VALID);
    // The totals from the descriptors (the superblock's may lag, as Linux
    // leaves them); kept from here on by each allocation.
    uint64_t blocks = 0, inodes = 0;
    for (uint32_t g = 0; g < s_.groups; ++g) {
      blocks += groups_[g].free_blocks;
      inodes += groups_[g].free_inodes;
    }
    s_.free_blocks = blocks < s_.blocks_count ? blocks : s_.blocks_count;
    s_.free_inodes = inodes < s_.inodes_count ? uint32_t(inodes) : s_.inodes_count;
    bcache::BlockRef b = TRY(cache_.get(SUPER_OFFSET / s_.block_size));
    encode_super(s_, vfs::fs_now_ns(), b.mutable_data() + SUPER_OFFSET % s_.block_size);
    if (auto r = cache_.write(b); !r.ok()) {
      format_to(why.text, sizeof why.text, "the superblock cannot be written ({})", error_name(r.error()));
      return r.error();
    }
    TRY(cache_.flush());
    writable_ = true;
  }
  // Orphans a crash left (files unlinked while held): freed now, as
  // Linux's mount does, each in its own transaction.
  for (int steps = 0; steps < 65536; ++steps) {
    Txn t(*this);
    if (!s_.last_orphan) break;
    Inode in;
    if (!read_inode(s_.last_orphan, in).ok() || in.links != 0) {
      s_.last_orphan = 0;  // damaged, or a truncation orphan: e2fsck's business
      (void)write_super();
      break;
    }
    if (auto r = delete_inode(in); !r.ok()) {
      log_warn("ext4: orphan inode {} not freed: {}", in.ino, error_name(r.error()));
      break;
    }
  }
  vfs::FsGuard g(g_rw_lock);
  next_rw_ = g_rw_head;
  g_rw_head = this;
  return {};
}

Result<void> Ext4Fs::sync() {
  if (!writable_) return {};
  TRY(writeback_all());
  {
    Txn g(*this);
    TRY(write_times_all());
    TRY(write_super());  // the free counts
  }
  return commit();
}

Result<void> Ext4Fs::write_times_all() {
  for (Node* bucket : nodes_)
    for (Node* n = bucket; n; n = n->cache_next_) TRY(n->write_times_locked());
  return {};
}

Result<void> Ext4Fs::mark_clean() {
  // Overwritten pages first (they take the node locks, then the meta lock).
  if (writable_ && !clean_marked_) (void)writeback_all();
  Txn g(*this);
  if (!writable_ || clean_marked_) return {};
  // Files unlinked while open die with the program: their inodes and
  // blocks go back now (and off the orphan list), so the volume is whole.
  for (Node* bucket : nodes_) {
    for (Node* n = bucket; n; n = n->cache_next_) {
      Inode& in = n->in_;
      if (in.links == 0 && !n->deleted_) {
        if (auto r = delete_inode(in); !r.ok()) log_warn("ext4: inode {} not freed: {}", in.ino, error_name(r.error()));
        n->deleted_ = true;
      }
    }
  }
  TRY(write_times_all());  // times overwrites left in memory (node_write.cc)
  TRY(commit_locked());
  // Clean: the journal empty, "needs recovery" off, VALID on, in place.
  if (journal_) TRY(journal_->drain());
  Journal* j = journal_;
  journal_ = nullptr;
  delete j;
  s_.incompat &= ~INCOMPAT_RECOVER;
  s_.state |= STATE_VALID;
  TRY(write_super());
  TRY(cache_.flush());
  clean_marked_ = true;
  if (discarded_) log_info("ext4: {} blocks given back to the device (discard) while mounted", discarded_);
  return {};
}

void Ext4Fs::shutdown() {
  if (auto r = mark_clean(); !r.ok()) log_warn("ext4: the volume is not marked clean: {}", error_name(r.error()));
  root_ = vfs::VnodeRef();
  vfs::FsGuard g(g_rw_lock);
  for (Ext4Fs** pp = &g_rw_head; *pp; pp = &(*pp)->next_rw_) {
    if (*pp == this) {
      *pp = next_rw_;
      break;
    }
  }
}

void shutdown_all() { Ext4Fs::shutdown_all(); }

void sync_all() {
  vfs::FsGuard g(g_rw_lock);
  for (Ext4Fs* f = g_rw_head; f; f = f->next_rw_)
    if (auto r = f->sync(); !r.ok()) log_warn("ext4: sync failed: {}", error_name(r.error()));
}

void writeback_all() {
  vfs::FsGuard g(g_rw_lock);
  for (Ext4Fs* f = g_rw_head; f; f = f->next_rw_) {
    (void)f->writeback_all();
    if (auto r = f->commit(/*flush=*/false); !r.ok()) log_warn("ext4: a periodic commit failed: {}", error_name(r.error()));
  }
}

void Ext4Fs::shutdown_all() {
  vfs::FsGuard g(g_rw_lock);
  for (Ext4Fs* f = g_rw_head; f; f = f->next_rw_)
    if (auto r = f->mark_clean(); !r.ok()) log_warn("ext4: the volume is not marked clean: {}", error_name(r.error()));
}

}  // namespace capsule::ext4
