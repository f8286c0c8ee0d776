// Blocks and inode numbers from the group bitmaps (fs/ext4/fs.h, docs/ext4.md
// "Writing"): each allocation sets its bit, writes the bitmap block, and
// keeps the group descriptor's free counts (and bitmap checksums) right; the
// superblock's totals follow in memory and reach the disk with write_super
// (e2fsck recomputes them from the descriptors, as Linux leaves them too).
#include "fs/ext4/fs.h"

#include <new>

#include "lib/log.h"

namespace capsule::ext4 {
namespace {

bool bit(const uint8_t* map, uint64_t i) { return map[i / 8] >> (i % 8) & 1; }
void set_bit(uint8_t* map, uint64_t i) { map[i / 8] |= uint8_t(1u << (i % 8)); }
void clear_bit(uint8_t* map, uint64_t i) { map[i / 8] &= uint8_t(~(1u << (i % 8))); }

// The first clear bit in [from, to), or `to`. Whole bytes of ones skipped.
uint64_t find_clear(const uint8_t* map, uint64_t from, uint64_t to) {
  uint64_t i = from;
  while (i < to) {
    if (i % 8 == 0 && map[i / 8] == 0xff) {
      i += 8;
      continue;
    }
    if (!bit(map, i)) return i;
    ++i;
  }
  return to;
}

// Whether group g holds a copy of the superblock and descriptors
// (sparse_super: groups 0, 1 and the powers of 3, 5 and 7).
bool has_super_copy(const Super& s, uint32_t g) {
  if (g <= 1 || !(s.ro_compat & RO_COMPAT_SPARSE_SUPER)) return true;
  for (uint32_t base : {3u, 5u, 7u}) {
    uint64_t p = base;
    while (p < g) p *= base;
    if (p == g) return true;
  }
  return false;
}

}  // namespace

// A BLOCK_UNINIT group's bitmap, as mke2fs would have written it: its
// superblock copy, descriptors and reserved descriptor blocks, every
// group's bitmaps and inode table that fall inside it (flex_bg puts them
// anywhere), and the bits past the group's end set. False when the result
// does not agree with the descriptor's free count: the group is not used.
bool Ext4Fs::build_block_bitmap(uint32_t g, uint8_t* map) {
  if (s_.compat & COMPAT_SPARSE_SUPER2) return false;  // backups elsewhere: not worked out here
  const uint64_t base = s_.first_data_block + uint64_t(g) * s_.blocks_per_group;
  const uint64_t data_blocks = s_.blocks_count - s_.first_data_block;
  const uint64_t nbits = data_blocks - uint64_t(g) * s_.blocks_per_group < s_.blocks_per_group
                             ? data_blocks - uint64_t(g) * s_.blocks_per_group
                             : s_.blocks_per_group;
  __builtin_memset(map, 0, s_.block_size);
  for (uint64_t i = nbits; i < uint64_t(s_.block_size) * 8; ++i) set_bit(map, i);
  auto mark = [&](uint64_t block, uint64_t count) {
    for (uint64_t k = 0; k < count; ++k)
      if (block + k >= base && block + k < base + nbits) set_bit(map, block + k - base);
  };
  if (has_super_copy(s_, g)) {
    uint64_t gdt = (uint64_t(s_.groups) * s_.desc_size + s_.block_size - 1) / s_.block_size;
    mark(base, 1 + gdt + s_.reserved_gdt);
  }
  const uint64_t table = (uint64_t(s_.inodes_per_group) * s_.inode_size + s_.block_size - 1) / s_.block_size;
  for (uint32_t h = 0; h < s_.groups; ++h) {
    mark(groups_[h].block_bitmap, 1);
    mark(groups_[h].inode_bitmap, 1);
    mark(groups_[h].inode_table, table);
  }
  uint64_t used = 0;
  for (uint64_t i = 0; i < nbits; ++i) used += bit(map, i);
  if (nbits - used != groups_[g].free_blocks) {
    log_warn("ext4: group {}: an uninitialized block bitmap would have {} free blocks, its descriptor says {}; "
             "not used", g, nbits - used, groups_[g].free_blocks);
    return false;
  }
  return true;
}

Result<void> Ext4Fs::write_group(uint32_t g, const uint8_t* block_bitmap, const uint8_t* inode_bitmap) {
  uint64_t per_block = s_.block_size / s_.desc_size;
  bcache::BlockRef b = TRY(cache_.get(s_.first_data_block + 1 + g / per_block));
  uint32_t bc = block_bitmap ? bitmap_csum(s_, block_bitmap, s_.blocks_per_group / 8) : 0;
  uint32_t ic = inode_bitmap ? bitmap_csum(s_, inode_bitmap, s_.inodes_per_group / 8) : 0;
  encode_group_desc(s_, g, groups_[g], block_bitmap ? &bc : nullptr, inode_bitmap ? &ic : nullptr,
                    b.mutable_data() + (g % per_block) * s_.desc_size);
  return write_meta(b);
}

Result<void> Ext4Fs::write_super() {
  bcache::BlockRef b = TRY(cache_.get(SUPER_OFFSET / s_.block_size));
  encode_super(s_, vfs::fs_now_ns(), b.mutable_data() + SUPER_OFFSET % s_.block_size);
  return write_meta(b);
}

Result<uint64_t> Ext4Fs::alloc_block(uint64_t goal) {
  const uint64_t data_blocks = s_.blocks_count - s_.first_data_block;
  if (goal < s_.first_data_block || goal >= s_.blocks_count) goal = s_.first_data_block;
  const uint32_t g0 = uint32_t((goal - s_.first_data_block) / s_.blocks_per_group);
  for (uint32_t k = 0; k < s_.groups; ++k) {
    uint32_t g = (g0 + k) % s_.groups;
    GroupDesc& gd = groups_[g];
    if (gd.free_blocks == 0 || gd.unusable) continue;
    uint64_t base = uint64_t(g) * s_.blocks_per_group;
    uint64_t nbits = data_blocks - base < s_.blocks_per_group ? data_blocks - base : s_.blocks_per_group;
    bcache::BlockRef b;
    if (gd.flags & BG_BLOCK_UNINIT) {
      // mke2fs left this group's bitmap unwritten (flex_bg, lazy init):
      // built now, from where every group's metadata sits.
      b = TRY(cache_.get_zeroed(gd.block_bitmap));
      if (!build_block_bitmap(g, b.mutable_data())) {
        gd.unusable = true;
        continue;
      }
      gd.flags &= uint16_t(~BG_BLOCK_UNINIT);
    } else {
      b = TRY(cache_.get(gd.block_bitmap));
    }
    uint8_t* map = b.mutable_data();
    uint64_t from = (k == 0) ? (goal - s_.first_data_block) % s_.blocks_per_group : 0;
    if (from >= nbits) from = 0;
    uint64_t i = find_clear(map, from, nbits);
    if (i == nbits) i = find_clear(map, 0, from);
    if (i >= nbits) {
      // The descriptor counted free blocks its bitmap does not have.
      log_warn("ext4: group {} counts {} free blocks, its bitmap none", g, gd.free_blocks);
      continue;
    }
    set_bit(map, i);
    TRY(write_meta(b));
    --gd.free_blocks;
    if (s_.free_blocks) --s_.free_blocks;
    counts_changed_ = true;
    TRY(write_group(g, map, nullptr));
    return s_.first_data_block + base + i;
  }
  // Blocks the running transaction freed come back before ENOSPC: the
  // bitmaps take them now (a crash before the commit could then show data
  // written there in the file that had them: only on a full volume).
  if (pending_n_) {
    TRY(apply_frees_locked());
    return alloc_block(goal);
  }
  return Error::NoSpace;
}

Result<void> Ext4Fs::free_blocks(uint64_t start, uint64_t count) {
  if (!count) return {};
  if (start < s_.first_data_block || start >= s_.blocks_count || count > s_.blocks_count - start) return Error::Io;
  if (!journal_) return free_now(start, count);  // in place as they come: nothing to wait for
  if (pending_n_ && pending_[pending_n_ - 1].start + pending_[pending_n_ - 1].count == start) {
    pending_[pending_n_ - 1].count += count;  // the next piece of the same run
  } else {
    if (pending_n_ == pending_cap_) {
      size_t cap = pending_cap_ ? 2 * pending_cap_ : 16;
      auto* grown = new (std::nothrow) Freed[cap];
      if (!grown) return free_now(start, count);  // no memory to wait: freed at once, as before batching
      for (size_t i = 0; i < pending_n_; ++i) grown[i] = pending_[i];
      delete[] pending_;
      pending_ = grown;
      pending_cap_ = cap;
    }
    pending_[pending_n_++] = {start, count};
  }
  pending_blocks_ += count;
  return {};
}

Result<void> Ext4Fs::apply_frees_locked() {
  Result<void> r;
  for (size_t i = 0; i < pending_n_; ++i)
    if (auto f = free_now(pending_[i].start, pending_[i].count); !f.ok() && r.ok()) r = f;
  pending_n_ = 0;
  pending_blocks_ = 0;
  return r;
}

Result<void> Ext4Fs::free_now(uint64_t start, uint64_t count) {
  while (count) {
    if (start < s_.first_data_block || start >= s_.blocks_count) return Error::Io;
    uint64_t rel = start - s_.first_data_block;
    uint32_t g = uint32_t(rel / s_.blocks_per_group);
    uint64_t i = rel % s_.blocks_per_group;
    uint64_t n = s_.blocks_per_group - i < count ? s_.blocks_per_group - i : count;
    GroupDesc& gd = groups_[g];
    bcache::BlockRef b = TRY(cache_.get(gd.block_bitmap));
    uint8_t* map = b.mutable_data();
    uint64_t freed = 0;
    for (uint64_t k = 0; k < n; ++k) {
      if (!bit(map, i + k)) continue;  // already free: a damaged tree; never count it twice
      clear_bit(map, i + k);
      ++freed;
    }
    TRY(write_meta(b));
    if (freed) {
      note_freed(start, n);
      freed_in_txn_ = true;
    }
    gd.free_blocks += uint32_t(freed);
    s_.free_blocks += freed;
    counts_changed_ = true;
    TRY(write_group(g, map, nullptr));
    start += n;
    count -= n;
  }
  return {};
}

void Ext4Fs::note_freed(uint64_t start, uint64_t count) {
  if (no_discard_ || !writable_) return;
  if (freed_n_ && freed_[freed_n_ - 1].start + freed_[freed_n_ - 1].count == start) {
    freed_[freed_n_ - 1].count += count;  // the next piece of the same run
    return;
  }
  // Past MAX_FREED runs in one change (a file of thousands of extents):
  // the rest is not given back; the host's image keeps that space until
  // it is written again. Never a correctness matter.
  if (freed_n_ == MAX_FREED) return;
  freed_[freed_n_++] = {start, count};
}

// After the commit, with the meta lock still held (so nothing allocates
// meanwhile): each noted run, cut to the blocks its group's bitmap still
// says are free (the same change may have taken some again), to the
// device as discards of whole blocks.
void Ext4Fs::discard_freed() {
  if (no_discard_ || !freed_n_) return;
  const uint64_t per_block = s_.block_size / 512;
  for (size_t f = 0; f < freed_n_ && !no_discard_; ++f) {
    uint64_t start = freed_[f].start, count = freed_[f].count;
    while (count && !no_discard_) {
      if (start < s_.first_data_block || start >= s_.blocks_count) break;
      const uint64_t rel = start - s_.first_data_block;
      const uint32_t g = uint32_t(rel / s_.blocks_per_group);
      const uint64_t i = rel % s_.blocks_per_group;
      const uint64_t n = s_.blocks_per_group - i < count ? s_.blocks_per_group - i : count;
      auto b = cache_.get(groups_[g].block_bitmap);
      if (!b.ok()) break;
      const uint8_t* map = b.value().data();
      for (uint64_t k = 0; k < n;) {
        if (bit(map, i + k)) {
          ++k;
          continue;
        }
        uint64_t run = 1;
        while (k + run < n && !bit(map, i + k + run)) ++run;
        auto r = io_.discard((start + k) * per_block, run * per_block);
        if (!r.ok()) {
          if (r.error() != Error::OpNotSupported)
            log_warn("ext4: a discard of {} blocks failed ({}): no more discards on this volume", run,
                     error_name(r.error()));
          no_discard_ = true;
          break;
        }
        discarded_ += run;
        k += run;
      }
      start += n;
      count -= n;
    }
  }
  freed_n_ = 0;
}

Result<uint32_t> Ext4Fs::alloc_ino(uint32_t near_group, bool dir) {
  const uint32_t ipg = s_.inodes_per_group;
  for (uint32_t k = 0; k < s_.groups; ++k) {
    uint32_t g = (near_group + k) % s_.groups;
    GroupDesc& gd = groups_[g];
    if (gd.free_inodes == 0) continue;
    bcache::BlockRef b;
    if (gd.flags & BG_INODE_UNINIT) {
      // Never used: its bitmap was not written. All clear, the padding
      // past inodes_per_group set, as mke2fs would have made it.
      b = TRY(cache_.get_zeroed(gd.inode_bitmap));
      for (uint64_t i = ipg; i < uint64_t(s_.block_size) * 8; ++i) set_bit(b.mutable_data(), i);
      gd.flags &= uint16_t(~BG_INODE_UNINIT);
    } else {
      b = TRY(cache_.get(gd.inode_bitmap));
    }
    uint8_t* map = b.mutable_data();
    uint64_t first = (g == 0) ? s_.first_ino - 1 : 0;  // the reserved inodes
    uint64_t i = find_clear(map, first, ipg);
    if (i >= ipg) continue;
    uint64_t ino = uint64_t(g) * ipg + i + 1;
    if (ino > s_.inodes_count) continue;
    set_bit(map, i);
    TRY(write_meta(b));
    --gd.free_inodes;
    if (s_.free_inodes) --s_.free_inodes;
    counts_changed_ = true;
    if (dir) ++gd.used_dirs;
    // bg_itable_unused: the inodes at the table's end never used.
    if (gd.itable_unused && i >= ipg - gd.itable_unused) gd.itable_unused = uint32_t(ipg - i - 1);
    TRY(write_group(g, nullptr, map));
    return uint32_t(ino);
  }
  return Error::NoSpace;
}

Result<void> Ext4Fs::free_ino(uint32_t ino, bool dir) {
  if (ino < 1 || ino > s_.inodes_count) return Error::Io;
  uint32_t g = (ino - 1) / s_.inodes_per_group;
  uint64_t i = (ino - 1) % s_.inodes_per_group;
  GroupDesc& gd = groups_[g];
  bcache::BlockRef b = TRY(cache_.get(gd.inode_bitmap));
  uint8_t* map = b.mutable_data();
  if (!bit(map, i)) return {};  // already free
  clear_bit(map, i);
  TRY(write_meta(b));
  ++gd.free_inodes;
  ++s_.free_inodes;
  counts_changed_ = true;
  if (dir && gd.used_dirs) --gd.used_dirs;
  return write_group(g, nullptr, map);
}

}  // namespace capsule::ext4
