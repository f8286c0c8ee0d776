#pragma once
// ext2/ext4's on-disk structures, parsed and checked (docs/ext4.md). Pure
// functions over bytes: no I/O, so the host tests and the fuzzer run them
// directly. Field offsets are from the ext4 disk layout documentation
// (kernel.org, "ext4 Data Structures and Algorithms"); everything on disk
// is little-endian.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::ext4 {

constexpr uint16_t SUPER_MAGIC = 0xEF53;
constexpr size_t SUPER_OFFSET = 1024, SUPER_SIZE = 1024;
constexpr uint32_t ROOT_INO = 2;

// Feature bits (s_feature_incompat / s_feature_ro_compat).
constexpr uint32_t INCOMPAT_FILETYPE = 0x2, INCOMPAT_RECOVER = 0x4, INCOMPAT_JOURNAL_DEV = 0x8,
                   INCOMPAT_META_BG = 0x10, INCOMPAT_EXTENTS = 0x40, INCOMPAT_64BIT = 0x80,
                   INCOMPAT_MMP = 0x100, INCOMPAT_FLEX_BG = 0x200, INCOMPAT_EA_INODE = 0x400,
                   INCOMPAT_DIRDATA = 0x1000, INCOMPAT_CSUM_SEED = 0x2000, INCOMPAT_LARGEDIR = 0x4000,
                   INCOMPAT_INLINE_DATA = 0x8000, INCOMPAT_ENCRYPT = 0x10000, INCOMPAT_CASEFOLD = 0x20000;
// What this driver reads. RECOVER (a journal to replay) is accepted read-only
// with a warning; the rest is refused (docs/ext4.md).
constexpr uint32_t INCOMPAT_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS | INCOMPAT_64BIT |
                                        INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE |
                                        INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR;
constexpr uint32_t RO_COMPAT_SPARSE_SUPER = 0x1, RO_COMPAT_LARGE_FILE = 0x2, RO_COMPAT_BTREE_DIR = 0x4,
                   RO_COMPAT_HUGE_FILE = 0x8, RO_COMPAT_GDT_CSUM = 0x10, RO_COMPAT_DIR_NLINK = 0x20,
                   RO_COMPAT_EXTRA_ISIZE = 0x40, RO_COMPAT_QUOTA = 0x100, RO_COMPAT_BIGALLOC = 0x200,
                   RO_COMPAT_METADATA_CSUM = 0x400, RO_COMPAT_READONLY = 0x1000, RO_COMPAT_PROJECT = 0x2000,
                   RO_COMPAT_ORPHAN_PRESENT = 0x10000;
constexpr uint32_t RO_COMPAT_KNOWN = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR |
                                     RO_COMPAT_HUGE_FILE | RO_COMPAT_GDT_CSUM | RO_COMPAT_DIR_NLINK |
                                     RO_COMPAT_EXTRA_ISIZE | RO_COMPAT_QUOTA | RO_COMPAT_METADATA_CSUM |
                                     RO_COMPAT_READONLY | RO_COMPAT_PROJECT | RO_COMPAT_ORPHAN_PRESENT;

// Inode flags (i_flags). INDEX: a directory with an htree index.
constexpr uint32_t INODE_INDEX_FL = 0x1000, INODE_HUGE_FILE_FL = 0x40000, INODE_EXTENTS_FL = 0x80000, INODE_INLINE_DATA_FL = 0x10000000;

inline uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
inline void put16(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, v);
  put16(p + 2, v >> 16);
}

// Group descriptor flags (bg_flags): lazily initialized bitmaps and table.
constexpr uint16_t BG_INODE_UNINIT = 0x1, BG_BLOCK_UNINIT = 0x2, BG_INODE_ZEROED = 0x4;
// Superblock s_state bits.
constexpr uint16_t STATE_VALID = 0x1, STATE_ERROR = 0x2;
// s_feature_compat bits that matter to a writer.
constexpr uint32_t COMPAT_HAS_JOURNAL = 0x4, COMPAT_DIR_INDEX = 0x20, COMPAT_SPARSE_SUPER2 = 0x200;

// Why a mount was refused, for the kernel's message.
struct Why {
  char text[160] = {};
};

struct Super {
  uint32_t block_size = 0;
  uint64_t blocks_count = 0, r_blocks_count = 0, free_blocks = 0;
  uint32_t inodes_count = 0, free_inodes = 0;
  uint32_t first_data_block = 0, blocks_per_group = 0, inodes_per_group = 0;
  uint32_t inode_size = 0, desc_size = 0, groups = 0;
  uint32_t incompat = 0, ro_compat = 0;
  bool metadata_csum = false;
  uint32_t csum_seed = 0;  // crc32c(~0, uuid), or s_checksum_seed
  uint8_t uuid[16] = {};
  // Features this driver does not know of: mount read-only only.
  uint32_t unknown_ro_compat = 0;
  uint32_t compat = 0;
  uint16_t state = 0;           // s_state: STATE_VALID when cleanly unmounted
  uint16_t want_extra_isize = 0;  // what new inodes get (s_want_extra_isize)
  uint32_t first_ino = 11;      // the first inode a file may have (s_first_ino)
  uint32_t reserved_gdt = 0;    // s_reserved_gdt_blocks (resize_inode)
  uint32_t journal_ino = 0;     // s_journal_inum
  uint32_t last_orphan = 0;     // s_last_orphan: the orphan list's head
  // htree directories (docs/ext4.md "Directories"): s_hash_seed, and
  // whether names hash as unsigned chars (s_flags 0x2) rather than signed.
  uint32_t hash_seed[4] = {};
  bool hash_unsigned = false;
};

// The 1024-byte superblock. BadFormat without the magic (not ext2/3/4);
// NotSupported for INCOMPAT features not read here (`why` names them);
// Io (EUCLEAN's place) for inconsistent figures or a bad checksum.
// device_blocks_hint: the device's size in bytes (0: unknown).
Result<void> parse_super(const uint8_t* raw, uint64_t device_bytes, Super& s, Why& why);

struct GroupDesc {
  uint64_t block_bitmap = 0, inode_bitmap = 0, inode_table = 0;
  uint32_t free_blocks = 0, free_inodes = 0;
  uint32_t used_dirs = 0, itable_unused = 0;
  uint16_t flags = 0;  // BG_*
  bool unusable = false;  // in memory only: an uninitialized bitmap that could not be built
};
// Descriptor `group` (desc_size bytes at raw). Io for a bad checksum
// (metadata_csum) or an inode table outside the file system.
Result<void> parse_group_desc(const Super& s, uint32_t group, const uint8_t* raw, GroupDesc& g);

struct Inode {
  uint32_t ino = 0;
  uint32_t mode = 0, uid = 0, gid = 0, links = 0, flags = 0;
  uint64_t size = 0, blocks512 = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  uint8_t block[60] = {};  // i_block: extent tree root, block map or fast symlink
  uint32_t csum_seed = 0;  // metadata_csum: the file's blocks' checksum seed (number, generation)
  uint32_t generation = 0, extra_isize = 0;
  uint64_t file_acl = 0;   // an extended attribute block
  uint32_t dtime = 0;      // deletion time; on the orphan list, the next orphan's number
};
// Inode `ino` (inode_size bytes at raw). Io for a bad checksum
// (metadata_csum) or a size that cannot be.
Result<void> parse_inode(const Super& s, uint32_t ino, const uint8_t* raw, Inode& in);

// One extent tree node (the inode's 60 bytes, or a block): checks the
// header against `len` and the expected depth (-1: any, the root).
struct ExtentHeader {
  uint16_t entries, max, depth;
};
Result<ExtentHeader> parse_extent_header(const uint8_t* node, size_t len, int expect_depth);
// Entry i of a node (12 bytes each, after the 12-byte header).
struct ExtentIndex {
  uint32_t first;  // first logical block it covers
  uint64_t child;
};
struct Extent {
  uint32_t first;
  uint32_t len;       // blocks (1..32768)
  bool uninit;        // allocated, reads as zeros
  uint64_t start;     // physical block
};
ExtentIndex extent_index(const uint8_t* node, size_t i);
Extent extent_leaf(const uint8_t* node, size_t i);

// metadata_csum of a file's blocks (nothing to check without it): an
// extent tree block's tail after its `max` entries, and a directory leaf
// block's 12-byte tail entry. Io when the checksum does not hold (or an
// extent block has no room for its tail). A directory block without the
// tail is an htree index node, whose own checksum is not checked.
Result<void> check_extent_block(const Super& s, const Inode& in, const uint8_t* node, size_t len,
                                const ExtentHeader& h);
Result<void> check_dir_block(const Super& s, const Inode& in, const uint8_t* block, size_t len);

// One directory entry at `off` of a directory block of `len` bytes. Io
// when the entry overruns the block or its lengths cannot be.
struct DirEntry {
  uint32_t ino;
  uint16_t rec_len;
  uint8_t name_len;
  uint8_t file_type;  // 1 regular ... 7 symlink (with the filetype feature)
  const char* name;
};
Result<DirEntry> parse_dir_entry(const uint8_t* block, size_t len, size_t off);

// The checksums as stored in full (the caller keeps the low 16 bits where
// the field is short): an inode's (seed from inode_seed) and a group
// descriptor's.
uint32_t inode_csum(const Super& s, uint32_t seed, const uint8_t* raw, uint32_t extra_isize);
uint32_t group_desc_csum(const Super& s, uint32_t group, const uint8_t* raw);

// --- writing (fs/ext4/layout_write.cc): the same structures, built ---

// The inode's checksum seed (metadata_csum): the volume's seed, the inode
// number, its generation.
uint32_t inode_seed(const Super& s, uint32_t ino, uint32_t generation);
// Puts `in`'s fields into the inode's raw bytes (inode_size at raw; fields
// this driver does not model are kept) and, with metadata_csum, its
// checksum. i_dtime is in.dtime.
void encode_inode(const Super& s, const Inode& in, uint8_t* raw);
// A new inode's raw bytes: zeros, its extra size, its creation time.
void init_inode(const Super& s, int64_t now_ns, uint8_t* raw);
// A group descriptor's counts and flags into its raw bytes, with the
// bitmaps' checksums (computed by the caller, bitmap_csum; nullptr keeps
// the stored one) and its own.
void encode_group_desc(const Super& s, uint32_t group, const GroupDesc& g, const uint32_t* block_bitmap_csum,
                       const uint32_t* inode_bitmap_csum, uint8_t* raw);
uint32_t bitmap_csum(const Super& s, const uint8_t* bitmap, size_t bytes);
// The superblock's free counts, state, incompatible features (RECOVER),
// orphan list head and write time, and its checksum.
void encode_super(const Super& s, int64_t now_ns, uint8_t* raw);
// An extent tree block's tail and a directory leaf block's tail entry.
void set_extent_block_csum(const Super& s, const Inode& in, uint8_t* node, size_t len);
void set_dir_block_csum(const Super& s, const Inode& in, uint8_t* block, size_t len);
// Whether a directory block ends with the metadata_csum tail entry.
bool has_dir_tail(const uint8_t* block, size_t len);

}  // namespace capsule::ext4
