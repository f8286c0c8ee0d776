// IPv4's pure logic (net/inet/): the Internet checksum (RFC 1071), header
// checks (RFC 791), and fragment reassembly; what malformed input gets.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"
#include "net/inet/reassembly.h"
#include "net/inet/udp_header.h"
#include "net/packet.h"

namespace capsule {
// The kernel heap, for the host: packet buffers and reassembly allocate.
void* kmalloc(size_t size) { return std::malloc(size); }
void kfree(void* p) { std::free(p); }
}  // namespace capsule

using namespace capsule::net;

namespace {

// RFC 1071 4.1's example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with
// the carry folded), whose complement is 220d.
TEST(InetChecksum, Rfc1071Example) {
  const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum(b, sizeof b), 0x220d);
  EXPECT_EQ(csum_add(0, b, sizeof b), 0x2ddf0u);  // before the fold: 2ddf0
}

TEST(InetChecksum, OddLengthPadsWithZero) {
  const uint8_t odd[] = {0x12, 0x34, 0x56};
  const uint8_t even[] = {0x12, 0x34, 0x56, 0x00};
  EXPECT_EQ(checksum(odd, 3), checksum(even, 4));
}

TEST(InetChecksum, AHeaderWithItsChecksumSumsToZero) {
  // A real header (a well-known example datagram).
  uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  uint16_t c = checksum(h, 20);
  EXPECT_EQ(c, 0xb861);
  store16(h + 10, c);
  EXPECT_EQ(checksum(h, 20), 0);
}

TEST(InetChecksum, PseudoHeaderMatchesTheBytes) {
  // The pseudo-header's sum equals the sum of its 12 bytes laid out.
  uint8_t ph[12];
  store32(ph, 0x7f000001);
  store32(ph + 4, 0xc0a80102);
  ph[8] = 0, ph[9] = 17;
  store16(ph + 10, 1234);
  EXPECT_EQ(csum_fold(csum_pseudo(0x7f000001, 0xc0a80102, 17, 1234)), checksum(ph, 12));
  // Many large words: no carry is lost.
  std::vector<uint8_t> ff(70000, 0xff);
  EXPECT_EQ(checksum(ff.data(), ff.size()), 0);
}

std::vector<uint8_t> datagram(size_t payload, uint16_t id = 7, uint16_t frag_off = 0, bool mf = false) {
  std::vector<uint8_t> d(IPV4_MIN_HEADER + payload);
  Ipv4Header h;
  h.total_len = uint16_t(d.size());
  h.id = id;
  h.protocol = IPPROTO_UDP_;
  h.src = Ipv4{0x7f000001};
  h.dst = Ipv4{0x7f000002};
  h.frag_offset = frag_off;
  h.more_fragments = mf;
  ipv4_build(d.data(), h);
  for (size_t i = 0; i < payload; ++i) d[IPV4_MIN_HEADER + i] = uint8_t(frag_off + i);
  return d;
}

TEST(Ipv4Header, BuildThenParse) {
  auto d = datagram(30);
  Ipv4Header h;
  ASSERT_EQ(ipv4_parse(d.data(), d.size(), h), Ipv4Drop::None);
  EXPECT_EQ(h.total_len, 50);
  EXPECT_EQ(h.header_len, 20u);
  EXPECT_EQ(h.protocol, IPPROTO_UDP_);
  EXPECT_EQ(h.src.v, 0x7f000001u);
  EXPECT_EQ(h.dst.v, 0x7f000002u);
  EXPECT_EQ(h.ttl, 64);
  EXPECT_FALSE(h.fragment());
  // Link-layer padding after total_len is allowed.
  d.resize(d.size() + 10);
  EXPECT_EQ(ipv4_parse(d.data(), d.size(), h), Ipv4Drop::None);
}

// RFC 792: an ICMP error quotes the header and 8 bytes of the datagram;
// lengths and checksum are not checked, the 8 bytes must be there.
TEST(Ipv4Header, QuotedDatagram) {
  uint8_t d[IPV4_MIN_HEADER + 8] = {};
  Ipv4Header h;
  h.total_len = 1000;  // more than was quoted
  h.protocol = IPPROTO_UDP_;
  h.src = Ipv4{0x0a00020f};
  h.dst = Ipv4{0x08080808};
  ipv4_build(d, h);
  d[10] ^= 0xff;  // a checksum a router changed
  Ipv4Header q;
  ASSERT_TRUE(ipv4_parse_quoted(d, sizeof d, q));
  EXPECT_EQ(q.header_len, IPV4_MIN_HEADER);
  EXPECT_EQ(q.protocol, IPPROTO_UDP_);
  EXPECT_EQ(q.src, h.src);
  EXPECT_EQ(q.dst, h.dst);
  EXPECT_FALSE(ipv4_parse_quoted(d, sizeof d - 1, q));  // 7 bytes of transport
  d[0] = 0x46;                                            // IHL 6: 4 more header bytes than quoted
  EXPECT_FALSE(ipv4_parse_quoted(d, sizeof d, q));
  d[0] = 0x44;
  EXPECT_FALSE(ipv4_parse_quoted(d, sizeof d, q));
  d[0] = 0x65;
  EXPECT_FALSE(ipv4_parse_quoted(d, sizeof d, q));
}

TEST(Ipv4Header, MalformedIsDropped) {
  Ipv4Header h;
  auto d = datagram(30);
  EXPECT_EQ(ipv4_parse(d.data(), 19, h), Ipv4Drop::TooShort);
  auto v = d;
  v[0] = 0x65;  // version 6
  EXPECT_EQ(ipv4_parse(v.data(), v.size(), h), Ipv4Drop::BadVersion);
  v = d;
  v[0] = 0x44;  // IHL 4: below the minimum
  EXPECT_EQ(ipv4_parse(v.data(), v.size(), h), Ipv4Drop::BadHeaderLen);
  v = d;
  v[0] = 0x4f;  // IHL 15: 60 bytes, more than there are
  EXPECT_EQ(ipv4_parse(v.data(), 40, h), Ipv4Drop::BadHeaderLen);
  v = d;
  store16(v.data() + 2, 60);  // total length past the data
  EXPECT_EQ(ipv4_parse(v.data(), v.size(), h), Ipv4Drop::BadTotalLen);
  v = d;
  store16(v.data() + 2, 19);  // total length inside the header
  EXPECT_EQ(ipv4_parse(v.data(), v.size(), h), Ipv4Drop::BadTotalLen);
  v = d;
  v[8] ^= 1;  // a flipped bit: the checksum fails
  EXPECT_EQ(ipv4_parse(v.data(), v.size(), h), Ipv4Drop::BadChecksum);
  // A fragment ending past 65535 (ping of death).
  auto big = datagram(16, 9, 65528, false);
  EXPECT_EQ(ipv4_parse(big.data(), big.size(), h), Ipv4Drop::BadFragment);
  // A non-final fragment whose data is not a multiple of 8.
  auto odd = datagram(13, 9, 0, true);
  EXPECT_EQ(ipv4_parse(odd.data(), odd.size(), h), Ipv4Drop::BadFragment);
}

TEST(Ipv4Header, EveryTruncationIsRejectedNotRead) {
  auto d = datagram(40);
  Ipv4Header h;
  for (size_t n = 0; n < d.size(); ++n) {
    std::vector<uint8_t> cut(d.begin(), d.begin() + n);  // exactly n bytes: ASan sees any overread
    EXPECT_NE(ipv4_parse(cut.data(), cut.size(), h), Ipv4Drop::None) << n;
  }
}

// Fragments of one datagram: (offset, length, more).
struct Frag {
  uint16_t off;
  size_t len;
  bool mf;
};

bool feed(Reassembly& r, uint16_t id, Frag f, PacketBuf& out, uint64_t now = 0) {
  auto d = datagram(f.len, id, f.off, f.mf);
  Ipv4Header h;
  EXPECT_EQ(ipv4_parse(d.data(), d.size(), h), Ipv4Drop::None);
  return r.add(h, d.data() + IPV4_MIN_HEADER, f.len, now, out);
}

void expect_payload(const PacketBuf& p, size_t len) {
  ASSERT_EQ(p.size(), IPV4_MIN_HEADER + len);
  Ipv4Header h;
  ASSERT_EQ(ipv4_parse(p.data(), p.size(), h), Ipv4Drop::None);
  EXPECT_FALSE(h.fragment());
  for (size_t i = 0; i < len; ++i) ASSERT_EQ(p.data()[IPV4_MIN_HEADER + i], uint8_t(i)) << i;
}

TEST(Reassembly, InOrderAndOutOfOrder) {
  Reassembly r;
  PacketBuf out;
  EXPECT_FALSE(feed(r, 1, {0, 16, true}, out));
  EXPECT_FALSE(feed(r, 1, {16, 16, true}, out));
  EXPECT_TRUE(feed(r, 1, {32, 5, false}, out));
  expect_payload(out, 37);
  EXPECT_EQ(r.in_progress(), 0u);

  EXPECT_FALSE(feed(r, 2, {32, 5, false}, out));
  EXPECT_FALSE(feed(r, 2, {0, 16, true}, out));
  EXPECT_EQ(r.in_progress(), 1u);
  EXPECT_TRUE(feed(r, 2, {16, 16, true}, out));
  expect_payload(out, 37);
}

TEST(Reassembly, OverlapsAndDuplicates) {
  Reassembly r;
  PacketBuf out;
  EXPECT_FALSE(feed(r, 3, {0, 24, true}, out));
  EXPECT_FALSE(feed(r, 3, {0, 24, true}, out));  // duplicate
  EXPECT_FALSE(feed(r, 3, {8, 24, true}, out));  // overlaps, adds 24..32
  EXPECT_TRUE(feed(r, 3, {32, 8, false}, out));
  expect_payload(out, 40);
}

TEST(Reassembly, ConflictingEndsAndTimeout) {
  Reassembly r;
  PacketBuf out;
  EXPECT_FALSE(feed(r, 4, {16, 8, false}, out));
  EXPECT_FALSE(feed(r, 4, {16, 16, false}, out));  // a second, different last fragment
  EXPECT_EQ(r.in_progress(), 0u);
  EXPECT_EQ(r.dropped(), 1u);
  // A datagram whose fragments stop coming is dropped after the timeout.
  EXPECT_FALSE(feed(r, 5, {0, 8, true}, out, 1));
  EXPECT_EQ(r.in_progress(), 1u);
  EXPECT_FALSE(feed(r, 6, {0, 8, true}, out, 1 + Reassembly::TIMEOUT_NS + 1));
  EXPECT_EQ(r.timed_out(), 1u);
  EXPECT_EQ(r.in_progress(), 1u);  // only the new one
}

TEST(Reassembly, BoundedInDatagrams) {
  Reassembly r;
  PacketBuf out;
  for (uint16_t id = 0; id < Reassembly::MAX_DATAGRAMS + 10; ++id) EXPECT_FALSE(feed(r, id, {0, 8, true}, out));
  EXPECT_LE(r.in_progress(), Reassembly::MAX_DATAGRAMS);
  EXPECT_GE(r.dropped(), 10u);
}

// RFC 768: the UDP length bounds the payload (bytes after it are ignored),
// a checksum of 0 means none, a wrong one drops the datagram.
TEST(UdpHeader, LengthAndChecksum) {
  const Ipv4 src{0x0a000202}, dst{0x0a00020f};
  std::vector<uint8_t> d = {0x30, 0x39, 0x00, 0x35, 0x00, 0x0b, 0, 0, 'a', 'b', 'c', 'x'};
  UdpHeader u;
  ASSERT_EQ(udp_parse(d.data(), d.size(), src, dst, u), UdpDrop::None);  // no checksum
  EXPECT_EQ(u.sport, 12345);
  EXPECT_EQ(u.dport, 53);
  EXPECT_EQ(u.len, 3u);
  EXPECT_EQ(u.data, d.data() + 8);
  uint16_t c = csum_fold(csum_add(csum_pseudo(src.v, dst.v, IPPROTO_UDP_, 11), d.data(), 11));
  store16(d.data() + 6, c);
  EXPECT_EQ(udp_parse(d.data(), d.size(), src, dst, u), UdpDrop::None);
  store16(d.data() + 6, uint16_t(c + 1));
  EXPECT_EQ(udp_parse(d.data(), d.size(), src, dst, u), UdpDrop::BadChecksum);
  store16(d.data() + 6, 0);
  store16(d.data() + 4, 7);
  EXPECT_EQ(udp_parse(d.data(), d.size(), src, dst, u), UdpDrop::BadLength);
  store16(d.data() + 4, 13);
  EXPECT_EQ(udp_parse(d.data(), d.size(), src, dst, u), UdpDrop::BadLength);
  EXPECT_EQ(udp_parse(d.data(), 7, src, dst, u), UdpDrop::TooShort);
}

TEST(PacketBuf, PushAndPullUseTheHeadroom) {
  auto p = PacketBuf::alloc(10, 20);
  ASSERT_TRUE(p.ok());
  PacketBuf b = static_cast<PacketBuf&&>(p.value());
  uint8_t* payload = b.data();
  uint8_t* hdr = b.push(20);
  ASSERT_NE(hdr, nullptr);
  EXPECT_EQ(hdr + 20, payload);  // no copy
  EXPECT_EQ(b.size(), 30u);
  EXPECT_EQ(b.push(1), nullptr);  // no room left
  EXPECT_TRUE(b.pull(20));
  EXPECT_EQ(b.data(), payload);
  EXPECT_FALSE(b.pull(11));
  b.trim(4);
  EXPECT_EQ(b.size(), 4u);
}

}  // namespace
