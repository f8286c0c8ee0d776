// htree directories (fs/ext4/fs.h, docs/ext4.md "Directories"): the index
// read to find the leaf that holds (or would hold) a name, and names
// added by its hash: into their leaf, a full leaf split in two by hash
// (the upper half moved to a new block whose index entry carries the
// first moved hash, with the low "continued" bit when that hash goes on
// in the lower block), the index grown to a second level when its root
// is full, a full second-level node split in two. Two levels at most, as
// ext4 without large_dir: past that, NoSpace (Linux's "Directory index
// full", ENOSPC). Layouts from the kernel.org ext4 documentation, "Hash
// Tree Directories":
//   root (logical block 0): "." (rec_len 12), ".." (rec_len to the block's
//     end), dx_root_info at 24 {reserved 0, hash_version, info_length 8,
//     indirect_levels, flags}, then the entries at 32;
//   node: a fake entry {inode 0, rec_len = the block}, the entries at 8;
//   entries: {limit u16, count u16, block u32} in place of entry 0 (whose
//     hash is implicitly 0), then {hash u32, block u32}; logical blocks;
//   metadata_csum: `limit` leaves 8 bytes after the last possible entry
//     for dx_tail {reserved, crc32c(seed, the block up to the last used
//     entry, the tail's first word, a zero word)}.
#include "fs/ext4/dirhash.h"
#include "fs/ext4/fs.h"
#include "lib/crc32c.h"

#include <new>

namespace capsule::ext4 {
namespace {

constexpr uint32_t ROOT_COUNT_OFF = 32, NODE_COUNT_OFF = 8;

uint32_t entry_len(uint32_t name_len) { return (8 + name_len + 3) & ~3u; }

uint32_t dx_limit(const Super& s, uint32_t count_off) {
  return (s.block_size - count_off) / 8 - (s.metadata_csum ? 1 : 0);
}

uint32_t dx_count(const uint8_t* b, uint32_t off) { return le16(b + off + 2); }
uint32_t dx_hash_at(const uint8_t* b, uint32_t off, uint32_t i) { return i ? le32(b + off + 8 * i) : 0; }
uint32_t dx_block_at(const uint8_t* b, uint32_t off, uint32_t i) { return le32(b + off + 8 * i + 4); }

void set_dx_csum(const Super& s, const Inode& dir, uint8_t* b, uint32_t off) {
  if (!s.metadata_csum) return;
  uint8_t* tail = b + off + 8 * le16(b + off);
  put32(tail, 0);
  const uint8_t zero[4] = {};
  uint32_t c = crc32c(dir.csum_seed, b, off + 8 * dx_count(b, off));
  c = crc32c(c, tail, 4);
  put32(tail + 4, crc32c(c, zero, 4));
}

// Live entries of a leaf, for a split.
struct Ent {
  uint32_t hash;
  uint16_t off, len;
};

}  // namespace

// The path from the root to the leaf that covers a hash.
struct Ext4Fs::DxPath {
  struct Frame {
    uint64_t pblk;
    uint32_t off;  // where limit/count/entries start
    uint32_t at;   // the entry followed
  };
  uint32_t levels = 0;  // indirect_levels: frames levels + 1
  Frame f[2] = {};
  uint32_t leaf = 0;    // logical block
  DxHash version = DxHash::Legacy;
  uint32_t hash = 0;
};

bool Ext4Fs::dx_indexed(const Inode& dir) const {
  return (dir.flags & INODE_INDEX_FL) && (s_.compat & COMPAT_DIR_INDEX);
}

Result<void> Ext4Fs::dx_check_node(const Inode& dir, const uint8_t* b, uint32_t off) {
  uint32_t limit = le16(b + off), count = dx_count(b, off);
  if (limit != dx_limit(s_, off) || count == 0 || count > limit) return Error::Io;
  if (s_.metadata_csum) {
    const uint8_t* tail = b + off + 8 * limit;
    const uint8_t zero[4] = {};
    uint32_t c = crc32c(dir.csum_seed, b, off + 8 * count);
    c = crc32c(c, tail, 4);
    if (le32(tail + 4) != crc32c(c, zero, 4)) return Error::Io;
  }
  const uint32_t blocks = uint32_t(dir.size / s_.block_size);
  for (uint32_t i = 0; i < count; ++i) {
    if (dx_block_at(b, off, i) >= blocks || dx_block_at(b, off, i) == 0) return Error::Io;
    if (i > 1 && dx_hash_at(b, off, i) < dx_hash_at(b, off, i - 1)) return Error::Io;
  }
  return {};
}

// The leaf for `name`: the last entry whose hash is not above the name's,
// at each level. Io for an index that does not hold together;
// OpNotSupported for three levels (large_dir) or an unknown hash.
Result<void> Ext4Fs::dx_probe(const Inode& dir, StringView name, DxPath& p) {
  const uint32_t bs = s_.block_size;
  if (dir.size < 2ull * bs || dir.size > (1ull << 32)) return Error::Io;
  uint64_t run;
  uint64_t pblk = TRY(map(dir, 0, &run));
  if (!pblk) return Error::Io;
  bcache::BlockRef b = TRY(cache_.get(pblk));
  const uint8_t* r = b.data();
  if (le16(r + 4) != 12 || r[6] != 1 || le16(r + 12 + 4) != bs - 12 || r[12 + 6] != 2) return Error::Io;
  if (le32(r + 24) != 0 || r[29] != 8) return Error::Io;
  if (r[28] > uint8_t(DxHash::Tea)) return Error::OpNotSupported;
  if (r[30] > 1) return Error::OpNotSupported;
  p.levels = r[30];
  p.version = DxHash(r[28] + (s_.hash_unsigned ? 3 : 0));
  p.hash = dx_hash(p.version, s_.hash_seed, name.data(), name.size());
  uint32_t off = ROOT_COUNT_OFF;
  for (uint32_t level = 0;; ++level) {
    TRY(dx_check_node(dir, b.data(), off));
    const uint8_t* n = b.data();
    uint32_t lo = 1, hi = dx_count(n, off);  // the answer is in [lo - 1, hi - 1]
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (dx_hash_at(n, off, mid) > p.hash)
        hi = mid;
      else
        lo = mid + 1;
    }
    p.f[level] = {pblk, off, lo - 1};
    uint32_t child = dx_block_at(n, off, lo - 1);
    if (level == p.levels) {
      p.leaf = child;
      return {};
    }
    pblk = TRY(map(dir, child, &run));
    if (!pblk) return Error::Io;
    b = TRY(cache_.get(pblk));
    const uint8_t* c = b.data();
    if (le32(c) != 0 || le16(c + 4) != bs || c[6] != 0) return Error::Io;
    off = NODE_COUNT_OFF;
  }
}

Result<uint32_t> Ext4Fs::dx_candidates(const Inode& dir, StringView name, uint32_t* leaves, uint32_t cap) {
  DxPath p;
  TRY(dx_probe(dir, name, p));
  uint32_t n = 0;
  leaves[n++] = p.leaf;
  // A leaf whose index entry has the "continued" bit and the same hash
  // holds more of the names of that hash: follow while they do.
  for (;;) {
    DxPath::Frame& bot = p.f[p.levels];
    bcache::BlockRef b = TRY(cache_.get(bot.pblk));
    uint32_t next_hash, next_leaf;
    if (bot.at + 1 < dx_count(b.data(), bot.off)) {
      next_hash = dx_hash_at(b.data(), bot.off, bot.at + 1);
      next_leaf = dx_block_at(b.data(), bot.off, bot.at + 1);
      ++bot.at;
    } else if (p.levels == 1) {
      DxPath::Frame& top = p.f[0];
      bcache::BlockRef rb = TRY(cache_.get(top.pblk));
      if (top.at + 1 >= dx_count(rb.data(), top.off)) break;
      next_hash = dx_hash_at(rb.data(), top.off, top.at + 1);
      uint64_t run;
      uint64_t pblk = TRY(map(dir, dx_block_at(rb.data(), top.off, top.at + 1), &run));
      if (!pblk) return Error::Io;
      bcache::BlockRef nb = TRY(cache_.get(pblk));
      TRY(dx_check_node(dir, nb.data(), NODE_COUNT_OFF));
      next_leaf = dx_block_at(nb.data(), NODE_COUNT_OFF, 0);
      ++top.at;
      bot = {pblk, NODE_COUNT_OFF, 0};
    } else {
      break;
    }
    if ((next_hash & ~1u) != p.hash || !(next_hash & 1)) break;
    if (n == cap) return Error::Range;
    leaves[n++] = next_leaf;
  }
  return n;
}

// Entry (hash, lblk) into the index after the followed entry of the
// bottom frame: the index grows a level or a node splits when full.
Result<void> Ext4Fs::dx_insert(Inode& dir, DxPath& p, uint32_t hash, uint32_t lblk) {
  const uint32_t bs = s_.block_size;
  DxPath::Frame* f = &p.f[p.levels];
  bcache::BlockRef b = TRY(cache_.get(f->pblk));
  uint32_t count = dx_count(b.data(), f->off);
  if (count == le16(b.data() + f->off)) {  // full
    uint64_t new_lblk = dir.size / bs;
    if (new_lblk >= UINT32_MAX) return Error::NoSpace;
    if (p.levels == 0) {
      // The root's entries move to a new node under it: two levels.
      bool fresh;
      uint64_t npblk = TRY(map_alloc(dir, new_lblk, &fresh));
      bcache::BlockRef nb = TRY(cache_.get_zeroed(npblk));
      dir.size += bs;
      uint8_t* n = nb.mutable_data();
      put32(n, 0);
      put16(n + 4, bs);
      __builtin_memcpy(n + NODE_COUNT_OFF, b.data() + f->off, 8 * count);
      put16(n + NODE_COUNT_OFF, dx_limit(s_, NODE_COUNT_OFF));
      uint8_t* r = b.mutable_data();
      put16(r + ROOT_COUNT_OFF + 2, 1);
      put32(r + ROOT_COUNT_OFF + 4, uint32_t(new_lblk));
      r[30] = 1;
      set_dx_csum(s_, dir, r, ROOT_COUNT_OFF);
      TRY(write_meta(b));
      p.levels = 1;
      p.f[1] = {npblk, NODE_COUNT_OFF, f->at};
      p.f[0].at = 0;
      f = &p.f[1];
      b = static_cast<bcache::BlockRef&&>(nb);
    } else {
      // A full node: its upper half moves to a new node, whose first hash
      // goes into the root (if the root has room: else the index is full).
      bcache::BlockRef rb = TRY(cache_.get(p.f[0].pblk));
      uint32_t rcount = dx_count(rb.data(), ROOT_COUNT_OFF);
      if (rcount == le16(rb.data() + ROOT_COUNT_OFF)) return Error::NoSpace;
      bool fresh;
      uint64_t npblk = TRY(map_alloc(dir, new_lblk, &fresh));
      bcache::BlockRef nb = TRY(cache_.get_zeroed(npblk));
      dir.size += bs;
      uint32_t half = count / 2;
      uint8_t* o = b.mutable_data();
      uint8_t* n = nb.mutable_data();
      put32(n, 0);
      put16(n + 4, bs);
      __builtin_memcpy(n + NODE_COUNT_OFF, o + f->off + 8 * half, 8 * (count - half));
      uint32_t key = le32(n + NODE_COUNT_OFF);
      put16(n + NODE_COUNT_OFF, dx_limit(s_, NODE_COUNT_OFF));
      put16(n + NODE_COUNT_OFF + 2, count - half);
      put16(o + f->off + 2, half);
      // The key into the root after the old node's entry.
      uint8_t* r = rb.mutable_data();
      uint32_t at = p.f[0].at + 1;
      __builtin_memmove(r + ROOT_COUNT_OFF + 8 * (at + 1), r + ROOT_COUNT_OFF + 8 * at, 8 * (rcount - at));
      put32(r + ROOT_COUNT_OFF + 8 * at, key);
      put32(r + ROOT_COUNT_OFF + 8 * at + 4, uint32_t(new_lblk));
      put16(r + ROOT_COUNT_OFF + 2, rcount + 1);
      set_dx_csum(s_, dir, r, ROOT_COUNT_OFF);
      TRY(write_meta(rb));
      set_dx_csum(s_, dir, o, f->off);
      set_dx_csum(s_, dir, n, NODE_COUNT_OFF);
      TRY(write_meta(nb));
      TRY(write_meta(b));
      if (f->at + 1 > half) {  // the new entry belongs after the split
        f->pblk = npblk;
        f->at -= half;
        b = static_cast<bcache::BlockRef&&>(nb);
      }
    }
    count = dx_count(b.data(), f->off);
  }
  uint8_t* e = b.mutable_data() + f->off;
  uint32_t at = f->at + 1;
  __builtin_memmove(e + 8 * (at + 1), e + 8 * at, 8 * (count - at));
  put32(e + 8 * at, hash);
  put32(e + 8 * at + 4, lblk);
  put16(e + 2, count + 1);
  set_dx_csum(s_, dir, b.mutable_data(), f->off);
  return write_meta(b);
}

Result<void> Ext4Fs::dx_add(Inode& dir, StringView name, uint32_t ino, uint8_t type) {
  const uint32_t bs = s_.block_size;
  DxPath p;
  TRY(dx_probe(dir, name, p));
  uint64_t run;
  uint64_t pblk = TRY(map(dir, p.leaf, &run));
  if (!pblk) return Error::Io;
  bcache::BlockRef b = TRY(cache_.get(pblk));
  TRY(check_dir_block(s_, dir, b.data(), bs));
  if (TRY(dir_block_insert(dir, b, name, ino, type))) return {};
  // Nothing is changed unless the whole split can be done: room in the
  // index, and blocks for the new leaf, a new index node and the extent
  // tree of the directory.
  {
    bcache::BlockRef bot = TRY(cache_.get(p.f[p.levels].pblk));
    const uint32_t off = p.f[p.levels].off;
    if (p.levels == 1 && dx_count(bot.data(), off) == le16(bot.data() + off)) {
      bcache::BlockRef rb = TRY(cache_.get(p.f[0].pblk));
      if (dx_count(rb.data(), ROOT_COUNT_OFF) == le16(rb.data() + ROOT_COUNT_OFF)) return Error::NoSpace;
    }
    if (s_.free_blocks < 4) return Error::NoSpace;
  }

  // The leaf is full: its entries sorted by hash, the upper half (by
  // bytes) to a new block.
  const uint32_t limit = dir_limit(b.data());
  struct Scratch {
    Ent* e;
    uint8_t* copy;
    explicit Scratch(uint32_t bs) : e(new (std::nothrow) Ent[bs / 12 + 1]), copy(new (std::nothrow) uint8_t[bs]) {}
    ~Scratch() {
      delete[] e;
      delete[] copy;
    }
  } s(bs);
  if (!s.e || !s.copy) return Error::NoMemory;
  __builtin_memcpy(s.copy, b.data(), bs);
  uint32_t n = 0, total = 0;
  for (uint32_t off = 0; off < limit;) {
    DirEntry d = TRY(parse_dir_entry(s.copy, limit, off));
    if (d.ino) {
      uint32_t h = dx_hash(p.version, s_.hash_seed, d.name, d.name_len);
      uint32_t len = entry_len(d.name_len);
      // Insertion by hash (a leaf holds at most a few hundred).
      uint32_t i = n++;
      while (i > 0 && s.e[i - 1].hash > h) {
        s.e[i] = s.e[i - 1];
        --i;
      }
      s.e[i] = {h, uint16_t(off), uint16_t(len)};
      total += len;
    }
    off += d.rec_len;
  }
  if (n < 2) return Error::NoSpace;
  uint32_t split = n, moved = 0;
  while (split > 1 && moved < total / 2) moved += s.e[--split].len;
  const uint32_t hash2 = s.e[split].hash;
  const uint32_t continued = s.e[split - 1].hash == hash2 ? 1 : 0;

  uint64_t new_lblk = dir.size / bs;
  if (new_lblk >= UINT32_MAX) return Error::NoSpace;
  bool fresh;
  uint64_t npblk = TRY(map_alloc(dir, new_lblk, &fresh));
  bcache::BlockRef nb = TRY(cache_.get_zeroed(npblk));
  dir.size += bs;
  // Each half packed into its block, the last entry reaching the limit.
  auto fill = [&](uint8_t* out, uint32_t from, uint32_t to) {
    __builtin_memset(out, 0, bs);
    uint32_t at = 0;
    for (uint32_t i = from; i < to; ++i) {
      __builtin_memcpy(out + at, s.copy + s.e[i].off, s.e[i].len);
      put16(out + at + 4, i + 1 == to ? limit - at : s.e[i].len);
      at += s.e[i].len;
    }
    if (s_.metadata_csum) {
      put16(out + limit + 4, 12);
      out[limit + 7] = 0xDE;
    }
    set_dir_block_csum(s_, dir, out, bs);
  };
  fill(b.mutable_data(), 0, split);
  fill(nb.mutable_data(), split, n);
  TRY(write_meta(b));
  TRY(write_meta(nb));
  TRY(dx_insert(dir, p, hash2 | continued, uint32_t(new_lblk)));
  bcache::BlockRef& target = p.hash >= hash2 ? nb : b;
  if (!TRY(dir_block_insert(dir, target, name, ino, type))) return Error::NoSpace;
  return {};
}

Result<void> Ext4Fs::dx_set_dotdot(Inode& dir, uint32_t ino) {
  uint64_t run;
  uint64_t pblk = TRY(map(dir, 0, &run));
  if (!pblk) return Error::Io;
  bcache::BlockRef b = TRY(cache_.get(pblk));
  uint8_t* r = b.mutable_data();
  if (le16(r + 4) != 12 || r[12 + 6] != 2 || r[12 + 8] != '.' || r[12 + 9] != '.') return Error::Io;
  TRY(dx_check_node(dir, r, ROOT_COUNT_OFF));
  put32(r + 12, ino);
  r[12 + 7] = dirent_type(vfs::MODE_DIR);
  set_dx_csum(s_, dir, r, ROOT_COUNT_OFF);
  return write_meta(b);
}

}  // namespace capsule::ext4
