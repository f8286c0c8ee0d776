// 9P2000.L message code (fs/p9/wire.h, docs/9p.md): building T-messages,
// checking and reading R-messages; what a server's bad reply gets (Io),
// and Rlerror's errno as the Error the program will see.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "fs/p9/wire.h"

using namespace capsule;
using namespace capsule::p9;

namespace {

// An R-message: header with `type`, then body bytes.
std::vector<uint8_t> reply(uint8_t type, std::vector<uint8_t> body) {
  std::vector<uint8_t> m(7);
  uint32_t n = uint32_t(7 + body.size());
  for (int i = 0; i < 4; ++i) m[i] = uint8_t(n >> (8 * i));
  m[4] = type;
  m[5] = 3;
  m[6] = 0;
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

}  // namespace

TEST(P9Wire, WalkMessageLayout) {
  uint8_t buf[64];
  Writer w(buf, sizeof buf, TWALK);
  w.u32(1);
  w.u32(2);
  w.u16(1);
  w.str("abc");
  ASSERT_FALSE(w.overflow());
  size_t n = w.finish();
  const uint8_t want[] = {24, 0, 0, 0, TWALK, 0xff, 0xff, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 3, 0, 'a', 'b', 'c'};
  // size[4] type[1] tag[2] fid[4] newfid[4] nwname[2] len[2] "abc" = 22 bytes
  ASSERT_EQ(n, 22u);
  EXPECT_EQ(buf[0], 22);
  EXPECT_EQ(std::memcmp(buf + 1, want + 1, 21), 0);
}

TEST(P9Wire, WriterOverflowIsReported) {
  uint8_t buf[16];
  Writer w(buf, sizeof buf, TWRITE);
  w.u64(1);
  EXPECT_FALSE(w.overflow());
  w.u64(2);  // 7 + 8 + 8 > 16
  EXPECT_TRUE(w.overflow());
  Writer r(buf, sizeof buf, TREAD);
  EXPECT_EQ(r.reserve(100), nullptr);
  EXPECT_TRUE(r.overflow());
}

TEST(P9Wire, ReadsLittleEndianFieldsAndQids) {
  auto m = reply(TWALK + 1, {1, 0, 0x80, 0x78, 0x56, 0x34, 0x12, 0x0d, 0x0c, 0x0b, 0x0a, 0, 0, 0, 0x01});
  auto r = parse_reply(m.data(), m.size(), TWALK);
  ASSERT_TRUE(r.ok());
  Reader& rd = r.value();
  EXPECT_EQ(rd.u16(), 1);
  Qid q = rd.qid();
  EXPECT_EQ(q.type, 0x80);
  EXPECT_EQ(q.version, 0x12345678u);
  EXPECT_EQ(q.path, 0x010000000a0b0c0dull);
  EXPECT_FALSE(rd.bad());
  EXPECT_EQ(rd.left(), 0u);
  rd.u8();  // past the end
  EXPECT_TRUE(rd.bad());
}

TEST(P9Wire, StringPastTheEndIsBad) {
  auto m = reply(TREADLINK + 1, {10, 0, 'a', 'b'});
  auto r = parse_reply(m.data(), m.size(), TREADLINK);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().str().empty());
  EXPECT_TRUE(r.value().bad());
}

TEST(P9Wire, RlerrorBecomesTheError) {
  auto m = reply(RLERROR, {2, 0, 0, 0});
  auto r = parse_reply(m.data(), m.size(), TWALK);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), Error::NotFound);
  auto m2 = reply(RLERROR, {39, 0, 0, 0});
  EXPECT_EQ(parse_reply(m2.data(), m2.size(), TUNLINKAT).error(), Error::NotEmpty);
  // errno 0 or an unknown number: Io, never success.
  auto m3 = reply(RLERROR, {0, 0, 0, 0});
  EXPECT_EQ(parse_reply(m3.data(), m3.size(), TWALK).error(), Error::Io);
  EXPECT_EQ(error_from_errno(30), Error::ReadOnly);
  EXPECT_EQ(error_from_errno(13), Error::AccessDenied);
  EXPECT_EQ(error_from_errno(18), Error::CrossDevice);
  EXPECT_EQ(error_from_errno(9999), Error::Io);
}

TEST(P9Wire, BadRepliesAreIo) {
  // Shorter than a header.
  uint8_t tiny[3] = {3, 0, 0};
  EXPECT_EQ(parse_reply(tiny, sizeof tiny, TWALK).error(), Error::Io);
  // A reply of another type.
  auto m = reply(TREAD + 1, {0, 0, 0, 0});
  EXPECT_EQ(parse_reply(m.data(), m.size(), TWALK).error(), Error::Io);
  // A size field larger than what arrived.
  auto big = reply(TWALK + 1, {0, 0});
  big[0] = 200;
  EXPECT_EQ(parse_reply(big.data(), big.size(), TWALK).error(), Error::Io);
  // A size field below the header.
  auto small = reply(TWALK + 1, {});
  small[0] = 4;
  EXPECT_EQ(parse_reply(small.data(), small.size(), TWALK).error(), Error::Io);
}
