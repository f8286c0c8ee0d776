// The jbd2 journal, written (fs/ext4/journal.h, docs/ext4.md "Journal").
// Layouts: kernel.org ext4 documentation, "Journal (jbd2)": the journal
// superblock, block header, descriptor block with its tags and tail,
// commit block; big-endian throughout.
#include "fs/ext4/journal.h"

#include <new>

#include "fs/ext4/fs.h"
#include "lib/crc32c.h"
#include "lib/format.h"

namespace capsule::ext4 {
namespace {

constexpr uint32_t JBD2_MAGIC = 0xC03B3998;
constexpr uint32_t BT_DESCRIPTOR = 1, BT_COMMIT = 2, BT_SUPER_V2 = 4, BT_REVOKE = 5;
constexpr uint32_t J_INCOMPAT_REVOKE = 0x1, J_INCOMPAT_64BIT = 0x2,
                   J_INCOMPAT_CSUM_V2 = 0x8, J_INCOMPAT_CSUM_V3 = 0x10;
constexpr uint32_t J_COMPAT_CHECKSUM = 0x1;
constexpr uint32_t TAG_ESCAPE = 1, TAG_SAME_UUID = 2, TAG_LAST = 8;
constexpr uint8_t CRC32C_CHKSUM = 4;

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}
void put_be16(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void header(uint8_t* p, uint32_t type, uint32_t sequence) {
  put_be32(p, JBD2_MAGIC);
  put_be32(p + 4, type);
  put_be32(p + 8, sequence);
}

}  // namespace

Result<uint64_t> Journal::phys(uint64_t jblock) {
  uint64_t run;
  uint64_t p = TRY(fs_->map(jin_, jblock, &run));
  if (!p) return Error::Io;  // a hole in the journal: damaged
  return p;
}

Result<void> Journal::load(Ext4Fs& fs, const Inode& jin, Why& why, bool allow_dirty) {
  fs_ = &fs;
  jin_ = jin;
  block_size_ = fs.block_size();
  auto fail = [&](Error e, const char* text) -> Result<void> {
    format_to(why.text, sizeof why.text, "{}", text);
    return e;
  };
  if (!(jin.flags & INODE_EXTENTS_FL) || jin.size < uint64_t(block_size_) * 1024 / 1024)
    return fail(Error::NotSupported, "the journal inode is not an extent-mapped file");
  bcache::BlockRef b = TRY(fs.cache().get(TRY(phys(0))));
  const uint8_t* s = b.data();
  if (be32(s) != JBD2_MAGIC || be32(s + 4) != BT_SUPER_V2) return fail(Error::NotSupported, "not a jbd2 v2 journal");
  if (be32(s + 0xC) != block_size_) return fail(Error::NotSupported, "journal block size differs");
  maxlen_ = be32(s + 0x10);
  first_ = be32(s + 0x14);
  sequence_ = be32(s + 0x18);
  incompat_ = be32(s + 0x28);
  start_ = be32(s + 0x1C);
  if (start_ != 0 && !allow_dirty) return fail(Error::Busy, "the journal is not empty");
  if (incompat_ & ~(J_INCOMPAT_REVOKE | J_INCOMPAT_64BIT | J_INCOMPAT_CSUM_V2 | J_INCOMPAT_CSUM_V3))
    return fail(Error::NotSupported, "journal features (fast commit, async commit...)");
  if (be32(s + 0x2C)) return fail(Error::NotSupported, "journal read-only features");
  if (be32(s + 0x40) > 1) return fail(Error::NotSupported, "a shared journal");
  if (first_ == 0 || maxlen_ <= first_ + 2 || uint64_t(maxlen_) * block_size_ > jin.size)
    return fail(Error::NotSupported, "journal size figures");
  for (int i = 0; i < 16; ++i) uuid_[i] = s[0x30 + i];
  if (start_ && (start_ < first_ || start_ >= maxlen_)) return fail(Error::Io, "journal start outside the journal");
  csum_ = incompat_ & J_INCOMPAT_CSUM_V3;
  if ((incompat_ & J_INCOMPAT_CSUM_V2) && start_) return fail(Error::NotSupported, "a journal with checksum v2 to replay");
  seed_ = crc32c(~0u, uuid_, 16);
  return {};
}

Result<uint32_t> Journal::replay(Why& why) {
  if (!start_) return uint32_t(0);
  (void)why;
  bcache::BlockCache& cache = fs_->cache();
  const size_t tag = tag_bytes();
  uint8_t* blk = new (std::nothrow) uint8_t[block_size_];
  uint8_t* data = new (std::nothrow) uint8_t[block_size_];
  // One transaction's tags: (target block, journal block, escaped, checksum).
  struct Tag {
    uint64_t target, jblock;
    bool escaped;
    uint32_t csum;
  };
  const size_t max_tags = maxlen_;
  Tag* tags = new (std::nothrow) Tag[max_tags];
  // Revoke records (jbd2: a block freed and reused in transaction R must
  // not get back a copy logged by a transaction up to R): each block with
  // the latest transaction that revoked it. Pending ones belong to the
  // transaction being read and count only once it commits.
  struct Revoke {
    uint64_t block;
    uint32_t seq;
  };
  Revoke* revokes = nullptr;
  size_t nrev = 0, caprev = 0, pending = 0;
  auto revoked = [&](uint64_t block, uint32_t seq) {
    for (size_t i = 0; i < nrev - pending; ++i)
      if (revokes[i].block == block && int32_t(revokes[i].seq - seq) >= 0) return true;
    return false;
  };
  uint32_t replayed = 0;
  // Two passes over the log, as jbd2's recovery: the first collects the
  // revoke records of the committed transactions (and finds where the
  // log ends), the second writes every tagged block not revoked.
  auto pass = [&](bool write) -> Result<uint32_t> {
    if (!blk || !data || !tags) return Error::NoMemory;
    uint32_t seq = sequence_, done = 0;
    uint64_t pos = start_;
    size_t n = 0;
    pending = 0;
    auto next = [&](uint64_t p) { return p + 1 >= maxlen_ ? uint64_t(first_) : p + 1; };
    auto tail_ok = [&]() {
      if (!csum_) return true;
      uint32_t want = be32(blk + block_size_ - 4);
      put_be32(blk + block_size_ - 4, 0);
      return crc32c(seed_, blk, block_size_) == want;
    };
    for (uint64_t steps = 0; steps < maxlen_; ++steps) {
      TRY(cache.read_blocks(TRY(phys(pos)), 1, blk));
      if (be32(blk) != JBD2_MAGIC || be32(blk + 8) != seq) break;
      uint32_t type = be32(blk + 4);
      if (type == BT_DESCRIPTOR) {
        if (!tail_ok()) break;  // torn: the transaction ends the log
        size_t off = 12, end = block_size_ - (csum_ ? 4 : 0);
        uint64_t dpos = pos;
        bool last = false;
        while (!last && off + tag <= end && n < max_tags) {
          const uint8_t* t = blk + off;
          uint32_t flags = csum_ ? be32(t + 4) : (uint32_t(t[6]) << 8 | t[7]);
          uint64_t target = be32(t);
          if (csum_ || tag == 12) target |= uint64_t(be32(t + 8)) << 32;
          dpos = next(dpos);
          tags[n++] = Tag{target, dpos, bool(flags & TAG_ESCAPE), csum_ ? be32(t + 12) : 0};
          off += tag;
          if (!(flags & TAG_SAME_UUID)) off += 16;
          last = flags & TAG_LAST;
        }
        pos = dpos;
      } else if (type == BT_REVOKE) {
        // {header, r_count: bytes used from the block's start}, then block
        // numbers of 8 bytes (64bit journal) or 4; csum v3's tail.
        if (!tail_ok()) break;
        uint32_t used = be32(blk + 12);
        const uint32_t rec = (incompat_ & J_INCOMPAT_64BIT) ? 8 : 4;
        if (used < 16 || used > block_size_ - (csum_ ? 4 : 0)) break;
        if (!write) {
          for (uint32_t off = 16; off + rec <= used; off += rec) {
            uint64_t b = rec == 8 ? uint64_t(be32(blk + off)) << 32 | be32(blk + off + 4) : be32(blk + off);
            if (nrev == caprev) {
              size_t cap = caprev ? 2 * caprev : 64;
              Revoke* grown = new (std::nothrow) Revoke[cap];
              if (!grown) return Error::NoMemory;
              for (size_t i = 0; i < nrev; ++i) grown[i] = revokes[i];
              delete[] revokes;
              revokes = grown;
              caprev = cap;
            }
            revokes[nrev++] = Revoke{b, seq};
            ++pending;
          }
        }
      } else if (type == BT_COMMIT) {
        if (csum_) {
          uint32_t want = be32(blk + 0x10);
          put_be32(blk + 0x10, 0);
          if (crc32c(seed_, blk, block_size_) != want) break;
        }
        // Every block first checked, then written: all or nothing.
        uint8_t seq_be[4];
        put_be32(seq_be, seq);
        bool whole = true;
        for (size_t i = 0; i < n && whole; ++i) {
          if (tags[i].target < fs_->super().first_data_block || tags[i].target >= fs_->super().blocks_count)
            whole = false;
          else if (csum_) {
            TRY(cache.read_blocks(TRY(phys(tags[i].jblock)), 1, data));
            whole = crc32c(crc32c(seed_, seq_be, 4), data, block_size_) == tags[i].csum;
          }
        }
        if (!whole) break;
        for (size_t i = 0; write && i < n; ++i) {
          if (revoked(tags[i].target, seq)) continue;
          TRY(cache.read_blocks(TRY(phys(tags[i].jblock)), 1, data));
          if (tags[i].escaped) put_be32(data, JBD2_MAGIC);
          TRY(cache.write_blocks(tags[i].target, 1, data));
        }
        n = 0;
        pending = 0;  // this transaction's revokes count from now on
        ++seq;
        ++done;
      } else {
        break;  // an unknown block: the end of what can be trusted
      }
      pos = next(pos);
    }
    if (!write) nrev -= pending;  // a torn last transaction's revokes do not count
    pending = 0;
    if (write) {
      TRY(cache.flush());
      sequence_ = seq;
      start_ = 0;
      TRY(write_super(0, sequence_));
    }
    return done;
  };
  Error failed = Error::None;
  if (auto r = pass(false); !r.ok()) failed = r.error();
  if (failed == Error::None) {
    if (auto r = pass(true); r.ok())
      replayed = r.value();
    else
      failed = r.error();
  }
  delete[] blk;
  delete[] data;
  delete[] tags;
  delete[] revokes;
  if (failed != Error::None) return failed;
  return replayed;
}

Result<void> Journal::start() {
  // As Linux's ext4 sets them on a read-write mount: 64bit tags on a 64bit
  // volume, checksum v3 with metadata_csum (v2 and the old commit checksum
  // off).
  const Super& sb = fs_->super();
  if (sb.incompat & INCOMPAT_64BIT) incompat_ |= J_INCOMPAT_64BIT;
  csum_ = sb.metadata_csum;
  incompat_ &= ~(J_INCOMPAT_CSUM_V2 | J_INCOMPAT_CSUM_V3);
  if (csum_) incompat_ |= J_INCOMPAT_CSUM_V3;
  seed_ = crc32c(~0u, uuid_, 16);
  return write_super(0, sequence_);
}

Result<void> Journal::write_super(uint32_t start, uint32_t sequence) {
  bcache::BlockRef b = TRY(fs_->cache().get(TRY(phys(0))));
  uint8_t* s = b.mutable_data();
  put_be32(s + 0x18, sequence);
  put_be32(s + 0x1C, start);
  uint32_t compat = be32(s + 0x24);
  if (csum_) compat &= ~J_COMPAT_CHECKSUM;
  put_be32(s + 0x24, compat);
  put_be32(s + 0x28, incompat_);
  if (csum_) {
    s[0x50] = CRC32C_CHKSUM;
    put_be32(s + 0xFC, 0);
    put_be32(s + 0xFC, crc32c(~0u, s, 1024));
  }
  return fs_->cache().write(b);
}

size_t Journal::tag_bytes() const {
  if (csum_) return 16;  // journal_block_tag3_t
  return (incompat_ & J_INCOMPAT_64BIT) ? 12 : 8;
}

Result<void> Journal::drain() {
  if (!live_start_) return {};
  bcache::BlockCache& cache = fs_->cache();
  TRY(cache.flush());  // the last checkpoint stable: its log copies are not needed
  TRY(write_super(0, sequence_));
  TRY(cache.flush());
  live_start_ = live_end_ = 0;
  return {};
}

Result<void> Journal::commit(bcache::BlockRef* blocks, size_t n) {
  if (!n) return {};
  bcache::BlockCache& cache = fs_->cache();
  const size_t tag = tag_bytes();
  const size_t tail = csum_ ? 4 : 0;
  // Tags per descriptor: the header, the first tag's 16-byte UUID, the tail.
  const size_t per_desc = (block_size_ - 12 - 16 - tail) / tag;
  const uint64_t need = n + (n + per_desc - 1) / per_desc + 1;
  if (need > uint64_t(maxlen_) - first_) return Error::TooBig;
  // Where it goes: after the last transaction (replay reads on from there)
  // or from the log's start, in either case clear of the last one, which a
  // crash before this commit is stable replays; with no room, the journal
  // is drained first.
  uint64_t pos = first_;
  if (live_start_) {
    if (live_end_ + need <= maxlen_)
      pos = live_end_;
    else if (first_ + need > live_start_)
      TRY(drain());
  }
  // Blocks go out in runs: consecutive device blocks, up to STAGE of them
  // in one request (the log is one extent as mke2fs makes it; the
  // checkpoint is sorted by block number).
  constexpr size_t STAGE = 16;
  size_t stage_cap = STAGE;
  uint8_t* stage = new (std::nothrow) uint8_t[STAGE * block_size_];
  if (!stage) {
    stage_cap = 1;
    stage = new (std::nothrow) uint8_t[block_size_];
  }
  uint8_t* desc = new (std::nothrow) uint8_t[block_size_];
  uint32_t* order = new (std::nothrow) uint32_t[n];
  if (!desc || !stage || !order) {
    delete[] desc;
    delete[] stage;
    delete[] order;
    return Error::NoMemory;
  }
  uint64_t run_first = 0;
  size_t run_n = 0;
  auto out = [&]() -> Result<void> {
    if (!run_n) return {};
    Result<void> r = cache.write_blocks(run_first, run_n, stage);
    run_n = 0;
    return r;
  };
  // The next block of the run being staged; a gap or a full stage sends
  // what is staged first. Returns where to put the block's bytes.
  auto add = [&](uint64_t dev) -> Result<uint8_t*> {
    if (run_n && (dev != run_first + run_n || run_n == stage_cap)) TRY(out());
    if (!run_n) run_first = dev;
    return stage + run_n++ * block_size_;
  };
  // Block i's copy for the log into `to`: true if it was escaped (it would
  // read as a journal block).
  auto make_copy = [&](size_t i, uint8_t* to) {
    __builtin_memcpy(to, blocks[i].data(), block_size_);
    if (be32(to) != JBD2_MAGIC) return false;
    put_be32(to, 0);
    return true;
  };
  auto run = [&]() -> Result<void> {
    const uint32_t seq = sequence_;
    uint8_t seq_be[4];
    put_be32(seq_be, seq);
    const uint32_t seq_seed = crc32c(seed_, seq_be, 4);
    const uint64_t start = pos;
    // 1. Descriptors and the blocks' copies: each descriptor made first
    // (its tags carry the copies' checksums), then it and its copies in
    // log order.
    for (size_t i = 0; i < n;) {
      __builtin_memset(desc, 0, block_size_);
      header(desc, BT_DESCRIPTOR, seq);
      size_t count = n - i < per_desc ? n - i : per_desc;
      size_t off = 12;
      for (size_t k = 0; k < count; ++k) {
        uint8_t* t = desc + off;
        uint64_t nr = blocks[i + k].block();
        uint32_t flags = k ? TAG_SAME_UUID : 0;
        if (k + 1 == count) flags |= TAG_LAST;
        put_be32(t, uint32_t(nr));
        if (csum_) {
          uint8_t* c = stage + (stage_cap - 1) * block_size_;  // scratch: the stage's last slot, sent below
          if (run_n == stage_cap) TRY(out());
          if (make_copy(i + k, c)) flags |= TAG_ESCAPE;
          put_be32(t + 4, flags);
          put_be32(t + 8, uint32_t(nr >> 32));
          put_be32(t + 12, crc32c(seq_seed, c, block_size_));
        } else {
          if (be32(blocks[i + k].data()) == JBD2_MAGIC) flags |= TAG_ESCAPE;
          put_be16(t + 6, flags);
          if (tag == 12) put_be32(t + 8, uint32_t(nr >> 32));
        }
        off += tag;
        if (k == 0) {
          __builtin_memcpy(desc + off, uuid_, 16);
          off += 16;
        }
      }
      if (csum_) put_be32(desc + block_size_ - 4, crc32c(seed_, desc, block_size_));
      __builtin_memcpy(TRY(add(TRY(phys(pos++)))), desc, block_size_);
      for (size_t k = 0; k < count; ++k) make_copy(i + k, TRY(add(TRY(phys(pos++)))));
      i += count;
    }
    TRY(out());
    // 2. A flush: the file data this transaction's metadata points at
    // (ordered mode), the copies and the last transaction's checkpoint on
    // stable storage before the commit block can be. Then the commit
    // block and the journal superblock pointing at this transaction, and
    // a flush: committed.
    TRY(cache.flush());
    __builtin_memset(desc, 0, block_size_);
    header(desc, BT_COMMIT, seq);
    int64_t now = vfs::fs_now_ns();
    put_be32(desc + 0x30, uint32_t(uint64_t(now / 1000000000) >> 32));
    put_be32(desc + 0x34, uint32_t(now / 1000000000));
    put_be32(desc + 0x38, uint32_t(now % 1000000000));
    if (csum_) put_be32(desc + 0x10, crc32c(seed_, desc, block_size_));
    TRY(cache.write_blocks(TRY(phys(pos++)), 1, desc));
    TRY(write_super(uint32_t(start), seq));
    TRY(cache.flush());
    sequence_ = seq + 1;
    live_start_ = uint32_t(start);
    live_end_ = uint32_t(pos);
    // 3. In place (the checkpoint), in block order: stable by the next
    // commit's first flush or drain(); a crash before that replays this
    // transaction.
    for (size_t i = 0; i < n; ++i) {
      uint32_t v = uint32_t(i);
      size_t k = i;
      for (; k > 0 && blocks[order[k - 1]].block() > blocks[v].block(); --k) order[k] = order[k - 1];
      order[k] = v;
    }
    for (size_t i = 0; i < n; ++i)
      __builtin_memcpy(TRY(add(blocks[order[i]].block())), blocks[order[i]].data(), block_size_);
    return out();
  };
  Result<void> r = run();
  delete[] desc;
  delete[] stage;
  delete[] order;
  return r;
}

}  // namespace capsule::ext4
