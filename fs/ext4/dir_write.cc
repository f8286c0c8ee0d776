// Directory entries added, removed and changed in linear directories
// (fs/ext4/fs.h, docs/ext4.md "Writing"). An entry goes into the first
// block whose slack (an entry's rec_len past its own length, or a deleted
// entry) fits it, else into a new block at the end; a removed entry's
// space joins the entry before it in its block (or, first in its block,
// the entry becomes a deleted one). Every changed block gets its
// metadata_csum tail recomputed. In directories with an htree index,
// entries are removed and retargeted in their leaf as in a linear one
// (the hash of a name does not change, the index stays right), but not
// added (OpNotSupported): that needs the name's hash and may split a
// leaf; clearing the index flag instead would leave index blocks without
// the checksum tail, which e2fsck reports. Their ".." (in the index's
// root block, under its own checksum) is not changed either.
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
Result<bool> Ext4Fs::dir_scan(const Inode& dir, F&& fn) {
  if (dir.size > (1ull << 32)) return Error::Io;
  const uint32_t bs = s_.block_size;
  for (uint64_t lblk = 0; lblk < dir.size / bs; ++lblk) {
    uint64_t run;
    uint64_t pblk = TRY(map(dir, lblk, &run));
    if (!pblk) {
      if (run > 1) lblk += run - 1;  // a hole: no entries in the whole run
      continue;
    }
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
  }
  return false;
}

Result<uint32_t> Ext4Fs::dir_find(const Inode& dir, StringView name) {
  uint32_t found = 0;
  TRY(dir_scan(dir, [&](bcache::BlockRef&, const DirEntry& d, uint32_t, uint32_t) -> Result<bool> {
    if (!d.ino || StringView(d.name, d.name_len) != name) return false;
    found = d.ino;
    return true;
  }));
  if (!found) return Error::NotFound;
  return found;
}

Result<void> Ext4Fs::dir_add(Inode& dir, StringView name, uint32_t ino, uint32_t mode) {
  if (dir.flags & INODE_INDEX_FL) return Error::OpNotSupported;
  if (name.size() == 0 || name.size() > 255) return Error::Invalid;
  const uint32_t need = entry_len(uint32_t(name.size()));
  const uint8_t type = dirent_type(mode);
  bool done = TRY(dir_scan(dir, [&](bcache::BlockRef& b, const DirEntry& d, uint32_t off, uint32_t) -> Result<bool> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    uint32_t used = d.ino ? entry_len(d.name_len) : 0;
    if (d.rec_len < used + need) return false;
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
  }));
  if (!done) {
    // No room: a new block at the end, one entry over all of it (and the
    // checksum tail with metadata_csum).
    const uint32_t bs = s_.block_size;
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
  }));
  if (!removed) return Error::NotFound;
  dir.mtime_ns = dir.ctime_ns = vfs::fs_now_ns();
  TRY(write_inode(dir));
  return removed;
}

Result<void> Ext4Fs::dir_retarget(Inode& dir, StringView name, uint32_t ino, uint32_t mode) {
  if ((dir.flags & INODE_INDEX_FL) && name == "..") return Error::OpNotSupported;
  bool done = TRY(dir_scan(dir, [&](bcache::BlockRef& b, const DirEntry& d, uint32_t off, uint32_t) -> Result<bool> {
    meta_.assert_held();  // the caller's lock, which clang cannot see inside a lambda
    if (!d.ino || StringView(d.name, d.name_len) != name) return false;
    uint8_t* p = b.mutable_data() + off;
    put32(p, ino);
    p[7] = dirent_type(mode);
    set_dir_block_csum(s_, dir, b.mutable_data(), s_.block_size);
    TRY(write_meta(b));
    return true;
  }));
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
