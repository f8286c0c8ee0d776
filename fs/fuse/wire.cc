// FUSE reply checks and decoding (fs/fuse/wire.h).
#include "fs/fuse/wire.h"

#include "fs/p9/wire.h"

namespace capsule::fuse {

Result<Reader> parse_reply(const uint8_t* reply, size_t len, uint64_t unique) {
  if (len < OUT_HEADER) return Error::Io;
  Reader h(reply, OUT_HEADER);
  uint32_t size = h.u32();
  auto error = int32_t(h.u32());
  uint64_t u = h.u64();
  if (size < OUT_HEADER || size > len || u != unique) return Error::Io;
  if (error < -4095 || error > 0) return Error::Io;
  // An error reply is the header alone [fuse.h: "error" replies carry no body].
  if (error) return error_from_errno(uint32_t(-error));
  return Reader(reply + OUT_HEADER, size - OUT_HEADER);
}

// The same numbers 9P2000.L's Rlerror carries: Linux's errnos.
Error error_from_errno(uint32_t e) { return p9::error_from_errno(e); }

namespace {
// A server's (signed) seconds and nanoseconds as nanoseconds, clamped to
// what int64 holds (year 2262) rather than overflowing.
int64_t to_ns(uint64_t sec, uint32_t nsec) {
  constexpr int64_t LIMIT = INT64_MAX / 1000000000 - 1;
  auto s = int64_t(sec);
  if (s > LIMIT) s = LIMIT;
  if (s < -LIMIT) s = -LIMIT;
  return s * 1000000000 + (nsec < 1000000000 ? int64_t(nsec) : 999999999);
}
}  // namespace

WireAttr read_attr(Reader& r) {
  WireAttr a;
  a.ino = r.u64();
  a.size = r.u64();
  a.blocks = r.u64();
  uint64_t as = r.u64(), ms = r.u64(), cs = r.u64();
  uint32_t ans = r.u32(), mns = r.u32(), cns = r.u32();
  a.atime_ns = to_ns(as, ans);
  a.mtime_ns = to_ns(ms, mns);
  a.ctime_ns = to_ns(cs, cns);
  a.mode = r.u32();
  a.nlink = r.u32();
  a.uid = r.u32();
  a.gid = r.u32();
  a.rdev = r.u32();
  a.blksize = r.u32();
  (void)r.u32();  // flags
  return a;
}

Entry read_entry(Reader& r) {
  Entry e;
  e.nodeid = r.u64();
  r.skip(8 + 8 + 8 + 4 + 4);  // generation, entry_valid, attr_valid and their nsecs
  e.attr = read_attr(r);
  return e;
}

bool read_dirent(Reader& r, Dirent* d) {
  if (!r.left()) return false;
  d->ino = r.u64();
  d->next = r.u64();
  uint32_t namelen = r.u32();
  d->type = r.u32();
  if (r.bad()) return false;
  if (namelen == 0 || namelen > MAX_DIRENT_NAME) {
    r.skip(r.left() + 1);  // malformed: bad()
    return false;
  }
  const uint8_t* name = r.bytes(namelen);
  if (!name) return false;
  d->name = StringView(reinterpret_cast<const char*>(name), namelen);
  // [fuse.h FUSE_DIRENT_ALIGN] entries start on 8 bytes; the last one's
  // padding may be cut by the reply's end.
  size_t pad = (DIRENT_HEADER + namelen + 7) / 8 * 8 - DIRENT_HEADER - namelen;
  r.skip(pad < r.left() ? pad : r.left());
  return true;
}

uint64_t decode_dev(uint32_t d) {
  uint64_t major = (d >> 8) & 0xfff;
  uint64_t minor = (d & 0xff) | ((d >> 12) & 0xfff00);
  return (major << 32) | minor;
}

uint32_t encode_dev(uint64_t d) {
  uint32_t major = uint32_t(d >> 32), minor = uint32_t(d);
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xffu) << 12);
}

}  // namespace capsule::fuse
