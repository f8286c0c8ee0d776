// A file's extent tree, changed (fs/ext4/fs.h, docs/ext4.md "Writing"):
// a block allocated into a hole joins the extent it continues or becomes a
// new one; the root in the inode holds four, then moves to a leaf block
// under a one-level index (up to four leaves, each split when full).
// Truncation frees from a logical block on, leaves that empty included.
// Trees deeper than one index level are read but not changed.
#include "fs/ext4/fs.h"

namespace capsule::ext4 {
namespace {

constexpr uint16_t EXTENT_MAGIC = 0xF30A;
constexpr uint32_t MAX_LEN = 32768;  // an initialized extent's longest run

struct Header {
  uint8_t* p;
  uint16_t entries() const { return le16(p + 2); }
  uint16_t max() const { return le16(p + 4); }
  uint16_t depth() const { return le16(p + 6); }
  void set_entries(uint32_t n) { put16(p + 2, n); }
  uint8_t* entry(size_t i) const { return p + 12 + 12 * i; }
};

void put_leaf(uint8_t* e, uint32_t first, uint32_t len, bool uninit, uint64_t start) {
  put32(e, first);
  put16(e + 4, uninit ? len + MAX_LEN : len);
  put16(e + 6, uint32_t(start >> 32));
  put32(e + 8, uint32_t(start));
}

void put_index(uint8_t* e, uint32_t first, uint64_t child) {
  put32(e, first);
  put32(e + 4, uint32_t(child));
  put16(e + 8, uint32_t(child >> 32));
  put16(e + 10, 0);
}

void init_node(uint8_t* p, uint16_t max, uint16_t depth) {
  put16(p, EXTENT_MAGIC);
  put16(p + 2, 0);
  put16(p + 4, max);
  put16(p + 6, depth);
  put32(p + 8, 0);
}

void insert_at(Header h, size_t i) {
  __builtin_memmove(h.entry(i + 1), h.entry(i), 12 * (h.entries() - i));
  h.set_entries(h.entries() + 1u);
}

void remove_at(Header h, size_t i) {
  __builtin_memmove(h.entry(i), h.entry(i + 1), 12 * (h.entries() - i - 1));
  h.set_entries(h.entries() - 1u);
}

// Adds block `pblk` at `lblk` to a leaf: joined to the extent before or
// after it when contiguous, else a new entry. Io when lblk is already
// inside an extent (an unwritten one: map() said hole); NoSpace when the
// leaf is full.
Result<void> leaf_add(Header h, uint32_t lblk, uint64_t pblk) {
  size_t n = h.entries(), pos = 0;
  while (pos < n && extent_leaf(h.p, pos).first <= lblk) ++pos;
  if (pos > 0) {
    Extent e = extent_leaf(h.p, pos - 1);
    if (lblk - e.first < e.len) return Error::OpNotSupported;  // inside an unwritten extent
    if (!e.uninit && e.first + e.len == lblk && e.start + e.len == pblk && e.len < MAX_LEN) {
      put_leaf(h.entry(pos - 1), e.first, e.len + 1, false, e.start);
      return {};
    }
  }
  if (pos < n) {
    Extent e = extent_leaf(h.p, pos);
    if (!e.uninit && lblk + 1 == e.first && pblk + 1 == e.start && e.len < MAX_LEN) {
      put_leaf(h.entry(pos), lblk, e.len + 1, false, pblk);
      return {};
    }
  }
  if (n >= h.max()) return Error::NoSpace;
  insert_at(h, pos);
  put_leaf(h.entry(pos), lblk, 1, false, pblk);
  return {};
}

}  // namespace

Result<void> Ext4Fs::grow_tree(Inode& in) {
  // The root's extents move to a new leaf block; the root becomes an
  // index of one entry pointing at it.
  Header root{in.block};
  uint64_t goal = root.entries() ? extent_leaf(in.block, 0).start : 0;
  uint64_t nb = TRY(alloc_block(goal));
  auto got = cache_.get_zeroed(nb);
  if (!got.ok()) {
    (void)free_blocks(nb, 1);
    return got.error();
  }
  bcache::BlockRef b = got.release_value();
  Header leaf{b.mutable_data()};
  init_node(leaf.p, uint16_t((s_.block_size - 12) / 12), 0);
  __builtin_memcpy(leaf.entry(0), root.entry(0), 12 * root.entries());
  leaf.set_entries(root.entries());
  set_extent_block_csum(s_, in, leaf.p, s_.block_size);
  if (auto r = write_meta(b); !r.ok()) {
    (void)free_blocks(nb, 1);
    return r.error();
  }
  uint32_t first = root.entries() ? extent_leaf(in.block, 0).first : 0;
  init_node(in.block, 4, 1);
  put_index(root.entry(0), first, nb);
  root.set_entries(1);
  in.blocks512 += s_.block_size / 512;
  return {};
}

Result<void> Ext4Fs::insert_extent(Inode& in, uint32_t lblk, uint64_t pblk) {
  TRY(parse_extent_header(in.block, sizeof in.block, -1));
  Header root{in.block};
  if (root.depth() == 0) {
    Result<void> r = leaf_add(root, lblk, pblk);
    if (r.ok() || r.error() != Error::NoSpace) return r;
    TRY(grow_tree(in));
  }
  if (root.depth() != 1) return Error::OpNotSupported;  // deeper trees: read-only (docs/ext4.md)
  for (int attempt = 0; attempt < 2; ++attempt) {
    size_t n = root.entries();
    if (n == 0) return Error::Io;
    size_t pick = 0;
    while (pick + 1 < n && extent_index(in.block, pick + 1).first <= lblk) ++pick;
    ExtentIndex ix = extent_index(in.block, pick);
    if (ix.child < s_.first_data_block || ix.child >= s_.blocks_count) return Error::Io;
    bcache::BlockRef b = TRY(cache_.get(ix.child));
    ExtentHeader eh = TRY(parse_extent_header(b.data(), s_.block_size, 0));
    TRY(check_extent_block(s_, in, b.data(), s_.block_size, eh));
    Header leaf{b.mutable_data()};
    Result<void> r = leaf_add(leaf, lblk, pblk);
    if (r.ok()) {
      if (lblk < ix.first) put_index(root.entry(pick), lblk, ix.child);  // the leaf now starts earlier
      set_extent_block_csum(s_, in, leaf.p, s_.block_size);
      return write_meta(b);
    }
    if (r.error() != Error::NoSpace) return r;
    // The leaf is full: a new leaf after it takes the upper half (or,
    // when appending past its last extent, just the new one).
    if (root.entries() >= root.max()) return Error::FileTooBig;  // a second index level is not written
    uint64_t nb = TRY(alloc_block(ix.child + 1));
    auto got = cache_.get_zeroed(nb);
    if (!got.ok()) {
      (void)free_blocks(nb, 1);
      return got.error();
    }
    bcache::BlockRef nbref = got.release_value();
    Header fresh{nbref.mutable_data()};
    init_node(fresh.p, leaf.max(), 0);
    size_t total = leaf.entries();
    Extent last = extent_leaf(leaf.p, total - 1);
    size_t keep = lblk >= last.first + last.len ? total : total / 2;
    __builtin_memcpy(fresh.entry(0), leaf.entry(keep), 12 * (total - keep));
    fresh.set_entries(uint32_t(total - keep));
    leaf.set_entries(uint32_t(keep));
    uint32_t split = keep < total ? extent_leaf(fresh.p, 0).first : lblk;
    set_extent_block_csum(s_, in, fresh.p, s_.block_size);
    set_extent_block_csum(s_, in, leaf.p, s_.block_size);
    if (auto w = write_meta(nbref); !w.ok()) {
      (void)free_blocks(nb, 1);
      return w.error();
    }
    TRY(write_meta(b));
    insert_at(root, pick + 1);
    put_index(root.entry(pick + 1), split, nb);
    in.blocks512 += s_.block_size / 512;
  }
  return Error::Io;
}

Result<uint64_t> Ext4Fs::map_alloc(Inode& in, uint64_t lblk, bool* fresh) {
  *fresh = false;
  if (!(in.flags & INODE_EXTENTS_FL)) return Error::OpNotSupported;  // ext2/3 block maps: read-only
  if (lblk >= 0xFFFFFFFFull) return Error::FileTooBig;
  uint64_t run;
  uint64_t p = TRY(map(in, lblk, &run));
  if (p) return p;
  // Near the block before it, so a file written in order is contiguous
  // (and its extents merge); a file's first block near its inode's group.
  uint64_t goal = 0;
  if (lblk > 0) {
    uint64_t prev = TRY(map(in, lblk - 1, &run));
    if (prev) goal = prev + 1;
  }
  if (!goal) goal = s_.first_data_block + uint64_t((in.ino - 1) / s_.inodes_per_group) * s_.blocks_per_group;
  uint64_t nb = TRY(alloc_block(goal));
  if (auto r = insert_extent(in, uint32_t(lblk), nb); !r.ok()) {
    (void)free_blocks(nb, 1);
    return r.error();
  }
  in.blocks512 += s_.block_size / 512;
  *fresh = true;
  return nb;
}

namespace {

// Frees what a leaf maps from logical block `first` on: whole extents
// removed, the one across `first` shortened. Returns the blocks freed.
template <typename FreeFn>
Result<uint64_t> leaf_drop(Header h, uint64_t first, FreeFn&& free_run) {
  uint64_t freed = 0;
  for (size_t i = h.entries(); i-- > 0;) {
    Extent e = extent_leaf(h.p, i);
    if (e.first >= first) {
      TRY(free_run(e.start, e.len));
      freed += e.len;
      remove_at(h, i);
    } else if (e.first + uint64_t(e.len) > first) {
      uint32_t keep = uint32_t(first - e.first);
      TRY(free_run(e.start + keep, e.len - keep));
      freed += e.len - keep;
      put_leaf(h.entry(i), e.first, keep, e.uninit, e.start);
    }
  }
  return freed;
}

}  // namespace

Result<void> Ext4Fs::drop_blocks(Inode& in, uint64_t first) {
  if (!(in.flags & INODE_EXTENTS_FL)) {
    // A fast symlink or a device node owns no blocks; an ext2 block map
    // is not changed here.
    return in.blocks512 ? Error::OpNotSupported : Result<void>{};
  }
  TRY(parse_extent_header(in.block, sizeof in.block, -1));
  Header root{in.block};
  const uint64_t per = s_.block_size / 512;
  auto free_run = [&](uint64_t start, uint64_t len) -> Result<void> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    if (start < s_.first_data_block || start > s_.blocks_count || len > s_.blocks_count - start) return Error::Io;
    return free_blocks(start, len);
  };
  auto account = [&](uint64_t blocks) { in.blocks512 = in.blocks512 > blocks * per ? in.blocks512 - blocks * per : 0; };
  if (root.depth() == 0) {
    account(TRY(leaf_drop(root, first, free_run)));
    return {};
  }
  if (root.depth() != 1) return Error::OpNotSupported;
  for (size_t i = root.entries(); i-- > 0;) {
    ExtentIndex ix = extent_index(in.block, i);
    if (ix.child < s_.first_data_block || ix.child >= s_.blocks_count) return Error::Io;
    // A leaf whose successor starts at or before `first` maps nothing past it.
    if (i + 1 < root.entries() && extent_index(in.block, i + 1).first <= first) break;
    bcache::BlockRef b = TRY(cache_.get(ix.child));
    ExtentHeader eh = TRY(parse_extent_header(b.data(), s_.block_size, 0));
    TRY(check_extent_block(s_, in, b.data(), s_.block_size, eh));
    Header leaf{b.mutable_data()};
    account(TRY(leaf_drop(leaf, first, free_run)));
    if (leaf.entries() == 0 && (i > 0 || ix.first >= first)) {
      b.reset();
      TRY(free_blocks(ix.child, 1));
      account(1);
      remove_at(root, i);
    } else {
      set_extent_block_csum(s_, in, leaf.p, s_.block_size);
      TRY(write_meta(b));
    }
  }
  if (root.entries() == 0) init_node(in.block, 4, 0);  // back to an empty root
  return {};
}

}  // namespace capsule::ext4
