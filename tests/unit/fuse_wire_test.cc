// FUSE message code (fs/fuse/wire.h, docs/virtiofs.md): request headers,
// reply checks, and what a server's bad reply gets (Io, never a crash).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fs/fuse/wire.h"

using namespace capsule;
using namespace capsule::fuse;

namespace {

void put(std::vector<uint8_t>& m, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) m.push_back(uint8_t(v >> (8 * i)));
}

// A reply: fuse_out_header {len, error, unique}, then the body.
std::vector<uint8_t> reply(int32_t error, uint64_t unique, std::vector<uint8_t> body = {}) {
  std::vector<uint8_t> m;
  put(m, 16 + body.size(), 4);
  put(m, uint32_t(error), 4);
  put(m, unique, 8);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t(le32(p + 4)) << 32; }

}  // namespace

TEST(FuseWire, LookupRequestLayout) {
  uint8_t buf[128];
  Writer w(buf, sizeof buf, LOOKUP, 42, 7);
  w.cstr("abc");
  ASSERT_FALSE(w.overflow());
  size_t n = w.finish();
  ASSERT_EQ(n, IN_HEADER + 4);
  EXPECT_EQ(le32(buf), n);           // len
  EXPECT_EQ(le32(buf + 4), LOOKUP);  // opcode
  EXPECT_EQ(le64(buf + 8), 42u);     // unique
  EXPECT_EQ(le64(buf + 16), 7u);     // nodeid
  EXPECT_EQ(le32(buf + 24), 0u);     // uid
  EXPECT_EQ(memcmp(buf + IN_HEADER, "abc", 4), 0);  // the name and its NUL
}

TEST(FuseWire, WriterOverflowIsReported) {
  uint8_t buf[IN_HEADER + 4];
  Writer w(buf, sizeof buf, WRITE, 1, 1);
  w.u64(1);
  EXPECT_TRUE(w.overflow());
  uint8_t small[8];
  Writer w2(small, sizeof small, INIT, 1, 0);
  EXPECT_TRUE(w2.overflow());
}

TEST(FuseWire, GoodReplyGivesItsBody) {
  auto m = reply(0, 9, {1, 0, 0, 0, 2, 0, 0, 0});
  auto r = parse_reply(m.data(), m.size(), 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().u32(), 1u);
  EXPECT_EQ(r.value().u32(), 2u);
  EXPECT_EQ(r.value().left(), 0u);
  r.value().u32();
  EXPECT_TRUE(r.value().bad());
}

TEST(FuseWire, ServerErrnoBecomesTheError) {
  auto m = reply(-2, 5);
  auto r = parse_reply(m.data(), m.size(), 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::NotFound);
  m = reply(-39, 5);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 5).error(), Error::NotEmpty);
  m = reply(-30, 5);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 5).error(), Error::ReadOnly);
  m = reply(-4000, 5);  // an errno this kernel has no name for
  EXPECT_EQ(parse_reply(m.data(), m.size(), 5).error(), Error::Io);
}

TEST(FuseWire, BadRepliesAreIo) {
  // Shorter than its header, in every length.
  auto good = reply(0, 3, {1, 2, 3, 4});
  for (size_t n = 0; n < OUT_HEADER; ++n)
    EXPECT_EQ(parse_reply(good.data(), n, 3).error(), Error::Io) << n;
  // A len shorter than the header, or longer than what arrived.
  auto m = good;
  m[0] = 15;
  EXPECT_EQ(parse_reply(m.data(), m.size(), 3).error(), Error::Io);
  m[0] = uint8_t(good.size() + 1);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 3).error(), Error::Io);
  // Another request's reply.
  EXPECT_EQ(parse_reply(good.data(), good.size(), 4).error(), Error::Io);
  // A positive error, or one below -4095.
  m = reply(5, 3);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 3).error(), Error::Io);
  m = reply(-5000, 3);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 3).error(), Error::Io);
  m = reply(int32_t(0x80000000), 3);
  EXPECT_EQ(parse_reply(m.data(), m.size(), 3).error(), Error::Io);
}

TEST(FuseWire, EntryOutDecodes) {
  std::vector<uint8_t> b;
  put(b, 77, 8);      // nodeid
  put(b, 1, 8);       // generation
  put(b, 0, 8);       // entry_valid
  put(b, 0, 8);       // attr_valid
  put(b, 0, 4);       // entry_valid_nsec
  put(b, 0, 4);       // attr_valid_nsec
  put(b, 1234, 8);    // ino
  put(b, 5000, 8);    // size
  put(b, 16, 8);      // blocks
  put(b, 10, 8);      // atime
  put(b, 20, 8);      // mtime
  put(b, 30, 8);      // ctime
  put(b, 1, 4);       // atimensec
  put(b, 2, 4);
  put(b, 3, 4);
  put(b, 0100644, 4); // mode
  put(b, 1, 4);       // nlink
  put(b, 1000, 4);    // uid
  put(b, 100, 4);     // gid
  put(b, (5 << 8) | 1, 4);  // rdev: 5:1
  put(b, 4096, 4);    // blksize
  put(b, 0, 4);       // flags
  ASSERT_EQ(b.size(), ENTRY_OUT);
  Reader r(b.data(), b.size());
  Entry e = read_entry(r);
  ASSERT_FALSE(r.bad());
  EXPECT_EQ(e.nodeid, 77u);
  EXPECT_EQ(e.attr.ino, 1234u);
  EXPECT_EQ(e.attr.size, 5000u);
  EXPECT_EQ(e.attr.mtime_ns, 20000000002);
  EXPECT_EQ(e.attr.mode, 0100644u);
  EXPECT_EQ(e.attr.uid, 1000u);
  EXPECT_EQ(decode_dev(e.attr.rdev), (uint64_t(5) << 32) | 1);
  // Cut short anywhere: bad(), never a read past the end.
  for (size_t n = 0; n < ENTRY_OUT; ++n) {
    Reader s(b.data(), n);
    (void)read_entry(s);
    EXPECT_TRUE(s.bad()) << n;
  }
}

TEST(FuseWire, DevNumbersRoundTrip) {
  uint64_t d = (uint64_t(259) << 32) | 70000;
  EXPECT_EQ(decode_dev(encode_dev(d)), d);
  EXPECT_EQ(encode_dev((uint64_t(8) << 32) | 1), 0x801u);
}

namespace {
void dirent(std::vector<uint8_t>& b, uint64_t ino, uint64_t off, uint32_t type, const std::string& name,
            bool pad = true) {
  put(b, ino, 8);
  put(b, off, 8);
  put(b, name.size(), 4);
  put(b, type, 4);
  b.insert(b.end(), name.begin(), name.end());
  if (pad)
    while (b.size() % 8) b.push_back(0);
}
}  // namespace

TEST(FuseWire, DirentsWalk) {
  std::vector<uint8_t> b;
  dirent(b, 10, 1, 4, ".");
  dirent(b, 11, 2, 8, "file.txt");
  dirent(b, 12, 3, 10, "l", false);  // the last one's padding cut short
  Reader r(b.data(), b.size());
  Dirent d;
  ASSERT_TRUE(read_dirent(r, &d));
  EXPECT_EQ(std::string(d.name.data(), d.name.size()), ".");
  ASSERT_TRUE(read_dirent(r, &d));
  EXPECT_EQ(std::string(d.name.data(), d.name.size()), "file.txt");
  EXPECT_EQ(d.ino, 11u);
  EXPECT_EQ(d.next, 2u);
  EXPECT_EQ(d.type, 8u);
  ASSERT_TRUE(read_dirent(r, &d));
  EXPECT_EQ(d.next, 3u);
  EXPECT_FALSE(read_dirent(r, &d));
  EXPECT_FALSE(r.bad());
}

TEST(FuseWire, BadDirentsAreRefused) {
  // An empty name, a name past the end, a name longer than NAME_MAX, a
  // header cut short: refused (bad()), never read past the reply.
  for (int k = 0; k < 4; ++k) {
    std::vector<uint8_t> b;
    if (k == 0) dirent(b, 1, 1, 8, "");
    if (k == 1) {
      dirent(b, 1, 1, 8, "abc");
      b[16] = 200;  // namelen beyond the reply
    }
    if (k == 2) dirent(b, 1, 1, 8, std::string(256, 'x'));
    if (k == 3) b.assign(20, 1);
    Reader r(b.data(), b.size());
    Dirent d;
    EXPECT_FALSE(read_dirent(r, &d)) << k;
    EXPECT_TRUE(r.bad()) << k;
  }
}

TEST(FuseWire, HugeTimesClampNotOverflow) {
  std::vector<uint8_t> b;
  put(b, 1, 8);                      // ino
  put(b, 0, 8);                      // size
  put(b, 0, 8);                      // blocks
  put(b, 0x1000000000000001ull, 8);  // atime: past int64 nanoseconds
  put(b, uint64_t(-5), 8);           // mtime: before 1970
  put(b, 0x8000000000000000ull, 8);  // ctime: the most negative
  put(b, 4000000000u, 4);            // atimensec out of range
  put(b, 0, 4);
  put(b, 0, 4);
  for (int i = 0; i < 7; ++i) put(b, 0, 4);
  Reader r(b.data(), b.size());
  WireAttr a = read_attr(r);
  ASSERT_FALSE(r.bad());
  EXPECT_GT(a.atime_ns, int64_t(9000000000000000000));
  EXPECT_EQ(a.mtime_ns, -5000000000);
  EXPECT_LT(a.ctime_ns, int64_t(-9000000000000000000));
}
