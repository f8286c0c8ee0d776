// The ext4 volume: mount, inodes, block maps (fs/ext4/fs.h, docs/ext4.md).
#include "fs/ext4/fs.h"

#include <new>

#include "fs/ext4/node.h"
#include "lib/format.h"
#include "lib/log.h"

namespace capsule::ext4 {
namespace {

// Metadata blocks kept when nobody holds them: 1 MiB of 4 KiB blocks.
constexpr size_t CACHE_BLOCKS = 256;
constexpr uint64_t NO_LIMIT = 1ull << 32;  // one past the last logical block ext4 can address

// Why a volume that mounts is not written (nullptr: it can be), per
// docs/ext4.md "Writing".
// recovered: the journal was replayed, so the volume is whole although it
// was not unmounted (its orphans are freed by begin_writing).
const char* write_refusal(const Super& s, bool recovered) {
  if (!recovered && !(s.state & STATE_VALID)) return "not cleanly unmounted (run e2fsck)";
  if (!recovered && s.last_orphan) return "orphan inodes to free (run e2fsck)";
  if (s.state & STATE_ERROR) return "the file system has errors (run e2fsck)";
  if (!(s.incompat & INCOMPAT_EXTENTS)) return "no extents (ext2/ext3 block maps are not written yet)";
  if (s.incompat & (INCOMPAT_MMP | INCOMPAT_EA_INODE)) return "mmp or ea_inode";
  constexpr uint32_t RO_WRITABLE = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE | RO_COMPAT_BTREE_DIR |
                                   RO_COMPAT_HUGE_FILE | RO_COMPAT_DIR_NLINK | RO_COMPAT_EXTRA_ISIZE |
                                   RO_COMPAT_METADATA_CSUM;
  if ((s.ro_compat & RO_COMPAT_GDT_CSUM) && !s.metadata_csum) return "uninit_bg without metadata_csum (crc16)";
  if (s.ro_compat & ~RO_WRITABLE & ~RO_COMPAT_GDT_CSUM) return "read-only features (quota, bigalloc, project...)";
  return nullptr;
}

}  // namespace

Ext4Fs::Ext4Fs(bcache::BlockIo& io, const Super& s, GroupDesc* groups)
    : io_(io), s_(s), groups_(groups), cache_(io, s.block_size, CACHE_BLOCKS) {}

Ext4Fs::~Ext4Fs() {
  delete[] groups_;
  delete journal_;
  delete[] txn_;
  delete[] pending_;
}

vfs::FsStat Ext4Fs::statfs() {
  vfs::FsStat st;
  st.magic = SUPER_MAGIC;  // EXT4_SUPER_MAGIC (statfs(2)), the same for ext2/3/4
  st.bsize = s_.block_size;
  vfs::FsGuard lk(meta_);
  // Blocks the running transaction freed count as free (they are, once it
  // commits; an allocation that finds no other takes them at once).
  uint64_t free_blocks = pending_blocks_, free_inodes = 0;
  for (uint32_t g = 0; g < s_.groups; ++g) {
    free_blocks += groups_[g].free_blocks;
    free_inodes += groups_[g].free_inodes;
  }
  st.blocks = s_.blocks_count;
  st.bfree = free_blocks < s_.blocks_count ? free_blocks : s_.blocks_count;
  st.bavail = st.bfree > s_.r_blocks_count ? st.bfree - s_.r_blocks_count : 0;
  st.files = s_.inodes_count;
  st.ffree = free_inodes < s_.inodes_count ? free_inodes : s_.inodes_count;
  st.namelen = 255;
  return st;
}

Result<void> Ext4Fs::read_inode(uint32_t ino, Inode& in) {
  if (ino < 1 || ino > s_.inodes_count) return Error::Io;
  uint32_t group = (ino - 1) / s_.inodes_per_group;
  uint64_t index = (ino - 1) % s_.inodes_per_group;
  uint64_t byte = index * s_.inode_size;
  uint64_t block = groups_[group].inode_table + byte / s_.block_size;
  bcache::BlockRef b = TRY(cache_.get(block));
  return parse_inode(s_, ino, b.data() + byte % s_.block_size, in);
}

Result<void> Ext4Fs::load_groups(char* note, size_t cap) {
  // The descriptors follow the superblock's block [ext4 layout, "Block
  // Group Descriptors"]; meta_bg (elsewhere) is refused by parse_super.
  const Super& s = s_;
  uint64_t per_block = s.block_size / s.desc_size;
  for (uint32_t g = 0; g < s.groups; ++g) {
    uint64_t block = s.first_data_block + 1 + g / per_block;
    auto b = cache_.get(block);
    if (!b.ok()) {
      format_to(note, cap, "cannot read group descriptor {} ({})", g, error_name(b.error()));
      return b.error();
    }
    if (!parse_group_desc(s, g, b.value().data() + (g % per_block) * s.desc_size, groups_[g]).ok()) {
      format_to(note, cap, "corrupted group descriptor {}{}", g,
                s.metadata_csum ? " (checksum or inode table)" : " (inode table)");
      return Error::Io;
    }
  }
  return {};
}

Result<uint32_t> Ext4Fs::recover(uint64_t device_bytes, Why& why) {
  Inode jin;
  if (s_.journal_ino < 1 || s_.journal_ino > s_.inodes_count || !read_inode(s_.journal_ino, jin).ok()) {
    format_to(why.text, sizeof why.text, "the journal inode cannot be read");
    return Error::Io;
  }
  Journal j;
  TRY(j.load(*this, jin, why, true));
  uint32_t n = TRY(j.replay(why));
  // The superblock and descriptors as the replay left them.
  bcache::BlockRef b = TRY(cache_.get(SUPER_OFFSET / s_.block_size));
  Super s;
  if (auto r = parse_super(b.data() + SUPER_OFFSET % s_.block_size, device_bytes, s, why); !r.ok()) return r.error();
  if (s.groups != s_.groups || s.block_size != s_.block_size) {
    format_to(why.text, sizeof why.text, "the replay changed the volume's geometry");
    return Error::Io;
  }
  s.incompat &= ~INCOMPAT_RECOVER;
  s_ = s;
  recovered_ = true;
  return n;
}

Result<vfs::VnodeRef> Ext4Fs::node(uint32_t ino) {
  Txn g(*this);
  return node_locked(ino);
}

Result<vfs::VnodeRef> Ext4Fs::node_locked(uint32_t ino) {
  Node*& head = nodes_[ino % NODE_BUCKETS];
  for (Node* n = head; n; n = n->cache_next_)
    if (n->in_.ino == ino) return vfs::VnodeRef(n);  // retained: Node::release takes meta_ first
  Inode in;
  TRY(read_inode(ino, in));
  if (in.links == 0 || in.mode == 0) return Error::Io;  // a directory entry naming a free inode
  Node* n = new (std::nothrow) Node(this, in);
  if (!n) return Error::NoMemory;
  n->cache_next_ = head;
  head = n;
  return vfs::VnodeRef::adopt(n);
}

Node* Ext4Fs::cached_node(uint32_t ino) {
  for (Node* n = nodes_[ino % NODE_BUCKETS]; n; n = n->cache_next_)
    if (n->in_.ino == ino) return n;
  return nullptr;
}

bool Ext4Fs::forget_if_last(Node* n) {
  if (n->ref_count() != 1) return false;
  for (Node** pp = &nodes_[n->in_.ino % NODE_BUCKETS]; *pp; pp = &(*pp)->cache_next_) {
    if (*pp == n) {
      *pp = n->cache_next_;
      break;
    }
  }
  return true;
}

Result<void> Ext4Fs::set_root(uint32_t ino) {
  vfs::VnodeRef r = TRY(node(ino));
  if (!r->is_dir()) return Error::Io;
  root_ = r;
  return {};
}

Result<uint64_t> Ext4Fs::map(const Inode& in, uint64_t lblk, uint64_t* run, bool* unwritten) {
  if (unwritten) *unwritten = false;
  if (in.flags & INODE_INLINE_DATA_FL) return Error::Io;  // refused at mount; a stray flag is corruption
  if (lblk >= NO_LIMIT) {
    *run = ~0ull;
    return uint64_t(0);
  }
  if (in.flags & INODE_EXTENTS_FL) return map_extents(in, lblk, run, unwritten);
  return map_blockmap(in, lblk, run);
}

// The extent tree [ext4 layout, "Extent Tree"]: index nodes down to a leaf,
// at each level the last entry that starts at or before lblk.
Result<uint64_t> Ext4Fs::map_extents(const Inode& in, uint64_t lblk, uint64_t* run, bool* unwritten) {
  const uint8_t* node = in.block;
  size_t len = sizeof in.block;
  bcache::BlockRef ref;
  int expect = -1;
  uint64_t limit = NO_LIMIT;  // where the next subtree starts
  for (;;) {
    ExtentHeader h = TRY(parse_extent_header(node, len, expect));
    if (ref) TRY(check_extent_block(s_, in, node, len, h));  // a tree block, not the inode's root
    if (h.depth == 0) {
      for (size_t i = 0; i < h.entries; ++i) {
        Extent e = extent_leaf(node, i);
        if (lblk < e.first) {
          *run = e.first - lblk;
          return uint64_t(0);
        }
        if (lblk - e.first < e.len) {
          *run = e.len - (lblk - e.first);
          if (e.uninit) {
            if (unwritten) *unwritten = true;
            return uint64_t(0);
          }
          if (e.start < s_.first_data_block || e.start > s_.blocks_count || e.len > s_.blocks_count - e.start)
            return Error::Io;
          return e.start + (lblk - e.first);
        }
      }
      *run = limit > lblk ? limit - lblk : 1;
      return uint64_t(0);
    }
    if (h.entries == 0 || extent_index(node, 0).first > lblk) {
      *run = h.entries ? extent_index(node, 0).first - lblk : (limit > lblk ? limit - lblk : 1);
      return uint64_t(0);
    }
    size_t pick = 0;
    while (pick + 1 < h.entries && extent_index(node, pick + 1).first <= lblk) ++pick;
    if (pick + 1 < h.entries) limit = extent_index(node, pick + 1).first;
    uint64_t child = extent_index(node, pick).child;
    if (child < s_.first_data_block || child >= s_.blocks_count) return Error::Io;
    expect = h.depth - 1;
    ref = TRY(cache_.get(child));
    node = ref.data();
    len = s_.block_size;
  }
}

// ext2's block map: 12 direct blocks, then single, double and triple
// indirect blocks of 32-bit block numbers.
Result<uint64_t> Ext4Fs::map_blockmap(const Inode& in, uint64_t lblk, uint64_t* run) {
  *run = 1;
  const uint64_t per = s_.block_size / 4;
  uint64_t b = lblk;
  uint64_t ptr;
  int levels;
  if (b < 12) {
    ptr = le32(in.block + 4 * b);
    levels = 0;
  } else if ((b -= 12) < per) {
    ptr = le32(in.block + 48);
    levels = 1;
  } else if ((b -= per) < per * per) {
    ptr = le32(in.block + 52);
    levels = 2;
  } else if ((b -= per * per) < per * per * per) {
    ptr = le32(in.block + 56);
    levels = 3;
  } else {
    return uint64_t(0);
  }
  uint64_t span = 1;
  for (int l = 1; l < levels; ++l) span *= per;
  for (int l = levels; l > 0; --l) {
    if (!ptr) return uint64_t(0);
    if (ptr < s_.first_data_block || ptr >= s_.blocks_count) return Error::Io;
    bcache::BlockRef r = TRY(cache_.get(ptr));
    ptr = le32(r.data() + 4 * (b / span));
    b %= span;
    span /= per ? per : 1;
  }
  if (ptr && (ptr < s_.first_data_block || ptr >= s_.blocks_count)) return Error::Io;
  return ptr;
}

Result<void> mount(bcache::BlockIo& io, MountResult& out) {
  out = MountResult{};
  Why why;
  uint8_t* sb = new (std::nothrow) uint8_t[SUPER_SIZE];
  if (!sb) return Error::NoMemory;
  Super s;
  Result<void> r = io.read(SUPER_OFFSET / bcache::SECTOR_SIZE, sb, SUPER_SIZE / bcache::SECTOR_SIZE);
  if (!r.ok()) {
    format_to(why.text, sizeof why.text, "cannot read the superblock ({})", error_name(r.error()));
  } else {
    r = parse_super(sb, io.sectors() * bcache::SECTOR_SIZE, s, why);
  }
  delete[] sb;
  if (!r.ok()) {
    format_to(out.note, sizeof out.note, "{}", why.text);
    return r.error();
  }
  auto* groups = new (std::nothrow) GroupDesc[s.groups];
  if (!groups) return Error::NoMemory;
  Ext4Fs* fs = new (std::nothrow) Ext4Fs(io, s, groups);
  if (!fs) {
    delete[] groups;
    return Error::NoMemory;
  }
  vfs::FsRef ref = vfs::FsRef::adopt(fs);
  TRY(fs->load_groups(out.note, sizeof out.note));
  // A journal to replay on a writable disk: replayed here, before any
  // inode is read (jbd2 recovery, as Linux's mount does it).
  bool needs_recovery = s.incompat & INCOMPAT_RECOVER;
  if (needs_recovery && (s.compat & COMPAT_HAS_JOURNAL) && !io.read_only() && !s.unknown_ro_compat) {
    auto rec = fs->recover(io.sectors() * bcache::SECTOR_SIZE, why);
    if (rec.ok()) {
      needs_recovery = false;
      s = fs->super();
      TRY(fs->load_groups(out.note, sizeof out.note));
      log_info("ext4: the journal was replayed ({} transactions)", rec.value());
    } else {
      log_warn("ext4: the journal was not replayed: {}", why.text);
    }
  }
  if (auto rr = fs->set_root(ROOT_INO); !rr.ok()) {
    format_to(out.note, sizeof out.note, "cannot read the root directory ({})", error_name(rr.error()));
    return rr.error();
  }
  out.read_only = true;
  if (needs_recovery) {
    format_to(out.note, sizeof out.note, "the journal needs recovery: not replayed (read-only, may be stale)");
  } else if (s.unknown_ro_compat) {
    format_to(out.note, sizeof out.note, "unknown read-only features {:#x}", s.unknown_ro_compat);
  } else if (!io.read_only()) {
    // Read-write only where every feature is one the writer keeps right.
    if (const char* why_ro = write_refusal(s, fs->recovered())) {
      format_to(out.note, sizeof out.note, "mounted read-only: {}", why_ro);
    } else if (auto w = fs->begin_writing(why); !w.ok()) {
      format_to(out.note, sizeof out.note, "mounted read-only: {}", why.text);
    } else {
      out.read_only = false;
    }
  }
  out.fs = static_cast<vfs::FsRef&&>(ref);
  return {};
}

}  // namespace capsule::ext4
