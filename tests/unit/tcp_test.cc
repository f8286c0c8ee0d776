// TCP's pure logic (net/inet/): sequence arithmetic across the wrap (RFC
// 793 3.3), the receive test, and header/option parsing with what
// malformed headers get.
#include <gtest/gtest.h>

#include <vector>

#include "net/byte_order.h"
#include "net/inet/tcp_header.h"
#include "net/inet/tcp_ooo.h"
#include "net/inet/tcp_seq.h"

using namespace capsule::net;

namespace {

TEST(TcpSeq, ComparesAcrossTheWrap) {
  EXPECT_TRUE(seq_lt(0xfffffff0u, 0x10u));
  EXPECT_TRUE(seq_gt(0x10u, 0xfffffff0u));
  EXPECT_TRUE(seq_le(5, 5));
  EXPECT_FALSE(seq_lt(5, 5));
  EXPECT_TRUE(seq_in(0xffffffffu, 0xfffffff0u, 0x10u));
  EXPECT_FALSE(seq_in(0x10u, 0xfffffff0u, 0x10u));  // the end is outside
}

TEST(TcpSeq, SegmentReceiveTest) {
  // RFC 793 p. 26's four cases.
  EXPECT_TRUE(seq_acceptable(100, 0, 100, 0));    // len 0, window 0: exactly rcv_nxt
  EXPECT_FALSE(seq_acceptable(101, 0, 100, 0));
  EXPECT_TRUE(seq_acceptable(150, 0, 100, 100));  // len 0 inside the window
  EXPECT_FALSE(seq_acceptable(200, 0, 100, 100));
  EXPECT_FALSE(seq_acceptable(100, 10, 100, 0));  // data into a zero window
  EXPECT_TRUE(seq_acceptable(90, 20, 100, 100));  // starts before, ends inside
  EXPECT_TRUE(seq_acceptable(190, 20, 100, 100)); // starts inside
  EXPECT_FALSE(seq_acceptable(80, 20, 100, 100)); // wholly old (a duplicate)
  EXPECT_TRUE(seq_acceptable(0xfffffffau, 10, 0xfffffffeu, 100));  // across the wrap
}

std::vector<uint8_t> built(uint16_t mss, int ws, uint8_t flags) {
  std::vector<uint8_t> b(TCP_MAX_BUILT_HEADER + 3);
  TcpSegment s;
  s.sport = 1234, s.dport = 80, s.seq = 0xdeadbeef, s.ack = 7, s.flags = flags, s.window = 4096;
  size_t n = tcp_build(b.data(), s, mss, ws);
  b.resize(n + 3);
  b[n] = 'a', b[n + 1] = 'b', b[n + 2] = 'c';
  return b;
}

TEST(TcpHeader, BuildThenParseWithOptions) {
  auto b = built(1460, 7, TCP_SYN);
  TcpSegment s;
  ASSERT_TRUE(tcp_parse(b.data(), b.size(), s));
  EXPECT_EQ(s.sport, 1234);
  EXPECT_EQ(s.dport, 80);
  EXPECT_EQ(s.seq, 0xdeadbeefu);
  EXPECT_EQ(s.flags, TCP_SYN);
  EXPECT_EQ(s.window, 4096);
  EXPECT_EQ(s.header_len, 28u);
  EXPECT_EQ(s.mss, 1460);
  EXPECT_TRUE(s.has_wscale);
  EXPECT_EQ(s.wscale, 7);
  EXPECT_EQ(s.len, 3u);
  EXPECT_EQ(s.seq_len(), 4u);  // 3 bytes + the SYN
  auto plain = built(0, -1, TCP_ACK | TCP_FIN);
  ASSERT_TRUE(tcp_parse(plain.data(), plain.size(), s));
  EXPECT_EQ(s.header_len, 20u);
  EXPECT_EQ(s.mss, 0);
  EXPECT_FALSE(s.has_wscale);
  EXPECT_EQ(s.seq_len(), 4u);  // 3 bytes + the FIN
}

TEST(TcpHeader, MalformedIsRejected) {
  auto b = built(1460, 7, TCP_SYN);
  TcpSegment s;
  for (size_t n = 0; n < 28; ++n) {
    std::vector<uint8_t> cut(b.begin(), b.begin() + n);
    EXPECT_FALSE(tcp_parse(cut.data(), cut.size(), s)) << n;  // shorter than its data offset
  }
  auto bad = b;
  bad[12] = 4 << 4;  // data offset 16 bytes: below the minimum
  EXPECT_FALSE(tcp_parse(bad.data(), bad.size(), s));
  bad = b;
  bad[21] = 9;  // the MSS option's length runs past the header
  EXPECT_FALSE(tcp_parse(bad.data(), bad.size(), s));
  bad = b;
  bad[21] = 1;  // an option length below 2
  EXPECT_FALSE(tcp_parse(bad.data(), bad.size(), s));
  bad = b;
  bad[27] = 200;  // a window scale above 14 is taken as 14 (RFC 7323 2.3)
  ASSERT_TRUE(tcp_parse(bad.data(), bad.size(), s));
  EXPECT_EQ(s.wscale, 14);
}

TEST(TcpHeader, SackAndTimestamps) {
  // A SYN with everything Capsule offers: MSS, SACK-permitted with the
  // timestamps (12 bytes), window scale: 40 bytes of header.
  std::vector<uint8_t> b(TCP_MAX_BUILT_HEADER);
  TcpSegment s;
  s.sport = 1, s.dport = 2, s.flags = TCP_SYN;
  TcpOptions o;
  o.mss = 1460, o.wscale = 7, o.sack_ok = true, o.ts = true, o.tsval = 0x01020304, o.tsecr = 0;
  size_t n = tcp_build(b.data(), s, o);
  EXPECT_EQ(n, 40u);
  TcpSegment p;
  ASSERT_TRUE(tcp_parse(b.data(), n, p));
  EXPECT_EQ(p.mss, 1460);
  EXPECT_TRUE(p.has_wscale);
  EXPECT_EQ(p.wscale, 7);
  EXPECT_TRUE(p.sack_ok);
  EXPECT_TRUE(p.has_ts);
  EXPECT_EQ(p.tsval, 0x01020304u);
  EXPECT_EQ(p.tsecr, 0u);
  // SACK-permitted alone: NOP NOP 4 2.
  o = TcpOptions();
  o.sack_ok = true;
  n = tcp_build(b.data(), s, o);
  EXPECT_EQ(n, 24u);
  ASSERT_TRUE(tcp_parse(b.data(), n, p));
  EXPECT_TRUE(p.sack_ok);
  EXPECT_FALSE(p.has_ts);
  // An ACK with timestamps and four SACK blocks: only three fit beside
  // the timestamps (RFC 2018 3), the first ones given.
  s.flags = TCP_ACK;
  o = TcpOptions();
  o.ts = true, o.tsval = 7, o.tsecr = 9, o.nsack = 4;
  for (int i = 0; i < 4; ++i) o.sack[i][0] = 1000u * (i + 1), o.sack[i][1] = 1000u * (i + 1) + 500;
  n = tcp_build(b.data(), s, o);
  EXPECT_EQ(n, 20u + 12 + 4 + 24);
  ASSERT_TRUE(tcp_parse(b.data(), n, p));
  EXPECT_TRUE(p.has_ts);
  EXPECT_EQ(p.tsval, 7u);
  EXPECT_EQ(p.tsecr, 9u);
  ASSERT_EQ(p.nsack, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.sack[i][0], 1000u * (i + 1));
    EXPECT_EQ(p.sack[i][1], 1000u * (i + 1) + 500);
  }
  // Without timestamps all four fit (36 bytes of options).
  o.ts = false;
  n = tcp_build(b.data(), s, o);
  EXPECT_EQ(n, 56u);
  ASSERT_TRUE(tcp_parse(b.data(), n, p));
  EXPECT_EQ(p.nsack, 4);
  EXPECT_FALSE(p.has_ts);
  // Bad lengths are skipped, not taken: a SACK option of 9 bytes, a
  // timestamp of 8.
  std::vector<uint8_t> bad(TCP_MAX_BUILT_HEADER, 0);
  s.flags = TCP_ACK;
  n = tcp_build(bad.data(), s, TcpOptions());
  bad[12] = uint8_t((32 / 4) << 4);
  uint8_t opts[12] = {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1};
  __builtin_memcpy(bad.data() + 20, opts, 12);
  ASSERT_TRUE(tcp_parse(bad.data(), 32, p));
  EXPECT_EQ(p.nsack, 0);
  uint8_t opts2[12] = {8, 8, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1};
  __builtin_memcpy(bad.data() + 20, opts2, 12);
  ASSERT_TRUE(tcp_parse(bad.data(), 32, p));
  EXPECT_FALSE(p.has_ts);
}

TEST(TcpOoo, MergesRangesAndFillsHoles) {
  TcpOoo q;
  EXPECT_EQ(q.advance(100), 100u);  // nothing queued
  ASSERT_TRUE(q.add(200, 300));
  ASSERT_TRUE(q.add(400, 500));
  EXPECT_EQ(q.size(), 2);
  EXPECT_EQ(q.last(), 1);
  ASSERT_TRUE(q.add(300, 350));  // touches the first: merged
  EXPECT_EQ(q.size(), 2);
  EXPECT_EQ(q[0].start, 200u);
  EXPECT_EQ(q[0].end, 350u);
  EXPECT_EQ(q.last(), 0);
  ASSERT_TRUE(q.add(340, 420));  // bridges both
  EXPECT_EQ(q.size(), 1);
  EXPECT_EQ(q[0].start, 200u);
  EXPECT_EQ(q[0].end, 500u);
  ASSERT_TRUE(q.add(250, 260));  // inside: nothing changes
  EXPECT_EQ(q.size(), 1);
  ASSERT_TRUE(q.add(600, 700));
  ASSERT_TRUE(q.add(150, 160));  // before everything
  EXPECT_EQ(q[0].start, 150u);
  EXPECT_EQ(q.size(), 3);
  // RCV.NXT reaches 150: only the first range is in order.
  EXPECT_EQ(q.advance(150), 160u);
  EXPECT_EQ(q.size(), 2);
  // A segment [160, 200) came: through the hole to 500, not to 600.
  EXPECT_EQ(q.advance(200), 500u);
  EXPECT_EQ(q.size(), 1);
  EXPECT_EQ(q[0].start, 600u);
  // In order past a range's start but not its end.
  EXPECT_EQ(q.advance(650), 700u);
  EXPECT_TRUE(q.empty());
}

TEST(TcpOoo, BoundedAndAcrossTheWrap) {
  TcpOoo q;
  for (int i = 0; i < TcpOoo::MAX; ++i) ASSERT_TRUE(q.add(uint32_t(1000 + 100 * i), uint32_t(1050 + 100 * i)));
  EXPECT_FALSE(q.add(10000, 10010));  // a seventeenth range: refused
  EXPECT_EQ(q.size(), TcpOoo::MAX);
  EXPECT_TRUE(q.add(1050, 1100));  // merging needs no new range
  EXPECT_EQ(q.size(), TcpOoo::MAX - 1);
  q.clear();
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(q.add(0xfffffff0u, 0x10u));
  ASSERT_TRUE(q.add(0x20u, 0x30u));
  ASSERT_TRUE(q.add(0xffffffe0u, 0xffffffe8u));
  EXPECT_EQ(q[0].start, 0xffffffe0u);
  EXPECT_EQ(q.advance(0xffffffe0u), 0xffffffe8u);
  EXPECT_EQ(q.advance(0xfffffff0u), 0x10u);
  EXPECT_EQ(q.advance(0x20u), 0x30u);
  EXPECT_TRUE(q.empty());
}

TEST(TcpOoo, SackScoreboard) {
  // A sender's view: SND.UNA 1000, the peer holds [2000, 3000) and
  // [4000, 4500): holes [1000, 2000) and [3000, 4000); nothing above 4500
  // is a hole (nothing SACKed there).
  TcpOoo q;
  ASSERT_TRUE(q.add(4000, 4500));
  ASSERT_TRUE(q.add(2000, 3000));
  EXPECT_EQ(q.bytes(), 1500u);
  uint32_t a = 0, b = 0;
  ASSERT_TRUE(q.next_hole(1000, a, b));
  EXPECT_EQ(a, 1000u);
  EXPECT_EQ(b, 2000u);
  ASSERT_TRUE(q.next_hole(1500, a, b));  // half of the first hole sent again
  EXPECT_EQ(a, 1500u);
  EXPECT_EQ(b, 2000u);
  ASSERT_TRUE(q.next_hole(2000, a, b));  // the first hole done: the second
  EXPECT_EQ(a, 3000u);
  EXPECT_EQ(b, 4000u);
  ASSERT_TRUE(q.next_hole(2500, a, b));
  EXPECT_EQ(a, 3000u);
  EXPECT_FALSE(q.next_hole(4000, a, b));
  EXPECT_FALSE(q.next_hole(5000, a, b));
  // Bytes SACKed within a stretch (what a retransmission count leaves out).
  EXPECT_EQ(q.covered(1000, 3500), 1000u);
  EXPECT_EQ(q.covered(2500, 4200), 700u);
  EXPECT_EQ(q.covered(0, 1000), 0u);
  EXPECT_EQ(q.covered(1000, 5000), 1500u);
  // Across the wrap.
  TcpOoo w;
  ASSERT_TRUE(w.add(0x10u, 0x20u));
  ASSERT_TRUE(w.next_hole(0xfffffff0u, a, b));
  EXPECT_EQ(a, 0xfffffff0u);
  EXPECT_EQ(b, 0x10u);
  EXPECT_EQ(w.covered(0xfffffff0u, 0x18u), 8u);
}

}  // namespace
