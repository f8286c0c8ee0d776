// IPv6's pure logic (net/inet/ipv6_header.cc, checksum.cc, udp_header.cc):
// the fixed header, the extension-header walk (RFC 8200 4), the quoted
// packet of an ICMPv6 error (RFC 4443 2.4), the pseudo-header checksum
// (RFC 8200 8.1) and UDP's mandatory checksum over IPv6; what malformed
// input gets.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "net/byte_order.h"
#include "net/inet/checksum.h"
#include "net/inet/ipv4_header.h"
#include "net/inet/ipv6_header.h"
#include "net/inet/reassembly6.h"
#include "net/inet/udp_header.h"
#include "net/ip_addr.h"
#include "net/packet.h"

using namespace capsule::net;

namespace {

IpAddr addr(std::initializer_list<uint8_t> tail) {
  IpAddr a;
  a.b[0] = 0xfe, a.b[1] = 0x80;
  int i = 16 - int(tail.size());
  for (uint8_t x : tail) a.b[i++] = x;
  return a;
}

// A packet: the fixed header, then `ext` (extension headers, already
// chained by the caller), then `payload` bytes of `proto`.
std::vector<uint8_t> packet(uint8_t first, const std::vector<uint8_t>& ext, size_t payload) {
  std::vector<uint8_t> p(IPV6_HEADER + ext.size() + payload, 0xab);
  Ipv6Header h;
  h.tclass = 0x2e;
  h.flow = 0xbeef5;
  h.payload_len = uint16_t(ext.size() + payload);
  h.next_header = first;
  h.hop_limit = 7;
  h.src = addr({1});
  h.dst = addr({2});
  ipv6_build(p.data(), h);
  std::memcpy(p.data() + IPV6_HEADER, ext.data(), ext.size());
  return p;
}

TEST(IpAddr, FamiliesAndScopes) {
  IpAddr m = IpAddr::mapped(0x7f000001);
  EXPECT_TRUE(m.is_v4());
  EXPECT_EQ(m.v4(), 0x7f000001u);
  EXPECT_FALSE(m.any());
  EXPECT_TRUE(IpAddr::mapped(0).wildcard());
  EXPECT_TRUE(IP6_ANY.wildcard());
  EXPECT_FALSE(IP6_ANY.is_v4());
  EXPECT_TRUE(IP6_LOOPBACK.loopback6());
  EXPECT_FALSE(IP6_LOOPBACK.is_v4());
  EXPECT_TRUE(addr({1}).link_local6());
  EXPECT_TRUE(IP6_ALL_NODES.multicast6() && IP6_ALL_NODES.multi_or_broadcast());
  EXPECT_TRUE(IpAddr::mapped(0xffffffffu).multi_or_broadcast());
  EXPECT_TRUE(IpAddr::mapped(0xe0000001u).multi_or_broadcast());
  IpAddr a = addr({0x12, 0x34}), b = addr({0x12, 0x35});
  EXPECT_TRUE(a.same_prefix(b, 64));
  EXPECT_TRUE(a.same_prefix(b, 127));
  EXPECT_FALSE(a.same_prefix(b, 128));
  EXPECT_TRUE(a.same_prefix(IP6_ALL_NODES, 0));
  EXPECT_TRUE(a.same_prefix(IP6_ALL_NODES, 7));  // fe and ff share seven bits
  EXPECT_FALSE(a.same_prefix(IP6_ALL_NODES, 8));
}

TEST(Ipv6Header, BuildThenParse) {
  auto p = packet(IPPROTO_UDP_, {}, 12);
  Ipv6Header h;
  ASSERT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::None);
  EXPECT_EQ(h.tclass, 0x2e);
  EXPECT_EQ(h.flow, 0xbeef5u);
  EXPECT_EQ(h.payload_len, 12);
  EXPECT_EQ(h.hop_limit, 7);
  EXPECT_EQ(h.proto, IPPROTO_UDP_);
  EXPECT_EQ(h.header_len, IPV6_HEADER);
  EXPECT_EQ(h.src, addr({1}));
  EXPECT_EQ(h.dst, addr({2}));
  EXPECT_EQ(p[0] >> 4, 6);
  // Link-layer padding after the payload is fine.
  p.resize(p.size() + 10, 0);
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::None);
}

TEST(Ipv6Header, ExtensionHeadersAreWalked) {
  // Hop-by-Hop, Destination Options (PadN), Routing with Segments Left 0,
  // then TCP.
  // Hop-by-Hop is 16 bytes: PadN (2 bytes of data), Router Alert, PadN (4).
  std::vector<uint8_t> hbh = {IP6_DSTOPTS, 1, 1, 2, 0, 0, 5, 2, 0, 0, 1, 4, 0, 0, 0, 0};
  std::vector<uint8_t> dst = {IP6_ROUTING, 0, 1, 4, 0, 0, 0, 0};
  std::vector<uint8_t> rt = {IPPROTO_TCP_, 0, 0, 0, 0, 0, 0, 0};  // type 0, segments left 0
  std::vector<uint8_t> all;
  for (auto* v : {&hbh, &dst, &rt}) all.insert(all.end(), v->begin(), v->end());
  auto p = packet(IP6_HOPOPTS, all, 20);
  Ipv6Header h;
  ASSERT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::None);
  EXPECT_EQ(h.proto, IPPROTO_TCP_);
  EXPECT_EQ(h.header_len, IPV6_HEADER + 32);
  EXPECT_EQ(h.next_header, IP6_HOPOPTS);
}

TEST(Ipv6Header, MalformedIsDropped) {
  Ipv6Header h;
  auto good = packet(IPPROTO_UDP_, {}, 8);
  EXPECT_EQ(ipv6_parse(good.data(), 39, h), Ipv6Drop::TooShort);
  auto p = good;
  p[0] = 0x45;
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::BadVersion);
  p = good;
  store16(p.data() + 4, 9);  // one byte past the data
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::BadLength);
  store16(p.data() + 4, 0);  // a jumbogram's 0
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::BadLength);
  // A v4-mapped address on the wire (it would reach the IPv4 sockets).
  p = good;
  p[8 + 10] = p[8 + 11] = 0xff;
  for (int i = 0; i < 10; ++i) p[8 + i] = 0;
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::BadAddress);
  p = good;
  std::memcpy(p.data() + 24, IpAddr::mapped(0x0a00020f).b, 16);
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::BadAddress);
  // A fragment header: not reassembled.
  auto f = packet(IP6_FRAGMENT, {IPPROTO_UDP_, 0, 0, 1, 0, 0, 0, 1}, 8);
  EXPECT_EQ(ipv6_parse(f.data(), f.size(), h), Ipv6Drop::Fragment);
  // No Next Header.
  auto n = packet(IP6_NONE, {}, 4);
  EXPECT_EQ(ipv6_parse(n.data(), n.size(), h), Ipv6Drop::NoNextHeader);
  // Hop-by-Hop anywhere but first.
  auto hh = packet(IP6_DSTOPTS, {IP6_HOPOPTS, 0, 1, 4, 0, 0, 0, 0, IPPROTO_UDP_, 0, 1, 4, 0, 0, 0, 0}, 8);
  EXPECT_EQ(ipv6_parse(hh.data(), hh.size(), h), Ipv6Drop::BadExtension);
  // An option whose type says "discard" (high bits 01), and one running past its header.
  auto od = packet(IP6_DSTOPTS, {IPPROTO_UDP_, 0, 0x42, 0, 1, 2, 0, 0}, 8);
  EXPECT_EQ(ipv6_parse(od.data(), od.size(), h), Ipv6Drop::BadOption);
  auto ol = packet(IP6_DSTOPTS, {IPPROTO_UDP_, 0, 1, 9, 0, 0, 0, 0}, 8);
  EXPECT_EQ(ipv6_parse(ol.data(), ol.size(), h), Ipv6Drop::BadOption);
  // An unknown option that may be skipped (high bits 00) is fine.
  auto os = packet(IP6_DSTOPTS, {IPPROTO_UDP_, 0, 0x1e, 2, 0, 0, 1, 0}, 8);
  EXPECT_EQ(ipv6_parse(os.data(), os.size(), h), Ipv6Drop::None);
  // A routing header with segments left.
  auto rt = packet(IP6_ROUTING, {IPPROTO_UDP_, 0, 0, 1, 0, 0, 0, 0}, 8);
  EXPECT_EQ(ipv6_parse(rt.data(), rt.size(), h), Ipv6Drop::Routing);
  // An extension header longer than the payload.
  auto lx = packet(IP6_DSTOPTS, {IPPROTO_UDP_, 3, 1, 4, 0, 0, 0, 0}, 8);
  EXPECT_EQ(ipv6_parse(lx.data(), lx.size(), h), Ipv6Drop::BadExtension);
}

TEST(Ipv6Header, EveryTruncationIsRejectedNotRead) {
  std::vector<uint8_t> hbh = {IP6_DSTOPTS, 0, 1, 4, 0, 0, 0, 0};
  std::vector<uint8_t> dst = {IPPROTO_TCP_, 0, 1, 4, 0, 0, 0, 0};
  hbh.insert(hbh.end(), dst.begin(), dst.end());
  auto p = packet(IP6_HOPOPTS, hbh, 20);
  for (size_t n = 0; n < p.size(); ++n) {
    std::vector<uint8_t> cut(p.begin(), p.begin() + long(n));  // exact size: ASan sees any overread
    Ipv6Header h;
    EXPECT_NE(ipv6_parse(cut.data(), cut.size(), h), Ipv6Drop::None) << n;
  }
}

TEST(Ipv6Header, QuotedPacket) {
  std::vector<uint8_t> ext = {IPPROTO_UDP_, 0, 1, 4, 0, 0, 0, 0};
  auto p = packet(IP6_DSTOPTS, ext, 100);
  store16(p.data() + IPV6_HEADER + 8, 4444);
  store16(p.data() + IPV6_HEADER + 10, 53);
  Ipv6Header q;
  // Cut after 8 bytes of UDP: still a quote; its payload length is not checked.
  ASSERT_TRUE(ipv6_parse_quoted(p.data(), IPV6_HEADER + 16, q));
  EXPECT_EQ(q.proto, IPPROTO_UDP_);
  EXPECT_EQ(q.header_len, IPV6_HEADER + 8);
  EXPECT_EQ(load16(p.data() + q.header_len), 4444);
  EXPECT_FALSE(ipv6_parse_quoted(p.data(), IPV6_HEADER + 15, q));
  EXPECT_FALSE(ipv6_parse_quoted(p.data(), IPV6_HEADER + 7, q));
  p[0] = 0x40;
  EXPECT_FALSE(ipv6_parse_quoted(p.data(), p.size(), q));
}

// RFC 8200 8.1: the pseudo-header sum equals summing the 40 bytes it stands for.
TEST(InetChecksum, Ipv6PseudoHeaderMatchesTheBytes) {
  IpAddr s = addr({0x12, 0x34, 0x56}), d = IP6_LOOPBACK;
  for (uint32_t len : {0u, 8u, 1500u, 65535u, 70000u}) {
    uint8_t ph[40] = {};
    std::memcpy(ph, s.b, 16);
    std::memcpy(ph + 16, d.b, 16);
    store32(ph + 32, len);
    ph[39] = IPPROTO_TCP_;
    EXPECT_EQ(csum_fold(csum_pseudo6(s.b, d.b, IPPROTO_TCP_, len)), csum_fold(csum_add(0, ph, 40))) << len;
  }
}

TEST(UdpHeader, OverIpv6TheChecksumIsMandatory) {
  IpAddr s = addr({1}), d = addr({2});
  uint8_t u[12] = {0x11, 0x5c, 0x00, 0x35, 0, 12, 0, 0, 'a', 'b', 'c', 'd'};
  UdpHeader h;
  EXPECT_EQ(udp_parse(u, sizeof u, s, d, h), UdpDrop::BadChecksum);  // 0: none, refused over IPv6
  uint16_t c = csum_fold(csum_add(csum_pseudo6(s.b, d.b, IPPROTO_UDP_, 12), u, 12));
  store16(u + 6, c ? c : 0xffff);
  ASSERT_EQ(udp_parse(u, sizeof u, s, d, h), UdpDrop::None);
  EXPECT_EQ(h.sport, 0x115c);
  EXPECT_EQ(h.dport, 53);
  EXPECT_EQ(h.len, 4u);
  u[9] ^= 1;
  EXPECT_EQ(udp_parse(u, sizeof u, s, d, h), UdpDrop::BadChecksum);
  // The same bytes over IPv4 (v4-mapped) with a zero checksum: none sent, accepted.
  u[9] ^= 1;
  store16(u + 6, 0);
  EXPECT_EQ(udp_parse(u, sizeof u, IpAddr::mapped(0x0a000001), IpAddr::mapped(0x0a000002), h), UdpDrop::None);
}

}  // namespace

namespace {

// A fragment of `data` (offset, more) of packet `id`, as senders build it.
std::vector<uint8_t> fragment(const std::vector<uint8_t>& data, size_t off, size_t n, bool more, uint32_t id) {
  std::vector<uint8_t> p(IPV6_HEADER + IPV6_FRAG_HEADER + n);
  Ipv6Header h;
  h.payload_len = uint16_t(IPV6_FRAG_HEADER + n);
  h.next_header = IP6_FRAGMENT;
  h.src = addr({1});
  h.dst = addr({2});
  ipv6_build(p.data(), h);
  ipv6_fragment_build(p.data() + IPV6_HEADER, Ipv6Fragment{IPPROTO_UDP_, uint16_t(off), more, id});
  std::memcpy(p.data() + IPV6_HEADER + IPV6_FRAG_HEADER, data.data() + off, n);
  return p;
}

Reassembly6::Result6 feed(Reassembly6& r, const std::vector<uint8_t>& p, uint64_t now, PacketBuf& out) {
  Ipv6Header h;
  EXPECT_EQ(ipv6_parse(p.data(), p.size(), h), Ipv6Drop::Fragment);
  EXPECT_EQ(h.header_len, IPV6_HEADER);
  return r.add(h, p.data(), p.size(), now, out);
}

std::vector<uint8_t> payload(size_t n) {
  std::vector<uint8_t> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = uint8_t(i * 7 + 3);
  return d;
}

void expect_whole(PacketBuf& out, const std::vector<uint8_t>& data) {
  Ipv6Header h;
  ASSERT_EQ(ipv6_parse(out.data(), out.size(), h), Ipv6Drop::None);
  EXPECT_EQ(h.proto, IPPROTO_UDP_);
  EXPECT_EQ(h.payload_len, data.size());
  EXPECT_EQ(std::memcmp(out.data() + IPV6_HEADER, data.data(), data.size()), 0);
}

TEST(Reassembly6, InOrderOutOfOrderAndAtomic) {
  Reassembly6 r;
  auto d = payload(3000);
  PacketBuf out;
  EXPECT_EQ(feed(r, fragment(d, 0, 1448, true, 7), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 2896, 104, false, 7), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 1448, 1448, true, 7), 0, out), Reassembly6::Result6::Done);
  expect_whole(out, d);
  EXPECT_EQ(r.in_progress(), 0u);
  // The last first, the first last.
  EXPECT_EQ(feed(r, fragment(d, 1448, 1552, false, 8), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 0, 1448, true, 8), 0, out), Reassembly6::Result6::Done);
  expect_whole(out, d);
  // RFC 6946: an atomic fragment is the packet itself.
  auto small = payload(100);
  EXPECT_EQ(feed(r, fragment(small, 0, 100, false, 9), 0, out), Reassembly6::Result6::Done);
  expect_whole(out, small);
}

TEST(Reassembly6, OverlapsBoundsAndTimeout) {
  Reassembly6 r;
  auto d = payload(4000);
  PacketBuf out;
  // RFC 5722: an overlap drops the whole packet, and what follows starts anew.
  EXPECT_EQ(feed(r, fragment(d, 0, 1448, true, 1), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 1440, 1448, true, 1), 0, out), Reassembly6::Result6::Dropped);
  EXPECT_EQ(r.in_progress(), 0u);
  // A fragment with more to come that is not a multiple of 8; one past 65,535.
  EXPECT_EQ(feed(r, fragment(d, 0, 1001, true, 2), 0, out), Reassembly6::Result6::Dropped);
  EXPECT_EQ(feed(r, fragment(d, 0, 8, true, 3), 0, out), Reassembly6::Result6::Held);
  auto last = fragment(d, 0, 16, false, 3);
  ipv6_fragment_build(last.data() + IPV6_HEADER, Ipv6Fragment{IPPROTO_UDP_, 65528, false, 3});
  EXPECT_EQ(feed(r, last, 0, out), Reassembly6::Result6::Dropped);
  // Two different ends.
  EXPECT_EQ(feed(r, fragment(d, 0, 8, true, 4), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 1000, 100, false, 4), 0, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(r, fragment(d, 2000, 100, false, 4), 0, out), Reassembly6::Result6::Dropped);
  // At most MAX_PACKETS in progress; old ones time out.
  EXPECT_EQ(r.in_progress(), 1u);  // id 3: only its bad fragment went
  Reassembly6 r2;
  Reassembly6& rb = r2;
  for (uint32_t id = 100; id < 100 + Reassembly6::MAX_PACKETS; ++id)
    EXPECT_EQ(feed(rb, fragment(d, 0, 8, true, id), 1, out), Reassembly6::Result6::Held);
  EXPECT_EQ(feed(rb, fragment(d, 0, 8, true, 999), 1, out), Reassembly6::Result6::Dropped);
  EXPECT_EQ(feed(rb, fragment(d, 0, 8, true, 999), 2 + Reassembly6::TIMEOUT_NS, out), Reassembly6::Result6::Held);
  EXPECT_EQ(rb.in_progress(), 1u);
  EXPECT_EQ(rb.timed_out(), Reassembly6::MAX_PACKETS);
}

}  // namespace

TEST(IpAddr, Rfc5952Text) {
  // RFC 5952 4: no leading zeros, lower case, "::" for the longest run of
  // two or more zero groups (the first of equal runs), never for one.
  struct Case {
    IpAddr a;
    const char* text;
  } cases[] = {
      {IP6_ANY, "::"},
      {IP6_LOOPBACK, "::1"},
      {IP6_ALL_NODES, "ff02::1"},
      {{{0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0x12, 0x34, 0x56}}, "2001:db8:2:0:5054:ff:fe12:3456"},
      {{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}}, "2001:db8::1:0:0:1"},
      {{{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}}, "1::abcd"},
      {{{0xfe, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, "fec0::"},
      {{{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}}, "1:2:3:4:5:6:7:8"},
      {{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
  };
  for (const Case& c : cases) {
    char out[IP6_TEXT];
    size_t n = ip6_text(c.a, out);
    EXPECT_STREQ(out, c.text);
    EXPECT_EQ(n, strlen(c.text));
  }
}
