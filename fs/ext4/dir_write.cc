// Directory entries added, removed and changed (fs/ext4/fs.h, docs/ext4.md
// "Writing"). In a linear directory an entry goes into the first block
// whose slack (an entry's rec_len past its own length, or a deleted
// entry) fits it, else into a new block at the end (a linear directory
// stays linear however large it grows: Linux would index it once it
// outgrows a block; e2fsck -D can); a removed entry's space joins the
// entry before it in its block (or, first in its block, the entry becomes
// a deleted one). Every changed block gets its metadata_csum tail
// recomputed. In directories with an htree index (fs/ext4/htree_write.cc)
// a name is looked for only in the leaves its hash leads to, added by its
// hash, removed and retargeted in its leaf as in a linear directory (the
// hash of a name does not change, the index stays right).
#include "fs/ext4/fs.h"

namespace capsule::ext4 {
namespace {

uint32_t entry_len(uint32_t name_len) { return (8 + name_len + 3) & ~3u; }

void put_entry(uint8_t* p, uint32_t ino, uint32_t rec_len, StringView name, uint8_t type) {
  put32(p, ino);
  put16(p + 4, rec_len);
  p[6] = uint8_t(name.size());
  p[7] = type;
  __builtin_memcpy(p + 8, name.data(), name.size());
}

}  // namespace

uint8_t Ext4Fs::dirent_type(uint32_t mode) const {
  if (!(s_.incompat & INCOMPAT_FILETYPE)) return 0;
  switch (mode & vfs::MODE_TYPE) {
    case vfs::MODE_REGULAR: return 1;
    case vfs::MODE_DIR: return 2;
    case vfs::MODE_CHAR: return 3;
    case vfs::MODE_BLOCK: return 4;
    case vfs::MODE_FIFO: return 5;
    case vfs::MODE_SOCKET: return 6;
    case vfs::MODE_SYMLINK: return 7;
    default: return 0;
  }
}

uint32_t Ext4Fs::dir_limit(const uint8_t* block) const {
  return has_dir_tail(block, s_.block_size) ? s_.block_size - 12 : s_.block_size;
}

template <typename F>
Result<bool> Ext4Fs::dir_scan(const Inode& dir, F&& fn, const StringView* name) {
  if (dir.size > (1ull << 32)) return Error::Io;
  const uint32_t bs = s_.block_size;
  // Calls fn for each entry of the block at logical `lblk`; *run: the
  // blocks of a hole from there.
  auto block = [&](uint64_t lblk, uint64_t* run) -> Result<bool> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    uint64_t pblk = TRY(map(dir, lblk, run));
    if (!pblk) return false;
    *run = 1;
    bcache::BlockRef b = TRY(cache_.get(pblk));
    TRY(check_dir_block(s_, dir, b.data(), bs));
    uint32_t limit = dir_limit(b.data());
    uint32_t off = 0, prev = UINT32_MAX;
    while (off < limit) {
      DirEntry d = TRY(parse_dir_entry(b.data(), limit, off));
      if (TRY(fn(b, d, off, prev))) return true;
      prev = off;
      off += d.rec_len;
    }
    return false;
  };
  if (name && *name != "." && *name != ".." && dx_indexed(dir)) {
    // Only the leaves the name's hash leads to ("." and ".." are in the
    // root); an index this driver cannot follow (damaged, three levels):
    // every block, as a linear reader would.
    uint32_t leaves[8];
    auto n = dx_candidates(dir, *name, leaves, 8);
    if (n.ok()) {
      for (uint32_t i = 0; i < n.value(); ++i) {
        uint64_t run;
        if (TRY(block(leaves[i], &run))) return true;
      }
      return false;
    }
  }
  for (uint64_t lblk = 0; lblk < dir.size / bs; ++lblk) {
    uint64_t run = 1;
    if (TRY(block(lblk, &run))) return true;
    if (run > 1) lblk += run - 1;  // a hole: no entries in the whole run
  }
  return false;
}

Result<uint32_t> Ext4Fs::dir_find(const Inode& dir, StringView name) {
  uint32_t found = 0;
  TRY(dir_scan(dir, [&](bcache::BlockRef&, const DirEntry& d, uint32_t, uint32_t) -> Result<bool> {
    if (!d.ino || StringView(d.name, d.name_len) != name) return false;
    found = d.ino;
    return true;
  }, &name));
  if (!found) return Error::NotFound;
  return found;
}

Result<bool> Ext4Fs::dir_block_insert(const Inode& dir, bcache::BlockRef& b, StringView name, uint32_t ino,
                                      uint8_t type) {
  const uint32_t need = entry_len(uint32_t(name.size()));
  const uint32_t limit = dir_limit(b.data());
  for (uint32_t off = 0; off < limit;) {
    DirEntry d = TRY(parse_dir_entry(b.data(), limit, off));
    uint32_t used = d.ino ? entry_len(d.name_len) : 0;
    if (d.rec_len >= used + need) {
      uint8_t* p = b.mutable_data() + off;
      if (d.ino) {
        put16(p + 4, used);
        put_entry(p + used, ino, d.rec_len - used, name, type);
      } else {
        put_entry(p, ino, d.rec_len, name, type);
      }
      set_dir_block_csum(s_, dir, b.mutable_data(), s_.block_size);
      TRY(write_meta(b));
      return true;
    }
    off += d.rec_len;
  }
  return false;
}

Result<void> Ext4Fs::dir_add(Inode& dir, StringView name, uint32_t ino, uint32_t mode) {
  if (name.size() == 0 || name.size() > 255) return Error::Invalid;
  const uint8_t type = dirent_type(mode);
  if (dir.flags & INODE_INDEX_FL) {
    // An index the volume does not declare (no dir_index) is not written.
    if (!dx_indexed(dir)) return Error::OpNotSupported;
    TRY(dx_add(dir, name, ino, type));
    dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
    return write_inode(dir);
  }
  const uint32_t bs = s_.block_size;
  bool done = false;
  for (uint64_t lblk = 0; lblk < dir.size / bs && !done; ++lblk) {
    uint64_t run;
    uint64_t pblk = TRY(map(dir, lblk, &run));
    if (!pblk) {
      if (run > 1) lblk += run - 1;  // a hole: no entries in the whole run
      continue;
    }
    bcache::BlockRef b = TRY(cache_.get(pblk));
    TRY(check_dir_block(s_, dir, b.data(), bs));
    done = TRY(dir_block_insert(dir, b, name, ino, type));
  }
  if (!done) {
    // No room: a new block at the end, one entry over all of it (and the
    // checksum tail with metadata_csum).
    uint64_t lblk = dir.size / bs;
    bool fresh;
    uint64_t pblk = TRY(map_alloc(dir, lblk, &fresh));
    bcache::BlockRef b = TRY(cache_.get_zeroed(pblk));
    uint8_t* p = b.mutable_data();
    uint32_t limit = s_.metadata_csum ? bs - 12 : bs;
    put_entry(p, ino, limit, name, type);
    if (s_.metadata_csum) {
      put16(p + limit + 4, 12);
      p[limit + 7] = 0xDE;
      set_dir_block_csum(s_, dir, p, bs);
    }
    TRY(write_meta(b));
    dir.size = (lblk + 1) * bs;
  }
  dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
  return write_inode(dir);
}

Result<uint32_t> Ext4Fs::dir_remove(Inode& dir, StringView name) {
  if (name == "." || name == "..") return Error::Invalid;
  uint32_t removed = 0;
  TRY(dir_scan(dir, [&](bcache::BlockRef& b, const DirEntry& d, uint32_t off, uint32_t prev) -> Result<bool> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    if (!d.ino || StringView(d.name, d.name_len) != name) return false;
    removed = d.ino;
    uint8_t* base = b.mutable_data();
    if (prev != UINT32_MAX) {
      put16(base + prev + 4, le16(base + prev + 4) + d.rec_len);  // the space joins the entry before
    } else {
      put32(base + off, 0);  // first in its block: a deleted entry
    }
    set_dir_block_csum(s_, dir, base, s_.block_size);
    TRY(write_meta(b));
    return true;
  }, &name));
  if (!removed) return Error::NotFound;
  dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
  TRY(write_inode(dir));
  return removed;
}

Result<void> Ext4Fs::dir_retarget(Inode& dir, StringView name, uint32_t ino, uint32_t mode) {
  if ((dir.flags & INODE_INDEX_FL) && name == "..") {
    // ".." sits in the index root, under the index's checksum.
    if (!dx_indexed(dir)) return Error::OpNotSupported;
    TRY(dx_set_dotdot(dir, ino));
    dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
    return write_inode(dir);
  }
  bool done = TRY(dir_scan(dir, [&](bcache::BlockRef& b, const DirEntry& d, uint32_t off, uint32_t) -> Result<bool> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    if (!d.ino || StringView(d.name, d.name_len) != name) return false;
    uint8_t* p = b.mutable_data() + off;
    put32(p, ino);
    p[7] = dirent_type(mode);
    set_dir_block_csum(s_, dir, b.mutable_data(), s_.block_size);
    TRY(write_meta(b));
    return true;
  }, &name));
  if (!done) return Error::NotFound;
  dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
  return write_inode(dir);
}

Result<bool> Ext4Fs::dir_empty(const Inode& dir) {
  bool other = TRY(dir_scan(dir, [&](bcache::BlockRef&, const DirEntry& d, uint32_t, uint32_t) -> Result<bool> {
    if (!d.ino) return false;
    StringView n(d.name, d.name_len);
    return n != "." && n != "..";
  }));
  return !other;
}

Result<void> Ext4Fs::dir_init(Inode& dir, uint32_t parent) {
  const uint32_t bs = s_.block_size;
  bool fresh;
  uint64_t pblk = TRY(map_alloc(dir, 0, &fresh));
  bcache::BlockRef b = TRY(cache_.get_zeroed(pblk));
  uint8_t* p = b.mutable_data();
  uint32_t limit = s_.metadata_csum ? bs - 12 : bs;
  put_entry(p, dir.ino, 12, ".", dirent_type(vfs::MODE_DIR));
  put_entry(p + 12, parent, limit - 12, "..", dirent_type(vfs::MODE_DIR));
  if (s_.metadata_csum) {
    put16(p + limit + 4, 12);
    p[limit + 7] = 0xDE;
    set_dir_block_csum(s_, dir, p, bs);
  }
  TRY(write_meta(b));
  dir.size = bs;
  return {};
}

}  // namespace capsule::ext4
