// Extended attributes on ext4 (fs/ext4/node.h, docs/ext4.md "Extended
// attributes"), formats from the kernel.org ext4 layout, "Extended
// Attributes":
//   in the inode, after 128 + i_extra_isize: a magic word (0xEA020000),
//     then entries; a value's offset counts from the first entry;
//   in a block (i_file_acl): a 32-byte header {magic, refcount, blocks 1,
//     hash, checksum}, entries from byte 32, values from the block's end
//     down, offsets from the block's start;
//   an entry: {name_len u8, name_index u8, value_offs u16, value_inum u32
//     (0: no EA inode), value_size u32, hash u32, name}, padded to 4 bytes;
//     the list ends with 4 zero bytes; values are padded to 4 bytes.
//   Hashes: an entry's over its name (5-bit rotations) then its value's
//   words (16-bit); the block's over the entries' (16-bit). The block's
//   checksum: crc32c(seed, the block number as 64 bits, the block with
//   the checksum as zeros).
// A change loads every attribute of the file, changes the list, and lays
// it out again: in the inode while they fit, the rest in a block (the old
// one rewritten when only this file holds it; a shared one, refcount > 1,
// is left to its other holders and a new one made). user.*, trusted.*
// and security.* are kept; POSIX ACLs (ext4 keeps them in a format of its
// own) are OpNotSupported, as ext4 mounted noacl.
#include <new>

#include "fs/ext4/node.h"
#include "lib/crc32c.h"

namespace capsule::ext4 {
namespace {

constexpr uint32_t XATTR_MAGIC = 0xEA020000;
constexpr uint32_t BLOCK_HEADER = 32, ENTRY_HEADER = 16;
constexpr size_t MAX_ATTRS = 256;

uint32_t pad4(uint32_t n) { return (n + 3) & ~3u; }
uint32_t entry_size(uint32_t name_len) { return pad4(ENTRY_HEADER + name_len); }

struct Prefix {
  uint8_t index;
  StringView text;
};
constexpr Prefix PREFIXES[] = {{1, "user."}, {4, "trusted."}, {6, "security."}};

// "user.x" -> (1, "x"). OpNotSupported for names ext4 keeps otherwise
// (ACLs) or not at all.
Result<const Prefix*> split_name(StringView name, StringView* rest) {
  for (const Prefix& p : PREFIXES) {
    if (name.size() > p.text.size() && StringView(name.data(), p.text.size()) == p.text) {
      *rest = StringView(name.data() + p.text.size(), name.size() - p.text.size());
      return &p;
    }
  }
  return Error::OpNotSupported;
}

struct Attr {
  uint8_t index, name_len;
  char name[255];
  uint32_t size;
  uint8_t* value;  // heap; nullptr for size 0
};

// Every attribute of one file, held while a call works on them.
struct AttrList {
  Attr* a = new (std::nothrow) Attr[MAX_ATTRS];
  size_t n = 0;
  ~AttrList() {
    if (!a) return;
    for (size_t i = 0; i < n; ++i) delete[] a[i].value;
    delete[] a;
  }
  Attr* find(uint8_t index, StringView name) {
    for (size_t i = 0; i < n; ++i)
      if (a[i].index == index && StringView(a[i].name, a[i].name_len) == name) return &a[i];
    return nullptr;
  }
  Result<void> add(uint8_t index, const char* name, size_t len, const uint8_t* value, uint32_t size) {
    if (n == MAX_ATTRS) return Error::NoSpace;
    Attr& x = a[n];
    x.index = index;
    x.name_len = uint8_t(len);
    __builtin_memcpy(x.name, name, len);
    x.size = size;
    x.value = nullptr;
    if (size) {
      x.value = new (std::nothrow) uint8_t[size];
      if (!x.value) return Error::NoMemory;
      __builtin_memcpy(x.value, value, size);
    }
    ++n;
    return {};
  }
  void remove(Attr* x) {
    delete[] x->value;
    *x = a[n - 1];
    --n;
  }
};

uint32_t entry_hash(const Attr& x) {
  uint32_t h = 0;
  for (uint32_t i = 0; i < x.name_len; ++i) h = (h << 5) ^ (h >> 27) ^ uint32_t(int32_t(int8_t(x.name[i])));
  for (uint32_t i = 0; i < x.size; i += 4) {
    uint8_t w[4] = {};
    for (uint32_t k = 0; k < 4 && i + k < x.size; ++k) w[k] = x.value[i + k];
    h = (h << 16) ^ (h >> 16) ^ le32(w);
  }
  return h;
}

// Entries of one area (`base`..`base + len`; offsets from `origin`) into
// the list. Io for an entry or value outside the area, an EA inode value
// (ea_inode is not mounted read-write, and not read here).
Result<void> parse_area(const uint8_t* base, uint32_t len, const uint8_t* origin, uint32_t origin_len, AttrList& l) {
  uint32_t off = 0;
  while (off + 4 <= len && le32(base + off) != 0) {
    if (off + ENTRY_HEADER > len) return Error::Io;
    const uint8_t* e = base + off;
    uint32_t name_len = e[0], voff = le16(e + 2), inum = le32(e + 4), size = le32(e + 8);
    if (name_len == 0 || off + entry_size(name_len) > len || inum) return Error::Io;
    if (size && (voff > origin_len || size > origin_len - voff)) return Error::Io;
    TRY(l.add(e[1], reinterpret_cast<const char*>(e + ENTRY_HEADER), name_len, origin + voff, size));
    off += entry_size(name_len);
  }
  return {};
}

void put_entry(uint8_t* e, const Attr& x, uint32_t voff) {
  e[0] = x.name_len;
  e[1] = x.index;
  put16(e + 2, x.size ? voff : 0);
  put32(e + 4, 0);
  put32(e + 8, x.size);
  put32(e + 12, entry_hash(x));
  __builtin_memcpy(e + ENTRY_HEADER, x.name, x.name_len);
}

uint32_t block_csum(const Super& s, uint64_t block, const uint8_t* b) {
  uint8_t nr[8];
  put32(nr, uint32_t(block));
  put32(nr + 4, uint32_t(block >> 32));
  const uint8_t zero[4] = {};
  uint32_t c = crc32c(s.csum_seed, nr, 8);
  c = crc32c(c, b, 16);
  c = crc32c(c, zero, 4);
  return crc32c(c, b + 20, s.block_size - 20);
}

}  // namespace

// The in-inode area: where it starts in the raw inode and how long it is
// (0: no room, a 128-byte inode).
static uint32_t ibody_len(const Super& s, const Inode& in) {
  uint32_t start = 128 + in.extra_isize;
  return s.inode_size > start + 4 ? s.inode_size - start : 0;
}

Result<void> Ext4Fs::xattr_load(const Inode& in, void* list_ptr) {
  AttrList& l = *static_cast<AttrList*>(list_ptr);
  if (!l.a) return Error::NoMemory;
  if (uint32_t len = ibody_len(s_, in)) {
    uint32_t group = (in.ino - 1) / s_.inodes_per_group;
    uint64_t byte = uint64_t((in.ino - 1) % s_.inodes_per_group) * s_.inode_size;
    bcache::BlockRef b = TRY(cache_.get(groups_[group].inode_table + byte / s_.block_size));
    const uint8_t* body = b.data() + byte % s_.block_size + 128 + in.extra_isize;
    if (le32(body) == XATTR_MAGIC) TRY(parse_area(body + 4, len - 4, body + 4, len - 4, l));
  }
  if (in.file_acl) {
    if (in.file_acl < s_.first_data_block || in.file_acl >= s_.blocks_count) return Error::Io;
    bcache::BlockRef b = TRY(cache_.get(in.file_acl));
    const uint8_t* p = b.data();
    if (le32(p) != XATTR_MAGIC || le32(p + 8) != 1) return Error::Io;
    if (s_.metadata_csum && le32(p + 16) != block_csum(s_, in.file_acl, p)) return Error::Io;
    TRY(parse_area(p + BLOCK_HEADER, s_.block_size - BLOCK_HEADER, p, s_.block_size, l));
  }
  return {};
}

Result<void> Ext4Fs::xattr_release_block(Inode& in) {
  if (!in.file_acl) return {};
  uint64_t blk = in.file_acl;
  in.file_acl = 0;
  const uint64_t per = s_.block_size / 512;
  in.blocks512 = in.blocks512 > per ? in.blocks512 - per : 0;
  if (blk < s_.first_data_block || blk >= s_.blocks_count) return Error::Io;
  bcache::BlockRef b = TRY(cache_.get(blk));
  uint8_t* p = b.mutable_data();
  if (le32(p) != XATTR_MAGIC) return Error::Io;
  uint32_t refs = le32(p + 4);
  if (refs > 1) {  // others hold it: one holder less
    put32(p + 4, refs - 1);
    if (s_.metadata_csum) put32(p + 16, block_csum(s_, blk, p));
    return write_meta(b);
  }
  b.reset();
  return free_blocks(blk, 1);
}

Result<void> Ext4Fs::xattr_forget(Inode& in) {
  if (!in.file_acl) return {};
  TRY(xattr_release_block(in));
  uint32_t group = (in.ino - 1) / s_.inodes_per_group;
  uint64_t byte = uint64_t((in.ino - 1) % s_.inodes_per_group) * s_.inode_size;
  bcache::BlockRef b = TRY(cache_.get(groups_[group].inode_table + byte / s_.block_size));
  uint8_t* raw = b.mutable_data() + byte % s_.block_size;
  put32(raw + 0x68, 0);
  put16(raw + 0x76, 0);
  return {};  // the caller writes the inode
}

// The list laid out again: the inode's area first, the rest in a block.
Result<void> Ext4Fs::xattr_store(Inode& in, void* list_ptr) {
  AttrList& l = *static_cast<AttrList*>(list_ptr);
  const uint32_t bs = s_.block_size;
  uint32_t ilen = ibody_len(s_, in);
  // Which go in the inode: in order, while they fit (entries, the list's
  // end word and the values in ilen - 4 bytes after the magic).
  bool in_inode[MAX_ATTRS] = {};
  uint32_t iused = 4, bused = BLOCK_HEADER + 4;
  size_t in_block = 0;
  for (size_t i = 0; i < l.n; ++i) {
    uint32_t need = entry_size(l.a[i].name_len) + pad4(l.a[i].size);
    if (ilen && iused + need <= ilen - 4) {
      in_inode[i] = true;
      iused += need;
    } else {
      bused += need;
      ++in_block;
    }
  }
  if (bused > bs) return Error::NoSpace;
  // The block first (it may fail for want of space: the inode unchanged).
  if (in_block) {
    uint64_t blk = in.file_acl;
    bool fresh = !blk;
    if (blk) {
      if (blk < s_.first_data_block || blk >= s_.blocks_count) return Error::Io;
      bcache::BlockRef old = TRY(cache_.get(blk));
      if (le32(old.data() + 4) > 1) fresh = true;  // shared: ours is a copy
    }
    if (fresh) {
      uint64_t goal = s_.first_data_block + uint64_t((in.ino - 1) / s_.inodes_per_group) * s_.blocks_per_group;
      uint64_t nb = TRY(alloc_block(goal));
      if (blk) {
        if (auto r = xattr_release_block(in); !r.ok()) {
          (void)free_blocks(nb, 1);
          return r.error();
        }
      }
      blk = nb;
      in.file_acl = nb;
      in.blocks512 += bs / 512;
    }
    bcache::BlockRef b = TRY(cache_.get_zeroed(blk));
    uint8_t* p = b.mutable_data();
    put32(p, XATTR_MAGIC);
    put32(p + 4, 1);
    put32(p + 8, 1);
    uint32_t eoff = BLOCK_HEADER, vend = bs, hash = 0;
    for (size_t i = 0; i < l.n; ++i) {
      if (in_inode[i]) continue;
      const Attr& x = l.a[i];
      vend -= pad4(x.size);
      if (x.size) __builtin_memcpy(p + vend, x.value, x.size);
      put_entry(p + eoff, x, vend);
      hash = (hash << 16) ^ (hash >> 16) ^ le32(p + eoff + 12);
      eoff += entry_size(x.name_len);
    }
    put32(p + 12, hash);
    if (s_.metadata_csum) put32(p + 16, block_csum(s_, blk, p));
    TRY(write_meta(b));
  } else {
    TRY(xattr_release_block(in));
  }
  // The inode's area, rewritten whole (zeros past what is used).
  if (ilen) {
    uint32_t group = (in.ino - 1) / s_.inodes_per_group;
    uint64_t byte = uint64_t((in.ino - 1) % s_.inodes_per_group) * s_.inode_size;
    bcache::BlockRef b = TRY(cache_.get(groups_[group].inode_table + byte / s_.block_size));
    uint8_t* raw = b.mutable_data() + byte % s_.block_size;
    uint8_t* body = raw + 128 + in.extra_isize;
    __builtin_memset(body, 0, ilen);
    if (iused > 4) {
      put32(body, XATTR_MAGIC);
      uint8_t* first = body + 4;
      uint32_t eoff = 0, vend = ilen - 4;
      for (size_t i = 0; i < l.n; ++i) {
        if (!in_inode[i]) continue;
        const Attr& x = l.a[i];
        vend -= pad4(x.size);
        if (x.size) __builtin_memcpy(first + vend, x.value, x.size);
        put_entry(first + eoff, x, vend);
        eoff += entry_size(x.name_len);
      }
    }
    // i_file_acl (lo 32 at 0x68, hi 16 at 0x76): not among the fields
    // encode_inode writes.
    put32(raw + 0x68, uint32_t(in.file_acl));
    put16(raw + 0x76, uint32_t(in.file_acl >> 32));
  } else {
    uint32_t group = (in.ino - 1) / s_.inodes_per_group;
    uint64_t byte = uint64_t((in.ino - 1) % s_.inodes_per_group) * s_.inode_size;
    bcache::BlockRef b = TRY(cache_.get(groups_[group].inode_table + byte / s_.block_size));
    uint8_t* raw = b.mutable_data() + byte % s_.block_size;
    put32(raw + 0x68, uint32_t(in.file_acl));
    put16(raw + 0x76, uint32_t(in.file_acl >> 32));
  }
  in.ctime_ns = vfs::fs_now_ns();
  return write_inode(in);  // the modelled fields and the checksum over it all
}

Result<size_t> Node::getxattr(StringView name, void* buf, size_t cap) {
  StringView rest;
  const Prefix* p = TRY(split_name(name, &rest));
  Ext4Fs::Txn g(*xfs());
  AttrList l;
  TRY(xfs()->xattr_load(in_, &l));
  Attr* x = l.find(p->index, rest);
  if (!x) return Error::NoData;
  if (cap == 0) return size_t(x->size);
  if (cap < x->size) return Error::Range;
  if (x->size) __builtin_memcpy(buf, x->value, x->size);
  return size_t(x->size);
}

Result<size_t> Node::listxattr(char* buf, size_t cap, bool trusted) {
  Ext4Fs::Txn g(*xfs());
  AttrList l;
  TRY(xfs()->xattr_load(in_, &l));
  size_t total = 0;
  for (size_t i = 0; i < l.n; ++i) {
    const Prefix* p = nullptr;
    for (const Prefix& q : PREFIXES)
      if (q.index == l.a[i].index) p = &q;
    if (!p || (p->index == 4 && !trusted)) continue;  // ACLs, system.data: not listed here
    size_t len = p->text.size() + l.a[i].name_len + 1;
    if (cap) {
      if (total + len > cap) return Error::Range;
      __builtin_memcpy(buf + total, p->text.data(), p->text.size());
      __builtin_memcpy(buf + total + p->text.size(), l.a[i].name, l.a[i].name_len);
      buf[total + len - 1] = 0;
    }
    total += len;
  }
  return total;
}

Result<void> Node::setxattr(StringView name, const void* value, size_t size, vfs::XattrSet how) {
  StringView rest;
  const Prefix* p = TRY(split_name(name, &rest));
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  if (rest.size() > 255) return Error::Range;
  if (size > fs.block_size()) return Error::NoSpace;  // no EA inodes: a value fits a block or nothing
  Ext4Fs::Txn g(fs);
  AttrList l;
  TRY(fs.xattr_load(in_, &l));
  Attr* x = l.find(p->index, rest);
  if (x && how == vfs::XattrSet::Create) return Error::Exists;
  if (!x && how == vfs::XattrSet::Replace) return Error::NoData;
  if (x) l.remove(x);
  TRY(l.add(p->index, rest.data(), rest.size(), static_cast<const uint8_t*>(value), uint32_t(size)));
  return fs.xattr_store(in_, &l);
}

Result<void> Node::removexattr(StringView name) {
  StringView rest;
  const Prefix* p = TRY(split_name(name, &rest));
  Ext4Fs& fs = *xfs();
  if (!fs.writable()) return Error::ReadOnly;
  Ext4Fs::Txn g(fs);
  AttrList l;
  TRY(fs.xattr_load(in_, &l));
  Attr* x = l.find(p->index, rest);
  if (!x) return Error::NoData;
  l.remove(x);
  return fs.xattr_store(in_, &l);
}

}  // namespace capsule::ext4
