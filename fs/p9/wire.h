#pragma once
// 9P2000.L messages on the wire (docs/9p.md): little-endian integers,
// strings as len[2] + bytes, a qid as type[1] version[4] path[8]. Every
// message starts with size[4] type[1] tag[2]. Pure code over caller
// memory: tests/unit/p9_wire_test.cc runs it on the host.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::p9 {

// Message types (T = request, R = its reply = T + 1).
enum : uint8_t {
  RLERROR = 7,
  TSTATFS = 8,
  TLOPEN = 12,
  TLCREATE = 14,
  TSYMLINK = 16,
  TMKNOD = 18,
  TREADLINK = 22,
  TGETATTR = 24,
  TSETATTR = 26,
  TREADDIR = 40,
  TFSYNC = 50,
  TLINK = 70,
  TMKDIR = 72,
  TRENAMEAT = 74,
  TUNLINKAT = 76,
  TVERSION = 100,
  TATTACH = 104,
  TWALK = 110,
  TREAD = 116,
  TWRITE = 118,
  TCLUNK = 120,
};

constexpr size_t HEADER = 7;          // size[4] type[1] tag[2]
constexpr uint32_t NOFID = ~0u;
constexpr uint16_t NOTAG = 0xffff;
constexpr size_t QID_SIZE = 13;
constexpr size_t READ_OVERHEAD = HEADER + 4;            // Rread: count[4] then the data
constexpr size_t WRITE_OVERHEAD = HEADER + 4 + 8 + 4;   // Twrite: fid offset count, then the data
constexpr size_t READDIR_OVERHEAD = HEADER + 4;

// Tgetattr's request mask: the basic stat(2) fields (P9_GETATTR_BASIC).
constexpr uint64_t GETATTR_BASIC = 0x7ff;
// Tsetattr's valid bits.
constexpr uint32_t SETATTR_MODE = 1 << 0, SETATTR_UID = 1 << 1, SETATTR_GID = 1 << 2, SETATTR_SIZE = 1 << 3,
                   SETATTR_ATIME = 1 << 4, SETATTR_MTIME = 1 << 5, SETATTR_ATIME_SET = 1 << 7,
                   SETATTR_MTIME_SET = 1 << 8;
// Open flags are Linux's O_* (9P2000.L "dotl" flags).
constexpr uint32_t P9_RDONLY = 0, P9_WRONLY = 1, P9_RDWR = 2, P9_CREAT = 0100, P9_EXCL = 0200,
                   P9_DIRECTORY = 0200000, P9_NOFOLLOW = 0400000;
constexpr uint32_t P9_AT_REMOVEDIR = 0x200;

struct Qid {
  uint8_t type = 0;
  uint32_t version = 0;
  uint64_t path = 0;
};

// Builds a T-message in place; overflow() when it did not fit.
class Writer {
 public:
  Writer(uint8_t* buf, size_t cap, uint8_t type) : p_(buf), cap_(cap) {
    if (cap_ < HEADER) {
      bad_ = true;
      return;
    }
    p_[4] = type;
    p_[5] = uint8_t(NOTAG);
    p_[6] = uint8_t(NOTAG >> 8);
    n_ = HEADER;
  }
  void u8(uint8_t v) { put(v, 1); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void str(StringView s) {
    if (s.size() > 0xffff) {
      bad_ = true;
      return;
    }
    u16(uint16_t(s.size()));
    bytes(s.data(), s.size());
  }
  void bytes(const void* d, size_t n) {
    if (!room(n)) return;
    __builtin_memcpy(p_ + n_, d, n);
    n_ += n;
  }
  // Room for n bytes the caller writes at data() (Twrite's payload).
  uint8_t* reserve(size_t n) {
    if (!room(n)) return nullptr;
    uint8_t* d = p_ + n_;
    n_ += n;
    return d;
  }
  bool overflow() const { return bad_; }
  // Writes size[4]; the message's length.
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

// Reads an R-message's body; bad() once anything ran past the end.
class Reader {
 public:
  Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint8_t u8() { return uint8_t(get(1)); }
  uint16_t u16() { return uint16_t(get(2)); }
  uint32_t u32() { return uint32_t(get(4)); }
  uint64_t u64() { return get(8); }
  StringView str() {
    size_t len = u16();
    const uint8_t* d = bytes(len);
    return d ? StringView(reinterpret_cast<const char*>(d), len) : StringView();
  }
  const uint8_t* bytes(size_t n) {
    if (bad_ || n > n_ - pos_) {
      bad_ = true;
      return nullptr;
    }
    const uint8_t* d = p_ + pos_;
    pos_ += n;
    return d;
  }
  Qid qid() {
    Qid q;
    q.type = u8();
    q.version = u32();
    q.path = u64();
    return q;
  }
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
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  bool bad_ = false;
};

// Checks a reply to a request of type `t` (`reply`, `len` bytes, as the
// transport returned it) and gives a Reader over its body: Rlerror's
// errno as the Error it names; Io for a reply that is malformed, of
// another type or longer than what arrived.
Result<Reader> parse_reply(const uint8_t* reply, size_t len, uint8_t t);

// A Linux errno number (what Rlerror carries) as an Error; Io for one
// this kernel has no name for.
Error error_from_errno(uint32_t e);

}  // namespace capsule::p9
