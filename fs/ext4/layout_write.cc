// ext4's on-disk structures, built for writing (fs/ext4/layout.h, the
// "writing" part). Offsets from the kernel.org ext4 disk layout
// documentation, as the parsers in layout.cc.
#include "fs/ext4/layout.h"

#include "lib/crc32c.h"

namespace capsule::ext4 {
namespace {

// A timestamp as ext4 keeps it: the low 32 bits of the seconds in the base
// field; where the inode has room, the extra word holds 2 epoch bits
// ((seconds - (int32)seconds) >> 32) and the nanoseconds above them.
void put_time(uint8_t* raw, size_t sec_off, size_t extra_off, uint32_t extra_isize, int64_t ns) {
  int64_t sec = ns / 1000000000, nsec = ns % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    --sec;
  }
  put32(raw + sec_off, uint32_t(sec));
  if (extra_off + 4 <= 128 + extra_isize) {
    uint32_t epoch = uint32_t(uint64_t(sec - int64_t(int32_t(uint32_t(sec)))) >> 32) & 3;
    put32(raw + extra_off, epoch | uint32_t(nsec) << 2);
  }
}

}  // namespace

void encode_inode(const Super& s, const Inode& in, uint8_t* raw) {
  put16(raw + 0x0, in.mode);
  put16(raw + 0x2, in.uid);
  put32(raw + 0x4, uint32_t(in.size));
  put32(raw + 0x14, in.dtime);
  put16(raw + 0x18, in.gid);
  put16(raw + 0x1A, in.links);
  uint64_t blocks = in.blocks512;
  uint32_t flags = in.flags & ~INODE_HUGE_FILE_FL;  // counted in 512-byte units (files under 2 TiB... 128 TiB)
  put32(raw + 0x1C, uint32_t(blocks));
  if (s.ro_compat & RO_COMPAT_HUGE_FILE) put16(raw + 0x74, uint32_t(blocks >> 32));
  put32(raw + 0x20, flags);
  for (int i = 0; i < 60; ++i) raw[0x28 + i] = in.block[i];
  put32(raw + 0x64, in.generation);
  put32(raw + 0x6C, uint32_t(in.size >> 32));
  put16(raw + 0x78, in.uid >> 16);
  put16(raw + 0x7A, in.gid >> 16);
  put_time(raw, 0xC, 0x84, in.extra_isize, in.ctime_ns);
  put_time(raw, 0x10, 0x88, in.extra_isize, in.mtime_ns);
  put_time(raw, 0x8, 0x8C, in.extra_isize, in.atime_ns);
  if (s.metadata_csum) {
    uint32_t c = inode_csum(s, inode_seed(s, in.ino, in.generation), raw, in.extra_isize);
    put16(raw + 0x7C, c);
    if (s.inode_size > 128 && in.extra_isize >= 4) put16(raw + 0x82, c >> 16);
  }
}

void init_inode(const Super& s, int64_t now_ns, uint8_t* raw) {
  __builtin_memset(raw, 0, s.inode_size);
  if (s.inode_size <= 128) return;
  uint32_t extra = s.want_extra_isize ? s.want_extra_isize : 32;
  if (extra > s.inode_size - 128 || (extra & 3)) extra = (s.inode_size - 128) < 32 ? 4 : 32;
  put16(raw + 0x80, extra);
  put_time(raw, 0x90, 0x94, extra, now_ns);  // i_crtime
}

uint32_t bitmap_csum(const Super& s, const uint8_t* bitmap, size_t bytes) { return crc32c(s.csum_seed, bitmap, bytes); }

void encode_group_desc(const Super& s, uint32_t group, const GroupDesc& g, const uint32_t* block_bitmap_csum,
                       const uint32_t* inode_bitmap_csum, uint8_t* raw) {
  bool is64 = s.desc_size >= 64;
  put16(raw + 0xC, g.free_blocks);
  put16(raw + 0xE, g.free_inodes);
  put16(raw + 0x10, g.used_dirs);
  put16(raw + 0x12, g.flags);
  put16(raw + 0x1C, g.itable_unused);
  if (is64) {
    put16(raw + 0x2C, g.free_blocks >> 16);
    put16(raw + 0x2E, g.free_inodes >> 16);
    put16(raw + 0x30, g.used_dirs >> 16);
    put16(raw + 0x32, g.itable_unused >> 16);
  }
  if (!s.metadata_csum) return;
  if (block_bitmap_csum) {
    put16(raw + 0x18, *block_bitmap_csum);
    if (is64) put16(raw + 0x38, *block_bitmap_csum >> 16);
  }
  if (inode_bitmap_csum) {
    put16(raw + 0x1A, *inode_bitmap_csum);
    if (is64) put16(raw + 0x3A, *inode_bitmap_csum >> 16);
  }
  put16(raw + 0x1E, group_desc_csum(s, group, raw));
}

void encode_super(const Super& s, int64_t now_ns, uint8_t* raw) {
  put32(raw + 0xC, uint32_t(s.free_blocks));
  if (s.incompat & INCOMPAT_64BIT) put32(raw + 0x158, uint32_t(s.free_blocks >> 32));
  put32(raw + 0x10, s.free_inodes);
  put16(raw + 0x3A, s.state);
  put32(raw + 0x60, s.incompat);
  put32(raw + 0xE8, s.last_orphan);
  put32(raw + 0x30, uint32_t(now_ns / 1000000000));  // s_wtime
  if (s.metadata_csum) put32(raw + 0x3FC, crc32c(~0u, raw, 0x3FC));
}

void set_extent_block_csum(const Super& s, const Inode& in, uint8_t* node, size_t len) {
  if (!s.metadata_csum) return;
  size_t tail = 12 + 12 * size_t(le16(node + 4));
  if (tail + 4 > len) return;
  put32(node + tail, crc32c(in.csum_seed, node, tail));
}

bool has_dir_tail(const uint8_t* block, size_t len) {
  if (len < 12) return false;
  const uint8_t* t = block + len - 12;
  return le32(t) == 0 && le16(t + 4) == 12 && t[6] == 0 && t[7] == 0xDE;
}

void set_dir_block_csum(const Super& s, const Inode& in, uint8_t* block, size_t len) {
  if (!s.metadata_csum || !has_dir_tail(block, len)) return;
  put32(block + len - 4, crc32c(in.csum_seed, block, len - 12));
}

}  // namespace capsule::ext4
