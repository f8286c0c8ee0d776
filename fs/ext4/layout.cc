// ext4's on-disk structures, parsed and checked (fs/ext4/layout.h).
#include "fs/ext4/layout.h"

#include "lib/crc32c.h"
#include "lib/format.h"

namespace capsule::ext4 {
namespace {

template <typename... A>
Error refuse(Why& why, Error e, StringView fmt, const A&... a) {
  format_to(why.text, sizeof why.text, fmt, a...);
  return e;
}

bool power_of_two(uint64_t v) { return v && !(v & (v - 1)); }

// A timestamp: 32 signed bits of seconds, and where the inode has room the
// "extra" word: 2 epoch bits above them, 30 bits of nanoseconds.
int64_t time_ns(const uint8_t* raw, size_t sec_off, size_t extra_off, uint32_t extra_isize) {
  int64_t sec = int32_t(le32(raw + sec_off));
  uint32_t nsec = 0;
  if (extra_off + 4 <= 128 + extra_isize) {
    uint32_t extra = le32(raw + extra_off);
    sec += int64_t(extra & 3) << 32;
    nsec = extra >> 2;
    if (nsec > 999999999) nsec = 0;
  }
  // The epoch bits reach year 2446; nanoseconds in an int64 end in 2262:
  // later times are held at the last second that fits (found by fuzz.ext4:
  // signed overflow).
  constexpr int64_t LAST_SEC = INT64_MAX / 1000000000 - 1;
  if (sec > LAST_SEC) sec = LAST_SEC;
  return sec * 1000000000 + nsec;
}

}  // namespace

Result<void> parse_super(const uint8_t* raw, uint64_t device_bytes, Super& s, Why& why) {
  s = Super{};
  if (le16(raw + 0x38) != SUPER_MAGIC) return refuse(why, Error::BadFormat, "no ext2/3/4 superblock (magic)");
  uint32_t rev = le32(raw + 0x4C);
  uint32_t log_bs = le32(raw + 0x18);
  if (log_bs > 6) return refuse(why, Error::Io, "corrupted superblock: block size 2^{}", 10 + log_bs);
  s.block_size = 1024u << log_bs;
  s.incompat = rev ? le32(raw + 0x60) : 0;
  s.ro_compat = rev ? le32(raw + 0x64) : 0;
  if (uint32_t unknown = s.incompat & ~INCOMPAT_SUPPORTED) {
    return refuse(why, Error::NotSupported, "unsupported incompatible features {:#x}{}{}{}{}", unknown,
                  unknown & INCOMPAT_INLINE_DATA ? " (inline_data)" : "",
                  unknown & INCOMPAT_META_BG ? " (meta_bg)" : "", unknown & INCOMPAT_ENCRYPT ? " (encrypt)" : "",
                  unknown & INCOMPAT_CASEFOLD ? " (casefold)" : "");
  }
  s.unknown_ro_compat = s.ro_compat & ~RO_COMPAT_KNOWN;
  s.metadata_csum = s.ro_compat & RO_COMPAT_METADATA_CSUM;
  if (s.metadata_csum) {
    if (raw[0x175] != 1) return refuse(why, Error::Io, "unknown checksum type {}", raw[0x175]);
    uint32_t want = le32(raw + 0x3FC);
    uint32_t got = crc32c(~0u, raw, 0x3FC);
    if (want != got) return refuse(why, Error::Io, "superblock checksum {:#x}, expected {:#x}", got, want);
  }
  if (s.block_size > 4096)
    return refuse(why, Error::NotSupported, "block size {} (this kernel reads 1024..4096)", s.block_size);
  bool is64 = s.incompat & INCOMPAT_64BIT;
  s.blocks_count = le32(raw + 0x4) | (is64 ? uint64_t(le32(raw + 0x150)) << 32 : 0);
  s.r_blocks_count = le32(raw + 0x8) | (is64 ? uint64_t(le32(raw + 0x154)) << 32 : 0);
  s.free_blocks = le32(raw + 0xC) | (is64 ? uint64_t(le32(raw + 0x158)) << 32 : 0);
  s.inodes_count = le32(raw + 0x0);
  s.free_inodes = le32(raw + 0x10);
  s.first_data_block = le32(raw + 0x14);
  s.blocks_per_group = le32(raw + 0x20);
  s.inodes_per_group = le32(raw + 0x28);
  s.inode_size = rev ? le16(raw + 0x58) : 128;
  s.desc_size = is64 ? le16(raw + 0xFE) : 32;
  s.compat = le32(raw + 0x5C);
  s.state = le16(raw + 0x3A);
  s.want_extra_isize = rev ? le16(raw + 0x15E) : 0;
  s.first_ino = rev ? le32(raw + 0x54) : 11;
  if (s.first_ino <= ROOT_INO) s.first_ino = 11;
  s.reserved_gdt = rev ? le16(raw + 0xCE) : 0;
  s.journal_ino = rev ? le32(raw + 0xE0) : 0;
  s.last_orphan = rev ? le32(raw + 0xE8) : 0;
  for (int i = 0; i < 16; ++i) s.uuid[i] = raw[0x68 + i];
  for (int i = 0; i < 4; ++i) s.hash_seed[i] = le32(raw + 0xEC + 4 * i);
  s.hash_unsigned = rev && (le32(raw + 0x160) & 0x2);
  if (s.blocks_per_group == 0 || s.blocks_per_group > 8 * s.block_size || s.inodes_per_group == 0 ||
      s.inodes_per_group > 8 * s.block_size)
    return refuse(why, Error::Io, "corrupted superblock: {} blocks, {} inodes per group", s.blocks_per_group,
                  s.inodes_per_group);
  if (s.inode_size < 128 || s.inode_size > s.block_size || !power_of_two(s.inode_size))
    return refuse(why, Error::Io, "corrupted superblock: inode size {}", s.inode_size);
  if (s.desc_size < 32 || s.desc_size > 1024 || !power_of_two(s.desc_size) || (is64 && s.desc_size < 64))
    return refuse(why, Error::Io, "corrupted superblock: group descriptor size {}", s.desc_size);
  if (s.first_data_block != (s.block_size == 1024 ? 1u : 0u) || s.blocks_count <= s.first_data_block)
    return refuse(why, Error::Io, "corrupted superblock: first data block {} of {}", s.first_data_block,
                  s.blocks_count);
  uint64_t groups = (s.blocks_count - s.first_data_block + s.blocks_per_group - 1) / s.blocks_per_group;
  if (groups == 0 || groups > 0xffffffffull || uint64_t(s.inodes_per_group) * groups < s.inodes_count ||
      s.inodes_count < ROOT_INO)
    return refuse(why, Error::Io, "corrupted superblock: {} inodes in {} groups", s.inodes_count, groups);
  s.groups = uint32_t(groups);
  if (device_bytes && s.blocks_count > device_bytes / s.block_size)
    return refuse(why, Error::Io, "the file system ({} blocks of {}) is larger than the disk ({} bytes)",
                  s.blocks_count, s.block_size, device_bytes);
  if (s.metadata_csum)
    s.csum_seed = (s.incompat & INCOMPAT_CSUM_SEED) ? le32(raw + 0x270) : crc32c(~0u, s.uuid, 16);
  return {};
}

uint32_t group_desc_csum(const Super& s, uint32_t group, const uint8_t* raw) {
  // crc32c over the group number and the descriptor with its checksum
  // field as zeros; the low 16 bits are stored.
  uint8_t le_group[4];
  put32(le_group, group);
  const uint8_t zero[2] = {};
  uint32_t c = crc32c(s.csum_seed, le_group, 4);
  c = crc32c(c, raw, 0x1E);
  c = crc32c(c, zero, 2);
  return crc32c(c, raw + 0x20, s.desc_size - 0x20);
}

Result<void> parse_group_desc(const Super& s, uint32_t group, const uint8_t* raw, GroupDesc& g) {
  bool is64 = s.desc_size >= 64;
  g.block_bitmap = le32(raw + 0x0) | (is64 ? uint64_t(le32(raw + 0x20)) << 32 : 0);
  g.inode_bitmap = le32(raw + 0x4) | (is64 ? uint64_t(le32(raw + 0x24)) << 32 : 0);
  g.inode_table = le32(raw + 0x8) | (is64 ? uint64_t(le32(raw + 0x28)) << 32 : 0);
  g.free_blocks = le16(raw + 0xC) | (is64 ? uint32_t(le16(raw + 0x2C)) << 16 : 0);
  g.free_inodes = le16(raw + 0xE) | (is64 ? uint32_t(le16(raw + 0x2E)) << 16 : 0);
  g.used_dirs = le16(raw + 0x10) | (is64 ? uint32_t(le16(raw + 0x30)) << 16 : 0);
  g.itable_unused = le16(raw + 0x1C) | (is64 ? uint32_t(le16(raw + 0x32)) << 16 : 0);
  g.flags = le16(raw + 0x12);
  if (s.metadata_csum && (group_desc_csum(s, group, raw) & 0xFFFF) != le16(raw + 0x1E)) return Error::Io;
  uint64_t table_blocks = (uint64_t(s.inodes_per_group) * s.inode_size + s.block_size - 1) / s.block_size;
  if (g.inode_table < s.first_data_block || g.inode_table >= s.blocks_count ||
      table_blocks > s.blocks_count - g.inode_table)
    return Error::Io;
  return {};
}

uint32_t inode_seed(const Super& s, uint32_t ino, uint32_t generation) {
  uint8_t le[8];
  put32(le, ino);
  put32(le + 4, generation);
  return crc32c(s.csum_seed, le, 8);
}

uint32_t inode_csum(const Super& s, uint32_t seed, const uint8_t* raw, uint32_t extra_isize) {
  const uint8_t zero[2] = {};
  uint32_t c = crc32c(seed, raw, 0x7C);  // the checksum fields count as zeros
  c = crc32c(c, zero, 2);
  c = crc32c(c, raw + 0x7E, 128 - 0x7E);
  if (s.inode_size > 128) {
    c = crc32c(c, raw + 128, 0x82 - 128);
    size_t off = 0x82;
    if (extra_isize >= 4) {
      c = crc32c(c, zero, 2);
      off += 2;
    }
    c = crc32c(c, raw + off, s.inode_size - off);
  }
  return c;
}

Result<void> parse_inode(const Super& s, uint32_t ino, const uint8_t* raw, Inode& in) {
  in = Inode{};
  in.ino = ino;
  uint32_t extra_isize = 0;
  if (s.inode_size > 128) {
    extra_isize = le16(raw + 0x80);
    if (extra_isize > s.inode_size - 128 || (extra_isize & 3)) return Error::Io;
  }
  if (s.metadata_csum) {
    uint32_t seed = inode_seed(s, ino, le32(raw + 0x64));
    bool has_hi = s.inode_size > 128 && extra_isize >= 4;
    uint32_t c = inode_csum(s, seed, raw, extra_isize);
    uint32_t want = le16(raw + 0x7C) | (has_hi ? uint32_t(le16(raw + 0x82)) << 16 : 0);
    if ((has_hi ? c : (c & 0xFFFF)) != want) return Error::Io;
    in.csum_seed = seed;
  }
  in.mode = le16(raw + 0x0);
  in.uid = le16(raw + 0x2) | uint32_t(le16(raw + 0x78)) << 16;
  in.gid = le16(raw + 0x18) | uint32_t(le16(raw + 0x7A)) << 16;
  in.size = le32(raw + 0x4) | uint64_t(le32(raw + 0x6C)) << 32;
  in.links = le16(raw + 0x1A);
  in.flags = le32(raw + 0x20);
  in.generation = le32(raw + 0x64);
  in.dtime = le32(raw + 0x14);
  in.extra_isize = extra_isize;
  in.file_acl = le32(raw + 0x68) | uint64_t(le16(raw + 0x76)) << 32;
  uint64_t blocks = le32(raw + 0x1C);
  if (s.ro_compat & RO_COMPAT_HUGE_FILE) {
    blocks |= uint64_t(le16(raw + 0x74)) << 32;
    if (in.flags & INODE_HUGE_FILE_FL) blocks *= s.block_size / 512;  // counted in file system blocks
  }
  in.blocks512 = blocks;
  in.ctime_ns = time_ns(raw, 0xC, 0x84, extra_isize);
  in.mtime_ns = time_ns(raw, 0x10, 0x88, extra_isize);
  in.atime_ns = time_ns(raw, 0x8, 0x8C, extra_isize);
  for (int i = 0; i < 60; ++i) in.block[i] = raw[0x28 + i];
  if (in.size > uint64_t(INT64_MAX)) return Error::Io;
  return {};
}

Result<ExtentHeader> parse_extent_header(const uint8_t* node, size_t len, int expect_depth) {
  if (len < 12 || le16(node) != 0xF30A) return Error::Io;
  ExtentHeader h{le16(node + 2), le16(node + 4), le16(node + 6)};
  if (h.max > (len - 12) / 12 || h.entries > h.max || h.depth > 5) return Error::Io;
  if (expect_depth >= 0 && h.depth != uint16_t(expect_depth)) return Error::Io;
  return h;
}

ExtentIndex extent_index(const uint8_t* node, size_t i) {
  const uint8_t* e = node + 12 + 12 * i;
  return {le32(e), le32(e + 4) | uint64_t(le16(e + 8)) << 32};
}

Extent extent_leaf(const uint8_t* node, size_t i) {
  const uint8_t* e = node + 12 + 12 * i;
  uint32_t len = le16(e + 4);
  bool uninit = len > 32768;
  return {le32(e), uninit ? len - 32768 : len, uninit, le32(e + 8) | uint64_t(le16(e + 6)) << 32};
}

Result<void> check_extent_block(const Super& s, const Inode& in, const uint8_t* node, size_t len,
                                const ExtentHeader& h) {
  if (!s.metadata_csum) return {};
  size_t tail = 12 + 12 * size_t(h.max);  // struct ext4_extent_tail follows the entries
  if (tail + 4 > len) return Error::Io;
  if (crc32c(in.csum_seed, node, tail) != le32(node + tail)) return Error::Io;
  return {};
}

Result<void> check_dir_block(const Super& s, const Inode& in, const uint8_t* block, size_t len) {
  if (!s.metadata_csum || len < 12) return {};
  const uint8_t* t = block + len - 12;  // inode 0, rec_len 12, name_len 0, type 0xDE, crc32c
  if (le32(t) != 0 || le16(t + 4) != 12 || t[6] != 0 || t[7] != 0xDE) return {};
  if (crc32c(in.csum_seed, block, len - 12) != le32(t + 8)) return Error::Io;
  return {};
}

Result<DirEntry> parse_dir_entry(const uint8_t* block, size_t len, size_t off) {
  if (off + 8 > len) return Error::Io;
  DirEntry d{le32(block + off), le16(block + off + 4), block[off + 6], block[off + 7],
             reinterpret_cast<const char*>(block + off + 8)};
  if (d.rec_len < 8 || (d.rec_len & 3) || d.rec_len > len - off || size_t(d.name_len) + 8 > d.rec_len)
    return Error::Io;
  return d;
}

}  // namespace capsule::ext4
