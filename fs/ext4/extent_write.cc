// A file's extent tree, changed (fs/ext4/fs.h, docs/ext4.md "Writing"):
// a block allocated into a hole joins the extent it continues or becomes a
// new one; the root in the inode holds four, then moves to a block under
// a one-level index. A full node is split under its parent (the upper
// half of its entries to a new node; a leaf appended past its end keeps
// them all and the new node starts empty), splitting the parent first if
// it is full too; a full root moves down into a new block and the tree
// grows a level, up to depth 5. Truncation frees from a logical block on,
// nodes that empty included, at any depth.
#include "fs/ext4/extent_node.h"
#include "fs/ext4/fs.h"

namespace capsule::ext4 {
using namespace extent;
namespace {

// Adds block `pblk` at `lblk` to a leaf, written or unwritten (`uninit`):
// joined to the extent of the same kind before or after it when
// contiguous, else a new entry. OpNotSupported when lblk is already
// inside an extent (an unwritten one: map() said hole); NoSpace when the
// leaf is full.
Result<void> leaf_add(Header h, uint32_t lblk, uint64_t pblk, bool uninit) {
  const uint32_t longest = uninit ? MAX_UNINIT_LEN : MAX_LEN;
  size_t n = h.entries(), pos = 0;
  while (pos < n && extent_leaf(h.p, pos).first <= lblk) ++pos;
  if (pos > 0) {
    Extent e = extent_leaf(h.p, pos - 1);
    if (lblk - e.first < e.len) return Error::OpNotSupported;  // inside an unwritten extent
    if (e.uninit == uninit && e.first + e.len == lblk && e.start + e.len == pblk && e.len < longest) {
      put_leaf(h.entry(pos - 1), e.first, e.len + 1, uninit, e.start);
      return {};
    }
  }
  if (pos < n) {
    Extent e = extent_leaf(h.p, pos);
    if (e.uninit == uninit && lblk + 1 == e.first && pblk + 1 == e.start && e.len < longest) {
      put_leaf(h.entry(pos), lblk, e.len + 1, uninit, pblk);
      return {};
    }
  }
  if (n >= h.max()) return Error::NoSpace;
  insert_at(h, pos);
  put_leaf(h.entry(pos), lblk, 1, uninit, pblk);
  return {};
}

}  // namespace

Result<void> Ext4Fs::grow_tree(Inode& in) {
  // The root's entries move to a new block of the same depth; the root
  // becomes an index of one entry pointing at it, a level deeper.
  Header root{in.block};
  if (root.depth() >= MAX_DEPTH) return Error::FileTooBig;
  uint64_t goal = 0;
  if (root.entries()) goal = root.depth() ? extent_index(in.block, 0).child : extent_leaf(in.block, 0).start;
  uint64_t nb = TRY(alloc_block(goal));
  auto got = cache_.get_zeroed(nb);
  if (!got.ok()) {
    (void)free_blocks(nb, 1);
    return got.error();
  }
  bcache::BlockRef b = got.release_value();
  Header child{b.mutable_data()};
  init_node(child.p, uint16_t((s_.block_size - 12) / 12), root.depth());
  __builtin_memcpy(child.entry(0), root.entry(0), 12 * root.entries());
  child.set_entries(root.entries());
  set_extent_block_csum(s_, in, child.p, s_.block_size);
  if (auto r = write_meta(b); !r.ok()) {
    (void)free_blocks(nb, 1);
    return r.error();
  }
  uint32_t first = root.entries() ? le32(root.entry(0)) : 0;
  init_node(in.block, 4, uint16_t(root.depth() + 1));
  put_index(root.entry(0), first, nb);
  root.set_entries(1);
  in.blocks512 += s_.block_size / 512;
  return {};
}

// The nodes from the root to the leaf that covers `lblk`: at each index,
// the last entry whose first block is not past lblk (the first entry if
// all are).
Result<uint32_t> Ext4Fs::extent_path(Inode& in, uint32_t lblk, ExtentPath& path) {
  TRY(parse_extent_header(in.block, sizeof in.block, -1));
  Header node{in.block};
  const uint32_t depth = node.depth();
  path.level[0] = {bcache::BlockRef(), in.block, 0};
  for (uint32_t l = 0; l < depth; ++l) {
    size_t n = node.entries();
    if (n == 0) return Error::Io;
    size_t pick = 0;
    while (pick + 1 < n && extent_index(node.p, pick + 1).first <= lblk) ++pick;
    path.level[l].pick = pick;
    uint64_t child = extent_index(node.p, pick).child;
    if (child < s_.first_data_block || child >= s_.blocks_count) return Error::Io;
    bcache::BlockRef b = TRY(cache_.get(child));
    ExtentHeader eh = TRY(parse_extent_header(b.data(), s_.block_size, int(depth - l - 1)));
    TRY(check_extent_block(s_, in, b.data(), s_.block_size, eh));
    uint8_t* p = b.mutable_data();
    path.level[l + 1] = {static_cast<bcache::BlockRef&&>(b), p, 0};
    node = Header{p};
  }
  return depth;
}

// Node `l` of the path (a block: l > 0) split in two under its parent,
// which has room: the upper half of its entries (or, for a leaf that
// `lblk` extends past its end, none) to a new node after it.
Result<void> Ext4Fs::split_node(Inode& in, ExtentPath& path, uint32_t l, uint32_t lblk) {
  Header node{path.level[l].p};
  Header parent{path.level[l - 1].p};
  size_t total = node.entries();
  size_t keep = total / 2;
  if (node.depth() == 0) {
    Extent last = extent_leaf(node.p, total - 1);
    if (lblk >= uint64_t(last.first) + last.len) keep = total;
  }
  uint64_t here = extent_index(parent.p, path.level[l - 1].pick).child;
  uint64_t nb = TRY(alloc_block(here + 1));
  auto got = cache_.get_zeroed(nb);
  if (!got.ok()) {
    (void)free_blocks(nb, 1);
    return got.error();
  }
  bcache::BlockRef nbref = got.release_value();
  Header fresh{nbref.mutable_data()};
  init_node(fresh.p, node.max(), node.depth());
  __builtin_memcpy(fresh.entry(0), node.entry(keep), 12 * (total - keep));
  fresh.set_entries(uint32_t(total - keep));
  node.set_entries(uint32_t(keep));
  uint32_t key = keep < total ? le32(fresh.entry(0)) : lblk;
  set_extent_block_csum(s_, in, fresh.p, s_.block_size);
  set_extent_block_csum(s_, in, node.p, s_.block_size);
  if (auto w = write_meta(nbref); !w.ok()) {
    (void)free_blocks(nb, 1);
    return w.error();
  }
  TRY(write_meta(path.level[l].b));
  size_t at = path.level[l - 1].pick + 1;
  insert_at(parent, at);
  put_index(parent.entry(at), key, nb);
  if (l - 1 > 0) {
    set_extent_block_csum(s_, in, parent.p, s_.block_size);
    TRY(write_meta(path.level[l - 1].b));
  }
  in.blocks512 += s_.block_size / 512;
  return {};
}

Result<void> Ext4Fs::finish_leaf(Inode& in, ExtentPath& path, uint32_t depth, uint32_t lblk) {
  // Index entries on the way that now start too late.
  for (uint32_t l = 0; l < depth; ++l) {
    uint8_t* e = Header{path.level[l].p}.entry(path.level[l].pick);
    if (lblk < le32(e)) put32(e, lblk);
    if (l > 0) {
      set_extent_block_csum(s_, in, path.level[l].p, s_.block_size);
      TRY(write_meta(path.level[l].b));
    }
  }
  if (depth > 0) {
    set_extent_block_csum(s_, in, path.level[depth].p, s_.block_size);
    TRY(write_meta(path.level[depth].b));
  }
  return {};
}

Result<void> Ext4Fs::make_room(Inode& in, ExtentPath& path, uint32_t depth, uint32_t lblk) {
  // The deepest full node whose parent has room is split; every node
  // full up to the root: the tree grows a level.
  uint32_t l = depth;
  while (l > 0 && Header{path.level[l - 1].p}.entries() >= Header{path.level[l - 1].p}.max()) --l;
  if (l == 0) return grow_tree(in);
  return split_node(in, path, l, lblk);
}

Result<void> Ext4Fs::insert_extent(Inode& in, uint32_t lblk, uint64_t pblk, bool uninit) {
  // Each round either adds the block or makes room one level (a split
  // under a parent with room, or a deeper root), then looks again.
  for (uint32_t round = 0; round < 4 * MAX_DEPTH + 4; ++round) {
    ExtentPath path;
    uint32_t depth = TRY(extent_path(in, lblk, path));
    Result<void> r = leaf_add(Header{path.level[depth].p}, lblk, pblk, uninit);
    if (r.ok()) return finish_leaf(in, path, depth, lblk);
    if (r.error() != Error::NoSpace) return r;
    TRY(make_room(in, path, depth, lblk));
  }
  return Error::Io;
}

Result<uint64_t> Ext4Fs::map_alloc(Inode& in, uint64_t lblk, bool* fresh) {
  *fresh = false;
  if (!(in.flags & INODE_EXTENTS_FL)) return Error::OpNotSupported;  // ext2/3 block maps: read-only
  if (lblk >= 0xFFFFFFFFull) return Error::FileTooBig;
  uint64_t run;
  bool unwritten;
  uint64_t p = TRY(map(in, lblk, &run, &unwritten));
  if (p) return p;
  if (unwritten) {
    // fallocate's block: written now (its old bytes never show: the caller
    // writes the whole block before the extent that says so commits).
    *fresh = true;
    return convert_unwritten(in, uint32_t(lblk));
  }
  // Near the block before it, so a file written in order is contiguous
  // (and its extents merge); a file's first block near its inode's group.
  uint64_t goal = 0;
  if (lblk > 0) {
    uint64_t prev = TRY(map(in, lblk - 1, &run));
    if (prev) goal = prev + 1;
  }
  if (!goal) goal = s_.first_data_block + uint64_t((in.ino - 1) / s_.inodes_per_group) * s_.blocks_per_group;
  uint64_t nb = TRY(alloc_block(goal));
  if (auto r = insert_extent(in, uint32_t(lblk), nb, false); !r.ok()) {
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

// Frees what the subtree under index node `node` (depth > 0) maps from
// logical block `first` on, children emptied included. Returns the
// blocks freed (data and tree).
template <typename FreeFn>
Result<uint64_t> Ext4Fs::drop_index(Inode& in, uint8_t* node, uint64_t first, FreeFn&& free_run) {
  Header h{node};
  uint64_t freed = 0;
  for (size_t i = h.entries(); i-- > 0;) {
    ExtentIndex ix = extent_index(node, i);
    if (ix.child < s_.first_data_block || ix.child >= s_.blocks_count) return Error::Io;
    // A child whose successor starts at or before `first` maps nothing past it.
    if (i + 1 < h.entries() && extent_index(node, i + 1).first <= first) break;
    bcache::BlockRef b = TRY(cache_.get(ix.child));
    ExtentHeader eh = TRY(parse_extent_header(b.data(), s_.block_size, h.depth() - 1));
    TRY(check_extent_block(s_, in, b.data(), s_.block_size, eh));
    Header child{b.mutable_data()};
    if (child.depth() == 0)
      freed += TRY(leaf_drop(child, first, free_run));
    else
      freed += TRY(drop_index(in, child.p, first, free_run));
    // An emptied leaf stays when it is the first and maps blocks before
    // `first`'s range start; an emptied index node always goes (nothing
    // could descend through it).
    if (child.entries() == 0 && (i > 0 || ix.first >= first || child.depth() > 0)) {
      b.reset();
      TRY(free_blocks(ix.child, 1));
      ++freed;
      remove_at(h, i);
    } else {
      set_extent_block_csum(s_, in, child.p, s_.block_size);
      TRY(write_meta(b));
    }
  }
  return freed;
}

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
  uint64_t freed = root.depth() == 0 ? TRY(leaf_drop(root, first, free_run)) : TRY(drop_index(in, in.block, first, free_run));
  in.blocks512 = in.blocks512 > freed * per ? in.blocks512 - freed * per : 0;
  if (root.entries() == 0) init_node(in.block, 4, 0);  // back to an empty root
  return {};
}

}  // namespace capsule::ext4
