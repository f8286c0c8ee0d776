#pragma once
// FUSE messages on the wire (docs/virtiofs.md), as Linux's
// include/uapi/linux/fuse.h defines them (protocol 7.31): a request is
// fuse_in_header (40 bytes) then the opcode's arguments; a reply is
// fuse_out_header (16 bytes: len, error as a negative errno, unique) then
// the opcode's result. Integers are the host's byte order, little-endian
// on x86-64. Pure code over caller memory: tests/unit/fuse_wire_test.cc
// runs it on the host.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::fuse {

enum : uint32_t {
  LOOKUP = 1,
  FORGET = 2,
  GETATTR = 3,
  SETATTR = 4,
  READLINK = 5,
  SYMLINK = 6,
  MKNOD = 8,
  MKDIR = 9,
  UNLINK = 10,
  RMDIR = 11,
  RENAME = 12,
  LINK = 13,
  OPEN = 14,
  READ = 15,
  WRITE = 16,
  STATFS = 17,
  RELEASE = 18,
  FSYNC = 20,
  INIT = 26,
  OPENDIR = 27,
  READDIR = 28,
  RELEASEDIR = 29,
  CREATE = 35,
  BATCH_FORGET = 42,
  FALLOCATE = 43,
  RENAME2 = 45,
};

constexpr uint32_t KERNEL_VERSION = 7, KERNEL_MINOR = 31;
constexpr size_t IN_HEADER = 40, OUT_HEADER = 16;
constexpr uint64_t ROOT_ID = 1;  // FUSE_ROOT_ID
constexpr size_t ATTR_SIZE = 88;                 // struct fuse_attr
constexpr size_t ENTRY_OUT = 40 + ATTR_SIZE;     // struct fuse_entry_out
constexpr size_t ATTR_OUT = 16 + ATTR_SIZE;      // struct fuse_attr_out
constexpr size_t OPEN_OUT = 16;                  // struct fuse_open_out
constexpr size_t READ_IN = 40, WRITE_IN = 40;    // struct fuse_read_in / fuse_write_in
constexpr size_t DIRENT_HEADER = 24;             // struct fuse_dirent before the name

// fuse_setattr_in.valid.
constexpr uint32_t FATTR_MODE = 1 << 0, FATTR_UID = 1 << 1, FATTR_GID = 1 << 2, FATTR_SIZE = 1 << 3,
                   FATTR_ATIME = 1 << 4, FATTR_MTIME = 1 << 5, FATTR_FH = 1 << 6, FATTR_ATIME_NOW = 1 << 7,
                   FATTR_MTIME_NOW = 1 << 8;
// fuse_init flags this client asks for.
constexpr uint32_t INIT_BIG_WRITES = 1 << 5;
// Open flags are Linux's O_*.
constexpr uint32_t O_RDONLY_ = 0, O_WRONLY_ = 1, O_RDWR_ = 2, O_CREAT_ = 0100, O_EXCL_ = 0200;
constexpr uint32_t RENAME_NOREPLACE_ = 1;
constexpr uint32_t FSYNC_FDATASYNC = 1;                       // fuse_fsync_in.fsync_flags
constexpr uint32_t FALLOC_KEEP_SIZE = 1, FALLOC_PUNCH_HOLE = 2;  // fallocate(2)'s mode

// Builds a request in place; overflow() when it did not fit.
class Writer {
 public:
  // fuse_in_header: len (finish), opcode, unique, nodeid, uid, gid, pid.
  Writer(uint8_t* buf, size_t cap, uint32_t opcode, uint64_t unique, uint64_t nodeid) : p_(buf), cap_(cap) {
    if (cap_ < IN_HEADER) {
      bad_ = true;
      return;
    }
    u32(0);
    u32(opcode);
    u64(unique);
    u64(nodeid);
    u32(0);  // uid: the program runs as root
    u32(0);  // gid
    u32(1);  // pid
    u32(0);  // total_extlen, padding
  }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  // A name: its bytes and a NUL (names and link targets are C strings).
  void cstr(StringView s) {
    bytes(s.data(), s.size());
    put(0, 1);
  }
  void bytes(const void* d, size_t n) {
    if (!room(n)) return;
    if (n) __builtin_memcpy(p_ + n_, d, n);
    n_ += n;
  }
  uint8_t* reserve(size_t n) {
    if (!room(n)) return nullptr;
    uint8_t* d = p_ + n_;
    n_ += n;
    return d;
  }
  bool overflow() const { return bad_; }
  // Writes the header's len; the request's length.
  size_t finish() {
    for (int i = 0; i < 4; ++i) p_[i] = uint8_t(n_ >> (8 * i));
    return n_;
  }

 private:
  bool room(size_t n) {
    if (bad_ || n > cap_ - n_) {
      bad_ = true;
      return false;
    }
    return true;
  }
  void put(uint64_t v, size_t n) {
    if (!room(n)) return;
    for (size_t i = 0; i < n; ++i) p_[n_++] = uint8_t(v >> (8 * i));
  }
  uint8_t* p_;
  size_t cap_;
  size_t n_ = 0;
  bool bad_ = false;
};

// Reads a reply's body; bad() once anything ran past the end.
class Reader {
 public:
  Reader() = default;
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint32_t u32() { return uint32_t(get(4)); }
  uint64_t u64() { return get(8); }
  const uint8_t* bytes(size_t n) {
    if (bad_ || n > n_ - pos_) {
      bad_ = true;
      return nullptr;
    }
    const uint8_t* d = p_ + pos_;
    pos_ += n;
    return d;
  }
  void skip(size_t n) { (void)bytes(n); }
  bool bad() const { return bad_; }
  size_t left() const { return bad_ ? 0 : n_ - pos_; }

 private:
  uint64_t get(size_t n) {
    if (bad_ || n > n_ - pos_) {
      bad_ = true;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(p_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  const uint8_t* p_ = nullptr;
  size_t n_ = 0;
  size_t pos_ = 0;
  bool bad_ = false;
};

// struct fuse_attr, decoded.
struct WireAttr {
  uint64_t ino = 0, size = 0, blocks = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
  uint32_t mode = 0, nlink = 0, uid = 0, gid = 0, rdev = 0, blksize = 0;
};
WireAttr read_attr(Reader& r);

// struct fuse_entry_out: the node the server made or found, and its
// attributes (one lookup count more on the server for nodeid).
struct Entry {
  uint64_t nodeid = 0;
  WireAttr attr;
};
Entry read_entry(Reader& r);

// One struct fuse_dirent of a READDIR reply: ino, off (the cookie of the
// next entry), namelen, type (DT_*), the name, padding to 8 bytes.
struct Dirent {
  uint64_t ino = 0, next = 0;
  uint32_t type = 0;
  StringView name;
};
constexpr size_t MAX_DIRENT_NAME = 255;
// The next entry of `r`; false at the end or when malformed (then
// r.bad(): a name that is empty, longer than MAX_DIRENT_NAME or past the
// end).
bool read_dirent(Reader& r, Dirent* d);

// Checks a reply (`reply`, `len` bytes as the device wrote them) to the
// request `unique`, and gives a Reader over its body: the server's error
// (a negative errno) as the Error it names; Io for a reply shorter than
// its header, longer than what arrived, for another request, or with an
// error outside -4095..0.
Result<Reader> parse_reply(const uint8_t* reply, size_t len, uint64_t unique);

// A Linux errno number as an Error; Io for one this kernel has no name for.
Error error_from_errno(uint32_t e);

// dev_t as the server sends it (Linux's new_encode_dev in 32 bits) to and
// from the VFS's (major << 32) | minor.
uint64_t decode_dev(uint32_t d);
uint32_t encode_dev(uint64_t d);

}  // namespace capsule::fuse
