// Ranges of a file's extent tree (fs/ext4/fs.h, docs/ext4.md "fallocate"):
// unwritten extents made for fallocate's holes (the length field past
// 32768 marks them; they read as zeros), one converted block at a time
// when written (split into up to three: unwritten before, written, 
// unwritten after; the written block joins a written extent it
// continues), and blocks punched out (extents removed, trimmed or split;
// leaves and index nodes left empty freed). Each step walks root to leaf
// (extent_path) and, when the leaf has no room for what a split needs,
// makes room (make_room) and walks again.
#include "fs/ext4/extent_node.h"
#include "fs/ext4/fs.h"

namespace capsule::ext4 {
using namespace extent;

Result<void> Ext4Fs::prealloc(Inode& in, uint64_t first, uint64_t end) {
  if (!(in.flags & INODE_EXTENTS_FL)) return Error::OpNotSupported;
  if (end > 0xFFFFFFFFull) return Error::FileTooBig;
  uint64_t goal = 0;
  for (uint64_t lblk = first; lblk < end;) {
    uint64_t run;
    bool unwritten;
    uint64_t p = TRY(map(in, lblk, &run, &unwritten));
    if (p || unwritten) {
      goal = p ? p + run : 0;
      lblk += run ? run : 1;
      continue;
    }
    if (!goal) goal = s_.first_data_block + uint64_t((in.ino - 1) / s_.inodes_per_group) * s_.blocks_per_group;
    uint64_t nb = TRY(alloc_block(goal));
    if (auto r = insert_extent(in, uint32_t(lblk), nb, true); !r.ok()) {
      (void)free_blocks(nb, 1);
      return r.error();
    }
    in.blocks512 += s_.block_size / 512;
    goal = nb + 1;
    ++lblk;
  }
  return {};
}

Result<uint64_t> Ext4Fs::convert_unwritten(Inode& in, uint32_t lblk) {
  for (uint32_t round = 0; round < 4 * MAX_DEPTH + 4; ++round) {
    ExtentPath path;
    uint32_t depth = TRY(extent_path(in, lblk, path));
    Header leaf{path.level[depth].p};
    size_t n = leaf.entries(), i = 0;
    while (i < n && !(extent_leaf(leaf.p, i).first <= lblk && lblk - extent_leaf(leaf.p, i).first < extent_leaf(leaf.p, i).len))
      ++i;
    if (i == n) return Error::Io;  // map() said unwritten: the tree changed under us
    Extent e = extent_leaf(leaf.p, i);
    if (!e.uninit) return e.start + (lblk - e.first);
    const uint64_t pblk = e.start + (lblk - e.first);
    const bool before = lblk > e.first, after = lblk + 1 < uint64_t(e.first) + e.len;
    if (!before && i > 0) {
      Extent prev = extent_leaf(leaf.p, i - 1);
      if (!prev.uninit && prev.first + prev.len == lblk && prev.start + prev.len == pblk && prev.len < MAX_LEN) {
        // Written in order: the block joins the written extent before it.
        put_leaf(leaf.entry(i - 1), prev.first, prev.len + 1, false, prev.start);
        if (after)
          put_leaf(leaf.entry(i), lblk + 1, e.len - 1, true, pblk + 1);
        else
          remove_at(leaf, i);
        TRY(finish_leaf(in, path, depth, lblk));
        return pblk;
      }
    }
    const size_t need = (before ? 1 : 0) + (after ? 1 : 0);
    if (n + need > leaf.max()) {
      TRY(make_room(in, path, depth, lblk));
      continue;
    }
    size_t at = i;
    if (before) {
      put_leaf(leaf.entry(at), e.first, lblk - e.first, true, e.start);
      insert_at(leaf, ++at);
    }
    put_leaf(leaf.entry(at), lblk, 1, false, pblk);
    if (after) {
      insert_at(leaf, ++at);
      put_leaf(leaf.entry(at), lblk + 1, e.first + e.len - lblk - 1, true, pblk + 1);
    }
    TRY(finish_leaf(in, path, depth, lblk));
    return pblk;
  }
  return Error::Io;
}

Result<void> Ext4Fs::punch_blocks(Inode& in, uint64_t first, uint64_t end) {
  if (!(in.flags & INODE_EXTENTS_FL)) return in.blocks512 ? Error::OpNotSupported : Result<void>{};
  if (end > 0xFFFFFFFFull) end = 0xFFFFFFFFull;
  const uint64_t per = s_.block_size / 512;
  auto account = [&](uint64_t blocks) { in.blocks512 = in.blocks512 > blocks * per ? in.blocks512 - blocks * per : 0; };
  auto free_run = [&](uint64_t start, uint64_t len) -> Result<void> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    if (start < s_.first_data_block || start > s_.blocks_count || len > s_.blocks_count - start) return Error::Io;
    TRY(free_blocks(start, len));
    account(len);
    return {};
  };
  uint64_t cursor = first;
  // One extent changed per step; every step moves the cursor on or frees
  // a node, so the count of steps is bounded by the tree's size.
  for (uint64_t steps = 0; cursor < end; ++steps) {
    if (steps > (uint64_t(1) << 32)) return Error::Io;
    ExtentPath path;
    uint32_t depth = TRY(extent_path(in, uint32_t(cursor), path));
    Header leaf{path.level[depth].p};
    size_t n = leaf.entries(), i = 0;
    while (i < n && uint64_t(extent_leaf(leaf.p, i).first) + extent_leaf(leaf.p, i).len <= cursor) ++i;
    if (i == n || extent_leaf(leaf.p, i).first >= end) {
      // Nothing more here: the next leaf's first block, if any is left.
      uint64_t next = UINT64_MAX;
      for (uint32_t l = depth; l-- > 0;) {
        Header h{path.level[l].p};
        if (path.level[l].pick + 1 < h.entries()) {
          next = le32(h.entry(path.level[l].pick + 1));
          break;
        }
      }
      if (next == UINT64_MAX || next >= end || next <= cursor) return {};
      cursor = next;
      continue;
    }
    Extent e = extent_leaf(leaf.p, i);
    const uint64_t e_end = uint64_t(e.first) + e.len;
    const uint64_t s = cursor > e.first ? cursor : e.first, t = end < e_end ? end : e_end;
    if (s > e.first && t < e_end) {
      // The middle of an extent: it becomes two.
      if (n >= leaf.max()) {
        TRY(make_room(in, path, depth, uint32_t(cursor)));
        continue;
      }
      TRY(free_run(e.start + (s - e.first), t - s));
      put_leaf(leaf.entry(i), e.first, uint32_t(s - e.first), e.uninit, e.start);
      insert_at(leaf, i + 1);
      put_leaf(leaf.entry(i + 1), uint32_t(t), uint32_t(e_end - t), e.uninit, e.start + (t - e.first));
    } else if (s > e.first) {  // its tail
      TRY(free_run(e.start + (s - e.first), t - s));
      put_leaf(leaf.entry(i), e.first, uint32_t(s - e.first), e.uninit, e.start);
    } else if (t < e_end) {  // its head
      TRY(free_run(e.start, t - s));
      put_leaf(leaf.entry(i), uint32_t(t), uint32_t(e_end - t), e.uninit, e.start + (t - s));
    } else {  // all of it
      TRY(free_run(e.start, e.len));
      remove_at(leaf, i);
    }
    cursor = t;
    if (leaf.entries() > 0 || depth == 0) {
      TRY(finish_leaf(in, path, depth, UINT32_MAX));  // no index entry starts earlier
      continue;
    }
    // The leaf is empty: it goes, and so does every index node above it
    // that it leaves empty (the root stays: empty, it is a leaf again).
    uint32_t l = depth;
    while (l > 0) {
      Header parent{path.level[l - 1].p};
      uint64_t child = extent_index(parent.p, path.level[l - 1].pick).child;
      path.level[l].b.reset();
      TRY(free_blocks(child, 1));
      account(1);
      remove_at(parent, path.level[l - 1].pick);
      --l;
      if (parent.entries() > 0 || l == 0) break;
    }
    if (l == 0 && Header{in.block}.entries() == 0) {
      init_node(in.block, 4, 0);
      continue;
    }
    if (l > 0) {
      set_extent_block_csum(s_, in, path.level[l].p, s_.block_size);
      TRY(write_meta(path.level[l].b));
    }
  }
  return {};
}

}  // namespace capsule::ext4
